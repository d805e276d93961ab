# ViT-L/16 trained from scratch on ImageNet-1k (64 GPUs x 64 images): AdamW lr 3e-3 wd 0.3, warm-up
# + cosine over 300 epochs, pre-logits layer, Mixup 0.2, AutoAugment, gradient clipping at 1.
_base_ = [
    '../_base_/models/vit-large-p16.py',
    '../_base_/datasets/imagenet_bs64_pil_resize_autoaug.py',
    '../_base_/schedules/imagenet_bs4096_AdamW.py',
    '../_base_/default_runtime.py',
]

model = dict(
    head=dict(hidden_dim=3072),
    train_cfg=dict(augments=dict(type='Mixup', alpha=0.2)),
)

optim_wrapper = dict(clip_grad=dict(max_norm=1.0))
