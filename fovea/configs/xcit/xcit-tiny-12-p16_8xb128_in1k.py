_base_ = ['./xcit-nano-12-p16_8xb128_in1k.py']

model = dict(backbone=dict(embed_dims=192, tokens_norm=True), head=dict(in_channels=192))
