// Fault injection, shared by test/faults.test.ts (few repetitions, for CI) and `npm run bench -- faults` (many): each
// scenario injects real faults — redis-server SIGKILLed under load and restarted empty, a writer SIGKILLed at random
// moments (export, checkpoint, online publish), a full file system, a missing or truncated ANN index — and returns
// how many faults it injected, how many the code survived, and one line per fault it did not.
export type { FaultResult } from './fault-common.js';
export { redisRestartScenario } from './fault-redis.js';
export { fullDiskScenario, killWriterScenario } from './fault-writes.js';
export { annDamageScenario } from './fault-ann.js';
