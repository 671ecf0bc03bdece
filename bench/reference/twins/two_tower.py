"""PyTorch twins of prerank's two-tower registry models, each written from its model file's header formula.

``config`` is the model's config with every default filled in (prerank's ``model.config``), under prerank's keys.
``loss(batch)`` returns ``(loss, logits)``; ``forward(batch)`` the logits [B].
"""

import torch
from torch import nn

from .layers import ITEM_SIDE, USER_SIDE, FieldEmbedder, flat_input, l2_penalty, linear, loss_of, mlp, normalize, parameter


class Dssm(nn.Module):
    """src/models/dssm.ts: towers over [flattened fields, dense], L2-normalised; logit = <u, v> / T + b."""

    def __init__(self, features, config, tensors):
        super().__init__()
        self.c = config
        self.embed = FieldEmbedder(features, tensors, "embed")
        self.user = mlp(tensors, "user", config["tower"], config, config["lastAct"])
        self.item = mlp(tensors, "item", config["tower"], config, config["lastAct"])
        self.bias = parameter(tensors, "bias")

    def side(self, batch, sources, tower):
        fields = self.embed.embed(batch, sources)
        return normalize(tower(flat_input(fields, self.embed.dense(batch, sources)))), fields

    def loss(self, batch):
        u, ue = self.side(batch, USER_SIDE, self.user)
        v, ie = self.side(batch, ITEM_SIDE, self.item)
        logits = (u * v).sum(dim=1) / self.c["temperature"] + self.bias
        l2 = l2_penalty(self.c["l2Embedding"], [ue, ie], logits.shape[0])
        return loss_of(batch, logits, {"l2": l2}), logits


class LightSe(nn.Module):
    """e [B, F, D] -> e * k ('paper') or e + e * k ('residual'), k = softmax(mean_D(e) W (+ b)) over fields."""

    def __init__(self, tensors, prefix, residual):
        super().__init__()
        self.fc, self.residual = linear(tensors, f"{prefix}.fc"), residual

    def forward(self, e):
        reweighted = e * torch.softmax(self.fc(e.mean(dim=2)), dim=1).unsqueeze(2)
        return e + reweighted if self.residual else reweighted


class IntTower(nn.Module):
    """src/models/int-tower.ts: Light-SE, towers with ReLU on every layer, FE-Block max-sim over the tapped user
    layers' heads and the item's last-layer heads, + b; loss = BCE + lambda1 * CIR + L2 on the field embeddings."""

    def __init__(self, features, config, tensors):
        super().__init__()
        c = self.c = config
        self.embed = FieldEmbedder(features, tensors, "embed")
        fu, fi = len(self.embed.fields_of(USER_SIDE)), len(self.embed.fields_of(ITEM_SIDE))
        self.heads = c["heads"] if c["heads"] > 0 else max(1, fu)
        se = lambda f, name: LightSe(tensors, name, c["lightSe"] == "residual") if c["lightSe"] != "none" and f > 0 else None  # noqa: E731
        self.user_se, self.item_se = se(fu, "userSe"), se(fi, "itemSe")
        dims = c["tower"]
        user_dims = dims[:-1] if c["taps"] == "input" else dims
        self.user = mlp(tensors, "user", user_dims, c, "relu") if user_dims else None
        self.item = mlp(tensors, "item", dims, c, "relu")
        taps = {"output": len(dims), "input": len(dims), "last": 1}[c["taps"]]
        self.user_heads = nn.ModuleList(linear(tensors, f"userHead{i}") for i in range(taps))
        self.item_head = linear(tensors, "itemHead")
        self.bias = parameter(tensors, "bias")

    def input(self, batch, sources, se):
        fields = self.embed.embed(batch, sources)
        refined = se(fields) if fields is not None and se is not None else fields
        return flat_input(refined, self.embed.dense(batch, sources)), fields

    def heads_of(self, h):
        """[B, H*P] -> [B, H, P], each head L2-normalised unless normalizeHeads is off."""
        h = h.view(h.shape[0], self.heads, self.c["headSize"])
        return normalize(h, dim=2) if self.c["normalizeHeads"] else h

    def loss(self, batch):
        c = self.c
        xu, ue = self.input(batch, USER_SIDE, self.user_se)
        xi, ie = self.input(batch, ITEM_SIDE, self.item_se)
        outs = self.user.forward_all(xu) if self.user is not None else []
        taps = {"output": outs, "input": [xu] + outs, "last": outs[-1:]}[c["taps"]]
        u = [self.heads_of(p(t)) for p, t in zip(self.user_heads, taps)]  # L x [B, H, P]
        v = self.heads_of(self.item_head(self.item(xi)))  # [B, H, P]
        sim = torch.bmm(torch.cat(u, dim=1), v.transpose(1, 2))  # [B, L*H, H]
        logits = sim.amax(dim=2).sum(dim=1) + self.bias
        y = batch["label"]
        terms = {}
        pos = torch.nonzero(y > 0.5).squeeze(1)
        if c["cir"] and c["cirWeight"] > 0 and pos.numel() > 0:
            uq = normalize(u[-1].flatten(1))[pos]  # [Q, H*P]
            s = uq @ normalize(v.flatten(1)).t()  # [Q, B]
            terms["cir"] = c["cirWeight"] * nn.functional.cross_entropy(s / c["cirTemperature"], pos)
        terms["l2"] = l2_penalty(c["l2Embedding"], [ue, ie], y.shape[0])
        return loss_of(batch, logits, terms), logits


