# Runtime settings shared by every recipe (MMPretrain's default_runtime keys).
default_scope = 'mmpretrain'  # accepted for MMPretrain compatibility; fovea has one scope

default_hooks = dict(
    timer=dict(type='IterTimerHook'),                       # data time and step time
    logger=dict(type='LoggerHook', interval=100),           # progress line + scalars.json (+ TensorBoard)
    param_scheduler=dict(type='ParamSchedulerHook'),        # steps the param_scheduler list
    checkpoint=dict(type='CheckpointHook', interval=1),     # epoch_N.pth, atomically written
    sampler_seed=dict(type='DistSamplerSeedHook'),          # a new shuffle every epoch
    visualization=dict(type='VisualizationHook', enable=False),
)

env_cfg = dict(
    cudnn_benchmark=False,
    dist_cfg=dict(backend='nccl'),      # 'gloo' is used automatically on CPU
    precision='auto',                   # bf16 autocast where the hardware runs it natively, else fp32
    channels_last='auto',               # on for convolutional backbones
    compile=False,                      # torch.compile the model (compile time is logged)
)

visualizer = dict(type='UniversalVisualizer', vis_backends=[dict(type='LocalVisBackend')])
log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=None, deterministic=False)
