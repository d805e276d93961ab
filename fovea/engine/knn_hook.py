"""KNNHook: online weighted-kNN accuracy of the backbone during (self-supervised) training."""
from __future__ import annotations

from fovea.engine.hooks import Hook
from fovea.registry import HOOKS

__all__ = ['KNNHook']


@HOOKS.register_module()
class KNNHook(Hook):
    """Every ``interval`` epochs (and after the last) compute weighted kNN top-1/top-5 of the backbone
    features on ``knn_cfg``'s loaders (see :func:`fovea.evaluation.knn.knn_loaders`) and report them
    as validation metrics (``knn/top1``): logged, in ``scalars.json``, usable as
    ``default_hooks.checkpoint.save_best='knn/top1'``.

    Args:
        interval: epochs between evaluations.
        k / temperature: the vote (defaults 200 and 0.1, or ``knn_cfg.k`` / ``knn_cfg.temperature``).
    """

    priority = 'LOW'

    def __init__(self, interval: int = 1, k: int | None = None, temperature: float | None = None):
        self.interval, self.k, self.temperature = interval, k, temperature
        self._loaders = None

    def after_train_epoch(self, runner) -> None:
        if not (self.every_n_epochs(runner, self.interval) or self.is_last_train_epoch(runner)):
            return
        from fovea.evaluation.knn import knn_evaluate, knn_loaders
        knn_cfg = runner.cfg.get('knn_cfg') or {}
        if self._loaders is None:
            self._loaders = knn_loaders(runner.cfg)
        with runner.autocast():
            metrics = knn_evaluate(runner.unwrapped_model, *self._loaders,
                                   k=self.k or knn_cfg.get('k', 200),
                                   temperature=self.temperature or knn_cfg.get('temperature', 0.1))
        runner.last_metrics['val'] = metrics
        runner.call_hook('after_val_epoch', metrics=metrics)
