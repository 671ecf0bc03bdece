"""PyTorch reference for ``npm run bench -- train``: IntTower training epochs on ML-100K.

The fixture (written by bench/train.ts) holds prerank's initial IntTower weights under prerank's own names
(``embed.<table>.table``, ``userSe.fc.weight``, ``user.fc0.weight`` [in, out], ``user.bn0.gamma``, ``userHead0.weight``,
``itemHead.weight``, ``bias``, BN running stats) and the encoded training split once per epoch, already in the order
prerank's trainer visits it (``data.e<k>.<feature>``, ``data.e<k>.<sequence>.lengths``, ``data.e<k>.label``), so both
sides see the same batches. ``config`` describes the fields, sizes and loss weights.

The model is the same as prerank's ``int-tower`` with the paper's defaults (src/models/int-tower.ts):
Light-SE (softmax(mean_D(E) W + b) scales the fields), towers linear -> BN -> ReLU -> dropout on hidden layers and
linear -> ReLU last, every user layer's output projected to H heads of size P and the item's last layer to H heads,
heads L2-normalised, logit = sum over user heads of the max over item heads + bias; loss = mean BCE + lambda1 * CIR
(InfoNCE of each positive row's normalised last-layer user heads against every row's item heads, temperature tau)
+ l2 * sum of squares of the batch's field embeddings / B. Embeddings are ``nn.Embedding(sparse=True)`` updated by
``SparseAdam`` (lazy, like prerank's), everything else by ``Adam``; both lr from the fixture.
Differences that do not change the work: dropout masks come from torch's RNG; SparseAdam adds eps to sqrt(v) before
the bias correction (prerank after it, as dense Adam does); amax's gradient splits ties, prerank's goes to the first.

Two phases per run: ``--check-steps`` steps with dropout 0 on epoch 0's first batches, recording each loss (before
the update) to compare with prerank's from the same weights (with a replica of prerank's lazy Adam, see LazyAdam);
then ``--epochs`` epochs with the configured dropout
from a fresh copy of the weights, each timed with ``time.perf_counter`` (batches are prepared before timing);
``--give-up-s`` abandons a configuration once its warm-up epoch has run that long, and reports that epoch's pace
(2 threads with OpenMP busy-waiting against OpenBLAS's pool is ~20x slower here).

    /usr/bin/python3 bench/reference/train_epoch.py --fixture DIR --threads 2 --check-steps 5 --epochs 4 --out r.json
"""

import argparse
import math
import statistics
import sys
import time

import torch
import torch.nn.functional as F
from torch import nn

sys.dont_write_bytecode = True  # keep bench/reference free of __pycache__

import fixture_io  # noqa: E402  (sibling modules)
import runtime_info
from models import linear_from, normalize


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


class LightSE(nn.Module):
    """e [B, F, D] -> e * softmax(mean_D(e) W + b) per field."""

    def __init__(self, tensors, prefix):
        super().__init__()
        self.fc = linear_from(tensors, f"{prefix}.fc")

    def forward(self, e):
        return e * torch.softmax(self.fc(e.mean(dim=2)), dim=1).unsqueeze(2)


class Tower(nn.Module):
    """prerank's Mlp with batch norm: hidden layers linear -> BN -> ReLU -> dropout, last layer linear -> ReLU."""

    def __init__(self, tensors, prefix, layers, dropout, eps, momentum):
        super().__init__()
        self.fcs = nn.ModuleList(linear_from(tensors, f"{prefix}.fc{i}") for i in range(layers))
        self.bns = nn.ModuleList()
        for i in range(layers - 1):
            bn = nn.BatchNorm1d(tensors[f"{prefix}.bn{i}.gamma"].numel(), eps=eps, momentum=momentum)
            with torch.no_grad():
                bn.weight.copy_(tensors[f"{prefix}.bn{i}.gamma"])
                bn.bias.copy_(tensors[f"{prefix}.bn{i}.beta"])
                bn.running_mean.copy_(tensors[f"{prefix}.bn{i}.runningMean"])
                bn.running_var.copy_(tensors[f"{prefix}.bn{i}.runningVar"])
            self.bns.append(bn)
        self.dropout = dropout

    def forward(self, x):
        """Every layer's output (after dropout on hidden layers)."""
        outs = []
        for i, fc in enumerate(self.fcs):
            if i < len(self.bns):
                x = F.dropout(F.relu(self.bns[i](fc(x))), self.dropout, self.training)
            else:
                x = F.relu(fc(x))
            outs.append(x)
        return outs


