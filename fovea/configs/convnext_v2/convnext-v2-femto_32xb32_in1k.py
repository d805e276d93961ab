_base_ = ['./convnext-v2-atto_32xb32_in1k.py']

model = dict(backbone=dict(arch='femto', drop_path_rate=0.1),
             head=dict(in_channels=384, loss=dict(label_smooth_val=0.1)))
