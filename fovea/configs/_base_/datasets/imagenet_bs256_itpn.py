# iTPN with CLIP targets on ImageNet: BEiT v2's views (one crop resized twice to 224 px, colour jitter, flips,
# 75 of the 196 patches masked in blocks) with CLIP's mean/std for the second view, and the images listed in
# meta/train.txt (MMPretrain's imagenet_bs256_itpn)
_base_ = ['./imagenet_bs256_beitv2.py']

data_preprocessor = dict(second_mean=[0.48145466 * 255, 0.4578275 * 255, 0.40821073 * 255],
                         second_std=[0.26862954 * 255, 0.26130258 * 255, 0.27577711 * 255])
train_dataloader = dict(dataset=dict(_delete_=True, type='ImageNet', data_root='data/imagenet/',
                                     ann_file='meta/train.txt', data_prefix=dict(img_path='train/'),
                                     pipeline=_base_.train_pipeline))
