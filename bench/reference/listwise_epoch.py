"""PyTorch reference for the RankTower part of ``npm run bench -- train``: hybrid listwise training on cascade lists.

The fixture (written by bench/train.ts, function benchListwise) holds prerank's initial RankTower weights under
prerank's own names (``embed.<table>.table``, ``user.mlp.fc{i}.weight`` [in, out], ``user.mlp.bn{i}.gamma/beta``,
``user.gate.fc{i}.*``, the same for ``item``, ``userToItem.{q,u,k,v,o}.weight/bias``, ``userToItem.ln.gamma/beta``,
the same for ``itemToUser``, ``logInvTau``, ``bias``) and the batches of one epoch exactly as prerank's CascadeLists
built them: per batch k, the G user rows (``b<k>.u.<feature>``: int32 ids [G], or [G, maxLen] with
``b<k>.u.<feature>.lengths`` for sequences, float32 [G] for dense features), the G*L item slots (``b<k>.i.<feature>``,
padding slots included, as prerank encodes them), and the lists [G, L]: ``b<k>.labels`` (aggregated label y),
``b<k>.teacher`` (p), ``b<k>.mask`` (real slot), scopes ``b<k>.imp`` / ``b<k>.cand`` / ``b<k>.all``.
``config``: ``user_fields``/``item_fields`` (``name``, ``table``, ``kind``, ``pooling``), ``user_dense``/``item_dense``,
``user_heads``, ``item_heads``, ``head_size``, ``attn_dim``, ``value_dim``, ``ln_eps``, ``bn_eps``, ``bn_momentum``,
``dropout``, ``weights`` (hybrid: ``distillation``, ``sorting``, ``amRankmax``), ``batches``, ``adam_eps`` (1e-8 in the
bench; the test raises it so that gradients that are 0 in exact arithmetic, e.g. a linear bias before batch norm or the
output bias under shift-invariant list losses, are not amplified from float noise into full-size steps on either side).

The model is prerank's ``rank-tower`` (src/models/rank-tower.ts) with its defaults, as typical PyTorch code:
per side, flat input = field embeddings (sequences mean/sum-pooled over their real ids) + dense values; MHGN
e = MLP(x) * sigmoid(gMLP(sg(x))) (MLP: linear -> BN -> ReLU -> dropout per hidden layer, linear last; gMLP: linear ->
ReLU -> linear); per sub-space the GAU projections (Q, K, V with SiLU, U with sigmoid); per slot both GAU directions
(softmax(Q K^T / sqrt d), U * A V, W_o, residual + LayerNorm over k), cosine max over item sub-spaces summed over user
sub-spaces, * exp(logInvTau) + bias -> logits [G, L]. The users are encoded once per list and their reps gathered to
the list's L slots (prerank's listLogits). Loss = the hybrid of src/train/ranking-losses.ts (eq. 15, prerank's
defaults): w1 * distillation (listwise softmax over the impressions weighted by the teacher's p) + w2 * SoftSort
cross-entropy over impressions + ranking candidates (tau 1, pow 1; sort_desc(z) by a stable sort, ties by slot) +
w3 * AM-Rankmax over all samples (alpha 1, delta = |y_i - y_j|, log(1 + sum of hinges)); each a mean over the lists
that have a term. Embeddings are ``nn.Embedding(sparse=True)`` updated by ``SparseAdam``, the rest by ``Adam``.

Phases: (1) ``--check-steps`` dropout-free steps from the fixture weights on the first batches, with train_epoch.py's
replica of prerank's lazy Adam, recording each loss before its update (the bench compares them with prerank's);
(2) ``--epochs`` passes over all the fixture's batches (the first a warm-up) from a fresh copy of the weights with the
configured dropout, each timed with ``time.perf_counter`` (batches are converted to tensors before timing).

    /usr/bin/python3 bench/reference/listwise_epoch.py --fixture DIR --threads 1 --check-steps 5 --epochs 3 --out r.json
"""

import argparse
import math
import re
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
from twins.layers import LazyAdam

