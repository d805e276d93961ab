# CSPResNet-50: CSPResNeXt-50's recipe, evaluated with a 288 px short-edge resize and a 256 px centre crop
_base_ = ['./cspresnext50_8xb32_in1k.py']
model = dict(backbone=dict(type='CSPResNet', depth=50), head=dict(in_channels=1024))
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeEdge', scale=288, edge='short', backend='pillow', interpolation='bicubic'),
    dict(type='CenterCrop', crop_size=256),
    dict(type='PackInputs'),
]
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
