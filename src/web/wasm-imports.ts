// What the scorer module imports: env.prerank_throw (a C++ exception's message becomes a JS Error; native/wasm/web_abi.cc)
// and the few WASI calls wasi-libc links in for getenv, stdio and abort. The scorer reads no files, no clock and
// no environment: every variable is unset, and a write to stdout/stderr goes to the console.

/** Thrown by the scorer module: a plan the serving code refuses, or an abort inside it. */
export class WasmScorerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WasmScorerError';
  }
}

const ENOSYS = 52;

export function scorerImports(memory: () => WebAssembly.Memory): WebAssembly.Imports {
  const view = () => new DataView(memory().buffer);
  const text = (ptr: number, len: number) => new TextDecoder().decode(new Uint8Array(memory().buffer, ptr, len));
  return {
    env: {
      prerank_throw: (ptr: number, len: number) => {
        throw new WasmScorerError(text(ptr, len));
      },
    },
    wasi_snapshot_preview1: {
      environ_sizes_get: (count: number, size: number) => {
        view().setUint32(count, 0, true);
        view().setUint32(size, 0, true);
        return 0;
      },
      environ_get: () => 0,
      fd_write: (fd: number, iovs: number, iovsLen: number, written: number) => {
        const v = view();
        let out = '';
        let n = 0;
        for (let i = 0; i < iovsLen; i++) {
          const ptr = v.getUint32(iovs + 8 * i, true), len = v.getUint32(iovs + 8 * i + 4, true);
          out += text(ptr, len);
          n += len;
        }
        v.setUint32(written, n, true);
        if (out.trim()) (fd === 2 ? console.warn : console.log)(`prerank wasm: ${out.trimEnd()}`);
        return 0;
      },
      fd_close: () => 0,
      fd_seek: () => ENOSYS,
      clock_time_get: () => ENOSYS,
      proc_exit: (code: number) => {
        throw new WasmScorerError(`the scorer module aborted (exit code ${code})`);
      },
    },
  };
}
