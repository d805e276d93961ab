# ImageNet as imagenet_bs32.py, resized with Pillow (bilinear), MMPretrain's `backend='pillow'`.
_base_ = 'imagenet_bs32.py'

train_pipeline = [dict(t, backend='pillow') if t['type'] == 'RandomResizedCrop' else t for t in _base_.train_pipeline]
test_pipeline = [dict(t, backend='pillow') if t['type'] == 'ResizeEdge' else t for t in _base_.test_pipeline]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
