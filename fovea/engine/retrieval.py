"""The engine pieces of image-text retrieval recipes (MMPretrain's names, used by its BLIP retrieval configs).

``RetrievalValLoop`` / ``RetrievalTestLoop``: retrieval ranks every image against every text of the set,
so the loop first extracts the features of all batches (``model(..., mode='tensor')``), then asks the model
for both directions at once (``model.predict_all(feats, samples, num_images, num_texts)``, e.g.
:class:`~fovea.models.multimodal.blip.BlipRetrieval`) and evaluates each, the metrics prefixed ``i2t/`` and
``t2i/``. The dataset says how many images and texts it holds (``img_size`` / ``text_size``, as
``COCORetrieval``). Under several processes the model gathers the features in rank order, so the sampler
must give each rank a contiguous slice (MMPretrain's ``SequentialSampler(subsample_type='sequential')``).

``WarmupParamHook``: a module attribute (BLIP's ITC distillation weight ``head.alpha``) rises linearly from
0 to its configured value over ``warmup_epochs``, set before every training iteration.
"""
from __future__ import annotations

import operator
from typing import Any

import torch

from fovea.engine.checkpoint import get_rng_state, set_rng_state
from fovea.engine.hooks import Hook
from fovea.engine.loops import TestLoop, ValLoop
from fovea.registry import HOOKS, LOOPS
from fovea.utils.errors import ConfigError

__all__ = ['RetrievalValLoop', 'RetrievalTestLoop', 'WarmupParamHook']


class _RetrievalLoop:
    phase = 'val'

    @torch.no_grad()
    def run(self) -> dict[str, Any]:
        r, p = self.runner, self.phase
        model = r.unwrapped_model
        if not hasattr(model, 'predict_all'):
            plain = 'ValLoop' if p == 'val' else 'TestLoop'
            raise ConfigError(f'{type(self).__name__} needs a retrieval model with predict_all (BlipRetrieval); '
                              f'{type(model).__name__} has none: use {p}_cfg=dict(type={plain!r}).')
        rng = get_rng_state()
        was_training = model.training
        r.call_hook(f'before_{p}')
        r.call_hook(f'before_{p}_epoch')
        model.eval()
        feats: list[dict[str, torch.Tensor]] = []
        samples: list = []
        for idx, batch in enumerate(self.dataloader):
            r.call_hook(f'before_{p}_iter', batch_idx=idx, data_batch=batch)
            with r.autocast():
                data = model.data_preprocessor(batch, False)
                out = model(**data, mode='tensor')
            feats.append(out)
            samples.extend(data['data_samples'])
            r.call_hook(f'after_{p}_iter', batch_idx=idx, data_batch=batch, outputs=out)
        merged = {k: torch.cat([f[k] for f in feats]) for k in feats[0]}
        dataset = self.dataloader.dataset
        num_images, num_texts = getattr(dataset, 'img_size', None), getattr(dataset, 'text_size', None)
        i2t, t2i = model.predict_all(merged, samples, num_images=num_images, num_texts=num_texts)
        metrics = {}
        for name, results, size in (('i2t', i2t, num_images or len(i2t)), ('t2i', t2i, num_texts or len(t2i))):
            self.evaluator.process(results, None)
            metrics.update({f'{name}/{k}': v for k, v in self.evaluator.evaluate(size).items()})
        r.call_hook(f'after_{p}_epoch', metrics=metrics)
        r.call_hook(f'after_{p}')
        model.train(was_training)
        set_rng_state(rng)
        r.last_metrics[p] = metrics
        return metrics


@LOOPS.register_module()
class RetrievalValLoop(_RetrievalLoop, ValLoop):
    """Validation over image-text retrieval (see the module docstring); ValLoop's arguments."""
    phase = 'val'


@LOOPS.register_module()
class RetrievalTestLoop(_RetrievalLoop, TestLoop):
    """Test over image-text retrieval (see the module docstring); TestLoop's arguments."""
    phase = 'test'


@HOOKS.register_module()
class WarmupParamHook(Hook):
    """Warm a model attribute up linearly from 0 over ``warmup_epochs`` (MMPretrain's hook).

    Args:
        param_name: the attribute (e.g. 'alpha').
        module_name: the module holding it, a dotted path from the model (e.g. 'head').
        warmup_epochs: epochs (possibly fractional) to reach the configured value.
    """

    priority = 'NORMAL'

    def __init__(self, param_name: str, module_name: str, warmup_epochs: float):
        if warmup_epochs <= 0:
            raise ConfigError(f'WarmupParamHook warmup_epochs must be > 0, got {warmup_epochs}.')
        self.param_name, self.module_name, self.warmup_epochs = param_name, module_name, warmup_epochs
        self._get = operator.attrgetter(module_name)
        self.ori_val = None

    def _module(self, runner):
        try:
            module = self._get(runner.unwrapped_model)
            getattr(module, self.param_name)
        except AttributeError:
            raise ConfigError(f'WarmupParamHook: the model has no {self.module_name}.{self.param_name} '
                              f'(custom_hooks: module_name / param_name).') from None
        return module

    def before_train(self, runner) -> None:
        self.ori_val = getattr(self._module(runner), self.param_name)

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        iters_per_epoch = runner.max_iters / max(runner.max_epochs, 1)
        scale = min(1.0, runner.iter / (self.warmup_epochs * iters_per_epoch))
        setattr(self._module(runner), self.param_name, self.ori_val * scale)
