# BLIP-base VQA fine-tuned on OCR-VQA, open-ended answers by beam search, as MMPretrain's config.
_base_ = [
    '../_base_/datasets/ocrvqa.py',
    '../_base_/models/blip_vqa.py',
    '../_base_/default_runtime.py',
]

optimizer = dict(type='AdamW', lr=2e-5, weight_decay=0.05)
optim_wrapper = dict(type='OptimWrapper', optimizer=optimizer)
param_scheduler = [dict(type='CosineAnnealingLR', by_epoch=True)]

train_cfg = dict(max_epochs=10, by_epoch=True)
val_cfg = dict()
test_cfg = dict()

randomness = dict(seed=42)
