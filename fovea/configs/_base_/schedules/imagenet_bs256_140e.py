# SGD with step decay over 140 epochs (batch 256): MMPretrain's imagenet_bs256_140e.
optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=0.0001))
param_scheduler = dict(type='MultiStepLR', by_epoch=True, milestones=[40, 80, 120], gamma=0.1)
train_cfg = dict(by_epoch=True, max_epochs=140, val_interval=1)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(base_batch_size=256)
