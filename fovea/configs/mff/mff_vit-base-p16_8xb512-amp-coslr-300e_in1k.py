# MFF on ImageNet: MAE ViT-B/16 (75% of patches removed, normalised-pixel L2 target) whose decoder reads
# a learned softmax-weighted fusion of encoder layers 0, 2, 4, 6, 8 and 11 (MMPretrain's recipe: its
# MAE 300-epoch schedule, a resize + reflect-padded random crop pipeline, seed 2).
_base_ = [
    '../_base_/datasets/imagenet_bs512_mae.py',
    '../_base_/default_runtime.py',
]

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='ToPIL', to_rgb=True),
    dict(type='torchvision/Resize', size=224),
    dict(type='torchvision/RandomCrop', size=224, padding=4, padding_mode='reflect'),
    dict(type='torchvision/RandomHorizontalFlip', p=0.5),
    dict(type='ToNumpy', to_bgr=True),
    dict(type='PackInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))

model = dict(
    type='MFF',
    backbone=dict(type='MFFViT', arch='b', patch_size=16, mask_ratio=0.75, out_indices=[0, 2, 4, 6, 8, 11]),
    neck=dict(type='MAEPretrainDecoder', patch_size=16, in_chans=3, embed_dim=768, decoder_embed_dim=512,
              decoder_depth=8, decoder_num_heads=16, mlp_ratio=4.),
    head=dict(type='MAEPretrainHead', norm_pix=True, patch_size=16,
              loss=dict(type='PixelReconstructionLoss', criterion='L2')),
    init_cfg=[
        dict(type='Xavier', layer='Linear', distribution='uniform'),
        dict(type='Constant', layer='LayerNorm', val=1.0, bias=0.0),
    ])

optim_wrapper = dict(
    type='AmpOptimWrapper',
    loss_scale='dynamic',
    optimizer=dict(type='AdamW', lr=1.5e-4 * 4096 / 256, betas=(0.9, 0.95), weight_decay=0.05),
    paramwise_cfg=dict(custom_keys={
        'ln': dict(decay_mult=0.0),
        'bias': dict(decay_mult=0.0),
        'pos_embed': dict(decay_mult=0.),
        'mask_token': dict(decay_mult=0.),
        'cls_token': dict(decay_mult=0.),
    }))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.0001, by_epoch=True, begin=0, end=40, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=260, by_epoch=True, begin=40, end=300, convert_to_iter_based=True),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=300)
default_hooks = dict(checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=3))
randomness = dict(seed=2, diff_rank_seed=True)
resume = True
auto_scale_lr = dict(base_batch_size=4096)
