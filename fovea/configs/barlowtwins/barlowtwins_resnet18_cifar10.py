# fovea's own: Barlow Twins on the CIFAR-10 JPEGs with a CIFAR ResNet-18 (three 1024-wide projector
# layers), lambda 0.0051.
_base_ = ['../_base_/datasets/cifar10_jpg_multiview.py', '../_base_/schedules/cifar10_ssl_sgd.py',
          '../_base_/default_runtime.py']
model = dict(
    type='BarlowTwins',
    backbone=dict(type='ResNet_CIFAR', depth=18, zero_init_residual=True),
    neck=dict(type='NonLinearNeck', in_channels=512, hid_channels=1024, out_channels=1024, num_layers=3,
              with_last_bn=False, with_last_bn_affine=False, norm_cfg=dict(type='BN')),
    head=dict(type='LatentCrossCorrelationHead', in_channels=1024, loss=dict(type='CrossCorrelationLoss')))
