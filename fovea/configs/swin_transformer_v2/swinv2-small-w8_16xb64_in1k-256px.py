_base_ = ['./swinv2-tiny-w8_16xb64_in1k-256px.py']

model = dict(backbone=dict(arch='small', drop_path_rate=0.3))
