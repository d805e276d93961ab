# torchvision's Faster R-CNN on a fovea ResNet-50 + FPN (MMDetection's faster-rcnn_r50_fpn_1x_coco settings:
# ImageNet weights, stem and stage 1 frozen, batch norms frozen). Fine-tune from your own fovea checkpoint
# (supervised or self-supervised) by pointing the backbone's init_cfg at it, see docs/downstream.md.
_base_ = [
    '../_base_/datasets/coco_detection.py',
    '../_base_/schedules/detection_1x.py',
    '../_base_/default_runtime.py',
]
model = dict(
    type='TorchvisionDetector',
    detector='FasterRCNN',
    num_classes=80,
    backbone=dict(type='ResNet', depth=50, out_indices=(0, 1, 2, 3), frozen_stages=1,
                  norm_cfg=dict(type='BN', requires_grad=False), norm_eval=True,
                  init_cfg=dict(type='Pretrained', checkpoint='torchvision://resnet50')),
    neck=dict(out_channels=256, extra_blocks='pool'),
    detector_cfg=dict(min_size=800, max_size=1333),
    data_preprocessor=dict(type='DetDataPreprocessor', mean=[123.675, 116.28, 103.53],
                           std=[58.395, 57.12, 57.375], bgr_to_rgb=True))
default_hooks = dict(checkpoint=dict(interval=1, max_keep_ckpts=3))
