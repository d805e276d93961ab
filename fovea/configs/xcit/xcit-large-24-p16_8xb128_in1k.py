_base_ = ['./xcit-nano-12-p16_8xb128_in1k.py']

model = dict(
    backbone=dict(embed_dims=768, depth=24, num_heads=16, layer_scale_init_value=1e-5, tokens_norm=True),
    head=dict(in_channels=768))
