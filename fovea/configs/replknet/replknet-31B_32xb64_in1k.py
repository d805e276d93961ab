# RepLKNet-31B on ImageNet-1k, MMPretrain's recipe: SGD with a 300-epoch cosine schedule (the published
# weights are the authors').
_base_ = [
    '../_base_/models/replknet.py',
    '../_base_/datasets/imagenet_bs32_pil_bicubic.py',
    '../_base_/schedules/imagenet_bs256_coslr.py',
    '../_base_/default_runtime.py',
]
param_scheduler = dict(type='CosineAnnealingLR', T_max=300, by_epoch=True, begin=0, end=300)
train_cfg = dict(by_epoch=True, max_epochs=300)
