# Train a small CLIP from scratch on your own image-text pairs (a CSV/TSV with `filepath` and `title`
# columns, as open_clip's --train-data; paths relative to data_root), 64 px images, a 4-layer ViT image
# tower and a 3-layer text transformer with the real CLIP BPE tokenizer. Validation is zero-shot
# classification: set model.text_prototype to your class names and val_dataloader to a labelled folder.
_base_ = ['../_base_/default_runtime.py']

model = dict(
    type='CLIP',
    vision_backbone=dict(
        type='VisionTransformer', arch=dict(embed_dims=192, num_layers=4, num_heads=3, feedforward_channels=768),
        img_size=64, patch_size=8, pre_norm=True, norm_cfg=dict(type='LN', eps=1e-5)),
    projection=dict(type='CLIPProjection', in_channels=192, out_channels=128),
    text_backbone=dict(type='CLIPTransformer', width=128, layers=3, heads=2, act_cfg=dict(type='GELU')),
    transformer_width=128,
    proj_dim=128,
    context_length=32,
    loss=dict(type='ClipLoss', local_loss=False, gather_with_grad=True),
    text_prototype=None,                 # class names for zero-shot validation, e.g. ['cat', 'dog']
    text_prompt=['a photo of a {}.'],
    data_preprocessor=dict(mean=[122.770938, 116.7460125, 104.09373615], std=[68.5005327, 66.6321579, 70.32316305],
                           to_rgb=False),
)

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=64, crop_ratio_range=(0.5, 1.0)),
    dict(type='PackInputs', algorithm_keys=['text']),
]
train_dataloader = dict(
    batch_size=128,
    num_workers=2,
    drop_last=True,                      # every step contrasts a full batch
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type='ImageTextDataset', data_root='data/pairs', ann_file='train.csv', img_key='filepath',
                 caption_key='title', pipeline=train_pipeline),
)
val_dataloader = None
val_evaluator = dict(type='Accuracy', topk=(1, 5))   # zero-shot accuracy against model.text_prototype
val_cfg = None

optim_wrapper = dict(optimizer=dict(type='AdamW', lr=1e-3, betas=(0.9, 0.98), eps=1e-6, weight_decay=0.1),
                     paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0,
                                        custom_keys={'logit_scale': dict(decay_mult=0.0)}))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=200),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=1, end=30, eta_min=1e-5),
]
train_cfg = dict(by_epoch=True, max_epochs=30)
default_hooks = dict(logger=dict(type='LoggerHook', interval=20),
                     checkpoint=dict(type='CheckpointHook', interval=5, max_keep_ckpts=2))
randomness = dict(seed=0, deterministic=False)

# inference (zero-shot, retrieval) on images of any size
test_pipeline = [dict(type='LoadImageFromFile'), dict(type='Resize', scale=(64, 64)), dict(type='PackInputs')]