def id_feature(features, source, name):
    """The named sparse feature, or the first sparse feature of ``source`` (as prerank's idFeature)."""
    for f in features:
        if (f["name"] == name) if name else (f["kind"] == "sparse" and f["source"] == source):
            return f
    raise ValueError(f"dat: no sparse {source} id feature {name!r}")


class Dat(nn.Module):
    """src/models/dat.ts: each tower's input gets an augmented vector a (looked up by the user/item id); towers
    L2-normalised; logit = <p_u, p_v> / T + b; loss = BCE + l_u/B sum y ||a_u - sg(p_v)||^2 + l_v/B sum y ||a_v - sg(p_u)||^2."""

    def __init__(self, features, config, tensors):
        super().__init__()
        c = self.c = config
        self.embed = FieldEmbedder(features, tensors, "embed")
        self.user_id = id_feature(features, "user", c["userIdFeature"])["name"]
        self.item_id = id_feature(features, "item", c["itemIdFeature"])["name"]
        self.aug_user = nn.Embedding.from_pretrained(tensors["augUser.table"].clone(), freeze=False, sparse=True)
        self.aug_item = nn.Embedding.from_pretrained(tensors["augItem.table"].clone(), freeze=False, sparse=True)
        self.user = mlp(tensors, "user", c["tower"], c, c["lastAct"])
        self.item = mlp(tensors, "item", c["tower"], c, c["lastAct"])
        self.bias = parameter(tensors, "bias")

    def side(self, batch, sources, tower, aug, id_name):
        fields = self.embed.embed(batch, sources)
        dense = self.embed.dense(batch, sources)
        a = aug(batch[id_name])
        x = torch.cat([flat_input(fields, dense), a], dim=1) if fields is not None or dense is not None else a
        return normalize(tower(x)), fields, a

    def loss(self, batch):
        c, y = self.c, batch["label"]
        u, ue, au = self.side(batch, USER_SIDE, self.user, self.aug_user, self.user_id)
        v, ie, av = self.side(batch, ITEM_SIDE, self.item, self.aug_item, self.item_id)
        logits = (u * v).sum(dim=1) / c["temperature"] + self.bias
        B = y.shape[0]

        def mimic(a, p, w):
            return w * (y * (a - p.detach()).pow(2).sum(dim=1)).sum() / B if w > 0 else None

        terms = {"mimicUser": mimic(au, v, c["mimicUser"]), "mimicItem": mimic(av, u, c["mimicItem"])}
        terms["l2"] = l2_penalty(c["l2Embedding"], [ue, ie], B)
        return loss_of(batch, logits, terms), logits


TWO_TOWER = {"dssm": Dssm, "int-tower": IntTower, "dat": Dat}
