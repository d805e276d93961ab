_base_ = ['./hrnet-w18_4xb32_in1k.py']
model = dict(backbone=dict(arch='w32'),
             neck=[dict(type='HRFuseScales', in_channels=(32, 64, 128, 256)), dict(type='GlobalAveragePooling')])
