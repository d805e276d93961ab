_base_ = ['./van-small_8xb128_in1k.py']

model = dict(backbone=dict(arch='large', drop_path_rate=0.2))
