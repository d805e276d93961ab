# Linear-probe schedule (SimCLR, BYOL, SwAV, SimSiam benchmarks): LARS lr 1.6 (total batch 4096),
# no weight decay, cosine over 90 epochs.
optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='LARS', lr=1.6, momentum=0.9, weight_decay=0.))
param_scheduler = [dict(type='CosineAnnealingLR', T_max=90, by_epoch=True, begin=0, end=90)]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=90)
val_cfg = dict()
test_cfg = dict()
