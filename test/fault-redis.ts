// Fault scenario: redis-server (or one master of a Redis Cluster) SIGKILLed under load and restarted empty on the same
// port (test/fault-scenarios.ts).
import { createServer } from '../src/serve/server.js';
import { sleep, type FaultResult } from './fault-common.js';
import { redisClusterAvailable, REDIS_CLUSTER_SKIP, startRedisCluster } from './redis-cluster-fixture.js';
import { redisAvailable, REDIS_SKIP, startRedis } from './serve-fixture.js';

/** What the scenario kills and restarts. */
interface Target {
  url: string;
  kill(): Promise<void>;
  /** Back on the same port, empty; resolves once it serves again (a cluster: cluster_state:ok everywhere). */
  start(): Promise<void>;
  stop(): Promise<void>;
}

async function serverTarget(): Promise<Target> {
  let r = await startRedis();
  const port = r.port;
  return { url: r.url, kill: () => r.kill(), start: async () => void (r = await startRedis(port)), stop: () => r.stop() };
}

async function clusterTarget(nodeTimeoutMs: number): Promise<Target> {
  const c = await startRedisCluster({ nodeTimeoutMs });
  return { url: c.url, kill: () => c.kill(0), start: () => c.start(0), stop: () => c.stop() };
}

interface Shot {
  start: number;
  end: number;
  status: number;
  body: { error?: string; message?: string; items?: unknown; unknown?: unknown } | null;
  error?: string;
}

/**
 * A server on the Redis item store (lookups time out after `timeoutMs`), 4 clients sending requests back to back;
 * each cycle SIGKILLs redis-server (`cluster`: the first master of a 3-master Redis Cluster), holds it down `downMs`,
 * restarts it empty on the same port. Per cycle: every request answers within timeoutMs + 1.5 s (nothing hangs), with
 * 200 and the same answer as before the fault or 503 `item store unavailable` with a message; requests started while
 * redis is down are 503 (a cluster: 200 with the same answer also passes, as long as some were 503: the other
 * masters still serve); /healthz answers; within `recoverMs` of the restart every request is 200 again with the same
 * answer, without restarting the server.
 */
