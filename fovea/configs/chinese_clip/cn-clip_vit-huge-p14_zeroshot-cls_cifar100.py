# Zero-shot CIFAR-100 with Chinese CLIP ViT-H/14 (MMPretrain's recipe): the ViT-H/14 image tower and a
# 24-layer Chinese BERT (RoBERTa-wwm-ext-large), 1024-dim joint embedding.
_base_ = './cn-clip_vit-large-p14_zeroshot-cls_cifar100.py'

model = dict(
    vision_backbone=dict(arch='huge'),
    text_backbone=dict(config=dict(hidden_size=1024, intermediate_size=4096, num_attention_heads=16,
                                   num_hidden_layers=24)),
    proj_dim=1024,
)
