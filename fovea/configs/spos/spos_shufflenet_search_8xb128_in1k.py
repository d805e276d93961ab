# Stage 2 of SPOS: evolution search of the trained supernet under 330 MFLOPs (MACs at 224 px),
# candidates scored on the validation set.
#   fovea search spos_shufflenet_search_8xb128_in1k.py --checkpoint SUPERNET.pth
_base_ = ['./spos_shufflenet_supernet_8xb128_in1k.py', '../_base_/settings/spos_evolution_search.py']

train_cfg = dict(_base_.search_loop, _delete_=True, dataloader=_base_.val_dataloader,
                 evaluator=_base_.val_evaluator)
