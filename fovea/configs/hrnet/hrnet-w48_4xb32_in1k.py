_base_ = ['./hrnet-w18_4xb32_in1k.py']
model = dict(backbone=dict(arch='w48'),
             neck=[dict(type='HRFuseScales', in_channels=(48, 96, 192, 384)), dict(type='GlobalAveragePooling')])
