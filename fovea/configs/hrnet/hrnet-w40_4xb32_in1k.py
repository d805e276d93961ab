_base_ = ['./hrnet-w18_4xb32_in1k.py']
model = dict(backbone=dict(arch='w40'),
             neck=[dict(type='HRFuseScales', in_channels=(40, 80, 160, 320)), dict(type='GlobalAveragePooling')])
