_base_ = ['./poolformer-m36_32xb128_in1k.py']

model = dict(backbone=dict(arch='m48'))
