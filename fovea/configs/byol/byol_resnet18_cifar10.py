# fovea's own: BYOL on the CIFAR-10 JPEGs with a CIFAR ResNet-18 (1024-256 projector and predictor),
# target momentum 0.01 -> 0 along a cosine.
_base_ = ['../_base_/datasets/cifar10_jpg_multiview.py', '../_base_/schedules/cifar10_ssl_sgd.py',
          '../_base_/default_runtime.py']
model = dict(
    type='BYOL', base_momentum=0.01,
    backbone=dict(type='ResNet_CIFAR', depth=18),
    neck=dict(type='NonLinearNeck', in_channels=512, hid_channels=1024, out_channels=256, num_layers=2,
              with_bias=True, with_last_bn=False, norm_cfg=dict(type='BN')),
    head=dict(type='LatentPredictHead', loss=dict(type='CosineSimilarityLoss'),
              predictor=dict(type='NonLinearNeck', in_channels=256, hid_channels=1024, out_channels=256,
                             num_layers=2, with_bias=True, with_last_bn=False, with_avg_pool=False,
                             norm_cfg=dict(type='BN'))))
