// The model explorer page end to end: a real `prerank serve --bundle <IntTower> --compare <DSSM>` process, Debian's
// chromium driven by playwright-core (scripts/install-browser.sh). Keyboard only: the user id is typed, a candidate
// list pasted and ranked; both tables equal the server's /v1/prerank answers, every row is explained, every control
// is labelled, the page logs no error. The screenshot goes to test-artifacts/ui-explorer.png (gitignored).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { exportBundle } from '../src/export/index.js';
import type { ScoreResponse } from '../src/serve/scorer.js';
import { tempDir, tinyRun, type TinyRun } from './serve-fixture.js';
import { chromiumMissing, launchChromium } from './browser-fixture.js';

const missing = chromiumMissing();
if (missing && process.env.CI) throw new Error(missing);
const REPO = join(dirname(fileURLToPath(import.meta.url)), '../..');
const ARTIFACTS = join(REPO, 'test-artifacts');

let root: string, run: TinyRun, address = '';
let child: ChildProcess | null = null;

before(async () => {
  if (missing) return;
  root = tempDir('ui-browser');
  run = await tinyRun(root, 'int-tower');
  await exportBundle(run.runDir, join(root, 'b-int'));
  await exportBundle((await tinyRun(root, 'dssm')).runDir, join(root, 'b-dssm'));
  child = spawn(process.execPath, [join(REPO, 'dist/src/cli/main.js'), 'serve', '--bundle', join(root, 'b-int'), '--compare', join(root, 'b-dssm'),
    '--port', '0', '--log-level', 'warn'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '', err = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (err += d));
  address = await new Promise<string>((resolve, reject) => {
    const t0 = Date.now();
    const poll = () => {
      const m = /model explorer: (http:\/\/[^\s]+)\/ui\//.exec(out);
      if (m) return resolve(m[1]);
      if (child!.exitCode !== null || Date.now() - t0 > 60_000) return reject(new Error(`serve did not start: ${out}\n${err}`));
      setTimeout(poll, 50);
    };
    poll();
  });
});
after(() => {
  child?.kill('SIGTERM');
  if (root) rmSync(root, { recursive: true, force: true });
});

async function prerank(body: unknown, model = ''): Promise<ScoreResponse> {
  const r = await fetch(`${address}/v1/prerank${model}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  assert.equal(r.status, 200);
  return (await r.json()) as ScoreResponse;
}

/** Rows of the page's table for one model: item id, score text, explanation text. */
type Row = { id: string; score: string; why: string };

test('the explorer page: a user chosen by keyboard, both lists equal /v1/prerank, explained, labelled, no console error', { skip: missing ?? false, timeout: 300_000 }, async () => {
  const browser = await launchChromium();
  try {
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    const errors: string[] = [];
    // a freshly started server on a busy machine may shed load with a 503 (under-pressure): not the page's error
    page.on('console', (m) => void (m.type() === 'error' && !/status of 503/.test(m.text()) && errors.push(m.text())));
    page.on('pageerror', (e) => void errors.push(e.message));
    await page.goto(`${address}/ui/`);
    await page.waitForSelector('body[data-ready=true]', { timeout: 60_000 });

    const unlabelled = await page.$$eval('input, textarea, select, button', (els) => els
      .filter((e) => !(e as HTMLInputElement).labels?.length && !e.getAttribute('aria-label') && !(e.tagName === 'BUTTON' && e.textContent!.trim()))
      .map((e) => e.id || e.outerHTML.slice(0, 60)));
    assert.deepEqual(unlabelled, [], 'controls without a label');

    const focused = () => page.evaluate(() => document.activeElement?.id || document.activeElement?.tagName);
    const user = 'u7';
    const candidates = ['i3', 'i10', 'i0', 'i20', 'i33', 'i41', 'i7', 'i55', 'nope'];
    await page.keyboard.press('Tab');
    assert.equal(await focused(), 'user-id', 'the first Tab reaches the user id');
    await page.keyboard.type(user);
    await page.keyboard.press('Tab'); // the "edit raw feature values" summary
    await page.keyboard.press('Tab'); // the checked radio button
    assert.equal(await focused(), 'source-recommend');
    await page.keyboard.press('ArrowDown');
    assert.equal(await focused(), 'source-list');
    await page.keyboard.press('Tab');
    assert.equal(await focused(), 'candidates');
    await page.keyboard.type(candidates.join('\n'));
    await page.keyboard.press('Tab');
    assert.equal(await focused(), 'n');
    await page.keyboard.press('Control+A');
    await page.keyboard.type('5');
    await page.keyboard.press('Enter'); // submits the form
    await page.waitForFunction(() => /^Ranked/.test(document.getElementById('status')!.textContent!), null, { timeout: 60_000 });

    const tables = await page.$$eval('#results table', (ts) => ts.map((t) => ({
      headers: [...t.querySelectorAll('thead th[scope=col]')].map((h) => h.textContent),
      rows: [...t.querySelectorAll('tbody tr')].map((tr) => ({ id: tr.querySelector('th[scope=row]')!.textContent!,
        score: tr.querySelectorAll('td')[tr.querySelectorAll('td').length - 2].textContent!, why: tr.querySelector('td:last-child')!.textContent! })),
    })));
    assert.equal(tables.length, 2, 'the served model and the compare model side by side');
    const body = { user: { user_id: user }, candidates, n: 5 };
    for (const [t, model, word] of [[tables[0], '', 'layer'], [tables[1], '?model=compare', 'dot product']] as const) {
      assert.deepEqual(t.headers, ['Rank', 'Item', 'category', 'genres', 'price', 'Score', 'Why']);
      const served = await prerank(body, model);
      assert.deepEqual(t.rows.map((r: Row) => r.id), served.items.map((x) => String(x.id)), `${model || 'main'}: the page's list is the server's`);
      t.rows.forEach((r: Row, i: number) => {
        assert.ok(Math.abs(Number(r.score) - served.items[i].score) <= 5e-5, `${r.id}: ${r.score} vs ${served.items[i].score}`);
        assert.match(r.why, new RegExp(word), `${r.id} is explained`);
        assert.match(r.why, /bias/);
      });
    }
    assert.match(await page.textContent('#results') ?? '', /unknown ids: nope/);
    assert.match(await page.textContent('#profile') ?? '', new RegExp(`What the bundle knows about user ${user}.*user_ctr \\d.*user_hist, oldest first: c\\d \\(i\\d+\\)`, 's'));

    const wasm = await page.$eval('#wasm', (e) => ({ disabled: (e as HTMLInputElement).disabled, note: document.getElementById('wasm-note')!.textContent! }));
    assert.equal(wasm.disabled, false, `the in-page scorer is on offer (${wasm.note})`);
    await page.check('#wasm');
    await page.click('#rank');
    await page.waitForFunction(() => document.querySelector('#results caption')?.textContent?.includes('WebAssembly'), null, { timeout: 120_000 });
    assert.equal(await page.$$eval('#results caption', (cs) => cs.filter((c) => /WebAssembly in page [\d.]+ ms/.test(c.textContent!)).length), 2,
      'both models scored in the page, with their latencies');
    assert.equal(await page.$$eval('#results .mismatch', (m) => m.length), 0, 'in-page scores equal the server scores');
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'ui-explorer.png'), fullPage: true });
    assert.deepEqual(errors, [], 'console errors on the page');
  } finally {
    await browser.close();
  }
});

/**
 * A stand-in for prerank/web with loadBundle(url) (the agreed API: b.prerank({user, candidates, n}) answers as POST
 * /v1/prerank), which asks the server and shifts every score by `shift`: the page's toggle wiring, without the real
 * in-browser bundle loader.
 */
const stubWeb = (shift: number) => `export async function loadBundle(url) {
  const manifest = await (await fetch(new URL('manifest.json', url))).json();
  const model = url.includes('/bundle/compare/') ? '?model=compare' : '';
  return { manifest, async prerank(req) {
    const r = await (await fetch('/v1/prerank' + model, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(req) })).json();
    return { ...r, items: r.items.map((x) => ({ ...x, score: x.score + ${shift} })) };
  } };
}`;

test('with a prerank/web that has loadBundle, the toggle scores in the page, shows both latencies and flags differing scores', { skip: missing ?? false, timeout: 300_000 }, async () => {
  const browser = await launchChromium();
  try {
    for (const shift of [0, 0.5]) {
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => void errors.push(e.message));
      await page.route('**/ui/web/src/web/index.js', (r) => r.fulfill({ contentType: 'text/javascript', body: stubWeb(shift) }));
      await page.goto(`${address}/ui/`);
      await page.waitForSelector('body[data-ready=true]', { timeout: 60_000 });
      assert.equal(await page.isDisabled('#wasm'), false, 'the toggle is on offer');
      await page.fill('#user-id', 'u3');
      await page.check('#wasm');
      await page.click('#rank');
      await page.waitForFunction(() => /^Ranked|failed/.test(document.getElementById('status')!.textContent!), null, { timeout: 60_000 });
      const captions = await page.$$eval('#results caption', (cs) => cs.map((c) => c.textContent!));
      assert.equal(captions.length, 2, await page.textContent('#status') ?? '');
      for (const c of captions) assert.match(c, /server [\d.]+ ms .* WebAssembly in page [\d.]+ ms/);
      const rows = await page.$$eval('#results tbody tr', (r) => r.length);
      const flagged = await page.$$eval('#results .mismatch', (m) => m.length);
      assert.equal(flagged, shift === 0 ? 0 : rows, `shift ${shift}: ${flagged} of ${rows} in-page scores flagged`);
      assert.deepEqual(errors, []);
      await page.close();
    }
  } finally {
    await browser.close();
  }
});
