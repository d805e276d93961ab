# Zero-shot CIFAR-100 with Chinese CLIP ViT-L/14 (MMPretrain's recipe): the CLIP ViT-L/14 image tower and the
# 12-layer Chinese BERT of the ViT-B/16 model, 768-dim joint embedding.
_base_ = './cn-clip_vit-base-p16_zeroshot-cls_cifar100.py'

test_pipeline = [
    dict(type='Resize', scale=(224, 224), interpolation='bicubic'),
    dict(type='PackInputs', meta_keys=['image_id', 'scale_factor']),
]
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))

model = dict(vision_backbone=dict(arch='large', patch_size=14), proj_dim=768)
