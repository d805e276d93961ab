"""Model index: hivit (names and published top-1 from MMPretrain's model zoo, which publishes no weights).

``params_m`` and ``flops_g`` (GMACs at ``input_size``) are counted by fovea (`fovea flops`);
``mmpretrain_flops_g`` is the figure MMPretrain publishes.
"""

_PAPER = 'HiViT: A Simple and More Efficient Design of Hierarchical Vision Transformer'


def _entry(size: str, params_m: float, flops_g: float, published_g: float, top1: float | None) -> dict:
    return dict(name=f'hivit-{size}-p16_16xb64_in1k', config=f'hivit/hivit-{size}-p16_16xb64_in1k.py',
                task='Image Classification', params_m=params_m, flops_g=flops_g, mmpretrain_flops_g=published_g,
                input_size=224, top1=top1, dataset='ImageNet-1k', paper=_PAPER, weights=None)


ENTRIES = [
    _entry('tiny', 19.18, 4.587, 4.603, 82.1),
    _entry('small', 37.53, 9.044, 9.072, None),
    _entry('base', 79.05, 18.433, 18.474, None),
]
