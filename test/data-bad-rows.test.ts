// Malformed rows in real-shaped files: the first lines of ml-latest-small's ratings (CRLF line ends, as shipped),
// one line corrupted, written as LF, CRLF and mixed files, plain and gzipped, read in both bad-row modes. Every case
// names file:line:column and the value, or skips and counts exactly the bad row.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { ingest } from '../src/data/ingest.js';
import { DataError } from '../src/data/data-error.js';
import { REPO_ROOT } from '../src/data/recipes.js';
import { parseDataConfig, type DataConfigInput } from '../src/data/spec.js';

const dir = mkdtempSync(join(tmpdir(), 'prerank-bad-rows-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Header + 19 rows of the shipped ratings, without line ends. */
const LINES = gunzipSync(readFileSync(join(REPO_ROOT, 'data/ml-latest-small/ratings.csv.gz'))).toString('utf8')
  .split(/\r?\n/).slice(0, 20);

function config(path: string, onBadRow: 'error' | 'skip', format?: 'csv' | 'tsv'): DataConfigInput {
  return {
    name: 'bad-rows', onBadRow, sources: { interactions: { path, format } },
    keys: { user: 'userId', item: 'movieId', time: 'timestamp' },
    label: { column: 'rating', rule: { op: '>', value: 3 } },
    features: [{ kind: 'sparse', name: 'userId', source: 'user' }, { kind: 'sparse', name: 'movieId', source: 'item' }],
  };
}

// [replacement of line 10, column reported, the error's words, the value shown]
const CORRUPTIONS: [string, number, RegExp, string][] = [
  ['12,34,4.0,notatime', 4, /expected a number/, 'notatime'],
  ['12,34,high,964982703', 3, /expected a number/, 'high'],
  ['12,34,4.0', 4, /3 fields, expected 4/, '12,34,4.0'],
  ['12,34,4.0,964982703,extra', 5, /5 fields, expected 4|more than 4 fields/, 'extra'],
];
// line ends: every line, then the corrupted line's own
const ENDINGS: [string, string, string][] = [['lf', '\n', '\n'], ['crlf', '\r\n', '\r\n'], ['mixed', '\r\n', '\n'],
  ['mixed2', '\n', '\r\n']];

function write(name: string, lines: string[], eol: string, badEol: string, gz: boolean): string {
  const text = lines.map((l, i) => l + (i === 9 ? badEol : eol)).join('');
  const path = join(dir, gz ? `${name}.gz` : name);
  writeFileSync(path, gz ? gzipSync(text) : text);
  return path;
}

for (const [bad, column, words, value] of CORRUPTIONS) {
  test(`line 10 replaced by ${JSON.stringify(bad)}: named with its line, column and value, or skipped`, async () => {
    for (const [endName, eol, badEol] of ENDINGS) {
      for (const gz of [false, true]) {
        const lines = LINES.slice();
        lines[9] = bad;
        const path = write(`${endName}-${column}-${bad.length}.csv`, lines, eol, badEol, gz);
        const label = `${endName}${gz ? ' gz' : ''}`;
        await assert.rejects(ingest(parseDataConfig(config(path, 'error'))), (err: Error) => {
          assert.ok(err instanceof DataError, `${label}: ${String(err)}`);
          assert.match(err.message, new RegExp(`^${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:10:${column}: `), label);
          assert.match(err.message, words, label);
          assert.ok(err.message.includes(JSON.stringify(value)), `${label}: ${err.message}`);
          return true;
        });
        const raw = await ingest(parseDataConfig(config(path, 'skip')));
        assert.equal(raw.report.rowsRead, 19, label);
        assert.equal(raw.report.rowsSkipped, 1, label);
        assert.equal(raw.rows, 18, label);
        assert.deepEqual(raw.report.badRows.map((b) => [b.line, b.column]), [[10, column]], label);
      }
    }
  });
}

test('a file with mixed line ends and no bad row reads every row', async () => {
  const path = write('mixed-clean.csv', LINES, '\r\n', '\n', false);
  const raw = await ingest(parseDataConfig(config(path, 'error')));
  assert.equal(raw.rows, 19);
  assert.equal(raw.report.rowsSkipped, 0);
});

test('a quoted field spanning lines in a mixed file keeps the following line numbers right', async () => {
  const lines = LINES.slice();
  lines[4] = '1,"47\n",5.0,964983815';
  lines[12] = '1,216,5.0,notatime';
  const path = write('mixed-quoted.csv', lines, '\r\n', '\n', false);
  await assert.rejects(ingest(parseDataConfig(config(path, 'error'))), /mixed-quoted\.csv:14:4: .*"notatime"/);
});

test('TSV files get the same treatment', async () => {
  const lines = LINES.map((l) => l.replace(/,/g, '\t'));
  lines[9] = '12\t34\t4.0\tnotatime';
  const path = write('mixed.tsv', lines, '\r\n', '\n', true);
  await assert.rejects(ingest(parseDataConfig(config(path, 'error'))), /mixed\.tsv\.gz:10:4: expected a number; column "timestamp" value "notatime"/);
});

test('in a mixed file, lines DuckDB cannot decode are counted and do not shift the lines after them', async () => {
  const lines = LINES.slice();
  lines[12] = '1,216,5.0,notatime';
  const text = lines.map((l, i) => l + (i === 9 ? '\n' : '\r\n')).join('');
  const bytes = Buffer.from(text, 'utf8');
  const at = bytes.indexOf(Buffer.from('1,47,'));
  bytes[at + 2] = 0xff; // line 5 is no longer UTF-8
  const path = join(dir, 'mixed-encoding.csv');
  writeFileSync(path, bytes);
  await assert.rejects(ingest(parseDataConfig(config(path, 'error'))), /mixed-encoding\.csv:5:\d+: invalid text encoding/);
  const raw = await ingest(parseDataConfig(config(path, 'skip')));
  assert.deepEqual(raw.report.badRows.map((b) => b.line), [5, 13]);
  assert.equal(raw.report.rowsRead, 19);
  assert.equal(raw.report.rowsSkipped, 2);
});

test('JSON Lines with mixed line ends and blank lines: blank lines are no rows, the lines after them keep their numbers', async () => {
  const row = (u: number, rating: unknown) => JSON.stringify({ userId: u, movieId: String(u * 10), rating, timestamp: 964982703 + u });
  const path = join(dir, 'mixed.jsonl');
  writeFileSync(path, `${row(1, 4)}\n\n${row(2, 5)}\r\n${row(3, 'five')}\n${row(4, 2)}\r\n`);
  await assert.rejects(ingest(parseDataConfig(config(path, 'error'))), /mixed\.jsonl:4:3: expected a number; column "rating" value "five"/);
  const raw = await ingest(parseDataConfig(config(path, 'skip')));
  assert.equal(raw.report.rowsRead, 4);
  assert.equal(raw.report.rowsSkipped, 1);
  assert.equal(raw.rows, 3);
});
