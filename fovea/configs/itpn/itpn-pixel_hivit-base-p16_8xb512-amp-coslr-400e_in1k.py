# iTPN with pixel targets on a HiViT-B/16, ImageNet-1k, 400 epochs: MAE's recipe (MMPretrain's)
_base_ = [
    '../_base_/models/itpn_hivit-base-p16.py',
    '../_base_/datasets/imagenet_bs512_mae.py',
    '../_base_/schedules/imagenet_bs4096_amp_adamw_mae_400e.py',
    '../_base_/default_runtime.py',
]
