# SimSiam on ImageNet for 200 epochs (the schedule of imagenet_sgd_coslr_200e, lr 0.05).
_base_ = ['./simsiam_resnet50_8xb32-coslr-100e_in1k.py']
param_scheduler = [dict(type='CosineAnnealingLR', T_max=200, by_epoch=True, begin=0, end=200)]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=200)
