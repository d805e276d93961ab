# CLIP ViT-B/16 as OpenAI released it (see clip_vit-base-p32_openai.py).
_base_ = './clip_vit-base-p32_openai.py'
model = dict(vision_backbone=dict(patch_size=16))
