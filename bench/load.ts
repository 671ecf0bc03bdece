// Load helpers shared by the HTTP benches (serve, publish, soak): `prerank serve` in a child process, and load
// generators in child processes, so neither the server's heap and event loop nor the generator's share this process's.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

/** What a load run reports: latency of the answered requests (ms), achieved rate and failures. */
export interface LoadResult {
  rate: number;
  p50: number;
  p99: number;
  rps: number;
  requests: number;
  non2xx: number;
  errors: number;
  timeouts: number;
}

const f2 = (x: number | null | undefined, d = 3): string => (x === null || x === undefined ? 'n/a' : x.toFixed(d));

/** Runs node with `args` in a child process, killed if it outlives the run by 30 s; returns its stdout. */
export async function runChild(args: string[], label: string, seconds: number): Promise<string> {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '', err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  const killer = setTimeout(() => child.kill('SIGKILL'), (seconds + 30) * 1000);
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  clearTimeout(killer);
  if (code !== 0) throw new Error(`${label} exited with ${code}: ${err}`);
  return out;
}

/**
 * An open-loop load generator (run as a child process): request i is due at t0 + i/rate and is sent on the first
 * timer tick at or after that (Node timers tick about every 1-1.3 ms) on an idle keep-alive connection, or on a new
 * one (up to 256), so a slow server never holds back later requests (no coordinated omission: the schedule does not
 * wait for answers). The client is raw TCP with the request bytes prepared once and responses framed by
 * Content-Length: it shares the 2 cores with the server, and node:http's client (objects per request, its own GC)
 * cost it more CPU and added its own pauses to the measured tail.
 * Latency is measured from the moment the request is written to the end of its response; how late the generator's
 * own timer sent requests is reported beside it (lateP99), and latency from the due time too (dueP50/dueP99), which
 * adds that timer lateness. autocannon's --overallRate is a per-connection quota per second: every connection sends
 * back to back until its quota is used, then waits for the next second, so at "500 req/s" the server sees bursts of
 * --connections concurrent requests; both are reported.
 * The body file holds one JSON body per line; request i sends body i mod lines. With a timeout, a request unanswered
 * that long is a timeout and its connection is closed (a late answer could not be told from the next one's); without,
 * requests still unanswered 10 s after the run are timeouts. With reports on, each second of the run (from t0) is
 * written as a line when it ends (PacedSecond); the summary is always the last line.
 */
