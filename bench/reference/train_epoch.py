"""PyTorch reference for ``npm run bench -- train``: IntTower training epochs on ML-100K.

The fixture (written by bench/train.ts) holds prerank's initial IntTower weights under prerank's own names
(``embed.<table>.table``, ``userSe.fc.weight``, ``user.fc0.weight`` [in, out], ``user.bn0.gamma``, ``userHead0.weight``,
``itemHead.weight``, ``bias``, BN running stats) and the encoded training split once per epoch, already in the order
prerank's trainer visits it (``data.e<k>.<feature>``, ``data.e<k>.<sequence>.lengths``, ``data.e<k>.label``), so both
sides see the same batches. ``config``: ``model_config`` (the model's config with its defaults filled in),
``features`` (the dataset's features: ``name``, ``kind``, ``source``, ``table``, ``pooling``), ``rows``, ``batch_size``.

The model is the registry IntTower's PyTorch twin (twins/two_tower.py, the same class the registry comparison in
test/torch-reference.test.ts checks): Light-SE, towers linear -> BN -> ReLU -> dropout, FE-Block max-sim, CIR and the
L2 term on the batch's field embeddings, in whichever variant the config names. Embeddings are
``nn.Embedding(sparse=True)`` updated by ``SparseAdam`` (lazy, like prerank's), everything else by ``Adam``; both lr
from the fixture. Differences that do not change the work: dropout masks come from torch's RNG; SparseAdam adds eps
to sqrt(v) before the bias correction (prerank after it, as dense Adam does); amax's gradient splits ties, prerank's
goes to the first.

Two phases per run: ``--check-steps`` steps with dropout 0 on epoch 0's first batches, recording each loss (before
the update) to compare with prerank's from the same weights (with twins.layers.LazyAdam, a replica of prerank's lazy Adam);
then ``--epochs`` epochs with the configured dropout
from a fresh copy of the weights, each timed with ``time.perf_counter`` (batches are prepared before timing);
``--give-up-s`` abandons a configuration once its warm-up epoch has run that long, and reports that epoch's pace
(2 threads with OpenMP busy-waiting against OpenBLAS's pool is ~20x slower here).

    /usr/bin/python3 bench/reference/train_epoch.py --fixture DIR --threads 2 --check-steps 5 --epochs 4 --out r.json
"""

import argparse
import statistics
import sys
import time

import torch

sys.dont_write_bytecode = True  # keep bench/reference free of __pycache__

import fixture_io  # noqa: E402  (sibling modules)
import runtime_info
import twins
from twins.layers import optimizers


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fixture", required=True, help="fixture directory (manifest.json + tensors.bin)")
    parser.add_argument("--threads", type=int, required=True, help="torch thread count")
    parser.add_argument("--blas-threads", type=int, help="OpenBLAS thread count (default: --threads)")
    parser.add_argument("--check-steps", type=int, default=5, help="dropout-free steps whose losses are recorded")
    parser.add_argument("--epochs", type=int, default=4, help="epochs to run (the first is the warm-up)")
    parser.add_argument("--give-up-s", type=float, help="abandon the run when one epoch takes longer (a hopeless configuration)")
    parser.add_argument("--out", required=True, help="output JSON path ('-' for stdout)")
    args = parser.parse_args(argv)
    if args.blas_threads is None:
        args.blas_threads = args.threads
    if min(args.threads, args.blas_threads, args.epochs) < 1 or args.check_steps < 0:
        parser.error("--threads, --blas-threads and --epochs must be >= 1; --check-steps >= 0")
    return args


class Trainer:
    """The registry IntTower's twin (twins/two_tower.py) with its optimizers: the exact replica of prerank's lazy Adam
    on the tables for the check phase, torch's SparseAdam for the timed epochs; Adam on the rest."""

    def __init__(self, cfg, tensors, lr, dropout, exact_lazy_adam=False):
        features, model_config = cfg["features"], {**cfg["model_config"], "dropout": dropout}
        self.model = twins.build("int-tower", features, model_config, tensors)
        self.model.train()
        self.optimizers = optimizers(self.model, lr, lazy=exact_lazy_adam)

    def step(self, batch):
        for opt in self.optimizers:
            opt.zero_grad(set_to_none=True)
        loss = self.model.loss(batch)[0]
        loss.backward()
        for opt in self.optimizers:
            opt.step()
        return loss.item()


def epoch_batches(cfg, arrays, epoch):
    """The epoch's batches as dicts of tensors by feature name (int64 ids, as typical user code feeds nn.Embedding)."""
    prefix = f"data.e{epoch}."
    rows, size = int(cfg["rows"]), int(cfg["batch_size"])

    def column(name):
        return torch.from_numpy(arrays[prefix + name])

    cols = {"label": column("label")}
    for f in cfg["features"]:
        cols[f["name"]] = column(f["name"]).long() if f["kind"] != "dense" else column(f["name"])
        if f["kind"] == "sequence":
            cols[f["name"] + ".lengths"] = column(f["name"] + ".lengths").long()
    return [{k: v[at:at + size] for k, v in cols.items()} for at in range(0, rows, size)]


def run(args):
    torch.set_num_threads(args.threads)
    blas = runtime_info.blas_info(requested_threads=args.blas_threads)
    manifest, arrays = fixture_io.read_fixture(args.fixture)
    cfg, lr = manifest["config"], float(manifest["lr"])
    weights = {k: torch.from_numpy(v) for k, v in arrays.items() if not k.startswith("data.")}

    checker = Trainer(cfg, weights, lr, dropout=0.0, exact_lazy_adam=True)
    first = epoch_batches(cfg, arrays, 0)
    losses = [checker.step(first[i]) for i in range(min(args.check_steps, len(first)))]

    trainer = Trainer(cfg, weights, lr, dropout=float(cfg["model_config"]["dropout"]))
    epoch_s, epoch_loss = [], []
    with runtime_info.CpuMeter() as meter:
        for e in range(args.epochs):
            batches = epoch_batches(cfg, arrays, e)
            start, total, done = time.perf_counter(), 0.0, 0
            for b in batches:
                total += trainer.step(b) * b["label"].shape[0]
                done += 1
                if args.give_up_s is not None and time.perf_counter() - start > args.give_up_s:
                    break
            # An abandoned warm-up epoch counts as its pace over the whole epoch.
            epoch_s.append((time.perf_counter() - start) * len(batches) / done)
            epoch_loss.append(total / int(cfg["rows"]))
            if done < len(batches):
                break

    torch_part, cpu = runtime_info.torch_info(), runtime_info.cpu_info()
    warnings = runtime_info.warnings_for(torch_part, blas, cpu, args.threads, args.blas_threads)
    warnings += runtime_info.contention_warnings(meter.report)
    if len(epoch_s) < args.epochs:
        warnings.append(f"given up during the warm-up epoch (over --give-up-s {args.give_up_s:.1f} s); its pace is the median")
    timed = epoch_s[1:] if len(epoch_s) > 1 else epoch_s
    return {
        "model": "int-tower",
        "fixture": args.fixture,
        "rows": int(cfg["rows"]),
        "batch_size": int(cfg["batch_size"]),
        "parameters": sum(p.numel() for p in trainer.model.parameters()),
        "threads": args.threads,
        "blas_threads": args.blas_threads,
        "losses": losses,
        "epoch_s": epoch_s,
        "epoch_loss": epoch_loss,
        "median_epoch_s": statistics.median(timed),
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
    runtime_info.write_report(run(args), args.out, "train_epoch.py")


if __name__ == "__main__":
    main()
