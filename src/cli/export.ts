// `prerank export --model <run dir> --out <dir> [--items float32|bfloat16|float16|int8]`: a serving bundle from a training run.
import { parseArgs } from 'node:util';
import { exportBundle } from '../export/index.js';
import { ITEM_DTYPES, type ItemDType } from '../export/item-table.js';

const USAGE = 'usage: prerank export --model <run dir> --out <dir> [--items float32|bfloat16|float16|int8]';

export async function runExport(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { model: { type: 'string' }, out: { type: 'string' }, items: { type: 'string', default: 'float32' } } });
  if (!values.model || !values.out) throw new Error(USAGE);
  if (!ITEM_DTYPES.includes(values.items as ItemDType)) throw new Error(`--items must be one of ${ITEM_DTYPES.join(', ')}, got '${values.items}'`);
  const t0 = performance.now();
  const { manifest } = await exportBundle(values.model, values.out, { itemDtype: values.items as ItemDType });
  const it = manifest.items;
  const items = it.cached
    ? `${it.count} item reps [${it.count}, ${it.dim}] ${it.dtype}${it.accuracy ? ` (max abs score error vs float32 ${it.accuracy.maxAbsScoreError.toExponential(2)})` : ''}; export check ${it.exportCheck.maxAbsError.toExponential(2)}; retrieval ${it.retrieval ? 'inner product' : 'not available'}`
    : `${it.count} items, not cached (${it.reason})`;
  const ue = manifest.strategy?.userEncodings;
  const users = ue ? `; ${ue.count} stored user encodings [${ue.count}, ${ue.dim}] from strategy '${manifest.strategy!.kind}' (other users: the user tower)` : '';
  console.log(`bundle ${values.out}: ${manifest.modelVersion}; ${items}${users}; ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}
