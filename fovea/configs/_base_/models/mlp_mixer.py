# MLP-Mixer-B/16 at 224 px (Tolstikhin et al. 2021); the large config changes backbone.arch and head.in_channels.
model = dict(
    type='ImageClassifier',
    backbone=dict(type='MlpMixer', arch='b', img_size=224, patch_size=16, drop_rate=0.1,
                  init_cfg=[dict(type='Kaiming', layer='Conv2d', mode='fan_in', nonlinearity='linear')]),
    neck=dict(type='GlobalAveragePooling', dim=1),
    head=dict(type='LinearClsHead', num_classes=1000, in_channels=768,
              loss=dict(type='CrossEntropyLoss', loss_weight=1.0), topk=(1, 5)),
)
