"""PyTorch side of the registry-model comparison (test/torch-reference.test.ts, bench/registry-reference.ts).

The fixture holds one registry model's initial state under prerank's names (see twins/layers.py), the batches
prerank trains on (``batch.<k>.<feature>``, ``batch.<k>.<sequence>.lengths``, ``batch.<k>.label``) and a config
``{"model_config", "features", "batches"}`` (``model`` in the manifest is the registry name, ``lr`` Adam's rate).
The twin (bench/reference/twins) is built from those weights; then:

1. eval-mode logits of batch 0 (``logits_before``);
2. one training step per batch in order, recording each loss before its update (lazy Adam on the embedding tables,
   Adam on the rest, as prerank's Adam).

    /usr/bin/python3 bench/reference/registry_step.py --fixture DIR --threads 1 --out r.json
"""

import argparse
import sys

import torch

sys.dont_write_bytecode = True  # keep bench/reference free of __pycache__

import fixture_io  # noqa: E402  (sibling modules)
import runtime_info
import twins
from twins.layers import optimizers

BATCH_PREFIX = "batch."


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fixture", required=True, help="fixture directory (manifest.json + tensors.bin)")
    parser.add_argument("--threads", type=int, required=True, help="torch thread count")
    parser.add_argument("--out", required=True, help="output JSON path ('-' for stdout)")
    args = parser.parse_args(argv)
    if args.threads < 1:
        parser.error("--threads must be >= 1")
    return args


def fixture_batches(features, arrays, count):
    """The fixture's batches as dicts of tensors: int64 ids and lengths, float32 dense values and labels."""
    batches = []
    for k in range(count):
        prefix = f"{BATCH_PREFIX}{k}."
        column = lambda name: torch.from_numpy(arrays[prefix + name])  # noqa: E731
        b = {"label": column("label")}
        for f in features:
            b[f["name"]] = column(f["name"]).long() if f["kind"] != "dense" else column(f["name"])
            if f["kind"] == "sequence":
                b[f["name"] + ".lengths"] = column(f["name"] + ".lengths").long()
        batches.append(b)
    return batches


def eval_logits(model, batch):
    model.eval()
    with torch.no_grad():
        return model.loss(batch)[1].tolist()


def train(model, batches, lr):
    model.train()
    opts = optimizers(model, lr)
    losses = []
    for b in batches:
        for opt in opts:
            opt.zero_grad(set_to_none=True)
        loss = model.loss(b)[0]
        loss.backward()
        for opt in opts:
            opt.step()
        losses.append(loss.item())
    return losses


def run(args):
    torch.set_num_threads(args.threads)
    blas = runtime_info.blas_info(requested_threads=args.threads)
    manifest, arrays = fixture_io.read_fixture(args.fixture)
    cfg = manifest["config"]
    weights = {k: torch.from_numpy(v) for k, v in arrays.items() if not k.startswith(BATCH_PREFIX)}
    batches = fixture_batches(cfg["features"], arrays, int(cfg["batches"]))
    model = twins.build(manifest["model"], cfg["features"], cfg["model_config"], weights)
    before = eval_logits(model, batches[0])
    losses = train(model, batches, float(manifest["lr"]))
    torch_part, cpu = runtime_info.torch_info(), runtime_info.cpu_info()
    return {
        "model": manifest["model"],
        "fixture": args.fixture,
        "parameters": sum(p.numel() for p in model.parameters()),
        "logits_before": before,
        "losses": losses,
        "threads": args.threads,
        "torch": torch_part,
        "blas": blas,
        "python": sys.version.split()[0],
        "warnings": runtime_info.warnings_for(torch_part, blas, cpu, args.threads, args.threads),
    }


def main(argv=None):
    args = parse_args(argv)
    runtime_info.write_report(run(args), args.out, "registry_step.py")


if __name__ == "__main__":
    main()
