// Our training steps against PyTorch from identical weights and batch: losses over 10 Adam steps within 1e-4.
// Runs only where Debian's python3-torch is installed (scripts/install-reference.sh); skips with the reason otherwise.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDssmStep, createIntTowerStep } from '../bench/step-models.js';
import { TORCH_CONFIGS, runTorch, torchAvailable, writeFixture } from '../bench/torch-reference.js';

const missing = torchAvailable();

for (const [kind, create] of [['dssm', createDssmStep], ['inttower', createIntTowerStep]] as const) {
  test(`${kind} step: 10 Adam steps match PyTorch within 1e-4`, { skip: missing ?? false }, async () => {
    const model = create(3);
    const dir = mkdtempSync(join(tmpdir(), `prerank-torch-${kind}-`));
    try {
      await writeFixture(dir, kind, model.config, 1e-3, model.fixture());
      const ours = Array.from({ length: 10 }, () => model.step());
      const torch = runTorch(dir, TORCH_CONFIGS[0], 10, 1);
      assert.ok(ours[9] < ours[0], `loss should fall: ${ours[0]} -> ${ours[9]}`);
      ours.forEach((l, i) => assert.ok(Math.abs(l - torch.losses[i]) < 1e-4, `step ${i}: prerank ${l} vs torch ${torch.losses[i]}`));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
