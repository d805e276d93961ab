"""Shared by the self-supervised checkpoint and bad-input tests: tiny two-view algorithms on a
16-wide ImageNet ResNet-18 (128-wide output), with MMPretrain's module names."""
from __future__ import annotations

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
