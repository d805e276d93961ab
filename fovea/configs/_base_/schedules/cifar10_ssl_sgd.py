# fovea's own: self-supervised pretraining on CIFAR-10 at batch 256: SGD lr 0.06, 5 warmup epochs,
# cosine to 0 over 100 epochs; kNN check every 10 epochs, two checkpoints kept.
optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.06, momentum=0.9, weight_decay=5e-4))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=True, begin=0, end=5, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=5, eta_min=0.0, convert_to_iter_based=True),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=100)
custom_hooks = [dict(type='KNNHook', interval=10)]
default_hooks = dict(checkpoint=dict(type='CheckpointHook', interval=10, max_keep_ckpts=2))
