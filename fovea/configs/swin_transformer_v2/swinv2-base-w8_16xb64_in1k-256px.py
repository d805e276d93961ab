_base_ = ['./swinv2-tiny-w8_16xb64_in1k-256px.py']

model = dict(backbone=dict(arch='base', drop_path_rate=0.5), head=dict(in_channels=1024))
