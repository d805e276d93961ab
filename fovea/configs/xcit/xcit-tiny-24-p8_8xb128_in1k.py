_base_ = ['./xcit-nano-12-p16_8xb128_in1k.py']

model = dict(
    backbone=dict(patch_size=8, embed_dims=192, depth=24, layer_scale_init_value=1e-5, tokens_norm=True),
    head=dict(in_channels=192))
