# fovea's own: DeiT-Ti with a distillation token trained through attention from a frozen teacher
# (DeiT's hard distillation, alpha 0.5), the teacher being MMPretrain's ResNet-50 (76.55% top-1;
# DeiT's paper uses a RegNetY-16GF). The teacher sees the same normalised, mixed batch.
_base_ = ['./deit-tiny-distilled_4xb256_in1k.py']

model = dict(
    type='DistillImageClassifier',
    teacher=dict(
        config='resnet/resnet50_8xb32_in1k.py',
        checkpoint='https://download.openmmlab.com/mmclassification/v0/resnet/'
                   'resnet50_8xb32_in1k_20210831-ea4938fc.pth'),
    distill_type='hard',
    alpha=0.5,
    tau=1.0,
)
