"""SwitchRecipeHook (MMPretrain's): change the training pipeline, the batch augments or the loss at given
epochs. MobileOne's recipes use it to grow the crop size and the RandAugment magnitude (160 px, then 192
px from epoch 37, then 224 px from epoch 112)."""
from __future__ import annotations

import copy
import logging

from fovea.data.transforms.base import Compose
from fovea.engine.hooks import Hook
from fovea.registry import BATCH_AUGMENTS, HOOKS, MODELS, key_scope
from fovea.utils.errors import ConfigError

__all__ = ['SwitchRecipeHook']

logger = logging.getLogger('fovea')


@HOOKS.register_module()
class SwitchRecipeHook(Hook):
    """At the start of epoch ``action_epoch`` (counted from 1), switch to that recipe's settings.

    Args:
        schedule: dicts with ``action_epoch`` and any of ``train_pipeline`` (transform configs for the
            train dataset, or its wrapped datasets), ``batch_augments`` (a ``RandomBatchAugment`` config,
            or None to stop batch augmentation) and ``loss`` (the head's loss config). ``pipeline`` is read
            as ``train_pipeline``: MMPretrain's MobileOne configs write it so, and MMPretrain 1.2.0 then
            ignores it (their training keeps the first epoch's pipeline); fovea switches, as the
            configs' comments intend.

    A resumed run applies, before training, every recipe whose epoch has already begun.
    """
    priority = 'NORMAL'

    def __init__(self, schedule: list[dict]):
        self.schedule: dict[int, dict] = {}
        with key_scope('schedule'):
            for i, recipe in enumerate(schedule):
                recipe = copy.deepcopy(dict(recipe))
                if 'action_epoch' not in recipe:
                    raise ConfigError(f'SwitchRecipeHook: schedule[{i}] has no action_epoch (the epoch, from 1, '
                                      f'at which it applies): {recipe}')
                epoch = recipe.pop('action_epoch')
                if epoch in self.schedule:
                    raise ConfigError(f'SwitchRecipeHook: action_epoch {epoch} appears twice in the schedule')
                if 'pipeline' in recipe:
                    if 'train_pipeline' in recipe:
                        raise ConfigError(f'SwitchRecipeHook: schedule[{i}] gives both pipeline and '
                                          f'train_pipeline; keep one')
                    recipe['train_pipeline'] = recipe.pop('pipeline')
                unknown = set(recipe) - {'train_pipeline', 'batch_augments', 'loss'}
                if unknown:
                    raise ConfigError(f'SwitchRecipeHook: schedule[{i}] has unknown keys {sorted(unknown)}; it '
                                      f'switches train_pipeline, batch_augments and loss')
                with key_scope(str(i)):
                    if 'train_pipeline' in recipe:
                        recipe['train_pipeline'] = Compose(recipe['train_pipeline'])
                    augments = recipe.get('batch_augments')
                    if isinstance(augments, dict):
                        recipe['batch_augments'] = BATCH_AUGMENTS.build(
                            {'type': 'RandomBatchAugment', **augments}, key='batch_augments')
                    if isinstance(recipe.get('loss'), dict):
                        recipe['loss'] = MODELS.build(recipe['loss'], key='loss')
                self.schedule[epoch] = recipe
        self.schedule = dict(sorted(self.schedule.items()))

    def before_train(self, runner) -> None:
        for epoch, recipe in self.schedule.items():
            if epoch <= runner.epoch:
                self._switch(runner, recipe, f'resumed at epoch {runner.epoch + 1}: the recipe of epoch {epoch}')

    def before_train_epoch(self, runner) -> None:
        recipe = self.schedule.get(runner.epoch + 1)
        if recipe is not None:
            self._switch(runner, recipe, f'epoch {runner.epoch + 1}')

    def _switch(self, runner, recipe: dict, when: str) -> None:
        model = runner.unwrapped_model
        if 'batch_augments' in recipe:
            model.data_preprocessor.batch_augments = recipe['batch_augments']
        if 'loss' in recipe:
            owner = model if hasattr(model, 'loss_module') else getattr(model, 'head', None)
            if not hasattr(owner, 'loss_module'):
                raise ConfigError(f'SwitchRecipeHook: {type(model).__name__} has no loss_module (nor has its '
                                  f'head) to switch; remove loss from the schedule')
            owner.loss_module = recipe['loss']
        if 'train_pipeline' in recipe:
            loader = runner.train_dataloader
            _set_pipeline(loader.dataset, recipe['train_pipeline'])
            # persistent workers hold copies of the dataset: start them again with the new pipeline
            from fovea.data.loader import release_workers
            release_workers(loader)
        logger.info(f'SwitchRecipeHook: {when}: switched {", ".join(recipe)}.')


def _set_pipeline(dataset, pipeline: Compose) -> None:
    if hasattr(dataset, 'pipeline'):
        dataset.pipeline = pipeline
    elif hasattr(dataset, 'datasets'):
        for d in dataset.datasets:
            _set_pipeline(d, pipeline)
    elif hasattr(dataset, 'dataset'):
        _set_pipeline(dataset.dataset, pipeline)
    else:
        raise ConfigError(f'SwitchRecipeHook: the train dataset {type(dataset).__name__} has no pipeline to switch')
