# ImageNet for ResNet strikes back A3: the A1/A2 pipeline with RandAugment magnitude 6 instead of 7.
_base_ = 'imagenet_bs256_rsb_a12.py'

train_pipeline = [dict(t, magnitude_level=6) if t['type'] == 'RandAugment' else t for t in _base_.train_pipeline]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
