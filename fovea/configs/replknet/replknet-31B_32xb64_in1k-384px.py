_base_ = ['./replknet-31B_32xb64_in1k.py', '../_base_/datasets/imagenet_bs16_pil_bicubic_384.py']
# the 384 px data base sets no num_classes (only batch augments read it); drop the one the 224 px base set
data_preprocessor = dict(_delete_=True, **{k: v for k, v in _base_.data_preprocessor.items() if k != 'num_classes'})
