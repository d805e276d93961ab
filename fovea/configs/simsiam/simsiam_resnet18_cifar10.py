# fovea's own: SimSiam on the CIFAR-10 JPEGs with a CIFAR ResNet-18 (2-layer 2048-d projector and a
# 512-d bottleneck predictor, the paper's CIFAR setting), the predictor's lr fixed at the base lr
# every iteration; kNN top-1 every 10 epochs.
_base_ = ['../_base_/datasets/cifar10_jpg_multiview.py', '../_base_/schedules/cifar10_ssl_sgd.py',
          '../_base_/default_runtime.py']
model = dict(
    type='SimSiam',
    backbone=dict(type='ResNet_CIFAR', depth=18, zero_init_residual=True),
    neck=dict(type='NonLinearNeck', in_channels=512, hid_channels=2048, out_channels=2048, num_layers=2,
              with_last_bn_affine=False, norm_cfg=dict(type='BN')),
    head=dict(type='LatentPredictHead', loss=dict(type='CosineSimilarityLoss'),
              predictor=dict(type='NonLinearNeck', in_channels=2048, hid_channels=512, out_channels=2048,
                             with_avg_pool=False, with_last_bn=False, with_last_bias=True, norm_cfg=dict(type='BN'))))
lr = 0.06
optim_wrapper = dict(optimizer=dict(lr=lr), paramwise_cfg=dict(custom_keys={'predictor': dict(fix_lr=True)}))
custom_hooks = [dict(type='KNNHook', interval=10),
                dict(type='SimSiamHook', priority='HIGH', fix_pred_lr=True, lr=lr, adjust_by_epoch=False)]
