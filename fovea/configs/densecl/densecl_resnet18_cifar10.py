# fovea's own: DenseCL on the CIFAR-10 JPEGs with a CIFAR ResNet-18 (4x4 output cells; 512-512-128
# global and dense projectors), two 4,096-key queues, key momentum 0.01, temperature 0.2 (as
# mocov2_resnet18_cifar10), loss_lambda 0.5 after the first 200 iterations (DenseCLHook, about an epoch).
_base_ = ['../_base_/datasets/cifar10_jpg_multiview.py', '../_base_/schedules/cifar10_ssl_sgd.py',
          '../_base_/default_runtime.py']
model = dict(
    type='DenseCL', queue_len=4096, feat_dim=128, momentum=0.01, loss_lambda=0.5,
    backbone=dict(type='ResNet_CIFAR', depth=18),
    neck=dict(type='DenseCLNeck', in_channels=512, hid_channels=512, out_channels=128),
    head=dict(type='ContrastiveHead', loss=dict(type='CrossEntropyLoss'), temperature=0.2))
custom_hooks = [dict(type='KNNHook', interval=10), dict(type='DenseCLHook', start_iters=200)]