MASKED = -1e9  # prerank's logit for slots outside a loss's scope
BATCH_TENSOR = re.compile(r"^b[0-9]+[.]")  # b<k>.* are batch data, everything else initial weights


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fixture", required=True, help="fixture directory (manifest.json + tensors.bin)")
    parser.add_argument("--threads", type=int, required=True, help="torch thread count")
    parser.add_argument("--blas-threads", type=int, help="OpenBLAS thread count (default: --threads)")
    parser.add_argument("--check-steps", type=int, default=5, help="dropout-free steps whose losses are recorded")
    parser.add_argument("--epochs", type=int, default=3, help="passes over the fixture's batches (the first is the warm-up)")
    parser.add_argument("--give-up-s", type=float, help="abandon the run when one epoch takes longer (a hopeless configuration)")
    parser.add_argument("--out", required=True, help="output JSON path ('-' for stdout)")
    args = parser.parse_args(argv)
    if args.blas_threads is None:
        args.blas_threads = args.threads
    if min(args.threads, args.blas_threads, args.epochs) < 1 or args.check_steps < 0:
        parser.error("--threads, --blas-threads and --epochs must be >= 1; --check-steps >= 0")
    return args


class Mlp(nn.Module):
    """prerank's Mlp: linear -> BN -> ReLU -> dropout per hidden layer (BN where the fixture has it), last linear."""

    def __init__(self, t, prefix, dropout, eps, momentum):
        super().__init__()
        n = 0
        while f"{prefix}.fc{n}.weight" in t:
            n += 1
        if n == 0:
            raise ValueError(f"fixture has no {prefix}.fc0.weight")
        self.fcs = nn.ModuleList(linear_from(t, f"{prefix}.fc{i}") for i in range(n))
        self.bns = nn.ModuleList()
        for i in range(n - 1):
            g = t.get(f"{prefix}.bn{i}.gamma")
            bn = nn.BatchNorm1d(t[f"{prefix}.fc{i}.weight"].shape[1], eps=eps, momentum=momentum) if g is not None else nn.Identity()
            if g is not None:
                with torch.no_grad():
                    bn.weight.copy_(g)
                    bn.bias.copy_(t[f"{prefix}.bn{i}.beta"])
            self.bns.append(bn)
        self.dropout = dropout

    def forward(self, x):
        for i, fc in enumerate(self.fcs):
            x = fc(x)
            if i < len(self.bns):
                x = F.dropout(F.relu(self.bns[i](x)), self.dropout, self.training)
        return x


class Branch(nn.Module):
    """One GAU direction: the query side's Q (phi), U (sigmoid); the other side's K, V (phi); W_o and LayerNorm."""

    def __init__(self, t, prefix, ln_eps):
        super().__init__()
        for name in ("q", "u", "k", "v", "o"):
            setattr(self, name, linear_from(t, f"{prefix}.{name}"))
        k = t[f"{prefix}.ln.gamma"].numel()
        self.ln = nn.LayerNorm(k, eps=ln_eps)
        with torch.no_grad():
            self.ln.weight.copy_(t[f"{prefix}.ln.gamma"])
            self.ln.bias.copy_(t[f"{prefix}.ln.beta"])
        self.d = t[f"{prefix}.q.weight"].shape[1]

    def attend(self, e, q, u, k, v):
        """e [N, Hq, K], q [N, Hq, d], u [N, Hq, v], k [N, Hkv, d], v [N, Hkv, v] -> LN(e + (u * A v) W_o) [N, Hq, K]."""
        a = torch.softmax(torch.bmm(q, k.transpose(1, 2)) / math.sqrt(self.d), dim=-1)
        return self.ln(e + self.o(u * torch.bmm(a, v)))


