_base_ = ['./convnext-v2-base_32xb32_in1k.py']

model = dict(backbone=dict(arch='huge', drop_path_rate=0.1),
             head=dict(in_channels=2816, loss=dict(label_smooth_val=0.1)))
