"""Describe the runtime a PyTorch measurement ran in: torch build, BLAS actually mapped, env, CPU.

The BLAS is found from ``/proc/self/maps`` (what the process really loaded),
not from torch's build config, which on Debian only says ``BLAS_INFO=generic``
(torch links ``libblas.so.3``, an alternative that may be OpenBLAS or the slow
netlib reference BLAS). When OpenBLAS is mapped it is asked for its build
config, the kernel ("core") it picked for this CPU, and its thread count.
"""

import ctypes
import json
import os
import re
import resource
import sys
import time

import torch

ENV_VARS = (
    "OMP_WAIT_POLICY",
    "OMP_NUM_THREADS",
    "OPENBLAS_CORETYPE",
    "OPENBLAS_NUM_THREADS",
    "OPENBLAS_L2_SIZE",
)
BLAS_NAME = re.compile(r"lib(open)?blas|libmkl|libblis")
# OpenBLAS kernels that use AVX2/AVX-512; anything else on an AVX2 CPU is a fallback.
FAST_OPENBLAS_CORES = {"haswell", "zen", "skylakex", "cooperlake", "sapphirerapids"}


def env_snapshot():
    return {name: os.environ.get(name) for name in ENV_VARS}


def torch_info():
    config = torch.__config__.show()
    return {
        "version": torch.__version__,
        "num_threads": torch.get_num_threads(),
        "num_interop_threads": torch.get_num_interop_threads(),
        "blas_info": _config_field(config, r"BLAS_INFO=([^,\s]+)"),
        "lapack_info": _config_field(config, r"LAPACK_INFO=([^,\s]+)"),
        "cpu_capability": _config_field(config, r"CPU capability usage: (\S+)"),
    }


def _config_field(text, pattern):
    match = re.search(pattern, text)
    return match.group(1) if match else None


def cpu_info():
    model, flags = None, set()
    with open("/proc/cpuinfo", encoding="utf-8") as f:
        for line in f:
            key, _, value = line.partition(":")
            key = key.strip()
            if key == "model name" and model is None:
                model = value.strip()
            elif key == "flags" and not flags:
                flags = set(value.split())
    return {
        "model_name": model,
        "logical_cpus": os.cpu_count(),
        "affinity": len(os.sched_getaffinity(0)),
        "avx2": "avx2" in flags,
        "avx512f": "avx512f" in flags,
    }


def mapped_blas_libraries():
    """Paths of BLAS-like shared libraries mapped into this process, in map order."""
    paths = []
    with open("/proc/self/maps", encoding="utf-8") as f:
        for line in f:
            fields = line.split()
            path = fields[-1] if len(fields) >= 6 else ""
            if path.startswith("/") and BLAS_NAME.search(os.path.basename(path)) and path not in paths:
                paths.append(path)
    return paths


def _load_openblas(paths):
    """The first mapped library exporting ``openblas_get_config``, as ``(path, CDLL)``."""
    for path in paths:
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        if hasattr(lib, "openblas_get_config"):
            return path, lib
    return None, None


def _classify(paths):
    names = " ".join(paths).lower()
    if "mkl" in names:
        return "mkl"
    if "blis" in names:
        return "blis"
    if paths:
        return "netlib-reference"  # libblas.so.3 that is not OpenBLAS: Debian's /usr/lib/.../blas/
    return "none-mapped"


def blas_info(requested_threads=None):
    """Describe the mapped BLAS; if it is OpenBLAS and ``requested_threads`` is given, set its pool size."""
    paths = mapped_blas_libraries()
    path, lib = _load_openblas(paths)
    info = {"kind": _classify(paths) if lib is None else "openblas", "mapped": paths, "library": path}
    if lib is None:
        return info
    for fn in ("openblas_get_config", "openblas_get_corename"):
        getattr(lib, fn).restype = ctypes.c_char_p
    info["num_threads_at_start"] = lib.openblas_get_num_threads()
    if requested_threads is not None:
        # torch.set_num_threads() only sizes torch's OpenMP pool; OpenBLAS (pthread build)
        # keeps its own pool, which defaults to every CPU unless told otherwise.
        lib.openblas_set_num_threads(int(requested_threads))
    info.update(
        config=lib.openblas_get_config().decode(),
        corename=lib.openblas_get_corename().decode(),
        num_threads=lib.openblas_get_num_threads(),
        parallel={0: "sequential", 1: "pthread", 2: "openmp"}.get(lib.openblas_get_parallel()),
    )
    return info