class RankTower(nn.Module):
    def __init__(self, cfg, t, dropout):
        super().__init__()
        self.cfg = cfg
        self.hu, self.hi, self.k = int(cfg["user_heads"]), int(cfg["item_heads"]), int(cfg["head_size"])
        names = sorted({f["table"] for f in cfg["user_fields"] + cfg["item_fields"]})
        self.tables = nn.ModuleDict(
            {n: nn.Embedding.from_pretrained(t[f"embed.{n}.table"].clone(), freeze=False, sparse=True) for n in names}
        )
        eps, momentum = float(cfg["bn_eps"]), float(cfg["bn_momentum"])
        self.user_mlp = Mlp(t, "user.mlp", dropout, eps, momentum)
        self.user_gate = Mlp(t, "user.gate", 0.0, eps, momentum)
        self.item_mlp = Mlp(t, "item.mlp", dropout, eps, momentum)
        self.item_gate = Mlp(t, "item.gate", 0.0, eps, momentum)
        self.u2i = Branch(t, "userToItem", float(cfg["ln_eps"]))
        self.i2u = Branch(t, "itemToUser", float(cfg["ln_eps"]))
        self.log_inv_tau = nn.Parameter(t["logInvTau"].clone())
        self.bias = nn.Parameter(t["bias"].clone())

    def flat_input(self, batch, side):
        """[B, F*D + nDense]: field embeddings (a sequence pooled over its first ``lengths`` ids), then dense values."""
        out = []
        for f in self.cfg[f"{side}_fields"]:
            e = self.tables[f["table"]](batch[f["name"]])
            if f["kind"] == "sequence":
                lengths = batch[f["name"] + ".lengths"]
                mask = (torch.arange(e.shape[1]).unsqueeze(0) < lengths.unsqueeze(1)).to(e.dtype)  # [B, L]
                e = (e * mask.unsqueeze(2)).sum(dim=1)
                if f["pooling"] == "mean":
                    e = e / lengths.clamp(min=1).unsqueeze(1).to(e.dtype)
            out.append(e)
        out += [batch[n].unsqueeze(1) for n in self.cfg[f"{side}_dense"]]
        return torch.cat(out, dim=1)

    def tower(self, x, mlp, gate, heads):
        """MHGN: MLP(x) * sigmoid(gMLP(sg(x))) as [B, H, K]."""
        return (mlp(x) * torch.sigmoid(gate(x.detach()))).view(x.shape[0], heads, self.k)

    def logits(self, users, items, G, L):
        eu = self.tower(self.flat_input(users, "user"), self.user_mlp, self.user_gate, self.hu)  # [G, Hu, K]
        ei = self.tower(self.flat_input(items, "item"), self.item_mlp, self.item_gate, self.hi)  # [N, Hi, K]
        qu, uu = F.silu(self.u2i.q(eu)), torch.sigmoid(self.u2i.u(eu))  # user -> item query side
        ku, vu = F.silu(self.i2u.k(eu)), F.silu(self.i2u.v(eu))  # item -> user keys and values
        ki, vi = F.silu(self.u2i.k(ei)), F.silu(self.u2i.v(ei))
        qi, ui = F.silu(self.i2u.q(ei)), torch.sigmoid(self.i2u.u(ei))
        owner = torch.arange(G).repeat_interleave(L)  # each slot's list
        eu, qu, uu, ku, vu = (x.index_select(0, owner) for x in (eu, qu, uu, ku, vu))  # [N, Hu, .]
        au = self.u2i.attend(eu, qu, uu, ki, vi)  # [N, Hu, K]
        ai = self.i2u.attend(ei, qi, ui, ku, vu)  # [N, Hi, K]
        cos = torch.bmm(normalize(au, dim=2), normalize(ai, dim=2).transpose(1, 2))  # [N, Hu, Hi]
        s = cos.amax(dim=2).sum(dim=1) * torch.exp(self.log_inv_tau) + self.bias
        return s.view(G, L)


def mean_over_lists(per_list, has):
    n = int(has.sum())
    return per_list.sum() * 0 if n == 0 else (per_list * has).sum() / n


def distillation(z, teacher, scope):
    """Eq. 9: -sum_{i in scope} p_i log softmax_scope(z)_i, mean over lists whose p sums to > 0."""
    w = teacher * scope
    log_p = torch.log_softmax(z + (1 - scope) * MASKED, dim=1)
    return mean_over_lists(-(log_p * w).sum(dim=1), (w.sum(dim=1) > 0).to(z.dtype))


