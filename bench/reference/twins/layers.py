"""Pieces the PyTorch twins of prerank's registry models share, written from src/models/common and src/nn.

Parameters come from a fixture under prerank's own names (``embed.<table>.table``, ``user.fc0.weight`` [in, out],
``user.bn0.gamma``/``beta``/``runningMean``/``runningVar``, ...). ``features`` is the dataset's feature list in its
order (``name``, ``kind`` sparse|sequence|dense, ``source`` user|item|context, ``table``, ``pooling``); a batch is
a dict of tensors by feature name (int64 ids [B] or [B, L] plus ``<name>.lengths`` for sequences, float32 [B] for
dense features) and ``label`` [B].
"""

import math

import torch
import torch.nn.functional as F
from torch import nn

USER_SIDE = ("user", "context")
ITEM_SIDE = ("item",)
ALL_SOURCES = ("user", "item", "context")
NORM_EPS = 1e-12
BN_EPS, BN_MOMENTUM = 1e-5, 0.1
# prerank pushes the padded slots of a max-pooled sequence this far down before the max.
MASKED = -1e9
ACTIVATIONS = {"none": lambda x: x, "relu": F.relu, "sigmoid": torch.sigmoid, "tanh": torch.tanh, "silu": F.silu}


def normalize(x, dim=-1):
    """Rows divided by ``max(||x||, 1e-12)``."""
    return F.normalize(x, p=2.0, dim=dim, eps=NORM_EPS)


def linear(tensors, prefix):
    """``nn.Linear`` from ``{prefix}.weight`` [in, out] and ``{prefix}.bias`` when the fixture has one."""
    weight = tensors[f"{prefix}.weight"]
    bias = tensors.get(f"{prefix}.bias")
    layer = nn.Linear(weight.shape[0], weight.shape[1], bias=bias is not None)
    with torch.no_grad():
        layer.weight.copy_(weight.t())
        if bias is not None:
            layer.bias.copy_(bias)
    return layer


def parameter(tensors, name):
    return nn.Parameter(tensors[name].clone())


def activation(name):
    if name not in ACTIVATIONS:
        raise ValueError(f"activation {name!r} has no twin; expected one of {sorted(ACTIVATIONS)}")
    return ACTIVATIONS[name]


class Mlp(nn.Module):
    """prerank's Mlp: hidden layers linear -> BN -> ReLU -> dropout (or linear+ReLU without BN), the last layer
    linear -> ``last_act``; ``forward_all`` returns every layer's output."""

    def __init__(self, tensors, prefix, layers, batch_norm, dropout, last_act):
        super().__init__()
        self.fcs = nn.ModuleList(linear(tensors, f"{prefix}.fc{i}") for i in range(layers))
        self.bns = nn.ModuleList()
        if batch_norm:
            for i in range(layers - 1):
                bn = nn.BatchNorm1d(tensors[f"{prefix}.bn{i}.gamma"].numel(), eps=BN_EPS, momentum=BN_MOMENTUM)
                with torch.no_grad():
                    bn.weight.copy_(tensors[f"{prefix}.bn{i}.gamma"])
                    bn.bias.copy_(tensors[f"{prefix}.bn{i}.beta"])
                    bn.running_mean.copy_(tensors[f"{prefix}.bn{i}.runningMean"])
                    bn.running_var.copy_(tensors[f"{prefix}.bn{i}.runningVar"])
                self.bns.append(bn)
        self.dropout, self.last_act = dropout, activation(last_act)

    def forward_all(self, x):
        outs = []
        for i, fc in enumerate(self.fcs):
            x = fc(x)
            if i < len(self.fcs) - 1:
                x = F.relu(self.bns[i](x) if len(self.bns) else x)
                x = F.dropout(x, self.dropout, self.training)
            else:
                x = self.last_act(x)
            outs.append(x)
        return outs

    def forward(self, x):
        return self.forward_all(x)[-1]


def mlp(tensors, prefix, dims, config, last_act):
    return Mlp(tensors, prefix, len(dims), config["batchNorm"], config["dropout"], last_act)


