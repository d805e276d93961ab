# BLIP-base visual grounding on RefCOCO (testA by default; set test_dataloader.dataset.split='testB'), as
# MMPretrain's config.
_base_ = [
    '../_base_/datasets/refcoco.py',
    '../_base_/models/blip_grounding.py',
    '../_base_/default_runtime.py',
]

optimizer = dict(type='AdamW', lr=1.5e-5, weight_decay=0.02)
optim_wrapper = dict(type='OptimWrapper', optimizer=optimizer)
param_scheduler = [dict(type='CosineAnnealingLR', by_epoch=True)]

train_cfg = dict(by_epoch=True, max_epochs=120)
val_cfg = dict()
test_cfg = dict()
