_base_ = ['./levit-256_8xb256_in1k.py']

model = dict(backbone=dict(arch='192'), head=dict(in_channels=384))
