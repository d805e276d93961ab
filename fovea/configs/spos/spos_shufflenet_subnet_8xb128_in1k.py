# Stage 3 of SPOS: the searched ShuffleNetV2 subnet as an ordinary classifier, retrained from scratch.
#   fovea train spos_shufflenet_subnet_8xb128_in1k.py
# This one is MMRazor's searched subnet (3.35 M parameters, 73.87% top-1 in MMRazor's model zoo);
# use your own search result with --cfg-options model.fix_subnet=<run_dir>/best_fix_subnet.yaml, and
# start from the supernet's weights with
#   --cfg-options model.init_cfg.type=Pretrained model.init_cfg.checkpoint=SUPERNET.pth \
#                 model.init_cfg.prefix=architecture.
_base_ = ['./spos_shufflenet_supernet_8xb128_in1k.py']

_here = __file__.replace('\\', '/').rsplit('/', 1)[0]

model = dict(
    _delete_=True,
    type='sub_model',
    cfg=_base_.supernet,
    fix_subnet=_here + '/SPOS_SUBNET.yaml')

# a fixed subnet uses every parameter
env_cfg = dict(find_unused_parameters=False)