const PACED = `
import net from 'node:net';
import { readFileSync } from 'node:fs';
const [url, bodyFile, rate, seconds, timeoutArg, reportArg] = process.argv.slice(1);
const timeoutMs = Number(timeoutArg), report = reportArg === '1';
const u = new URL(url);
const head = (n) => Buffer.from('POST ' + u.pathname + ' HTTP/1.1\\r\\nHost: ' + u.host + '\\r\\nContent-Type: application/json\\r\\n' +
  'Content-Length: ' + n + '\\r\\nConnection: keep-alive\\r\\n\\r\\n');
const requests = readFileSync(bodyFile, 'utf8').split('\\n').filter((l) => l.trim()).map((l) => { const b = Buffer.from(l); return Buffer.concat([head(b.length), b]); });
const total = Math.round(Number(rate) * Number(seconds));
const lat = [], fromDue = [], late = [], idle = [], conns = new Set();
let non2xx = 0, errors = 0, timeouts = 0, done = 0, sent = 0, open = 0;
const fresh = () => ({ sent: 0, ok: 0, non2xx: 0, errors: 0, timeouts: 0, lat: [], late: [] });
let win = fresh();
const t0 = performance.now() + 200;
const count = () => { if (++done === total) finish(); };
// One keep-alive connection: one request at a time; the response ends when Content-Length bytes of body arrived.
function connection() {
  const c = { sock: net.connect(Number(u.port), u.hostname), buf: Buffer.alloc(0), req: null, at: 0, due: 0, busy: false, ready: false, dead: false };
  open++;
  conns.add(c);
  c.sock.setNoDelay(true);
  c.sock.on('connect', () => { c.ready = true; if (c.busy) c.sock.write(c.req); else idle.push(c); });
  c.sock.on('data', (d) => {
    c.buf = c.buf.length ? Buffer.concat([c.buf, d]) : d;
    const end = c.buf.indexOf('\\r\\n\\r\\n');
    if (end < 0) return;
    const head = c.buf.subarray(0, end).toString('latin1');
    const len = Number(/content-length: *(\\d+)/i.exec(head)?.[1] ?? 0);
    if (c.buf.length < end + 4 + len) return;
    const t = performance.now();
    const status = Number(head.slice(9, 12));
    if (status >= 200 && status < 300) { lat.push(t - c.at); fromDue.push(t - c.due); win.ok++; win.lat.push(Math.round((t - c.at) * 1000) / 1000); }
    else { non2xx++; win.non2xx++; }
    c.buf = c.buf.subarray(end + 4 + len);
    c.busy = false;
    idle.push(c);
    count();
  });
  c.fail = () => { if (c.dead) return; c.dead = true; open--; conns.delete(c); const i = idle.indexOf(c); if (i >= 0) idle.splice(i, 1);
    if (c.busy) { c.busy = false; errors++; win.errors++; count(); } };
  c.sock.on('error', c.fail);
  c.sock.on('close', c.fail);
  return c;
}
function send(due) {
  let c = idle.pop();
  while (c && c.dead) c = idle.pop();
  win.sent++;
  if (!c) { if (open >= 256) { errors++; win.errors++; count(); return; } c = connection(); }
  c.busy = true; c.due = due; c.at = performance.now(); c.req = requests[sent % requests.length];
  late.push(c.at - due);
  win.late.push(c.at - due);
  if (c.ready) c.sock.write(c.req);
}
for (let i = 0; i < 16; i++) connection();
const q = (xs, p) => { xs.sort((a, b) => a - b); return xs.length ? xs[Math.min(xs.length - 1, Math.floor(p * xs.length))] : null; };
let second = 0, reporter = null;
const flush = () => { const w = win; win = fresh();
  process.stdout.write(JSON.stringify({ second: second++, sent: w.sent, ok: w.ok, non2xx: w.non2xx, errors: w.errors, timeouts: w.timeouts, open, lateP99: q(w.late, 0.99), lat: w.lat }) + '\\n'); };
const nextReport = () => { reporter = setTimeout(() => { flush(); nextReport(); }, Math.max(0, t0 + (second + 1) * 1000 - performance.now())); };
if (report) nextReport();
const finish = () => { clearInterval(tick); clearInterval(expiry); clearTimeout(reporter);
  if (report) flush();
  const wall = (performance.now() - t0) / 1000;
  process.stdout.write(JSON.stringify({ p50: q(lat, 0.5), p99: q(lat, 0.99), max: q(lat, 1), dueP50: q(fromDue, 0.5), dueP99: q(fromDue, 0.99),
    lateP99: q(late, 0.99), requests: done, ok: lat.length, rps: done / wall, non2xx, errors, timeouts })); process.exit(0); };
const tick = setInterval(() => { const now = performance.now(); while (sent < total && t0 + (sent * 1000) / Number(rate) <= now) send(t0 + (sent++ * 1000) / Number(rate)); }, 1);
const expiry = timeoutMs > 0 ? setInterval(() => { const now = performance.now();
  for (const c of conns) if (c.busy && now - c.at > timeoutMs) { c.busy = false; timeouts++; win.timeouts++; c.fail(); c.sock.destroy(); count(); } }, 50) : null;
// Requests still unanswered this long after the run are timeouts.
setTimeout(() => { timeouts = total - done; done = total; finish(); }, (Number(seconds) + 10) * 1000);
`;

export type Paced = LoadResult & { max: number; dueP50: number; dueP99: number; lateP99: number };

/** One second of a paced run (from the generator's t0): requests sent in it, and those that ended in it by outcome. */
export interface PacedSecond {
  second: number;
  sent: number;
  ok: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  /** Open connections at the end of the second. */
  open: number;
  /** How late the generator's timer sent this second's requests, p99 (ms). */
  lateP99: number | null;
  /** Latency of each 2xx answered in the second (ms). */
  lat: number[];
}