class IntTower(nn.Module):
    def __init__(self, cfg, tensors, dropout):
        super().__init__()
        self.cfg = cfg
        self.heads, self.head_size = int(cfg["heads"]), int(cfg["head_size"])
        names = sorted({f["table"] for f in cfg["user_fields"] + cfg["item_fields"]})
        self.tables = nn.ModuleDict(
            {n: nn.Embedding.from_pretrained(tensors[f"embed.{n}.table"].clone(), freeze=False, sparse=True) for n in names}
        )
        self.user_se = LightSE(tensors, "userSe")
        self.item_se = LightSE(tensors, "itemSe")
        layers, eps, momentum = int(cfg["layers"]), float(cfg["bn_eps"]), float(cfg["bn_momentum"])
        self.user = Tower(tensors, "user", layers, dropout, eps, momentum)
        self.item = Tower(tensors, "item", layers, dropout, eps, momentum)
        self.user_heads = nn.ModuleList(linear_from(tensors, f"userHead{i}") for i in range(layers))
        self.item_heads = linear_from(tensors, "itemHead")
        self.bias = nn.Parameter(tensors["bias"].clone())

    def fields(self, batch, specs):
        """Field embeddings [B, F, D]; a sequence is the mean of its first ``lengths`` rows (zeros when empty)."""
        out = []
        for f in specs:
            e = self.tables[f["table"]](batch[f["name"]])
            if f["kind"] == "sequence":
                lengths = batch[f["name"] + ".lengths"]
                mask = (torch.arange(e.shape[1]).unsqueeze(0) < lengths.unsqueeze(1)).to(e.dtype)  # [B, L]
                e = (e * mask.unsqueeze(2)).sum(dim=1)
                if f["pooling"] == "mean":
                    e = e / lengths.clamp(min=1).unsqueeze(1).to(e.dtype)
            out.append(e)
        return torch.stack(out, dim=1)

    def heads_of(self, layer, x):
        """[B, H, P], every head L2-normalised."""
        return normalize(layer(x).view(x.shape[0], self.heads, self.head_size), dim=2)

    def loss(self, batch):
        y = batch["label"]
        B = y.shape[0]
        ue = self.fields(batch, self.cfg["user_fields"])
        ie = self.fields(batch, self.cfg["item_fields"])
        xu = torch.cat([self.user_se(ue).flatten(1), batch["user_dense"]], dim=1)
        xi = torch.cat([self.item_se(ie).flatten(1), batch["item_dense"]], dim=1)
        u = [self.heads_of(p, h) for p, h in zip(self.user_heads, self.user(xu))]  # L x [B, H, P]
        v = self.heads_of(self.item_heads, self.item(xi)[-1])  # [B, H, P]
        sim = torch.bmm(torch.cat(u, dim=1), v.transpose(1, 2))  # [B, L*H, H]
        logits = sim.amax(dim=2).sum(dim=1) + self.bias
        loss = F.binary_cross_entropy_with_logits(logits, y)
        pos = torch.nonzero(y > 0.5).squeeze(1)
        if pos.numel() > 0:
            uq = normalize(u[-1].flatten(1))[pos]  # [Q, H*P]
            s = uq @ normalize(v.flatten(1)).t()  # [Q, B]
            loss = loss + self.cfg["cir_weight"] * F.cross_entropy(s / self.cfg["cir_temperature"], pos)
        return loss + self.cfg["l2_embedding"] * (ue.pow(2).sum() + ie.pow(2).sum()) / B


class LazyAdam:
    """prerank's lazy Adam on embedding rows, for the check phase only: moments and weights of the batch's rows,
    eps added after the bias correction (as dense Adam; torch's SparseAdam adds it before, which moves rows with tiny
    gradients differently and would blur the comparison)."""

    def __init__(self, params, lr, betas=(0.9, 0.999), eps=1e-8):
        self.params, self.lr, self.betas, self.eps, self.t = list(params), lr, betas, eps, 0
        self.moments = [(torch.zeros_like(p), torch.zeros_like(p)) for p in self.params]

    def zero_grad(self, set_to_none=True):
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self):
        self.t += 1
        b1, b2 = self.betas
        c1, c2 = 1 - b1 ** self.t, 1 - b2 ** self.t
        for p, (m, v) in zip(self.params, self.moments):
            if p.grad is None:
                continue
            g = p.grad.coalesce()
            rows, values = g._indices()[0], g._values()
            m[rows] = b1 * m[rows] + (1 - b1) * values
            v[rows] = b2 * v[rows] + (1 - b2) * values * values
            p[rows] -= (self.lr / c1) * m[rows] / (v[rows].sqrt() / math.sqrt(c2) + self.eps)


class Trainer:
    def __init__(self, cfg, tensors, lr, dropout, exact_lazy_adam=False):
        self.model = IntTower(cfg, tensors, dropout)
        self.model.train()
        sparse = list(self.model.tables.parameters())
        ids = {id(p) for p in sparse}
        dense = [p for p in self.model.parameters() if id(p) not in ids]
        lazy = LazyAdam(sparse, lr) if exact_lazy_adam else torch.optim.SparseAdam(sparse, lr=lr)
        self.optimizers = [lazy, torch.optim.Adam(dense, lr=lr)]

    def step(self, batch):
        for opt in self.optimizers:
            opt.zero_grad(set_to_none=True)
        loss = self.model.loss(batch)
        loss.backward()
        for opt in self.optimizers:
            opt.step()
        return loss.item()


def epoch_batches(cfg, arrays, epoch):
    """The epoch's batches as dicts of tensors (int64 ids, as typical user code feeds nn.Embedding)."""
    prefix = f"data.e{epoch}."
    rows, size = int(cfg["rows"]), int(cfg["batch_size"])

    def column(name):
        return torch.from_numpy(arrays[prefix + name])

    cols = {"label": column("label")}
    for f in cfg["user_fields"] + cfg["item_fields"]:
        cols[f["name"]] = column(f["name"]).long()
        if f["kind"] == "sequence":
            cols[f["name"] + ".lengths"] = column(f["name"] + ".lengths").long()
    for side in ("user", "item"):
        names = cfg[f"{side}_dense"]
        cols[f"{side}_dense"] = torch.stack([column(n) for n in names], dim=1) if names else torch.zeros(rows, 0)
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

    trainer = Trainer(cfg, weights, lr, dropout=float(cfg["dropout"]))
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
