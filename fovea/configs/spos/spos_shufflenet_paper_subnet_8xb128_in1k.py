# The SPOS paper's searched ShuffleNetV2 subnet, (2,1,0,1,2,0,2,0,2,0,2,3,0,0,0,0,3,2,3,3) in the order
# shuffle_3x3, shuffle_5x5, shuffle_7x7, shuffle_xception (MMRazor 0.x's SPOS_SHUFFLENETV2_330M_IN1k_PAPER).
#   fovea train spos_shufflenet_paper_subnet_8xb128_in1k.py
_base_ = ['./spos_shufflenet_subnet_8xb128_in1k.py']

_here = __file__.replace('\\', '/').rsplit('/', 1)[0]

model = dict(fix_subnet=_here + '/SPOS_SHUFFLENETV2_PAPER.yaml')
