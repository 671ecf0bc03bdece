"""Serving-latency reference: one request = user tower + scoring k cached items + top-n, in eager PyTorch.

The TypeScript serving bench (``npm run bench -- serve``, bench/serve.ts) writes a fixture per model with prerank's
weights, one user's raw input (per user-side field its embedding table and the user's ids; dense values) and the
cached item representations of the catalogue. This script times, per request, the same work prerank does:

* user encode: per field an embedding lookup (sparse) or a pooled bag (sequence: mean/sum/max over the user's ids,
  ``F.embedding_bag``), concatenated with the dense values (DSSM, RankTower) or stacked [1, F, D] (IntTower), then

* DSSM:     MLP (linear -> BN(eval) -> ReLU per hidden layer, linear last) -> L2 norm -> items[:k] @ u / T + b -> topk
* IntTower: Light-SE (softmax(mean_D(e) W + b) re-weights each field) -> flatten (+ dense) -> MLP (linear -> BN(eval)
            -> ReLU per hidden layer; linear + ReLU last) -> per tapped layer: linear head projection -> [H, P] heads,
            L2 norm per head -> max over the item's H heads of <u_head, item_head> (one matmul against the cached
            [k, H, P] item heads) -> sum over user heads and layers + b -> topk
* RankTower: gated MLP (MLP * sigmoid(gating MLP)) -> [H_u, k] sub-spaces and their Q, U, K', V' projections, then per
            cached item [E | K | V | Q' | U']: both GAU directions (softmax(Q K^T / sqrt d), U * A V, W_o, LayerNorm),
            cosine max over item sub-spaces summed over user sub-spaces, * exp(logInvTau) + b -> topk

under ``torch.inference_mode()`` on ``--threads`` threads, ``time.perf_counter`` around each request.

Fixture tensors (Linear weights ``[in, out]``, as prerank stores them):
  field{j}.table [V_j, D], field{j}.ids [L_j] (int32) per user-side field j; optional x_dense [1, nDense]
  user.fc{i}.weight/bias, user.bn{i}.gamma/beta/runningMean/runningVar
  userSe.fc.weight/bias (inttower, when Light-SE is on), userHead{i}.weight/bias (inttower), bias [1]
  items [N, I]
  ranktower: user.mlp.* and user.gate.* (same names), userToItem.{q,u,o}.*, itemToUser.{k,v,o}.*,
  {userToItem,itemToUser}.ln.gamma/beta, logInvTau [1], bias [1], items [N, H_i (k + 2d + 2v)]
Manifest ``config``: {"model": "dssm"|"inttower"|"ranktower", "layers", "batch_norm_eps", "temperature" (dssm), "heads",
"head_size", optional "item_dtype": "bfloat16" (inttower), "user_heads", "item_heads", "head_size", "attn_dim", "value_dim", "ln_eps" (ranktower),
"user_fields": [{"kind": "sparse"|"sequence", "pooling": null|"mean"|"sum"|"max"}] in field order}.

CLI: /usr/bin/python3 bench/reference/score.py --fixture DIR --top-n 100 --threads 1
Blocks of requests on demand, for a caller that alternates them with its own (bench/serve.ts): prints one line
"ready" + {"model", "threads", "torch", "blas_core"} as JSON, then per stdin line "<k> <count>" runs count requests of
k candidates and prints their milliseconds on one line, and per "check <k>" prints {"k", "scores": [the first k
scores], "top": [top-n indices]} as JSON; EOF ends.
"""

import argparse
import json
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fixture_io import read_fixture  # noqa: E402

NORM_EPS = 1e-12


