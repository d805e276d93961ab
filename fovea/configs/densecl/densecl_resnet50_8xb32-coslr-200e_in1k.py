# DenseCL on ImageNet: ResNet-50, DenseCLNeck (global 2048-128 MLP and dense 1x1-conv projector), two
# 65,536-key queues, key-encoder momentum 0.001, loss_lambda 0.5, temperature 0.2 (MMPretrain's recipe).
_base_ = [
    '../_base_/datasets/imagenet_bs32_mocov2.py',
    '../_base_/schedules/imagenet_sgd_coslr_200e.py',
    '../_base_/default_runtime.py',
]
model = dict(
    type='DenseCL', queue_len=65536, feat_dim=128, momentum=0.001, loss_lambda=0.5,
    backbone=dict(type='ResNet', depth=50, norm_cfg=dict(type='BN'), zero_init_residual=False),
    neck=dict(type='DenseCLNeck', in_channels=2048, hid_channels=2048, out_channels=128, num_grid=None),
    head=dict(type='ContrastiveHead', loss=dict(type='CrossEntropyLoss'), temperature=0.2))
find_unused_parameters = True
default_hooks = dict(checkpoint=dict(type='CheckpointHook', interval=10, max_keep_ckpts=3))
auto_scale_lr = dict(base_batch_size=256)
