// `prerank export --model <run dir> --out <dir> [--items float32|bfloat16|float16|int8] [--format bundle|onnx]`: a serving
// bundle, or ONNX graphs with inputs.json, from a training run; `--bundle <dir> --format onnx`: ONNX graphs from a bundle;
// `--bundle <dir> --out <dir>`: a copy of a bundle with its item ids in the current id-table layout.
import { exportBundle, exportOnnxBundle, exportOnnxRun } from '../export/index.js';
import { ID_TABLE_VERSION } from '../export/id-table.js';
import { upgradeBundle } from '../export/upgrade-bundle.js';
import { retrievalSummary } from '../export/retrieval-index.js';
import { ITEM_DTYPES } from '../export/item-table.js';
import { defineCommand, UsageError } from './command.js';

export const exportCommand = defineCommand({
  name: 'prerank export',
  summary: 'Write a serving bundle from a training run: manifest, weights, encoders, and (two-tower models) the cached item '
    + 'representations with an inner-product retrieval index; checks that the exported scores equal the training-time ones. '
    + 'With --format onnx: the model as ONNX graphs, from a training run or from a bundle. With --bundle alone: a copy of a '
    + 'bundle whose item ids are rewritten in the current id-table layout (every other file hard-linked, no training run needed).',
  usage: ['prerank export --model <run dir> --out <dir> [options]', 'prerank export --bundle <bundle dir> --format onnx --out <dir>',
    'prerank export --bundle <bundle dir> --out <dir>'],
  options: {
    model: { type: 'string', value: 'run dir', description: 'a training run directory (config.json + best/)' },
    bundle: { type: 'string', value: 'bundle dir', description: 'instead of --model, a bundle written by prerank export: with --format onnx, '
      + 'its model as ONNX graphs; otherwise a copy of it with items/ids.bin in the current id-table layout (hard links for the other files)' },
    out: { type: 'string', required: true, value: 'dir', description: 'the bundle directory to write (the ONNX directory with --format onnx)' },
    items: { type: 'string', default: 'float32', choices: ITEM_DTYPES, description: 'number format of the cached item table' },
    'head-index': { type: 'string', default: 'hnsw', choices: ['hnsw', 'centroids'] as const,
      description: "max-sim models' retrieval index: one HNSW graph over every item head, or k-means centroids with inverted lists (docs/SERVING.md, \"Retrieval\")" },
    format: { type: 'string', default: 'bundle', choices: ['bundle', 'onnx'] as const,
      description: "'onnx': user_tower/item_tower/scorer/model.onnx (opset 17), inputs.json and encoders.json instead of a bundle (docs/ONNX.md)" },
  },
  examples: ['prerank export --model runs/int-tower --out bundles/int-tower', 'prerank export --model runs/dssm --out bundles/dssm-bf16 --items bfloat16',
    'prerank export --model runs/int-tower --head-index centroids --out bundles/int-tower-ivf', 'prerank export --model runs/int-tower --format onnx --out onnx/int-tower', 'prerank export --bundle bundles/int-tower --format onnx --out onnx/int-tower',
    'prerank export --bundle bundles/dssm --out bundles/dssm-ids2'],
  async run(o) {
    const t0 = performance.now();
    if ((o.model === undefined) === (o.bundle === undefined)) throw new UsageError(o.model === undefined ? 'give --model <run dir> or --bundle <bundle dir>' : 'give --model or --bundle, not both');
    if (o.bundle !== undefined && o.format !== 'onnx') {
      if (o.items !== 'float32') throw new UsageError('--items sets the item table of an export from --model; a copy of a bundle keeps its table');
      const r = await upgradeBundle(o.bundle, o.out);
      const what = r.fromLayout === ID_TABLE_VERSION ? `already layout ${ID_TABLE_VERSION}` : `layout ${r.fromLayout} -> ${ID_TABLE_VERSION}`;
      console.log(`bundle ${o.out}: items/ids.bin ${what}; ${r.linked} files hard-linked, ${r.copied} copied; ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      return;
    }
    if (o.format === 'onnx') {
      const r = o.bundle !== undefined ? await exportOnnxBundle(o.bundle, o.out) : await exportOnnxRun(o.model!, o.out);
      const files = r.files.map((f) => `${f.file} (${(f.bytes / 1024).toFixed(1)} KiB)`).join(', ');
      console.log(`onnx ${o.out}: ${r.inputs.model}; ${files}; inputs.json, encoders.json; ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      return;
    }
    const { manifest } = await exportBundle(o.model!, o.out, { itemDtype: o.items, headIndex: o['head-index'] });
    const it = manifest.items;
    const items = it.cached
      ? `${it.count} item reps [${it.count}, ${it.dim}] ${it.dtype}${it.accuracy ? ` (max abs score error vs float32 ${it.accuracy.maxAbsScoreError.toExponential(2)})` : ''}; export check ${it.exportCheck.maxAbsError.toExponential(2)}; ${retrievalSummary(it.retrievalIndex)}`
      : `${it.count} items, not cached (${it.reason})`;
    const ue = manifest.strategy?.userEncodings;
    const users = ue ? `; ${ue.count} stored user encodings [${ue.count}, ${ue.dim}] from strategy '${manifest.strategy!.kind}' (other users: the user tower)` : '';
    console.log(`bundle ${o.out}: ${manifest.modelVersion}; ${items}${users}; ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  },
});
