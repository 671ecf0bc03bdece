"""Read and write benchmark fixtures shared by prerank (TypeScript) and the PyTorch reference.

A fixture is a directory with two files:

* ``manifest.json``: ``{"model", "config", "lr", "tensors": {name: {"dtype", "shape", "offset"}}}``
* ``tensors.bin``: raw little-endian tensor data, each tensor at its byte ``offset``.

Supported dtypes are ``float32`` and ``int32``. Linear weights are stored ``[in, out]``.
"""

import json
import os

import numpy as np

DTYPES = {"float32": np.dtype("<f4"), "int32": np.dtype("<i4")}
ALIGN = 64


def read_fixture(directory):
    """Return ``(manifest, tensors)`` where ``tensors`` maps names to writable numpy arrays."""
    with open(os.path.join(directory, "manifest.json"), encoding="utf-8") as f:
        manifest = json.load(f)
    with open(os.path.join(directory, "tensors.bin"), "rb") as f:
        blob = f.read()
    tensors = {name: _slice(blob, name, spec) for name, spec in manifest["tensors"].items()}
    return manifest, tensors


def _slice(blob, name, spec):
    dtype = DTYPES[spec["dtype"]]
    shape = tuple(spec["shape"])
    count = int(np.prod(shape, dtype=np.int64))
    end = spec["offset"] + count * dtype.itemsize
    if end > len(blob):
        raise ValueError(f"tensor {name!r} ends at byte {end}, past tensors.bin ({len(blob)} bytes)")
    array = np.frombuffer(blob, dtype=dtype, count=count, offset=spec["offset"])
    return array.reshape(shape).copy()


def write_fixture(directory, model, config, lr, tensors):
    """Write ``tensors`` (name -> numpy array of float32/int32) as a fixture in ``directory``."""
    os.makedirs(directory, exist_ok=True)
    specs, offset = {}, 0
    with open(os.path.join(directory, "tensors.bin"), "wb") as f:
        for name, array in tensors.items():
            dtype_name = _dtype_name(array)
            data = np.ascontiguousarray(array, dtype=DTYPES[dtype_name]).tobytes()
            padding = -offset % ALIGN
            f.write(b"\0" * padding)
            offset += padding
            specs[name] = {"dtype": dtype_name, "shape": list(array.shape), "offset": offset}
            f.write(data)
            offset += len(data)
    manifest = {"model": model, "config": config, "lr": lr, "tensors": specs}
    with open(os.path.join(directory, "manifest.json"), "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=1)


def _dtype_name(array):
    if np.issubdtype(array.dtype, np.floating):
        return "float32"
    if np.issubdtype(array.dtype, np.integer):
        return "int32"
    raise TypeError(f"unsupported dtype {array.dtype}")