def build(manifest, arrays):
    """Returns (request(k) -> (scores, top indices), config)."""
    cfg = manifest["config"]
    t = {name: torch.from_numpy(a) for name, a in arrays.items()}
    layers = int(cfg["layers"])
    eps = float(cfg["batch_norm_eps"])
    model = cfg["model"]

    def make_mlp(prefix, n_layers, last_relu):
        """linear -> BN(eval) -> ReLU per hidden layer (BN only where the fixture has it); returns every layer's output."""
        fc = [(t[f"{prefix}.fc{i}.weight"], t[f"{prefix}.fc{i}.bias"]) for i in range(n_layers)]
        bn = [(t[f"{prefix}.bn{i}.runningMean"], t[f"{prefix}.bn{i}.runningVar"], t[f"{prefix}.bn{i}.gamma"], t[f"{prefix}.bn{i}.beta"])
              if f"{prefix}.bn{i}.gamma" in t else None for i in range(n_layers)]

        def run(x):
            outs = []
            for i, (w, b) in enumerate(fc):
                x = torch.addmm(b, x, w)
                if bn[i] is not None:
                    mean, var, gamma, beta = bn[i]
                    x = F.batch_norm(x, mean, var, gamma, beta, training=False, eps=eps)
                if i < n_layers - 1 or last_relu:
                    x = F.relu(x)
                outs.append(x)
            return outs

        return run

    bias = t["bias"]
    items = t["items"]
    embed_fields = make_user_fields(cfg, t)
    x_dense = t.get("x_dense")

    def user_input():
        """The flat tower input [1, F*D (+ nDense)]: fields in order, then the dense values."""
        fields = embed_fields()
        return torch.cat(fields + [x_dense] if x_dense is not None else fields, dim=1)

    if model == "ranktower":
        return build_ranktower(cfg, t, make_mlp, bias, items, user_input)
    mlp = make_mlp("user", layers, model == "inttower")  # IntTower's towers end in ReLU; DSSM's last layer is linear

    if model == "dssm":
        inv_t = 1.0 / float(cfg["temperature"])

        def request(k, n):
            u = F.normalize(mlp(user_input())[-1], p=2.0, dim=1, eps=NORM_EPS)  # [1, I]
            scores = torch.mv(items[:k], u[0]) * inv_t + bias  # [k]
            return scores, torch.topk(scores, min(n, k)).indices

        return request

    H, P = int(cfg["heads"]), int(cfg["head_size"])
    se = (t["userSe.fc.weight"], t.get("userSe.fc.bias")) if "userSe.fc.weight" in t else None
    heads = [(t[f"userHead{i}.weight"], t[f"userHead{i}.bias"]) for i in range(layers)]
    item_heads = items.view(items.shape[0] * H, P)  # cached [N, H, P] as [N*H, P]
    # "item_dtype": "bfloat16": the cached heads stored in bf16 and the max-sim product run in bf16 (oneDNN uses the
    # CPU's bf16 dot products where it has them), the user heads rounded to bf16 for it: prerank's bf16 tables.
    bf16 = cfg.get("item_dtype") == "bfloat16"
    if bf16:
        item_heads = item_heads.to(torch.bfloat16)

    def request(k, n):
        e = torch.stack(embed_fields(), dim=1)  # [1, F, D]
        if se is not None:
            z = e.mean(dim=2) @ se[0]
            if se[1] is not None:
                z = z + se[1]
            e = e * torch.softmax(z, dim=1).unsqueeze(2)
        x = e.flatten(start_dim=1)
        if x_dense is not None:
            x = torch.cat([x, x_dense], dim=1)
        outs = mlp(x)
        u = torch.cat([F.normalize(torch.addmm(b, h, w).view(H, P), p=2.0, dim=1, eps=NORM_EPS) for (w, b), h in zip(heads, outs)])  # [L*H, P]
        if bf16:
            u = u.to(torch.bfloat16)
        sim = (item_heads[: k * H] @ u.t()).view(k, H, -1)  # [k, H_item, L*H_user]
        scores = sim.amax(dim=1).float().sum(dim=1) + bias  # [k]
        return scores, torch.topk(scores, min(n, k)).indices

    return request


def make_user_fields(cfg, t):
    """Returns fields() -> [[1, D] per user-side field]: an embedding row, or a bag of rows pooled like prerank."""
    specs = []
    for j, f in enumerate(cfg["user_fields"]):
        table, ids = t[f"field{j}.table"], t[f"field{j}.ids"].long()
        specs.append((f["kind"], f["pooling"], table, ids.view(1, -1)))
    zero = {id(table): torch.zeros(1, table.shape[1]) for _, _, table, _ in specs}

    def fields():
        out = []
        for kind, pooling, table, ids in specs:
            if kind == "sparse":
                out.append(F.embedding(ids[0], table))
            elif ids.shape[1] == 0:
                out.append(zero[id(table)])  # an empty history pools to zeros, as in prerank
            else:
                out.append(F.embedding_bag(ids, table, mode=pooling))
        return out

    return fields


