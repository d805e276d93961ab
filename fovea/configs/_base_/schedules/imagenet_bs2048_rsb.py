# LAMB for the ResNet "strikes back" recipes (Wightman et al., arXiv:2110.00476; batch 2048, 100 epochs):
# MMPretrain's imagenet_bs2048_rsb. The A1/A2/A3 configs in configs/resnet override epochs and decay.
optim_wrapper = dict(optimizer=dict(type='Lamb', lr=0.005, weight_decay=0.02))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.0001, by_epoch=True, begin=0, end=5, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=95, eta_min=1.0e-6, by_epoch=True, begin=5, end=100),
]
train_cfg = dict(by_epoch=True, max_epochs=100, val_interval=1)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(base_batch_size=2048)
