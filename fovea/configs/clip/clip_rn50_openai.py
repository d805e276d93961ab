# CLIP RN50 as OpenAI released it: the modified ResNet-50 (3-conv stem, anti-aliased strides, attention
# pooling to 1024 dims) and the 12-layer text transformer (see clip_vit-base-p32_openai.py).
_base_ = './clip_vit-base-p32_openai.py'
model = dict(
    vision_backbone=dict(_delete_=True, type='ModifiedResNet', layers=[3, 4, 6, 3], output_dim=1024, heads=32,
                         image_size=224, width=64),
    projection=None,
    proj_dim=1024,
)
