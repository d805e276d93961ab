_base_ = ['./poolformer-s12_32xb128_in1k.py']

model = dict(backbone=dict(arch='s36'))