class FieldEmbedder(nn.Module):
    """One sparse-gradient table per feature ``table`` (features sharing a table share its rows)."""

    def __init__(self, features, tensors, prefix):
        super().__init__()
        self.features = features
        tables = {}
        for f in features:
            if f["kind"] != "dense" and f["table"] not in tables:
                weight = tensors[f"{prefix}.{f['table']}.table"].clone()
                tables[f["table"]] = nn.Embedding.from_pretrained(weight, freeze=False, sparse=True)
        self.tables = nn.ModuleDict(tables)

    def fields_of(self, sources):
        return [f for f in self.features if f["source"] in sources and f["kind"] != "dense"]

    def dense_of(self, sources):
        return [f for f in self.features if f["source"] in sources and f["kind"] == "dense"]

    def lookup(self, batch, f):
        """One field [B, D]: a sequence pooled over its first ``lengths`` ids (a row without ids gives zeros)."""
        e = self.tables[f["table"]](batch[f["name"]])
        if f["kind"] == "sparse":
            return e
        lengths = batch[f["name"] + ".lengths"]
        mask = torch.arange(e.shape[1]).unsqueeze(0) < lengths.unsqueeze(1)  # [B, L]
        if f["pooling"] == "max":
            pooled = e.masked_fill(~mask.unsqueeze(2), MASKED).amax(dim=1)
            return pooled * (lengths > 0).to(e.dtype).unsqueeze(1)
        pooled = (e * mask.to(e.dtype).unsqueeze(2)).sum(dim=1)
        return pooled / lengths.clamp(min=1).to(e.dtype).unsqueeze(1) if f["pooling"] == "mean" else pooled

    def embed(self, batch, sources):
        """[B, F, D] or None when these sources have no embedded feature."""
        fields = self.fields_of(sources)
        return torch.stack([self.lookup(batch, f) for f in fields], dim=1) if fields else None

    def dense(self, batch, sources):
        """[B, nDense] or None."""
        cols = self.dense_of(sources)
        return torch.stack([batch[f["name"]] for f in cols], dim=1) if cols else None


def flat_input(fields, dense):
    """[B, F, D] (+ [B, nDense]) -> [B, F*D + nDense]."""
    parts = ([fields.flatten(1)] if fields is not None else []) + ([dense] if dense is not None else [])
    return torch.cat(parts, dim=1)


class LinearPart(nn.Module):
    """First-order part: one scalar weight per id (D = 1 tables) plus one per dense feature, per source."""

    def __init__(self, features, tensors, prefix):
        super().__init__()
        self.weights = FieldEmbedder(features, tensors, f"{prefix}.weights")
        self.dense_by_source = nn.ModuleDict(
            {s: linear(tensors, f"{prefix}.dense_{s}") for s in ALL_SOURCES if f"{prefix}.dense_{s}.weight" in tensors}
        )

    def forward(self, batch, sources):
        """(sum of the sources' weights [B, 1] or None, looked-up id weights [B, F, 1] for L2)."""
        w = self.weights.embed(batch, sources)
        parts = [w.sum(dim=1)] if w is not None else []
        parts += [self.dense_by_source[s](self.weights.dense(batch, (s,))) for s in sources if s in self.dense_by_source]
        logit = None
        for p in parts:
            logit = p if logit is None else logit + p
        return logit, w


def sum_logits(*parts):
    """[B, 1] parts (None skipped) -> [B]."""
    present = [p for p in parts if p is not None]
    total = present[0]
    for p in present[1:]:
        total = total + p
    return total.squeeze(1)


def l2_penalty(weight, embs, batch_size):
    """weight * sum of squares of the looked-up embeddings / B, or None."""
    present = [e for e in embs if e is not None]
    if weight <= 0 or not present:
        return None
    return weight * sum(e.pow(2).sum() for e in present) / batch_size


def loss_of(batch, logits, terms):
    """Mean BCE plus the model's already weighted terms (None skipped)."""
    loss = F.binary_cross_entropy_with_logits(logits, batch["label"])
    for t in terms.values():
        if t is not None:
            loss = loss + t
    return loss


class LazyAdam:
    """prerank's Adam on sparse tables: only the batch's rows have their moments and weights updated, bias
    correction from the global step, eps added after it (as dense Adam; torch's SparseAdam adds it before)."""

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


def optimizers(model, lr, lazy=True):
    """Lazy Adam (or torch's SparseAdam) on the embedding tables, Adam on everything else."""
    tables = [m.weight for m in model.modules() if isinstance(m, nn.Embedding)]
    ids = {id(p) for p in tables}
    dense = [p for p in model.parameters() if id(p) not in ids]
    sparse = LazyAdam(tables, lr) if lazy else torch.optim.SparseAdam(tables, lr=lr)
    return [sparse, torch.optim.Adam(dense, lr=lr)]
