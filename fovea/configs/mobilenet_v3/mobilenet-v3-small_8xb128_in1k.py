_base_ = [
    '../_base_/models/mobilenet_v3/mobilenet_v3_small_imagenet.py',
    '../_base_/datasets/imagenet_bs128_mbv3.py',
    '../_base_/default_runtime.py',
]

optim_wrapper = dict(
    optimizer=dict(type='RMSprop', lr=0.064, alpha=0.9, momentum=0.9, eps=0.0316, weight_decay=1e-5))

param_scheduler = dict(type='StepLR', by_epoch=True, step_size=2, gamma=0.973)

train_cfg = dict(by_epoch=True, max_epochs=600, val_interval=1)
val_cfg = dict()
test_cfg = dict()

# the learning rate is for 8 GPUs x 128 images
auto_scale_lr = dict(base_batch_size=1024)
