# evaluated at 512 px (trained at 384 px as M and L)
_base_ = ['./efficientnetv2-m_8xb32_in1k-480px.py']

model = dict(backbone=dict(arch='xl'))
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='EfficientNetCenterCrop', crop_size=512, crop_padding=0),
    dict(type='PackInputs'),
]
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
