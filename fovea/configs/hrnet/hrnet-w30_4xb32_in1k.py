_base_ = ['./hrnet-w18_4xb32_in1k.py']
model = dict(backbone=dict(arch='w30'),
             neck=[dict(type='HRFuseScales', in_channels=(30, 60, 120, 240)), dict(type='GlobalAveragePooling')])
