"""PyTorch twins of the engine bench's fixed-shape DSSM and IntTower steps (bench/step-models.ts), from fixture tensors.

The registry's models (src/models) have their own twins in twins/; these two are the benchmark's reference shape.

Written the way typical PyTorch user code is: ``nn.Linear`` layers and dense
``nn.Embedding`` tables (``sparse=False``: dense gradients, dense Adam).
Fixture linear weights are stored ``[in, out]`` (``y = x @ W + b``) and are
transposed into ``nn.Linear``'s ``[out, in]`` layout on load.

Each model's ``forward(batch)`` returns the logits ``[B]``; ``batch`` is the
dict of data tensors (``x_user``/``x_item`` or ``ids_user``/``ids_item``).
"""

import torch
import torch.nn.functional as F
from torch import nn

TOWER_DEPTH = 3
NORM_EPS = 1e-12


def linear_from(tensors, prefix):
    """``nn.Linear`` initialised from ``{prefix}.weight`` ``[in, out]`` and ``{prefix}.bias``."""
    weight = tensors[f"{prefix}.weight"]
    layer = nn.Linear(weight.shape[0], weight.shape[1])
    with torch.no_grad():
        layer.weight.copy_(weight.t())
        layer.bias.copy_(tensors[f"{prefix}.bias"])
    return layer


class Tower(nn.Module):
    """linear+ReLU, linear+ReLU, linear; returns every layer's output."""

    def __init__(self, tensors, prefix):
        super().__init__()
        self.layers = nn.ModuleList(linear_from(tensors, f"{prefix}.{i}") for i in range(TOWER_DEPTH))

    def forward(self, x):
        outputs = []
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i < TOWER_DEPTH - 1:
                x = F.relu(x)
            outputs.append(x)
        return outputs


def normalize(x, dim=-1):
    """Rows divided by ``max(||x||, 1e-12)``."""
    return F.normalize(x, p=2.0, dim=dim, eps=NORM_EPS)


class DSSM(nn.Module):
    """Two-tower DSSM: cosine similarity of the towers' outputs times ``scale``."""

    def __init__(self, config, tensors):
        super().__init__()
        self.scale = float(config["scale"])
        self.user = Tower(tensors, "user")
        self.item = Tower(tensors, "item")

    def forward(self, batch):
        u = normalize(self.user(batch["x_user"])[-1])
        v = normalize(self.item(batch["x_item"])[-1])
        return self.scale * (u * v).sum(dim=1)


class LightSE(nn.Module):
    """Field re-weighting: ``softmax(mean_D(E) @ W + b)`` scales each field's embedding."""

    def __init__(self, tensors, prefix):
        super().__init__()
        self.fc = linear_from(tensors, f"{prefix}.se")

    def forward(self, emb):  # emb [B, F, D]
        weights = torch.softmax(self.fc(emb.mean(dim=2)), dim=1)
        return emb * weights.unsqueeze(2)


class FieldEmbeddings(nn.Module):
    """One dense embedding table per field; column ``f`` of the ids uses table ``f``."""

    def __init__(self, tensors, prefix):
        super().__init__()
        tables = []
        f = 0
        while f"{prefix}.emb.{f}" in tensors:
            tables.append(nn.Embedding.from_pretrained(tensors[f"{prefix}.emb.{f}"], freeze=False))
            f += 1
        self.tables = nn.ModuleList(tables)

    def forward(self, ids):  # ids [B, F] -> [B, F, D]
        return torch.stack([table(ids[:, f]) for f, table in enumerate(self.tables)], dim=1)


class IntTowerSide(nn.Module):
    """Embeddings -> Light-SE -> flattened -> Tower."""

    def __init__(self, tensors, prefix):
        super().__init__()
        self.embeddings = FieldEmbeddings(tensors, prefix)
        self.se = LightSE(tensors, prefix)
        self.tower = Tower(tensors, prefix)

    def forward(self, ids):
        emb = self.se(self.embeddings(ids))
        return self.tower(emb.flatten(start_dim=1))


class IntTower(nn.Module):
    """IntTower: FE-Block interaction of every user-tower layer with the item tower's output."""

    def __init__(self, config, tensors):
        super().__init__()
        self.heads = int(config["heads"])
        self.head_size = int(config["head_size"])
        self.user = IntTowerSide(tensors, "user")
        self.item = IntTowerSide(tensors, "item")
        self.fe_user = nn.ModuleList(linear_from(tensors, f"fe.user.{l}") for l in range(TOWER_DEPTH))
        self.fe_item = linear_from(tensors, "fe.item")

    def heads_of(self, layer, x):
        """``layer(x)`` split into ``[B, H, P]`` heads, each L2-normalised."""
        return normalize(layer(x).view(x.shape[0], self.heads, self.head_size), dim=2)

    def forward(self, batch):
        user_layers = self.user(batch["ids_user"])
        item_heads = self.heads_of(self.fe_item, self.item(batch["ids_item"])[-1])
        logit = 0
        for fe, h in zip(self.fe_user, user_layers):
            sim = self.heads_of(fe, h) @ item_heads.transpose(1, 2)  # [B, H_user, H_item]
            logit = logit + sim.amax(dim=2).sum(dim=1)
        return logit


MODELS = {"dssm": DSSM, "inttower": IntTower}
DATA_TENSORS = {"dssm": ("x_user", "x_item"), "inttower": ("ids_user", "ids_item")}


def build(manifest, arrays):
    """Return ``(model, batch, labels)`` for a fixture's manifest and numpy arrays."""
    kind = manifest["model"]
    if kind not in MODELS:
        raise ValueError(f"unknown model {kind!r}; expected one of {sorted(MODELS)}")
    tensors = {name: torch.from_numpy(array) for name, array in arrays.items()}
    model = MODELS[kind](manifest["config"], tensors)
    batch = {name: _as_input(tensors[name]) for name in DATA_TENSORS[kind]}
    return model, batch, tensors["y"].float()


def _as_input(tensor):
    """Index tensors become int64, as typical user code feeds ``nn.Embedding``."""
    return tensor.long() if tensor.dtype == torch.int32 else tensor


def loss_fn(logits, labels):
    return F.binary_cross_entropy_with_logits(logits, labels)
