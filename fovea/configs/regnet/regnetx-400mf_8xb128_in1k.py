# RegNetX-400MF on ImageNet, MMPretrain's recipe: SGD with Nesterov, lr 0.8 for 1024 images per step,
# cosine, 100 epochs, AlexNet-style PCA lighting noise and precise BN statistics before each evaluation.
_base_ = ['../_base_/models/regnet.py', '../_base_/datasets/imagenet_bs32.py',
          '../_base_/schedules/imagenet_bs1024_coslr.py', '../_base_/default_runtime.py']

# pycls's checkpoints take BGR input
data_preprocessor = dict(mean=[103.53, 116.28, 123.675], std=[57.375, 57.12, 58.395], to_rgb=False)

# lighting noise (BGR order, pycls's values), for pixel values in [0, 255]
EIGVAL = [0.2175, 0.0188, 0.0045]
EIGVEC = [[-0.5836, -0.6948, 0.4203], [-0.5808, -0.0045, -0.814], [-0.5675, 0.7192, 0.4009]]
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=224),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='Lighting', eigval=EIGVAL, eigvec=EIGVEC, alphastd=25.5, to_rgb=False),
    dict(type='PackInputs'),
]
train_dataloader = dict(batch_size=128, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(batch_size=128)
test_dataloader = dict(batch_size=128)

optim_wrapper = dict(optimizer=dict(lr=0.8, nesterov=True))

# recompute BatchNorm statistics on 8192 training images before evaluations (before EMA/checkpoints)
custom_hooks = [dict(type='PreciseBNHook', num_samples=8192, interval=1, priority='ABOVE_NORMAL')]