def sort_desc(values, scope):
    """Indices of each row's in-scope values in descending order (ties by slot), out-of-scope slots after them."""
    key = values.masked_fill(scope == 0, -math.inf)
    return torch.sort(key, dim=1, descending=True, stable=True).indices


def sorting(z, labels, scope, tau=1.0, pow_=1.0):
    """Eq. 10-11: SoftSort cross-entropy between P(y) and P(z) over the scope."""
    G, L = z.shape
    penalty = ((1 - scope) * MASKED).unsqueeze(1)  # [G, 1, L]
    with torch.no_grad():
        ys = labels.gather(1, sort_desc(labels, scope))  # [G, L]
        py = torch.softmax(-(ys.unsqueeze(2) - labels.unsqueeze(1)).abs().pow(pow_) / tau + penalty, dim=2)
        rows = (torch.arange(L).unsqueeze(0) < scope.sum(dim=1, keepdim=True)).to(z.dtype)  # rows r < n
        py = py * rows.unsqueeze(2) * scope.unsqueeze(1)
    zs = z.gather(1, sort_desc(z.detach(), scope))  # sort_desc(z), gradient through the sorted values
    dist = (zs.unsqueeze(2) - z.unsqueeze(1)).abs()  # [G, L(r), L(i)]
    log_p = torch.log_softmax(-(dist if pow_ == 1 else dist.pow(pow_)) / tau + penalty, dim=2)
    return mean_over_lists(-(log_p * py).sum(dim=(1, 2)), (scope.sum(dim=1) > 0).to(z.dtype))


def am_rankmax(z, labels, scope, alpha=1.0, beta=1.0, p=1.0):
    """Eq. 13-14: sum_{j: y_j > 0} log(1 + sum_{i: y_i < y_j} (z_i - z_j + alpha [y_i = 0] + beta |y_i - y_j|^p)_+)."""
    with torch.no_grad():
        yi, yj = labels.unsqueeze(1), labels.unsqueeze(2)  # [G, 1, L(i)], [G, L(j), 1]
        anchor = scope * (labels > 0).to(z.dtype)  # [G, L]
        on = anchor.unsqueeze(2) * scope.unsqueeze(1) * (yi < yj).to(z.dtype)  # [G, L(j), L(i)]
        margin = alpha * (yi == 0).to(z.dtype) + beta * (yi - yj).abs().pow(p)
    diff = z.unsqueeze(1) - z.unsqueeze(2) + margin  # z_i - z_j + m(i, j)
    inner = (F.relu(diff) * on).sum(dim=2)  # [G, L(j)]
    per_list = (torch.log1p(inner) * anchor).sum(dim=1)
    return mean_over_lists(per_list, (anchor.sum(dim=1) > 0).to(z.dtype))


def hybrid(z, b, w):
    """Eq. 15: w1 distillation(impressions) + w2 sorting(impressions + candidates) + w3 AM-Rankmax(all)."""
    terms = [
        (w["distillation"], lambda: distillation(z, b["teacher"], b["imp"])),
        (w["sorting"], lambda: sorting(z, b["labels"], b["cand"])),
        (w["amRankmax"], lambda: am_rankmax(z, b["labels"], b["all"])),
    ]
    loss = None
    for weight, f in terms:
        if weight > 0:
            term = weight * f()
            loss = term if loss is None else loss + term
    if loss is None:
        raise ValueError("hybrid: every weight is 0")
    return loss


