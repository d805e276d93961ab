"""One model config built by MMPretrain (installed beside fovea) and by fovea, MMPretrain's random weights
(from ``randomise``) loaded into fovea's strictly: the pair that reference tests compare."""
from __future__ import annotations

import pytest
import torch

from fovea.apis.model import build_model_from_cfg
from fovea.convert import load_weights


def mmpretrain_pair(cfg: dict, randomise) -> tuple[torch.nn.Module, torch.nn.Module]:
    """(MMPretrain's model, fovea's model with its weights), both in eval mode; skips without mmpretrain."""
    pytest.importorskip('mmpretrain')
    from mmpretrain.registry import MODELS as MM_MODELS
    ref = MM_MODELS.build(dict(cfg)).eval()
    randomise(ref)
    ours = build_model_from_cfg(cfg).eval()
    load_weights(ours, ref.state_dict(), strict=True, log=False)
    return ref, ours
