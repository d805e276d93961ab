# MAE's pre-training recipe for 400 epochs (MMPretrain's MAE-HiViT and iTPN pixel configs): AdamW at lr 1.5e-4
# per 256 images (4096 per step), betas 0.9/0.95, weight decay 0.05 but not on norms, biases, position
# embeddings and mask tokens; mixed precision; 40 linear warmup epochs, then cosine
optim_wrapper = dict(
    type='AmpOptimWrapper',
    loss_scale='dynamic',
    optimizer=dict(type='AdamW', lr=1.5e-4 * 4096 / 256, betas=(0.9, 0.95), weight_decay=0.05),
    paramwise_cfg=dict(custom_keys={
        'norm': dict(decay_mult=0.0),
        'bias': dict(decay_mult=0.0),
        'pos_embed': dict(decay_mult=0.),
        'mask_token': dict(decay_mult=0.),
    }))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-4, by_epoch=True, begin=0, end=40, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=360, by_epoch=True, begin=40, end=400, convert_to_iter_based=True),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=400)
default_hooks = dict(checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=3))  # the latest 3 only
randomness = dict(seed=0, diff_rank_seed=True)
resume = True
find_unused_parameters = True
auto_scale_lr = dict(base_batch_size=4096)
