_base_ = ['./xcit-nano-12-p16_8xb128_in1k.py']

model = dict(backbone=dict(embed_dims=384, num_heads=8, tokens_norm=True), head=dict(in_channels=384))
