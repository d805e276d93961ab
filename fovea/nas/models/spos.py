"""SPOS (Single Path One-Shot): a supernet trained one uniformly sampled path per step, and
``sub_model``, the supernet fixed to one subnet (an ordinary classifier).

Path sampling is a per-step side effect, so it follows docs/architecture.md's training-step
contract: ``after_optimizer_step`` records the step; ``loss`` (which runs inside the Runner's
DDP forward) sets the path of that step before the forward. The path of step ``s`` is drawn
from a generator seeded with ``(path_seed, s)``, both buffers: every rank draws the same path
without communicating, and a resumed run continues with the paths it would have drawn.
"""
from __future__ import annotations

import copy
import random
from pathlib import Path
from typing import Any, Mapping

import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from fovea.models.base import BaseModel
from fovea.nas.models.mutator import NasMutator, fix_subnet as fix_model_subnet
from fovea.registry import MODELS
from fovea.utils.errors import ConfigError

__all__ = ['SPOS', 'sub_model']


@MODELS.register_module()
class SPOS(BaseModel):
    """A supernet classifier (``architecture``, e.g. an ImageClassifier over SearchableShuffleNetV2)
    trained on one path per optimizer step.

    Args:
        architecture: the supernet classifier config.
        mutator: ``dict(type='NasMutator')`` (MMRazor's key; fovea has one mutator).
        sampler: ``dict(type='UniformSampler')`` (SPOS) or ``dict(type='FlopsBinSampler', ...)``.
        norm_training: keep BatchNorm in training mode when evaluating (MMRazor's search option;
            ``fovea search`` recalibrates BN statistics instead).
        data_preprocessor: given to the architecture (which owns it) when it sets none.
    """

    def __init__(self, architecture: dict | nn.Module, mutator: dict | None = None, sampler: dict | None = None,
                 norm_training: bool = False, data_preprocessor: dict | None = None, init_cfg: dict | None = None):
        if isinstance(architecture, dict):
            architecture = dict(architecture)
            if data_preprocessor is not None:
                architecture.setdefault('data_preprocessor', data_preprocessor)
        arch = MODELS.build(architecture, key='architecture')
        super().__init__(data_preprocessor=arch.data_preprocessor, init_cfg=init_cfg)
        self.architecture = arch
        self.mutator = MODELS.build(mutator or dict(type='NasMutator'), key='mutator')
        self.mutator.prepare_from_supernet(self.architecture)
        self.sampler = MODELS.build(sampler or dict(type='UniformSampler'), key='sampler')
        self.norm_training = norm_training
        self.register_buffer('path_seed', torch.randint(2 ** 31 - 1, ()))
        self.register_buffer('path_step', torch.zeros((), dtype=torch.long))
        self._step: int | None = None     # host mirror of path_step (None: read the buffer)
        self._path_at: int | None = None  # the step whose path the layers hold
        self.register_load_state_dict_post_hook(_forget_path)

    @property
    def backbone(self) -> nn.Module:
        """The supernet's backbone (what the Runner reads ``prefers_channels_last`` from)."""
        return self.architecture.backbone

    def sample_path(self, step: int) -> dict[str, str]:
        """The path of optimizer step ``step`` (the same on every rank, and after resume)."""
        rng = random.Random(int(self.path_seed) * 1_000_003 + step)
        return self.sampler(self.mutator, rng, self.architecture)

    def _set_training_path(self) -> None:
        if self._step is None:
            self._step = int(self.path_step)
        if self._path_at != self._step:
            self.mutator.set_choices(self.sample_path(self._step))
            self._path_at = self._step

    def loss(self, inputs: torch.Tensor, data_samples: list) -> dict[str, torch.Tensor]:
        self._set_training_path()
        return self.architecture.loss(inputs, data_samples)

    def after_optimizer_step(self, step: int, max_steps: int | None = None) -> None:
        """The next forward trains the path of ``step`` (sampled then, in :meth:`loss`)."""
        self.path_step.fill_(step)
        self._step = step

    def predict(self, inputs: torch.Tensor, data_samples: list | None = None, **kwargs: Any) -> list:
        if self._path_at is None and None in self.mutator.current_choices.values():
            self._set_training_path()  # a fresh supernet evaluates the path of its current step
        return self.architecture.predict(inputs, data_samples, **kwargs)

    def _forward(self, inputs: torch.Tensor, data_samples: list | None = None) -> Any:
        return self.architecture._forward(inputs, data_samples)

    def train(self, mode: bool = True) -> 'SPOS':
        super().train(mode)
        if self.norm_training and not mode:
            for m in self.modules():
                if isinstance(m, _BatchNorm):
                    m.train()
        return self


@MODELS.register_module()
def sub_model(cfg: dict, fix_subnet: str | Path | Mapping[str, Any], init_weight_from_supernet: bool = False,
              init_cfg: dict | None = None, data_preprocessor: dict | None = None) -> nn.Module:
    """The classifier ``cfg`` (a supernet architecture config) with every one-shot layer fixed to the
    subnet ``fix_subnet`` (a YAML path, MMRazor 1.x or 0.x format, or a mapping): an ordinary model.

    ``init_cfg=dict(type='Pretrained', checkpoint=SUPERNET_OR_SUBNET, prefix='architecture.')``
    initialises it from supernet (or sliced subnet) weights when the Runner calls ``init_weights``;
    the fixed layers keep MMRazor's names (``_candidates.<op>``), so those weights fit by name.
    ``init_weight_from_supernet`` is accepted for MMRazor configs (the kept ops' weights load either way).
    """
    if not isinstance(cfg, dict) or 'type' not in cfg:
        raise ConfigError("sub_model: `cfg` must be the supernet architecture's config (a dict with a type)")
    cfg = copy.deepcopy(dict(cfg))
    if cfg.get('type') in ('SPOS', 'mmrazor.SPOS'):
        cfg = dict(cfg['architecture'])
    if data_preprocessor is not None:
        cfg.setdefault('data_preprocessor', data_preprocessor)
    model = MODELS.build(cfg, key='cfg')
    fix_model_subnet(model, fix_subnet)
    if init_cfg is not None:
        model.init_cfg = init_cfg
    model.fixed_subnet = NasMutator(model).current_choices
    return model



def _forget_path(module: SPOS, incompatible_keys: Any) -> None:
    """After loading weights, the step (and so the path) comes from the loaded ``path_step``."""
    module._step = module._path_at = None
