_base_ = ['./hrnet-w18_4xb32_in1k.py']
model = dict(backbone=dict(arch='w44'),
             neck=[dict(type='HRFuseScales', in_channels=(44, 88, 176, 352)), dict(type='GlobalAveragePooling')])
