# ResNeSt-269: ResNeSt-50's recipe at 416 px (training and evaluation crops), 32 images per GPU
_base_ = ['./resnest50_32xb64_in1k.py', '../_base_/models/resnest101.py']
model = dict(backbone=dict(depth=269))
train_pipeline = [dict(t, scale=416) if t['type'] == 'EfficientNetRandomCrop' else t for t in _base_.train_pipeline]
test_pipeline = [dict(t, crop_size=416) if t['type'] == 'EfficientNetCenterCrop' else t for t in _base_.test_pipeline]
train_dataloader = dict(batch_size=32, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(batch_size=32, dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
