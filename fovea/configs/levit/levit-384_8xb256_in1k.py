_base_ = ['./levit-256_8xb256_in1k.py']

model = dict(backbone=dict(arch='384', drop_path_rate=0.1), head=dict(in_channels=768))
