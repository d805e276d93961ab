# BLIP VQA fine-tuning (MMPretrain's blip VQA configs): AdamW 2e-5, cosine over 10 epochs.
optimizer = dict(type='AdamW', lr=2e-5, weight_decay=0.05)
optim_wrapper = dict(type='OptimWrapper', optimizer=optimizer)
param_scheduler = [dict(type='CosineAnnealingLR', by_epoch=True)]

train_cfg = dict(max_epochs=10, by_epoch=True)
test_cfg = dict()
