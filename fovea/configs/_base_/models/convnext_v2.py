# ConvNeXt V2-atto (Woo et al., CVPR 2023): ConvNeXt blocks with Global Response Normalization and no
# layer scale; the other sizes change backbone.arch / drop_path_rate and the head's in_channels /
# label smoothing. The backbone pools and normalises its output, so there is no neck.
model = dict(
    type='ImageClassifier',
    backbone=dict(type='ConvNeXt', arch='atto', drop_path_rate=0.1, layer_scale_init_value=0., use_grn=True),
    head=dict(type='LinearClsHead', num_classes=1000, in_channels=320,
              loss=dict(type='LabelSmoothLoss', label_smooth_val=0.2), init_cfg=None),
    init_cfg=dict(type='TruncNormal', layer=['Conv2d', 'Linear'], std=.02, bias=0.),
)
