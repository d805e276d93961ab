_base_ = ['./hrnet-w18_4xb32_in1k.py']
model = dict(backbone=dict(arch='w64'),
             neck=[dict(type='HRFuseScales', in_channels=(64, 128, 256, 512)), dict(type='GlobalAveragePooling')])
