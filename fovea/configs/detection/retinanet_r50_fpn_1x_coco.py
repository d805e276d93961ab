# torchvision's RetinaNet on a fovea ResNet-50 (C3-C5) + FPN with P6/P7 (MMDetection's retinanet_r50_fpn_1x_coco
# schedule: lr 0.01 for 16 images).
_base_ = ['./faster-rcnn_r50_fpn_1x_coco.py']
model = dict(detector='RetinaNet', backbone=dict(out_indices=(1, 2, 3)), neck=dict(extra_blocks='p6p7'))
optim_wrapper = dict(optimizer=dict(lr=0.01))
