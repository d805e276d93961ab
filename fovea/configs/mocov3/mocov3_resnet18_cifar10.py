# fovea's own: MoCo v3 on the CIFAR-10 JPEGs with a CIFAR ResNet-18: 2048-256 projector and
# predictor (MoCo v3's ResNet layout), temperature 0.2 (for a batch of 256 rather than 4096),
# momentum 0.01 -> 0 along a cosine, SGD + warmup + cosine for 100 epochs, kNN top-1 every 10 epochs.
_base_ = ['../_base_/datasets/cifar10_jpg_multiview.py', '../_base_/schedules/cifar10_ssl_sgd.py',
          '../_base_/default_runtime.py']
temperature = 0.2
model = dict(
    type='MoCoV3',
    base_momentum=0.01,
    backbone=dict(type='ResNet_CIFAR', depth=18, zero_init_residual=False),
    neck=dict(type='NonLinearNeck', in_channels=512, hid_channels=2048, out_channels=256, num_layers=2,
              with_bias=False, with_last_bn=True, with_last_bn_affine=False, with_last_bias=False,
              norm_cfg=dict(type='BN')),
    head=dict(type='MoCoV3Head',
              predictor=dict(type='NonLinearNeck', in_channels=256, hid_channels=2048, out_channels=256,
                             num_layers=2, with_bias=False, with_last_bn=False, with_last_bn_affine=False,
                             with_last_bias=False, with_avg_pool=False, norm_cfg=dict(type='BN')),
              loss=dict(type='CrossEntropyLoss', loss_weight=2 * temperature),
              temperature=temperature))
