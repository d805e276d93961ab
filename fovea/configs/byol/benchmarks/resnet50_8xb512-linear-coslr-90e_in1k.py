# Linear probe of a BYOL ResNet-50 on ImageNet: SimCLR's protocol (frozen backbone, LARS, 90 epochs).
# Point init_cfg at the pretraining checkpoint:
#   --cfg-options model.backbone.init_cfg.checkpoint=work_dirs/.../epoch_200.pth
_base_ = ['../../simclr/benchmarks/resnet50_8xb512-linear-coslr-90e_in1k.py']
