# Zero-shot CIFAR-100 with Chinese CLIP RN50 (MMPretrain's recipe): CLIP's modified ResNet-50 (attention
# pooling to 1024 dims, its own projection) and a 3-layer Chinese BERT (RBT3).
_base_ = './cn-clip_vit-large-p14_zeroshot-cls_cifar100.py'

model = dict(
    vision_backbone=dict(_delete_=True, type='ModifiedResNet', depth=50, base_channels=64, input_size=224,
                         num_attn_heads=32, output_dim=1024),
    text_backbone=dict(config=dict(num_hidden_layers=3)),
    proj_dim=1024,
)
