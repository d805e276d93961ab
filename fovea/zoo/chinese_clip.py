"""Model index: chinese_clip (names, published zero-shot CIFAR-100 top-1 and weights from MMPretrain's model zoo,
converted by MMPretrain from OFA-Sys' Chinese CLIP checkpoints).

``params_m`` is counted by fovea (both towers; the metafile rounds to 77 / 188 / 406 / 958 M) and ``flops_g`` are
the GMACs of one image's embedding at 224 px (`fovea flops`; MMPretrain publishes none). The models need
Chinese CLIP's ``vocab.txt`` for their text tower (docs/multimodal.md, Chinese CLIP).
"""

_PAPER = 'Chinese CLIP: Contrastive Vision-Language Pretraining in Chinese'
_URL = 'https://download.openmmlab.com/mmpretrain/v1.0/chinese_clip/'


def _entry(arch: str, params_m: float, flops_g: float, top1: float, weights: str) -> dict:
    return dict(name=f'cn-clip_{arch}_zeroshot-cls_cifar100', config=f'chinese_clip/cn-clip_{arch}_zeroshot-cls_cifar100.py',
                task='Zero-Shot Classification', params_m=params_m, flops_g=flops_g, input_size=224, top1=top1,
                dataset='CIFAR-100', paper=_PAPER,
                weights=dict(url=_URL + weights, sha256=weights.rsplit('-', 1)[1][:-len('.pth')], source='mmpretrain'))


ENTRIES = [
    _entry('resnet50', 76.99, 5.793, 40.7, 'cn-clip_resnet50_3rdparty_20230519-6a2b3eb2.pth'),
    _entry('vit-base-p16', 188.26, 17.563, 64.5, 'cn-clip_vit-base-p16_3rdparty_20230519-37fbc59e.pth'),
    _entry('vit-large-p14', 406.23, 81.013, 74.8, 'cn-clip_vit-large-p14_3rdparty_20230519-3f844503.pth'),
    _entry('vit-huge-p14', 957.60, 167.295, 79.1, 'cn-clip_vit-huge-p14_3rdparty_20230519-e4f49b00.pth'),
]