class CpuMeter:
    """CPU that other processes (and hypervisor steal) used during a measurement.

    ``/proc/stat`` gives the whole machine's busy time, ``getrusage`` this process's
    (all threads); the difference is what neighbours took from the benchmark.
    """

    def __enter__(self):
        self.start = _cpu_clocks()
        return self

    def __exit__(self, *exc):
        wall, machine, own = (end - start for end, start in zip(_cpu_clocks(), self.start))
        self.report = {"wall_s": wall, "own_cpu_s": own, "other_cpu_s": max(0.0, machine - own)}


def _cpu_clocks():
    """(wall, whole-machine busy CPU, this process's CPU) in seconds."""
    return time.perf_counter(), _machine_busy_s(), _own_cpu_s()


def _machine_busy_s():
    with open("/proc/stat", encoding="utf-8") as f:
        ticks = [int(v) for v in f.readline().split()[1:]]
    idle, iowait = ticks[3], ticks[4]
    return (sum(ticks) - idle - iowait) / os.sysconf("SC_CLK_TCK")


def _own_cpu_s():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def contention_warnings(contention, limit_cores=0.1):
    busy_cores = contention["other_cpu_s"] / max(contention["wall_s"], 1e-9)
    if busy_cores <= limit_cores:
        return []
    return [f"other processes used {busy_cores:.2f} CPUs during the timed steps: timings are unreliable"]


def warnings_for(torch_part, blas, cpu, requested_threads, requested_blas_threads):
    """Human-readable problems that make a measurement misleading."""
    warnings = []
    if blas["kind"] == "netlib-reference":
        warnings.append(
            "BLAS IS THE NETLIB REFERENCE IMPLEMENTATION (%s): torch matmuls are ~10x slower than "
            "with OpenBLAS; this comparison is MEANINGLESS. Install libopenblas0-pthread "
            "(scripts/install-reference.sh)." % ", ".join(blas["mapped"])
        )
    elif blas["kind"] == "none-mapped":
        warnings.append("no BLAS library found in /proc/self/maps; cannot tell which BLAS torch uses")
    core = (blas.get("corename") or "").lower()
    if blas["kind"] == "openblas" and cpu["avx2"] and core not in FAST_OPENBLAS_CORES:
        warnings.append(
            f"OpenBLAS picked core {blas['corename']!r}, a non-AVX2 fallback kernel on an AVX2 CPU "
            "(unrecognised CPU?); set OPENBLAS_CORETYPE=Haswell (or SkylakeX) for a fair comparison"
        )
    if torch_part["num_threads"] != requested_threads:
        warnings.append(f"torch uses {torch_part['num_threads']} threads, {requested_threads} requested")
    if blas.get("num_threads") not in (None, requested_blas_threads):
        warnings.append(f"OpenBLAS uses {blas['num_threads']} threads, {requested_blas_threads} requested")
    spinning = (os.environ.get("OMP_WAIT_POLICY") or "").upper() != "PASSIVE"
    both_pools = min(requested_threads, blas.get("num_threads", 1)) > 1 and blas.get("parallel") == "pthread"
    if spinning and both_pools:
        warnings.append(
            "torch's OpenMP threads busy-wait while OpenBLAS's own pthread pool runs, oversubscribing "
            "the CPUs (slow, noisy steps): set OMP_WAIT_POLICY=PASSIVE before starting python"
        )
    if max(requested_threads, requested_blas_threads) > cpu["affinity"]:
        warnings.append(f"more threads requested than the {cpu['affinity']} CPUs available")
    return warnings


def write_report(report, out, script):
    """Writes the report as JSON to `out` ('-' = stdout) and its warnings to stderr, prefixed with `script`."""
    text = json.dumps(report, indent=1)
    if out == "-":
        print(text)
    else:
        with open(out, "w", encoding="utf-8") as f:
            f.write(text + "\n")
    for warning in report["warnings"]:
        print(f"{script} WARNING: {warning}", file=sys.stderr)
