"""PyTorch twins of prerank's single-tower registry models (user and item features together), each written from its
model file's header formula. ``config`` and ``loss(batch)`` as in two_tower.py.
"""

import math

import torch
from torch import nn

from .layers import ALL_SOURCES, FieldEmbedder, LinearPart, flat_input, l2_penalty, linear, loss_of, mlp, parameter, sum_logits


def wide_part(features, tensors, config):
    return LinearPart(features, tensors, "wide") if config["wide"] else None


def wide_terms(wide, batch):
    return wide(batch, ALL_SOURCES) if wide is not None else (None, None)


class Dcn(nn.Module):
    """src/models/dcn.ts: x0 = [flattened fields, dense]; cross layers x_{l+1} = x0 (x_l . w_l) + b_l + x_l; a deep
    MLP over x0 beside them; logit = [x_L, deep] w_out (+ first order) + b."""

    def __init__(self, features, config, tensors):
        super().__init__()
        c = self.c = config
        self.embed = FieldEmbedder(features, tensors, "embed")
        self.cross_w = nn.ParameterList(parameter(tensors, f"cross.w{l}.weight") for l in range(c["crossLayers"]))
        self.cross_b = nn.ParameterList(parameter(tensors, f"cross.b{l}") for l in range(c["crossLayers"]))
        self.dnn = mlp(tensors, "dnn", c["dnn"], c, "relu")
        self.out = linear(tensors, "out")
        self.wide = wide_part(features, tensors, c)
        self.bias = parameter(tensors, "bias")

    def loss(self, batch):
        fields = self.embed.embed(batch, ALL_SOURCES)
        x0 = flat_input(fields, self.embed.dense(batch, ALL_SOURCES))  # [B, K]
        x = x0
        for w, b in zip(self.cross_w, self.cross_b):
            x = x0 * (x @ w) + b + x  # (x @ w) [B, 1]
        wide, wide_emb = wide_terms(self.wide, batch)
        logits = sum_logits(self.out(torch.cat([x, self.dnn(x0)], dim=1)), wide) + self.bias
        return loss_of(batch, logits, {"l2": l2_penalty(self.c["l2Embedding"], [fields, wide_emb], x0.shape[0])}), logits


class DeepFm(nn.Module):
    """src/models/deepfm.ts: logit = first order + 1/2 sum_d [(sum_f e_fd)^2 - sum_f e_fd^2] + MLP(fields, dense) w + b."""

    def __init__(self, features, config, tensors):
        super().__init__()
        c = self.c = config
        self.embed = FieldEmbedder(features, tensors, "embed")
        self.first = LinearPart(features, tensors, "first")
        self.dnn = mlp(tensors, "dnn", c["dnn"], c, "relu")
        self.out = linear(tensors, "out")
        self.bias = parameter(tensors, "bias")

    def loss(self, batch):
        fields = self.embed.embed(batch, ALL_SOURCES)  # [B, F, D]
        first, first_emb = self.first(batch, ALL_SOURCES)
        fm = None
        if fields is not None:
            s = fields.sum(dim=1)
            fm = 0.5 * (s * s - (fields * fields).sum(dim=1)).sum(dim=1, keepdim=True)  # [B, 1]
        deep = self.out(self.dnn(flat_input(fields, self.embed.dense(batch, ALL_SOURCES))))
        logits = sum_logits(first, fm, deep) + self.bias
        B = logits.shape[0]
        return loss_of(batch, logits, {"l2": l2_penalty(self.c["l2Embedding"], [fields, first_emb], B)}), logits


class InteractingLayer(nn.Module):
    """Per head h: softmax(Q_h K_h^T (/ sqrt(P))) V_h over fields; heads concatenated, + E W_res, ReLU."""

    def __init__(self, tensors, prefix, heads, head_size, residual, scaled):
        super().__init__()
        self.qkv = linear(tensors, f"{prefix}.qkv")
        self.res = linear(tensors, f"{prefix}.res") if residual else None
        self.heads, self.head_size, self.scaled = heads, head_size, scaled

    def forward(self, x):  # [B, F, Din] -> [B, F, H*P]
        H, P = self.heads, self.head_size
        pieces = self.qkv(x).split(P, dim=2)  # 3H x [B, F, P]: all queries, then keys, then values
        outs = []
        for h in range(H):
            q, k, v = pieces[h], pieces[H + h], pieces[2 * H + h]
            logits = q @ k.transpose(1, 2)  # [B, F, F]
            if self.scaled:
                logits = logits / math.sqrt(P)
            outs.append(torch.softmax(logits, dim=2) @ v)
        out = torch.cat(outs, dim=2)
        return torch.relu(out + self.res(x) if self.res is not None else out)


class AutoInt(nn.Module):
    """src/models/autoint.ts (AutoInt+): stacked interacting layers over the field embeddings; logit =
    [flattened last layer, MLP(fields, dense) (or the dense features when there is no MLP)] w_out (+ first order) + b."""

    def __init__(self, features, config, tensors):
        super().__init__()
        c = self.c = config
        self.embed = FieldEmbedder(features, tensors, "embed")
        self.layers = nn.ModuleList(
            InteractingLayer(tensors, f"att{l}", c["heads"], c["headSize"], c["residual"], c["scaled"]) for l in range(c["attentionLayers"])
        )
        self.dnn = mlp(tensors, "dnn", c["dnn"], c, "relu") if c["dnn"] else None
        self.out = linear(tensors, "out")
        self.wide = wide_part(features, tensors, c)
        self.bias = parameter(tensors, "bias")

    def loss(self, batch):
        fields = self.embed.embed(batch, ALL_SOURCES)  # [B, F, D]
        h = fields
        for layer in self.layers:
            h = layer(h)
        parts = [h.flatten(1)]
        dense = self.embed.dense(batch, ALL_SOURCES)
        if self.dnn is not None:
            parts.append(self.dnn(flat_input(fields, dense)))
        elif dense is not None:
            parts.append(dense)
        wide, wide_emb = wide_terms(self.wide, batch)
        logits = sum_logits(self.out(torch.cat(parts, dim=1)), wide) + self.bias
        B = logits.shape[0]
        return loss_of(batch, logits, {"l2": l2_penalty(self.c["l2Embedding"], [fields, wide_emb], B)}), logits


SINGLE_TOWER = {"dcn": Dcn, "deepfm": DeepFm, "autoint": AutoInt}
