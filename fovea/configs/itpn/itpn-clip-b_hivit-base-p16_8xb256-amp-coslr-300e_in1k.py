# iTPN with CLIP targets on a HiViT-B/16 (relative position bias, layer scale 0.1), ImageNet-1k, 300 epochs:
# the masked patches' pyramid features regress a CLIP ViT-B/16's (cosine similarity); AdamW lr 1.5e-3 for 2048
# images, betas 0.9/0.98, mixed precision, 10 warmup epochs then cosine (MMPretrain's recipe). The CLIP
# weights: model.target_generator.tokenizer_path (loaded by init_weights).
_base_ = [
    '../_base_/datasets/imagenet_bs256_itpn.py',
    '../_base_/default_runtime.py',
]

model = dict(
    type='iTPN',
    backbone=dict(type='iTPNHiViT', arch='base', drop_path_rate=0.0, rpe=True, layer_scale_init_value=0.1,
                  reconstruction_type='clip'),
    neck=dict(type='iTPNPretrainDecoder', patch_size=16, in_chans=3, embed_dim=512, mlp_ratio=4.,
              reconstruction_type='clip', fpn_dim=256, fpn_depth=2, num_outs=3),
    head=dict(type='iTPNClipHead', embed_dims=512, num_embed=512, loss=dict(type='CosineSimilarityLoss')),
    target_generator=dict(
        type='CLIPGenerator',
        tokenizer_path='https://download.openmmlab.com/mmselfsup/1.x/target_generator_ckpt/clip_vit_base_16.pth.tar'),
)

optim_wrapper = dict(
    type='AmpOptimWrapper',
    loss_scale='dynamic',
    optimizer=dict(type='AdamW', lr=1.5e-3, betas=(0.9, 0.98), weight_decay=0.05),  # (0.9, 0.999) for 800 epochs
    clip_grad=dict(max_norm=3.0),
    paramwise_cfg=dict(custom_keys={
        '.norm': dict(decay_mult=0.0),
        '.pos_embed': dict(decay_mult=0.0),
        '.gamma': dict(decay_mult=0.0),
    }))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-4, by_epoch=True, begin=0, end=10, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=True, begin=10, end=300, convert_to_iter_based=True),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=300)
default_hooks = dict(checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=3))  # the latest 3 only
randomness = dict(seed=0, diff_rank_seed=True)
find_unused_parameters = True
auto_scale_lr = dict(base_batch_size=2048)
