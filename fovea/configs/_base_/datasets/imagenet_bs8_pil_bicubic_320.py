# ImageNet at 320 px, batch 8, normalised to [-1, 1] (mean = std = 122.5): bicubic (Pillow) random-resized
# crops; evaluation resizes the short edge to 365 px (320 / 224 * 256) and centre-crops 320 px.
# MMPretrain's imagenet_bs8_pil_bicubic_320.
_base_ = 'imagenet_bs32_pil_bicubic.py'

data_preprocessor = dict(_delete_=True, mean=[122.5, 122.5, 122.5], std=[122.5, 122.5, 122.5], to_rgb=True)  # no num_classes
train_pipeline = [dict(t, scale=320) if t['type'] == 'RandomResizedCrop' else t for t in _base_.train_pipeline]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeEdge', scale=int(320 / 224 * 256), edge='short', backend='pillow', interpolation='bicubic'),
    dict(type='CenterCrop', crop_size=320),
    dict(type='PackInputs'),
]
train_dataloader = dict(batch_size=8, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(batch_size=8, dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
