# fovea's own: MAE on the CIFAR-10 JPEGs with a ViT-Tiny (192 wide, 12 layers, 3 heads) on 4x4
# patches (an 8x8 grid, 16 of the 64 patches visible), a 2-layer 128-wide decoder, normalised-pixel
# targets; AdamW (MAE's betas and weight decay) with warmup + cosine over 200 epochs at batch 256.
# The kNN check reads the encoder's features of whole, unmasked images.
_base_ = ['../_base_/datasets/cifar10_jpg_multiview.py', '../_base_/default_runtime.py']
model = dict(
    type='MAE',
    backbone=dict(type='MAEViT', arch='tiny', img_size=32, patch_size=4, mask_ratio=0.75),
    neck=dict(type='MAEPretrainDecoder', num_patches=64, patch_size=4, in_chans=3, embed_dim=192,
              decoder_embed_dim=128, decoder_depth=2, decoder_num_heads=4, mlp_ratio=4.),
    head=dict(type='MAEPretrainHead', norm_pix=True, patch_size=4,
              loss=dict(type='PixelReconstructionLoss', criterion='L2')),
    init_cfg=[dict(type='Xavier', layer='Linear', distribution='uniform'),
              dict(type='Constant', layer='LayerNorm', val=1.0, bias=0.0)])
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=32, crop_ratio_range=(0.2, 1.0), backend='pillow', interpolation='bicubic'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
optim_wrapper = dict(
    optimizer=dict(type='AdamW', lr=1e-3, betas=(0.9, 0.95), weight_decay=0.05),
    paramwise_cfg=dict(custom_keys={
        'ln': dict(decay_mult=0.0), 'bias': dict(decay_mult=0.0), 'pos_embed': dict(decay_mult=0.),
        'mask_token': dict(decay_mult=0.), 'cls_token': dict(decay_mult=0.)}))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-4, by_epoch=True, begin=0, end=10, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=10, end=200, eta_min=0.0, convert_to_iter_based=True),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=200)
custom_hooks = [dict(type='KNNHook', interval=20)]
default_hooks = dict(checkpoint=dict(type='CheckpointHook', interval=20, max_keep_ckpts=2))
auto_scale_lr = dict(base_batch_size=256)