class Trainer:
    def __init__(self, cfg, tensors, lr, dropout, exact_lazy_adam=False):
        self.cfg = cfg
        self.model = RankTower(cfg, tensors, dropout)
        self.model.train()
        sparse = list(self.model.tables.parameters())
        ids = {id(p) for p in sparse}
        dense = [p for p in self.model.parameters() if id(p) not in ids]
        eps = float(cfg.get("adam_eps", 1e-8))
        lazy = LazyAdam(sparse, lr, eps=eps) if exact_lazy_adam else torch.optim.SparseAdam(sparse, lr=lr, eps=eps)
        self.optimizers = [lazy, torch.optim.Adam(dense, lr=lr, eps=eps)]

    def step(self, b):
        for opt in self.optimizers:
            opt.zero_grad(set_to_none=True)
        G, L = b["labels"].shape
        loss = hybrid(self.model.logits(b["users"], b["items"], G, L), b, self.cfg["weights"])
        loss.backward()
        for opt in self.optimizers:
            opt.step()
        return loss.item()


def batches(cfg, arrays):
    """The fixture's batches as dicts of tensors (int64 ids, as typical user code feeds nn.Embedding)."""
    out = []
    for k in range(int(cfg["batches"])):
        def side(tag, s):
            cols = {}
            for f in cfg[f"{s}_fields"]:
                cols[f["name"]] = torch.from_numpy(arrays[f"b{k}.{tag}.{f['name']}"]).long()
                if f["kind"] == "sequence":
                    cols[f["name"] + ".lengths"] = torch.from_numpy(arrays[f"b{k}.{tag}.{f['name']}.lengths"]).long()
            for n in cfg[f"{s}_dense"]:
                cols[n] = torch.from_numpy(arrays[f"b{k}.{tag}.{n}"])
            return cols

        b = {name: torch.from_numpy(arrays[f"b{k}.{name}"]) for name in ("labels", "teacher", "mask", "imp", "cand", "all")}
        b["users"], b["items"] = side("u", "user"), side("i", "item")
        out.append(b)
    return out


def run(args):
    torch.set_num_threads(args.threads)
    blas = runtime_info.blas_info(requested_threads=args.blas_threads)
    manifest, arrays = fixture_io.read_fixture(args.fixture)
    cfg, lr = manifest["config"], float(manifest["lr"])
    weights = {k: torch.from_numpy(v) for k, v in arrays.items() if not BATCH_TENSOR.match(k)}
    data = batches(cfg, arrays)
    samples = int(sum(float(b["mask"].sum()) for b in data))
    lists = sum(b["labels"].shape[0] for b in data)

    checker = Trainer(cfg, weights, lr, dropout=0.0, exact_lazy_adam=True)
    losses = [checker.step(data[i]) for i in range(min(args.check_steps, len(data)))]

    trainer = Trainer(cfg, weights, lr, dropout=float(cfg["dropout"]))
    epoch_s = []
    with runtime_info.CpuMeter() as meter:
        for _ in range(args.epochs):
            start, done = time.perf_counter(), 0
            for b in data:
                trainer.step(b)
                done += 1
                if args.give_up_s is not None and time.perf_counter() - start > args.give_up_s:
                    break
            epoch_s.append((time.perf_counter() - start) * len(data) / done)  # an abandoned epoch counts at its pace
            if done < len(data):
                break

    torch_part, cpu = runtime_info.torch_info(), runtime_info.cpu_info()
    warnings = runtime_info.warnings_for(torch_part, blas, cpu, args.threads, args.blas_threads)
    warnings += runtime_info.contention_warnings(meter.report)
    if len(epoch_s) < args.epochs:
        warnings.append(f"given up during an epoch (over --give-up-s {args.give_up_s:.1f} s); its pace is the median")
    timed = epoch_s[1:] if len(epoch_s) > 1 else epoch_s
    median = statistics.median(timed)
    return {
        "model": "rank-tower-listwise",
        "fixture": args.fixture,
        "batches": len(data),
        "lists": lists,
        "samples_per_epoch": samples,
        "parameters": sum(p.numel() for p in trainer.model.parameters()),
        "threads": args.threads,
        "blas_threads": args.blas_threads,
        "losses": losses,
        "epoch_s": epoch_s,
        "median_epoch_s": median,
        "samples_per_s": samples / median,
        "lists_per_s": lists / median,
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
    runtime_info.write_report(run(args), args.out, "listwise_epoch.py")


if __name__ == "__main__":
    main()