export interface PacedOptions {
  /** A request unanswered this long (ms) is a timeout; default: only those unanswered 10 s after the run. */
  timeoutMs?: number;
  /** Called with each second of the run as it ends. */
  onSecond?: (s: PacedSecond) => void;
  /** Kills the generator. */
  signal?: AbortSignal;
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** Starts the paced generator on `url` (loopback only) for `seconds`; `result` settles when it has finished. */
export function startPaced(url: string, bodyFile: string, rate: number, seconds: number, o: PacedOptions = {}): { pid: number; result: Promise<Paced> } {
  if (!LOOPBACK.has(new URL(url).hostname)) throw new Error(`the load generator only targets loopback, not ${url}`);
  const args = ['--input-type=module', '-e', PACED, url, bodyFile, String(rate), String(seconds), String(o.timeoutMs ?? 0), o.onSecond ? '1' : '0'];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  let summary: Omit<Paced, 'rate'> | null = null;
  child.stderr.on('data', (d) => (err += d));
  createInterface({ input: child.stdout }).on('line', (line) => {
    const j = JSON.parse(line) as PacedSecond | Omit<Paced, 'rate'>;
    if ('second' in j) o.onSecond?.(j);
    else summary = j;
  });
  const kill = (): void => void child.kill('SIGKILL');
  const killer = setTimeout(kill, (seconds + 30) * 1000);
  o.signal?.addEventListener('abort', kill, { once: true });
  const result = new Promise<Paced>((resolve, reject) => {
    child.once('close', (code, signal) => {
      clearTimeout(killer);
      o.signal?.removeEventListener('abort', kill);
      const j = summary as Omit<Paced, 'rate'> | null;
      if (code !== 0 || !j) return reject(new Error(`load generator exited with ${code ?? signal}: ${err}`));
      resolve({ rate, p50: j.p50, p99: j.p99, max: j.max, dueP50: j.dueP50, dueP99: j.dueP99, lateP99: j.lateP99, rps: j.rps, requests: j.requests,
        non2xx: j.non2xx, errors: j.errors, timeouts: j.timeouts });
    });
  });
  return { pid: child.pid!, result };
}

export async function pacedLoad(url: string, bodyFile: string, rate: number, seconds: number): Promise<Paced> {
  return startPaced(url, bodyFile, rate, seconds).result;
}

/** One paced run as a line: latency from send, then from the due time and the generator's own lateness. */
export const pacedLine = (p: Paced): string => `achieved ${p.rps.toFixed(0)} req/s, p50 ${f2(p.p50, 2)} ms, p99 ${f2(p.p99, 2)} ms, max ${f2(p.max, 1)} ms ` +
  `(from due time: p50 ${f2(p.dueP50, 2)}, p99 ${f2(p.dueP99, 2)}; generator timer late p99 ${f2(p.lateP99, 2)} ms), ${p.requests} requests, ` +
  `non-2xx ${p.non2xx}, socket errors ${p.errors}, timeouts ${p.timeouts}`;

/**
 * `prerank serve` in a child process (what a deployment runs: its own heap and event loop, not this process's, which
 * holds datasets and models and whose garbage collections would land in the server's tail latency).
 */
export async function serveChild(args: string[]): Promise<{ address: string; pid: number; stop: () => Promise<void> }> {
  const cli = join(process.cwd(), 'dist', 'src', 'cli', 'main.js');
  // access lines off unless asked for: the bench measures serving, and keeps the server's stdout in memory
  const logLevel = args.includes('--log-level') ? [] : ['--log-level', 'warn'];
  const child = spawn(process.execPath, [cli, 'serve', '--host', '127.0.0.1', '--port', '0', ...logLevel, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '', err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const address = await new Promise<string>((resolve, reject) => {
    const t0 = Date.now();
    const poll = (): void => {
      const m = /on (http:\/\/[^\s]+) /.exec(out);
      if (m) return resolve(m[1]);
      if (child.exitCode !== null || Date.now() - t0 > 60_000) {
        child.kill('SIGKILL');
        return reject(new Error(`prerank serve did not start:\n${out}\n${err}`));
      }
      setTimeout(poll, 50);
    };
    poll();
  });
  const stop = async (): Promise<void> => {
    child.kill('SIGTERM');
    const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    const code = await exited;
    clearTimeout(killer);
    if (code !== 0) throw new Error(`prerank serve exited with ${code}: ${err}`);
  };
  return { address, pid: child.pid!, stop };
}
