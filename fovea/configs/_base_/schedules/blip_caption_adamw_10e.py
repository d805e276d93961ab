# BLIP captioning fine-tuning (MMPretrain's blip caption configs): AdamW 1e-5, cosine over 10 epochs.
optim_wrapper = dict(optimizer=dict(type='AdamW', lr=1e-5, weight_decay=0.05))
param_scheduler = [dict(type='CosineAnnealingLR', by_epoch=True, begin=0, end=10)]

train_cfg = dict(max_epochs=10)
val_cfg = dict()
test_cfg = dict()