def build_ranktower(cfg, t, make_mlp, bias, items, user_input):
    """RankTower: MHGN user side (once per request), then per candidate both GAU directions + LayerNorm + max cosine."""
    hu, hi, k = int(cfg["user_heads"]), int(cfg["item_heads"]), int(cfg["head_size"])
    d, v, ln_eps = int(cfg["attn_dim"]), int(cfg["value_dim"]), float(cfg["ln_eps"])
    mlp = make_mlp("user.mlp", int(cfg["layers"]), False)
    gate = make_mlp("user.gate", 2, False)
    scale = torch.exp(t["logInvTau"])

    def lin(name, x):
        return torch.addmm(t[f"{name}.bias"], x, t[f"{name}.weight"])

    def attend(branch, e, q, u, kk, vv):
        # e [k, Hq, K], q [.., Hq, d], u [.., Hq, v], kk [k, Hkv, d], vv [k, Hkv, v] -> LN(e + (u * A vv) W_o + b_o)
        a = torch.softmax(torch.matmul(q, kk.transpose(1, 2)) / d ** 0.5, dim=-1)
        o = torch.matmul(u * torch.matmul(a, vv), t[f"{branch}.o.weight"]) + t[f"{branch}.o.bias"]
        return F.layer_norm(e + o, (k,), t[f"{branch}.ln.gamma"], t[f"{branch}.ln.beta"], ln_eps)

    def request(n_items, n):
        x_user = user_input()
        e = (mlp(x_user)[-1] * torch.sigmoid(gate(x_user)[-1])).view(hu, k)  # [Hu, K]
        qu, uu = F.silu(lin("userToItem.q", e)), torch.sigmoid(lin("userToItem.u", e))
        ku, vu = F.silu(lin("itemToUser.k", e)), F.silu(lin("itemToUser.v", e))
        it = items[:n_items]
        ei, ki, vi, qi, ui = torch.split(it, [hi * k, hi * d, hi * v, hi * d, hi * v], dim=1)
        au = attend("userToItem", e, qu, uu, ki.view(n_items, hi, d), vi.view(n_items, hi, v))  # [k, Hu, K]
        ai = attend("itemToUser", ei.view(n_items, hi, k), qi.view(n_items, hi, d), ui.view(n_items, hi, v),
                    ku.expand(n_items, hu, d), vu.expand(n_items, hu, v))  # [k, Hi, K]
        cos = torch.matmul(F.normalize(au, dim=2, eps=NORM_EPS), F.normalize(ai, dim=2, eps=NORM_EPS).transpose(1, 2))
        scores = cos.amax(dim=2).sum(dim=1) * scale + bias
        return scores, torch.topk(scores, min(n, n_items)).indices

    return request


def blas_core():
    try:
        import ctypes

        for line in open("/proc/self/maps", encoding="utf-8"):
            if "openblas" in line:
                lib = ctypes.CDLL(line.split()[-1])
                lib.openblas_get_corename.restype = ctypes.c_char_p
                return lib.openblas_get_corename().decode()
    except Exception:  # noqa: BLE001 - informational only
        return None
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--fixture", required=True)
    ap.add_argument("--top-n", type=int, default=100)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    manifest, arrays = read_fixture(a.fixture)
    request = build(manifest, arrays)
    meta = {"model": manifest["config"]["model"], "threads": torch.get_num_threads(), "torch": torch.__version__, "blas_core": blas_core()}
    print("ready " + json.dumps(meta), flush=True)
    with torch.inference_mode():
        for line in sys.stdin:
            cmd = line.split()
            if not cmd:
                continue
            if cmd[0] == "check":
                ck = min(int(cmd[1]), arrays["items"].shape[0])
                scores, top = request(ck, a.top_n)
                print(json.dumps({"k": ck, "scores": scores.tolist(), "top": top.tolist()}), flush=True)
                continue
            k, count = int(cmd[0]), int(cmd[1]) if len(cmd) > 1 else 1
            ms = []
            for _ in range(count):
                t0 = time.perf_counter()
                request(k, a.top_n)
                ms.append((time.perf_counter() - t0) * 1e3)
            print(" ".join(f"{x:.6f}" for x in ms), flush=True)


if __name__ == "__main__":
    main()
