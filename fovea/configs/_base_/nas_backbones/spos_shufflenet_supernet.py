# The SPOS ShuffleNetV2 search space (MMRazor 1.x): 20 one-shot layers of four candidates each.
_STAGE_MUTABLE = dict(
    type='OneShotMutableOP',
    candidates=dict(
        shuffle_3x3=dict(type='ShuffleBlock', kernel_size=3),
        shuffle_5x5=dict(type='ShuffleBlock', kernel_size=5),
        shuffle_7x7=dict(type='ShuffleBlock', kernel_size=7),
        shuffle_xception=dict(type='ShuffleXception')))

arch_setting = [
    # channels, num_blocks, one-shot layer config (the first block of each stage has stride 2)
    [64, 4, _STAGE_MUTABLE],
    [160, 4, _STAGE_MUTABLE],
    [320, 8, _STAGE_MUTABLE],
    [640, 4, _STAGE_MUTABLE],
]

nas_backbone = dict(type='SearchableShuffleNetV2', widen_factor=1.0, arch_setting=arch_setting)
