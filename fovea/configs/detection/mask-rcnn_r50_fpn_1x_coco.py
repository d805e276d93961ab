# torchvision's Mask R-CNN on a fovea ResNet-50 + FPN (MMDetection's mask-rcnn_r50_fpn_1x_coco settings),
# box and mask mAP.
_base_ = ['./faster-rcnn_r50_fpn_1x_coco.py']
model = dict(detector='MaskRCNN')
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='PackDetInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_evaluator = dict(metric=['bbox', 'segm'])
test_evaluator = val_evaluator
