# CLIP ViT-L/14 as OpenAI released it (see clip_vit-base-p32_openai.py): 1024-wide image tower, 768-wide text.
_base_ = './clip_vit-base-p32_openai.py'
model = dict(
    vision_backbone=dict(arch='large', patch_size=14),
    projection=dict(in_channels=1024, out_channels=768),
    text_backbone=dict(width=768, heads=12),
    transformer_width=768,
    proj_dim=768,
)
