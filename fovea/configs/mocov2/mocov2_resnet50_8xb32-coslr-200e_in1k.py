# MoCo v2 on ImageNet: ResNet-50, 2048-128 MLP projector, 65,536-key queue, key-encoder momentum
# 0.001 (MoCo's 0.999), temperature 0.2 (MMPretrain's recipe).
_base_ = [
    '../_base_/datasets/imagenet_bs32_mocov2.py',
    '../_base_/schedules/imagenet_sgd_coslr_200e.py',
    '../_base_/default_runtime.py',
]
model = dict(
    type='MoCo', queue_len=65536, feat_dim=128, momentum=0.001,
    backbone=dict(type='ResNet', depth=50, norm_cfg=dict(type='BN'), zero_init_residual=False),
    neck=dict(type='MoCoV2Neck', in_channels=2048, hid_channels=2048, out_channels=128, with_avg_pool=True),
    head=dict(type='ContrastiveHead', loss=dict(type='CrossEntropyLoss'), temperature=0.2))
default_hooks = dict(checkpoint=dict(max_keep_ckpts=3))
auto_scale_lr = dict(base_batch_size=256)
