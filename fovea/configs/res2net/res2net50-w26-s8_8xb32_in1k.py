_base_ = ['./res2net50-w14-s8_8xb32_in1k.py']
model = dict(backbone=dict(base_width=26))
