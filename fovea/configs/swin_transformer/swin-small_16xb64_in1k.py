# Swin-S, ImageNet-1k, 300 epochs, 16 GPUs x 64 images: AdamW (lr 1e-3 at batch 1024,
# wd 0.05, no decay on norms/biases/position tables), 20-epoch linear warm-up + cosine, RandAugment,
# Mixup 0.8 / CutMix 1.0, random erasing, label smoothing 0.1, drop path, gradient clipping at 5.
_base_ = [
    '../_base_/models/swin_transformer/small_224.py',
    '../_base_/datasets/imagenet_bs64_swin_224.py',
    '../_base_/schedules/imagenet_bs1024_adamw_swin.py',
    '../_base_/default_runtime.py',
]

optim_wrapper = dict(clip_grad=dict(max_norm=5.0))
