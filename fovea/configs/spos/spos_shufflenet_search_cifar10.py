# Evolution search of the narrow CIFAR-10 supernet under 2.7 MFLOPs (MACs at 32 px; the space spans
# 2.09 to 3.39), BN recalibrated on 1024 training images per candidate.
#   fovea search spos_shufflenet_search_cifar10.py --checkpoint SUPERNET.pth
_base_ = ['./spos_shufflenet_supernet_cifar10.py', '../_base_/settings/spos_evolution_search.py']

train_cfg = dict(_base_.search_loop, _delete_=True, dataloader=_base_.val_dataloader,
                 evaluator=_base_.val_evaluator, calibrate_sample_num=1024,
                 constraints_range=dict(flops=(0., 2.7)), flops_input_shape=(3, 32, 32))
