# Fine-tuning a MoCo v3 ViT-L/16 on ImageNet: the ViT-B/16 recipe with a 1024-wide backbone, drop path
# 0.5 and 100 epochs (cosine from epoch 5 to 100).
_base_ = './vit-base-p16_8xb64-coslr-150e_in1k.py'
model = dict(backbone=dict(arch='large', drop_path_rate=0.5), head=dict(in_channels=1024))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, begin=0, end=5, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=95, eta_min=1e-5, by_epoch=True, begin=5, end=100,
         convert_to_iter_based=True),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=100)
