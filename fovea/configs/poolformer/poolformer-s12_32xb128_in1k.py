# PoolFormer-S12 on ImageNet: the Swin AdamW recipe at lr 4e-3 for 4096 images per step, gradients
# clipped at norm 5 (MMPretrain's config; its weights are converted from the authors')
_base_ = [
    '../_base_/models/poolformer.py',
    '../_base_/datasets/imagenet_bs128_poolformer_small_224.py',
    '../_base_/schedules/imagenet_bs1024_adamw_swin.py',
    '../_base_/default_runtime.py',
]
optim_wrapper = dict(optimizer=dict(lr=4e-3), clip_grad=dict(max_norm=5.0))
auto_scale_lr = dict(base_batch_size=4096)
