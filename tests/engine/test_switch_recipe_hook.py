"""MobileOne's recipe: SwitchRecipeHook (pipeline, batch augments and loss switched at epochs, resumed runs
catching up, MMPretrain's `pipeline` spelling) and the cosine weight-decay schedule of
imagenet_bs256_coslr_coswd_300e."""
from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import torch
from torch import nn

from fovea.config import Config
from fovea.engine.schedulers import build_param_schedulers
from fovea.engine.switch_recipe_hook import SwitchRecipeHook
from fovea.registry import HOOKS
from fovea.utils.errors import ConfigError


class _Images(torch.utils.data.Dataset):
    def __init__(self):
        self.pipeline = None

    def __len__(self):
        return 2

    def __getitem__(self, i):
        return self.pipeline({'img': torch.zeros(3, 8, 8, dtype=torch.uint8)})


class _Wrapped(torch.utils.data.Dataset):  # a dataset wrapper (RepeatDataset-like): the hook reaches inside
    def __init__(self, dataset):
        self.dataset = dataset

    def __len__(self):
        return len(self.dataset)

    def __getitem__(self, i):
        return self.dataset[i]


def _runner(epoch=0):
    dataset = _Images()
    model = nn.Module()
    model.data_preprocessor = SimpleNamespace(batch_augments='mixup')
    model.head = SimpleNamespace(loss_module='ce')
    loader = torch.utils.data.DataLoader(_Wrapped(dataset), batch_size=2, collate_fn=lambda b: b)
    return SimpleNamespace(epoch=epoch, unwrapped_model=model, train_dataloader=loader), dataset


SCHEDULE = [dict(action_epoch=3, pipeline=[dict(type='CenterCrop', crop_size=4)]),
            dict(action_epoch=2, train_pipeline=[dict(type='CenterCrop', crop_size=6)], batch_augments=None,
                 loss=dict(type='LabelSmoothLoss', label_smooth_val=0.1))]


def test_switches_at_the_start_of_the_epochs():
    hook = HOOKS.build(dict(type='SwitchRecipeHook', schedule=SCHEDULE))
    runner, dataset = _runner()
    hook.before_train(runner)
    assert dataset.pipeline is None                      # nothing before epoch 2
    hook.before_train_epoch(runner)
    assert dataset.pipeline is None
    runner.epoch = 1                                     # epoch 2 starts
    hook.before_train_epoch(runner)
    assert next(iter(runner.train_dataloader))[0]['img'].shape == (3, 6, 6)
    model = runner.unwrapped_model
    assert model.data_preprocessor.batch_augments is None and type(model.head.loss_module).__name__ == 'LabelSmoothLoss'
    runner.epoch = 2                                     # epoch 3: `pipeline`, as MMPretrain's MobileOne configs write
    hook.before_train_epoch(runner)
    assert next(iter(runner.train_dataloader))[0]['img'].shape == (3, 4, 4)


def test_a_resumed_run_applies_the_recipes_already_begun():
    hook = SwitchRecipeHook(SCHEDULE)
    runner, dataset = _runner(epoch=2)                   # resumed after 2 finished epochs
    hook.before_train(runner)
    assert dataset[0]['img'].shape == (3, 6, 6)          # the epoch-2 recipe, not yet epoch 3's
    assert runner.unwrapped_model.data_preprocessor.batch_augments is None
    hook.before_train_epoch(runner)
    assert dataset[0]['img'].shape == (3, 4, 4)


def test_bad_schedules_say_what_is_wrong():
    with pytest.raises(ConfigError, match=r'schedule\[0\] has no action_epoch'):
        SwitchRecipeHook([dict(pipeline=[])])
    with pytest.raises(ConfigError, match='action_epoch 2 appears twice'):
        SwitchRecipeHook([dict(action_epoch=2), dict(action_epoch=2)])
    with pytest.raises(ConfigError, match=r"unknown keys \['lr'\]"):
        SwitchRecipeHook([dict(action_epoch=2, lr=0.1)])
    hook = SwitchRecipeHook([dict(action_epoch=1, loss=dict(type='CrossEntropyLoss'))])
    runner, _ = _runner()
    runner.unwrapped_model.head = None
    with pytest.raises(ConfigError, match='no loss_module'):
        hook.before_train_epoch(runner)


def test_mobileone_s2_recipe_grows_the_crops():
    cfg = Config.fromfile('mobileone-s2_8xb32_in1k').to_dict()
    assert cfg['train_dataloader']['dataset']['pipeline'][1]['scale'] == 160
    hook = HOOKS.build(cfg['custom_hooks'][0])
    assert list(hook.schedule) == [37, 112]
    crops = [r['train_pipeline'].transforms[1] for r in hook.schedule.values()]
    assert [c.scale for c in crops] == [(192, 192), (224, 224)]
    assert [r['train_pipeline'].transforms[3].magnitude_level for r in hook.schedule.values()] == [7 * 0.7, 7.]


def test_cosine_weight_decay_of_the_300_epoch_schedule():
    sched = Config.fromfile('_base_/schedules/imagenet_bs256_coslr_coswd_300e.py').to_dict()['param_scheduler']
    opt = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=0.1, momentum=0.9, weight_decay=1e-4)
    schedulers = build_param_schedulers(sched, opt, epoch_length=1, max_epochs=300)
    seen = {}
    for epoch in range(300):
        seen[epoch] = opt.param_groups[0]['weight_decay']
        for s in schedulers:
            s.step()
    # 1e-5 + (1e-4 - 1e-5) * (1 + cos(pi * t / 300)) / 2 (T_max defaults to the window, as MMEngine)
    for t in (0, 100, 150, 299):
        assert seen[t] == pytest.approx(1e-5 + 9e-5 * (1 + math.cos(math.pi * t / 300)) / 2, rel=1e-6)
