# HRNet-W18 (Wang et al., TPAMI 2020) for classification: the four branches fused by HRFuseScales (2048
# channels at 1/32), pooled; the other widths change backbone.arch and the neck's in_channels (w, 2w, 4w, 8w).
model = dict(
    type='ImageClassifier',
    backbone=dict(type='HRNet', arch='w18'),
    neck=[dict(type='HRFuseScales', in_channels=(18, 36, 72, 144)), dict(type='GlobalAveragePooling')],
    head=dict(type='LinearClsHead', in_channels=2048, num_classes=1000,
              loss=dict(type='CrossEntropyLoss', loss_weight=1.0), topk=(1, 5)),
)
