# Stage 2 of SPOS on the MobileNet space: evolution search under 465 MFLOPs (MACs at 224 px).
#   fovea search spos_mobilenet_search_8xb128_in1k.py --checkpoint SUPERNET.pth
_base_ = ['./spos_mobilenet_supernet_8xb128_in1k.py', '../_base_/settings/spos_evolution_search.py']

train_cfg = dict(_base_.search_loop, _delete_=True, dataloader=_base_.val_dataloader,
                 evaluator=_base_.val_evaluator, constraints_range=dict(flops=(0., 465.)))
