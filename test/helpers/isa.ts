// Runs a check once on each instruction set the native engine supports, for the per-ISA copies of a kernel.
import { engineInfo, setIsa } from '../../src/core/index.js';

/** fn(isa) with the engine switched to each supported ISA in turn; the detected one is restored after, even on failure. */
export function onEveryIsa(fn: (isa: string) => void): void {
  const info = engineInfo();
  if (!info) throw new Error('onEveryIsa: the native addon is not loaded');
  try {
    for (const isa of info.supportedIsas) {
      setIsa(isa);
      fn(isa);
    }
  } finally {
    setIsa(info.detectedIsa);
  }
}
