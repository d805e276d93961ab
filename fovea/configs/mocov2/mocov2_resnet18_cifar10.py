# fovea's own: MoCo v2 on the CIFAR-10 JPEGs with a CIFAR ResNet-18 (512-512-128 MLP projector),
# a 4,096-key queue, key momentum 0.01 and temperature 0.2 (settings common for CIFAR-scale MoCo).
_base_ = ['../_base_/datasets/cifar10_jpg_multiview.py', '../_base_/schedules/cifar10_ssl_sgd.py',
          '../_base_/default_runtime.py']
model = dict(
    type='MoCo', queue_len=4096, feat_dim=128, momentum=0.01,
    backbone=dict(type='ResNet_CIFAR', depth=18),
    neck=dict(type='MoCoV2Neck', in_channels=512, hid_channels=512, out_channels=128),
    head=dict(type='ContrastiveHead', loss=dict(type='CrossEntropyLoss'), temperature=0.2))