export async function redisRestartScenario(o: { bundle: string; user: Record<string, string>; candidates: string[]; cycles: number; timeoutMs?: number; downMs?: number;
  recoverMs?: number; cluster?: { nodeTimeoutMs: number } }): Promise<FaultResult> {
  const name = o.cluster ? `redis cluster master SIGKILL + restart under load (node timeout ${o.cluster.nodeTimeoutMs} ms)` : 'redis-server SIGKILL + restart under load';
  if (o.cluster ? !redisClusterAvailable() : !redisAvailable()) return { name, faults: 0, survived: 0, detail: '', failures: [], skipped: o.cluster ? REDIS_CLUSTER_SKIP : REDIS_SKIP };
  const timeoutMs = o.timeoutMs ?? 300, downMs = o.downMs ?? 1000, recoverMs = o.recoverMs ?? 5000;
  const bound = timeoutMs + 1500;
  const redis = o.cluster ? await clusterTarget(o.cluster.nodeTimeoutMs) : await serverTarget();
  const srv = await createServer({ bundle: o.bundle, store: `${redis.url}?timeout=${timeoutMs}`, ann: 'off', underPressure: false, defaultMetrics: false });
  const failures: string[] = [];
  let survived = 0;
  const recoveries: number[] = [];
  let down503 = 0, slowest = 0;
  const messages = new Set<string>();
  try {
    const address = await srv.app.listen({ port: 0, host: '127.0.0.1' });
    const body = JSON.stringify({ user: o.user, candidates: o.candidates });
    const call = async (): Promise<Shot> => {
      const start = performance.now();
      try {
        const r = await fetch(`${address}/v1/score`, { method: 'POST', headers: { 'content-type': 'application/json' }, body, signal: AbortSignal.timeout(bound) });
        const text = await r.text();
        let parsed: Shot['body'] = null;
        try {
          parsed = JSON.parse(text);
        } catch {
          parsed = null;
        }
        return { start, end: performance.now(), status: r.status, body: parsed };
      } catch (e) {
        return { start, end: performance.now(), status: 0, body: null, error: (e as Error).message };
      }
    };
    const base = await call();
    if (base.status !== 200) throw new Error(`baseline request: ${base.status} ${JSON.stringify(base.body)}`);
    const expected = JSON.stringify([base.body!.items, base.body!.unknown]);
    const shots: Shot[] = [];
    let stop = false;
    const clients = Array.from({ length: 4 }, async () => {
      while (!stop) shots.push(await call());
    });
    try {
      for (let c = 0; c < o.cycles; c++) {
        await sleep(300);
        const from = performance.now();
        await redis.kill();
        const killedAt = performance.now();
        let health = 0, healthBad = 0;
        while (performance.now() - killedAt < downMs) {
          const h = await fetch(`${address}/healthz`, { signal: AbortSignal.timeout(bound) }).then((r) => r.status, () => 0);
          health++;
          if (h !== 200) healthBad++;
          await sleep(100);
        }
        await redis.start();
        const restartedAt = performance.now();
        // recovered: the first moment after which every request started is a correct 200 (at least 5 of them)
        let recovered: number | null = null;
        while (performance.now() - restartedAt < recoverMs + 1000) {
          await sleep(100);
          const since = shots.filter((s) => s.start >= restartedAt);
          let firstBad = -1;
          since.forEach((s, i) => {
            if (!(s.status === 200 && JSON.stringify([s.body?.items, s.body?.unknown]) === expected)) firstBad = i;
          });
          const good = since.slice(firstBad + 1);
          if (good.length >= 5) {
            recovered = good[0].start - restartedAt;
            break;
          }
        }
        await sleep(200);
        const until = performance.now();
        const mine = shots.filter((s) => s.start >= from && s.start < until);
        const bad: string[] = [];
        if (healthBad) bad.push(`/healthz failed ${healthBad} of ${health} times while redis was down`);
        for (const s of mine) {
          const ms = s.end - s.start;
          slowest = Math.max(slowest, ms);
          if (s.error) bad.push(`a request got no answer in ${bound} ms (${s.error})`);
          else if (ms > bound) bad.push(`a request took ${ms.toFixed(0)} ms (bound ${bound})`);
          else if (s.status === 200 && JSON.stringify([s.body?.items, s.body?.unknown]) !== expected) bad.push(`a 200 with a wrong answer: ${JSON.stringify(s.body).slice(0, 160)}`);
          else if (s.status === 503 && !(s.body?.error === 'item store unavailable' && /redis/.test(s.body?.message ?? ''))) bad.push(`a 503 without a clear message: ${JSON.stringify(s.body)}`);
          else if (s.status !== 200 && s.status !== 503) bad.push(`status ${s.status}: ${JSON.stringify(s.body).slice(0, 160)}`);
        }
        for (const s of mine) if (s.status === 503) messages.add(String(s.body?.message).replace(/\d+ items/, 'N items').replace(/:\d+/, ':PORT'));
        const whileDown = mine.filter((s) => s.start >= killedAt + timeoutMs + 100 && s.end < restartedAt);
        down503 += whileDown.filter((s) => s.status === 503).length;
        const down503s = whileDown.filter((s) => s.status === 503).length;
        if (!whileDown.length) bad.push('no request completed while redis was down');
        else if (!o.cluster && down503s < whileDown.length) bad.push(`requests while redis was down: ${whileDown.length - down503s} of ${whileDown.length} not 503`);
        else if (o.cluster && !down503s) bad.push(`none of the ${whileDown.length} requests while a master was down was 503 (did the fault reach the store?)`);
        if (recovered === null) bad.push(`not recovered within ${recoverMs} ms of the restart (last: ${JSON.stringify(shots.at(-1)?.body).slice(0, 200)})`);
        else recoveries.push(recovered);
        const uniq = [...new Set(bad)];
        if (uniq.length) failures.push(`cycle ${c + 1}: ${uniq.slice(0, 4).join('; ')}`);
        else survived++;
      }
    } finally {
      stop = true;
      await Promise.all(clients);
    }
  } finally {
    await srv.app.close();
    await redis.stop();
  }
  const rec = recoveries.length ? `${(Math.max(...recoveries) / 1000).toFixed(2)} s` : 'n/a';
  return { name, faults: o.cycles, survived, failures,
    detail: `store timeout ${timeoutMs} ms, down ${downMs} ms: ${down503} requests 503 while down, slowest answer ${slowest.toFixed(0)} ms, recovered <= ${rec} after restart; 503 messages: ${[...messages].map((m) => JSON.stringify(m)).join(' | ')}` };
}

