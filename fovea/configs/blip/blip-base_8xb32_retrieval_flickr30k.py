# BLIP-base image-text retrieval fine-tuned on Flickr30k, as MMPretrain's config.
_base_ = [
    '../_base_/datasets/flickr30k_retrieval.py',
    '../_base_/models/blip_retrieval.py',
    '../_base_/default_runtime.py',
]

optimizer = dict(type='AdamW', lr=2e-5, weight_decay=0.04)
optim_wrapper = dict(type='OptimWrapper', optimizer=optimizer)
param_scheduler = [dict(type='CosineAnnealingLR', by_epoch=True)]

train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=6)
val_cfg = dict(type='RetrievalValLoop')
test_cfg = dict(type='RetrievalTestLoop')

randomness = dict(seed=42)
default_hooks = dict(logger=dict(interval=1))
# ITC's momentum-distillation weight alpha rises from 0 over the first 2 epochs
custom_hooks = [dict(type='WarmupParamHook', param_name='alpha', module_name='head', warmup_epochs=2)]
