# XCiT-N12/16 (El-Nouby et al. 2021) with Mixup/CutMix; the other sizes change patch_size, embed_dims, depth,
# num_heads, layer_scale_init_value, tokens_norm and head.in_channels.
model = dict(
    type='ImageClassifier',
    backbone=dict(type='XCiT', patch_size=16, embed_dims=128, depth=12, num_heads=4, mlp_ratio=4, qkv_bias=True,
                  layer_scale_init_value=1.0, tokens_norm=False, out_type='cls_token'),
    head=dict(type='LinearClsHead', num_classes=1000, in_channels=128,
              loss=dict(type='CrossEntropyLoss', loss_weight=1.0)),
    train_cfg=dict(augments=[dict(type='Mixup', alpha=0.8), dict(type='CutMix', alpha=1.0)]),
)
