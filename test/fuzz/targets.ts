// The real bundles and servers the route and bundle fuzzers run against (tiny DSSM, IntTower and DCN runs on the
// synthetic log), shared by test/fuzz.test.ts and `npm run bench -- faults`.
import { join } from 'node:path';
import { exportBundle } from '../../src/export/index.js';
import { createServer, type PrerankServer } from '../../src/serve/server.js';
import { tinyRun } from '../serve-fixture.js';
import type { BundleTarget } from './bundles.js';
import type { RouteTarget } from './routes.js';

export const FUZZ_ADMIN_TOKEN = 'fuzz-token';

/** Trains and exports the three bundles under `root`/bundles. */
export async function fuzzBundleTargets(root: string): Promise<BundleTarget[]> {
  const out: BundleTarget[] = [];
  for (const kind of ['dssm', 'int-tower', 'dcn'] as const) {
    const run = await tinyRun(root, kind);
    const dir = join(root, 'bundles', kind);
    await exportBundle(run.runDir, dir);
    out.push({ dir, user: run.users.get('u1')!, items: run.data.encoders.vocabulary('item_id').tokens.slice(0, 20) as string[] });
  }
  return out;
}

/** One in-process server per bundle, admin routes on with a token; reload paths include non-bundles. */
export async function fuzzRouteTargets(root: string, bundles: BundleTarget[]): Promise<{ targets: RouteTarget[]; close(): Promise<void> }> {
  const servers: PrerankServer[] = [];
  const targets: RouteTarget[] = [];
  for (const b of bundles) {
    const server = await createServer({ bundle: b.dir, adminToken: FUZZ_ADMIN_TOKEN, limits: { maxCandidates: 50, maxK: 20, bodyLimit: 50_000 },
      defaultMetrics: false, underPressure: false });
    servers.push(server);
    targets.push({ name: b.dir.split('/').pop()!, server, user: b.user, items: b.items, adminToken: FUZZ_ADMIN_TOKEN,
      reloadPaths: [b.dir, ...bundles.map((x) => x.dir), join(root, 'bundles'), join(root, 'bundles', 'nothing-here'), root] });
  }
  return { targets, close: async () => void (await Promise.all(servers.map((s) => s.app.close()))) };
}
