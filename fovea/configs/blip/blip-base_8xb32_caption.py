# BLIP-base image captioning fine-tuned on COCO (Karpathy split), as MMPretrain's config.
_base_ = [
    '../_base_/datasets/coco_caption.py',
    '../_base_/models/blip_caption.py',
    '../_base_/default_runtime.py',
]

optim_wrapper = dict(optimizer=dict(type='AdamW', lr=1e-5, weight_decay=0.05))
param_scheduler = [dict(type='CosineAnnealingLR', by_epoch=True, begin=0, end=10)]

train_cfg = dict(max_epochs=10)
val_cfg = dict()
test_cfg = dict()
