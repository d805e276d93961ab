"""Shared by the self-supervised tests: tiny two-view algorithms on a 16-wide ImageNet ResNet-18
(128-wide output), with MMPretrain's module names (checkpoint and bad-input tests), and one real
training step of a config's model (config tests)."""
from __future__ import annotations

import torch

from fovea.engine.optim_constructor import build_optim_wrapper
from fovea.registry import MODELS, build

BACKBONE = dict(type='ResNet', depth=18, base_channels=16, norm_cfg=dict(type='BN'))
_PROJ = dict(type='NonLinearNeck', in_channels=128, hid_channels=32, out_channels=16, with_bias=True,
             with_last_bn=False, norm_cfg=dict(type='BN1d'))
TWO_VIEW_CFGS = {
    'MoCo': dict(type='MoCo', queue_len=64, feat_dim=16, backbone=BACKBONE,
                 neck=dict(type='MoCoV2Neck', in_channels=128, hid_channels=32, out_channels=16),
                 head=dict(type='ContrastiveHead', loss=dict(type='CrossEntropyLoss'), temperature=0.2)),
    'BYOL': dict(type='BYOL', backbone=BACKBONE, neck=_PROJ,
                 head=dict(type='LatentPredictHead', loss=dict(type='CosineSimilarityLoss'),
                           predictor=dict(_PROJ, in_channels=16, with_avg_pool=False))),
    'MoCoV3': dict(type='MoCoV3', backbone=BACKBONE, neck=_PROJ,
                   head=dict(type='MoCoV3Head', loss=dict(type='CrossEntropyLoss', loss_weight=2.), temperature=1.,
                             predictor=dict(_PROJ, in_channels=16, with_avg_pool=False))),
    'SimCLR': dict(type='SimCLR', backbone=BACKBONE, neck=dict(_PROJ, num_layers=2),
                   head=dict(type='ContrastiveHead', loss=dict(type='CrossEntropyLoss'), temperature=0.1)),
    'BarlowTwins': dict(type='BarlowTwins', backbone=BACKBONE, neck=dict(_PROJ, num_layers=3),
                        head=dict(type='LatentCrossCorrelationHead', in_channels=16,
                                  loss=dict(type='CrossCorrelationLoss'))),
}


def train_step_of_config(cfg, model_cfg: dict, views: list[torch.Tensor]):
    """Build ``model_cfg`` (seed 0, initialised, train mode) and run ``train_step`` once on the uint8
    ``views`` through the config's optimizer and paramwise settings, in fp32 (an AmpOptimWrapper becomes
    a plain one on the CPU). Returns (model, log_vars)."""
    torch.manual_seed(0)
    model = build(model_cfg, MODELS, key='model')
    model.init_weights()
    model.train()
    optim_cfg = dict(cfg.optim_wrapper, type='OptimWrapper')
    optim_cfg.pop('loss_scale', None)
    log = model.train_step({'inputs': views, 'data_samples': None}, build_optim_wrapper(model, optim_cfg))
    return model, log
