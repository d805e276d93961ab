# DINO with a ViT-B/16, as MMPretrain's project config of this name (8 x 64 images, AdamW lr 0.0024,
# betas (0.9, 0.95), weight decay 0.05, 10 warmup epochs, 8 local crops), with the model made to
# train: the teacher follows the student (momentum 0.996 -> 1), and the teacher temperature is 0.04.
_base_ = './dino_vit-small-p16_16xb64-amp-coslr-100e_in1k.py'
train_dataloader = dict(num_workers=16)
model = dict(backbone=dict(arch='b', drop_path_rate=0.), neck=dict(in_channels=768))
optim_wrapper = dict(
    optimizer=dict(lr=0.0024, betas=(0.9, 0.95), weight_decay=0.05),
    clip_grad=None,
    paramwise_cfg=dict(_delete_=True, custom_keys=dict(
        ln=dict(decay_mult=0.0), bias=dict(decay_mult=0.0), pos_embed=dict(decay_mult=0.0),
        mask_token=dict(decay_mult=0.0), cls_token=dict(decay_mult=0.0))))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-9, by_epoch=True, begin=0, end=10, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=90, by_epoch=True, begin=10, end=100, convert_to_iter_based=True),
]
auto_scale_lr = dict(base_batch_size=512)
randomness = dict(seed=2, diff_rank_seed=True)
