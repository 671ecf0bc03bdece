// `npm run bench -- <name>`: benchmarks that print ratios against a reference run in the same process.
const BENCHES: Record<string, (args: string[]) => Promise<void>> = {
  engine: async (args) => (await import('./engine.js')).benchEngine(args),
  data: async (args) => (await import('./data.js')).benchData(args),
  models: async (args) => (await import('./models.js')).benchModels(args),
  serve: async (args) => (await import('./serve.js')).benchServe(args),
  publish: async (args) => (await import('./publish.js')).benchPublish(args),
  train: async (args) => (await import('./train.js')).benchTrain(args),
  strategies: async (args) => (await import('./strategies.js')).benchStrategies(args),
  quantized: async (args) => (await import('./quantized.js')).benchQuantized(args),
  faults: async (args) => (await import('./faults.js')).benchFaults(args),
  soak: async (args) => (await import('./soak.js')).benchSoak(args),
  'redis-cluster': async (args) => (await import('./redis-cluster.js')).benchRedisCluster(args),
  scale: async (args) => (await import('./scale.js')).benchScale(args),
  encoders: async (args) => (await import('./encoders.js')).benchEncoders(args),
  mmap: async (args) => (await import('./mmap.js')).benchMmap(args),
  'id-lookup': async (args) => (await import('./id-lookup.js')).benchIdLookup(args),
  web: async (args) => (await import('./web.js')).benchWeb(args),
  'web-bundle': async (args) => (await import('./web-bundle.js')).benchWebBundle(args),
  retrieve: async (args) => (await import('./retrieve.js')).benchRetrieve(args),
  'retrieve-report': async (args) => (await import('./retrieve-html.js')).benchRetrieveReport(args),
  'retrieve-reach': async (args) => (await import('./retrieve-reach.js')).benchRetrieveReach(args),
  'retrieve-proxy': async (args) => (await import('./retrieve-proxy.js')).benchRetrieveProxy(args),
};

const [name, ...rest] = process.argv.slice(2);
const run = name ? BENCHES[name] : undefined;
if (!run) {
  console.error(`usage: npm run bench -- <${Object.keys(BENCHES).join('|')}> [options]`);
  process.exit(2);
}
await run(rest);
