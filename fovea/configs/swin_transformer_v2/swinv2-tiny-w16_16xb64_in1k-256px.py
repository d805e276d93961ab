_base_ = ['./swinv2-tiny-w8_16xb64_in1k-256px.py']

model = dict(backbone=dict(window_size=[16, 16, 16, 8]))
