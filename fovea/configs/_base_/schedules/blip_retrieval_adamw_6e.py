# BLIP retrieval fine-tuning (MMPretrain's blip retrieval configs): AdamW 2e-5, cosine over 6 epochs, retrieval
# loops for validation and test, ITC's distillation weight alpha warmed up from 0 over the first 2 epochs.
optimizer = dict(type='AdamW', lr=2e-5, weight_decay=0.04)
optim_wrapper = dict(type='OptimWrapper', optimizer=optimizer)
param_scheduler = [dict(type='CosineAnnealingLR', by_epoch=True)]

train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=6)
val_cfg = dict(type='RetrievalValLoop')
test_cfg = dict(type='RetrievalTestLoop')

randomness = dict(seed=42)
default_hooks = dict(logger=dict(interval=1))
custom_hooks = [dict(type='WarmupParamHook', param_name='alpha', module_name='head', warmup_epochs=2)]
