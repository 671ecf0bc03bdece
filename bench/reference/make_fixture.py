"""Write a seeded random fixture for testing step.py on its own (the real bench uses the TS side's).

Weights ~ N(0, sqrt(2/in)), biases 0, embeddings ~ N(0, 0.05), x ~ N(0, 1),
y ~ Bernoulli(0.5), ids uniform within each field's vocabulary.

    /usr/bin/python3 bench/reference/make_fixture.py --model inttower --out /tmp/fx-inttower
"""

import argparse
import sys

import numpy as np

sys.dont_write_bytecode = True  # keep bench/reference free of __pycache__

import fixture_io  # noqa: E402  (sibling modules)

HIDDEN = (300, 300, 128)
LR = 0.001
DSSM_CONFIG = {"scale": 5.0, "user_features": 160, "item_features": 96}
INTTOWER_CONFIG = {
    "user_vocabs": [6041, 3, 8, 22, 3500],
    "item_vocabs": [3953, 19, 100],
    "dim": 32,
    "heads": 4,
    "head_size": 64,
}


def linear(rng, tensors, prefix, n_in, n_out):
    tensors[f"{prefix}.weight"] = rng.normal(0.0, np.sqrt(2.0 / n_in), (n_in, n_out)).astype(np.float32)
    tensors[f"{prefix}.bias"] = np.zeros(n_out, np.float32)


def tower(rng, tensors, prefix, n_in):
    for i, n_out in enumerate(HIDDEN):
        linear(rng, tensors, f"{prefix}.{i}", n_in, n_out)
        n_in = n_out


def labels(rng, batch):
    return (rng.random(batch) < 0.5).astype(np.float32)


def dssm_tensors(rng, batch, config):
    tensors = {
        "x_user": rng.standard_normal((batch, config["user_features"])).astype(np.float32),
        "x_item": rng.standard_normal((batch, config["item_features"])).astype(np.float32),
        "y": labels(rng, batch),
    }
    tower(rng, tensors, "user", config["user_features"])
    tower(rng, tensors, "item", config["item_features"])
    return tensors


def inttower_side(rng, tensors, prefix, vocabs, dim):
    for f, vocab in enumerate(vocabs):
        tensors[f"{prefix}.emb.{f}"] = rng.normal(0.0, 0.05, (vocab, dim)).astype(np.float32)
    linear(rng, tensors, f"{prefix}.se", len(vocabs), len(vocabs))
    tower(rng, tensors, prefix, len(vocabs) * dim)


def ids(rng, batch, vocabs):
    return np.stack([rng.integers(0, v, batch) for v in vocabs], axis=1).astype(np.int32)


def inttower_tensors(rng, batch, config):
    tensors = {
        "ids_user": ids(rng, batch, config["user_vocabs"]),
        "ids_item": ids(rng, batch, config["item_vocabs"]),
        "y": labels(rng, batch),
    }
    inttower_side(rng, tensors, "user", config["user_vocabs"], config["dim"])
    inttower_side(rng, tensors, "item", config["item_vocabs"], config["dim"])
    width = config["heads"] * config["head_size"]
    for l, n_in in enumerate(HIDDEN):
        linear(rng, tensors, f"fe.user.{l}", n_in, width)
    linear(rng, tensors, "fe.item", HIDDEN[-1], width)
    return tensors


def main():
    parser = argparse.ArgumentParser(description="Write a seeded random prerank bench fixture.")
    parser.add_argument("--model", choices=("dssm", "inttower"), required=True)
    parser.add_argument("--out", required=True, help="fixture directory to create")
    parser.add_argument("--batch", type=int, default=2048)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    rng = np.random.default_rng(args.seed)
    base = DSSM_CONFIG if args.model == "dssm" else INTTOWER_CONFIG
    config = dict(base, batch=args.batch)
    make = dssm_tensors if args.model == "dssm" else inttower_tensors
    fixture_io.write_fixture(args.out, args.model, config, LR, make(rng, args.batch, config))


if __name__ == "__main__":
    main()
