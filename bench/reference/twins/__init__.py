"""PyTorch twins of prerank's registry models (src/models), one class per model, built from a fixture's weights.

``build(kind, features, config, tensors)`` returns a ``torch.nn.Module`` whose ``loss(batch)`` is
``(loss, logits)``: the registry model's training objective and logits [B] (see layers.py for the batch format).
"""

from .single_tower import SINGLE_TOWER
from .two_tower import TWO_TOWER

TWINS = {**TWO_TOWER, **SINGLE_TOWER}


def build(kind, features, config, tensors):
    if kind not in TWINS:
        raise ValueError(f"no PyTorch twin of model {kind!r}; twins exist for {sorted(TWINS)}")
    return TWINS[kind](features, config, tensors)
