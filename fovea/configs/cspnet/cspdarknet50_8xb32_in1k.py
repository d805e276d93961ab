# CSPDarkNet-53 (MMPretrain's file name says 50): CSPResNet-50's recipe with the Darknet backbone
_base_ = ['./cspresnet50_8xb32_in1k.py']
model = dict(backbone=dict(_delete_=True, type='CSPDarkNet', depth=53))
