_base_ = ['./efficientnetv2-m_8xb32_in1k-480px.py']

model = dict(backbone=dict(arch='l'))
