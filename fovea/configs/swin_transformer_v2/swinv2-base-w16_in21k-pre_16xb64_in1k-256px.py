# fine-tuning ImageNet-21k weights trained with window 12 (6 in the last stage)
_base_ = ['./swinv2-base-w8_16xb64_in1k-256px.py']

model = dict(backbone=dict(window_size=[16, 16, 16, 8], drop_path_rate=0.2, pretrained_window_sizes=[12, 12, 12, 6]))
