# fovea's own: SimCLR on the CIFAR-10 JPEGs with a CIFAR ResNet-18 (512-512-128 projector,
# temperature 0.1), SGD + warmup + cosine for 100 epochs, kNN top-1 every 10 epochs.
_base_ = ['../_base_/datasets/cifar10_jpg_multiview.py', '../_base_/schedules/cifar10_ssl_sgd.py',
          '../_base_/default_runtime.py']
model = dict(
    type='SimCLR',
    backbone=dict(type='ResNet_CIFAR', depth=18, zero_init_residual=True),
    neck=dict(type='NonLinearNeck', in_channels=512, hid_channels=512, out_channels=128, num_layers=2,
              norm_cfg=dict(type='BN')),
    head=dict(type='ContrastiveHead', loss=dict(type='CrossEntropyLoss'), temperature=0.1))
