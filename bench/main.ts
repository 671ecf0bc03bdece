// `npm run bench -- <name>`: benchmarks that print ratios against a reference run in the same session.
import { benchEngine } from './engine.js';

const BENCHES: Record<string, (args: string[]) => Promise<void>> = { engine: benchEngine };
BENCHES.data = async (args) => (await import('./data.js')).benchData(args);

const [name, ...rest] = process.argv.slice(2);
const run = name ? BENCHES[name] : undefined;
if (!run) {
  console.error(`usage: npm run bench -- <${Object.keys(BENCHES).join('|')}> [options]`);
  process.exit(2);
}
await run(rest);
