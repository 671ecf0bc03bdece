"""PyTorch reference for prerank's training-step benchmark.

Loads a fixture written by the TypeScript bench (identical weights and batch),
runs ``--check-steps`` Adam steps recording each loss (computed before the
update) for a correctness comparison, then ``--warmup`` untimed and
``--timed`` timed steps on the same batch. One step is
``zero_grad + forward + backward + optimizer.step``. Writes a JSON report
with the losses, per-step times, and the runtime (torch, BLAS, env, CPU).

Run with Debian's Python, where python3-torch lives:

    /usr/bin/python3 bench/reference/step.py --fixture DIR --threads 2 \\
        --check-steps 5 --warmup 5 --timed 20 --out result.json
"""

import argparse
import statistics
import sys
import time

import torch

sys.dont_write_bytecode = True  # keep bench/reference free of __pycache__

import fixture_io  # noqa: E402  (sibling modules)
import models
import runtime_info


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fixture", required=True, help="fixture directory (manifest.json + tensors.bin)")
    parser.add_argument("--threads", type=int, required=True, help="torch thread count")
    parser.add_argument("--blas-threads", type=int, help="OpenBLAS thread count (default: --threads)")
    parser.add_argument("--check-steps", type=int, default=5, help="steps whose losses are recorded")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps before timing")
    parser.add_argument("--timed", type=int, default=10, help="timed steps")
    parser.add_argument("--out", required=True, help="output JSON path ('-' for stdout)")
    args = parser.parse_args(argv)
    if args.blas_threads is None:
        args.blas_threads = args.threads
    if min(args.threads, args.blas_threads, args.timed) < 1 or min(args.check_steps, args.warmup) < 0:
        parser.error("--threads, --blas-threads and --timed must be >= 1; --check-steps and --warmup >= 0")
    return args


class Trainer:
    """One model, one fixed batch, one Adam over all parameters."""

    def __init__(self, manifest, arrays):
        self.model, self.batch, self.labels = models.build(manifest, arrays)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=float(manifest["lr"]))

    def step(self):
        """One training step; returns the loss computed before the update."""
        self.optimizer.zero_grad(set_to_none=True)
        loss = models.loss_fn(self.model(self.batch), self.labels)
        loss.backward()
        self.optimizer.step()
        return loss


def check_losses(trainer, steps):
    return [trainer.step().item() for _ in range(steps)]


def time_steps(trainer, warmup, timed):
    """Per-step wall times in milliseconds for ``timed`` steps after ``warmup`` steps."""
    for _ in range(warmup):
        trainer.step()
    times = []
    for _ in range(timed):
        start = time.perf_counter()
        trainer.step()
        times.append((time.perf_counter() - start) * 1e3)
    return times


def loss_warnings(losses):
    bad = [i for i, loss in enumerate(losses) if loss != loss or loss in (float("inf"), float("-inf"))]
    return [f"non-finite loss at check steps {bad}"] if bad else []


def run(args):
    torch.set_num_threads(args.threads)
    blas = runtime_info.blas_info(requested_threads=args.blas_threads)
    manifest, arrays = fixture_io.read_fixture(args.fixture)
    trainer = Trainer(manifest, arrays)

    losses = check_losses(trainer, args.check_steps)
    with runtime_info.CpuMeter() as meter:
        step_ms = time_steps(trainer, args.warmup, args.timed)

    torch_part, cpu = runtime_info.torch_info(), runtime_info.cpu_info()
    warnings = runtime_info.warnings_for(torch_part, blas, cpu, args.threads, args.blas_threads)
    warnings += runtime_info.contention_warnings(meter.report) + loss_warnings(losses)
    return {
        "model": manifest["model"],
        "fixture": args.fixture,
        "config": manifest["config"],
        "batch_size": int(trainer.labels.shape[0]),
        "lr": manifest["lr"],
        "parameters": sum(p.numel() for p in trainer.model.parameters()),
        "threads": args.threads,
        "blas_threads": args.blas_threads,
        "losses": losses,
        "warmup": args.warmup,
        "timed": args.timed,
        "step_ms": step_ms,
        "median_ms": statistics.median(step_ms),
        "min_ms": min(step_ms),
        "contention": meter.report,
        "torch": torch_part,
        "blas": blas,
        "env": runtime_info.env_snapshot(),
        "cpu": cpu,
        "python": sys.version.split()[0],
        "warnings": warnings,
    }


def main(argv=None):
    args = parse_args(argv)
    runtime_info.write_report(run(args), args.out, "step.py")


if __name__ == "__main__":
    main()
