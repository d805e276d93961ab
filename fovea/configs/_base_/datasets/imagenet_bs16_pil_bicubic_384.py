# ImageNet at 384 px, batch 16: bicubic (Pillow) random-resized crops; evaluation resizes the whole image to
# 384 x 384 (no crop). MMPretrain's imagenet_bs16_pil_bicubic_384.
_base_ = 'imagenet_bs32_pil_bicubic.py'

# MMPretrain's file sets no num_classes (only batch augments read it)
data_preprocessor = dict(_delete_=True, mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], to_rgb=True)
train_pipeline = [dict(t, scale=384) if t['type'] == 'RandomResizedCrop' else t for t in _base_.train_pipeline]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=384, backend='pillow', interpolation='bicubic'),
    dict(type='PackInputs'),
]
train_dataloader = dict(batch_size=16, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(batch_size=16, dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
