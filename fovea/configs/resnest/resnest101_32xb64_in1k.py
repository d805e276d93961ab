# ResNeSt-101: ResNeSt-50's recipe with 256 px training crops
_base_ = ['./resnest50_32xb64_in1k.py', '../_base_/models/resnest101.py']
train_pipeline = [dict(t, scale=256) if t['type'] == 'EfficientNetRandomCrop' else t for t in _base_.train_pipeline]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
