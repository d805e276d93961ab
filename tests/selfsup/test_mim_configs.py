"""MMPretrain 1.2.0's masked-image-modelling configs (configs/{mae,simmim,maskfeat,itpn}) run one training
step in fovea: their training pipeline (mask generators included) on a small synthetic image, the
data preprocessor, ``train_step`` with an optimizer step, a finite loss. Images are shrunk so that
the step is cheap (the architectures are the published ones: tests/compat checks their sizes);
each distinct model is stepped once, the large ones only in the slow tier."""
from __future__ import annotations

import pytest
import torch

from compat.test_mmpretrain_configs import ROOT

from fovea.config import Config
from fovea.data.collate import default_collate
from fovea.data.transforms import Compose
from fovea.engine.optim_wrapper import OptimWrapper
from fovea.registry import MODELS, build

pytestmark = pytest.mark.reference


# one config per distinct model (the others differ in schedule only); value: (image size, slow)
CONFIGS = {
    'mae/mae_vit-base-p16_8xb512-amp-coslr-300e_in1k.py': (32, False),
    'mae/mae_vit-large-p16_8xb512-amp-coslr-300e_in1k.py': (32, True),
    'mae/mae_vit-huge-p14_8xb512-amp-coslr-1600e_in1k.py': (28, True),
    'simmim/simmim_swin-base-w6_8xb256-amp-coslr-100e_in1k-192px.py': (64, False),
    'simmim/simmim_swin-large-w12_16xb128-amp-coslr-800e_in1k-192px.py': (64, True),
    'maskfeat/maskfeat_vit-base-p16_8xb256-amp-coslr-300e_in1k.py': (64, False),
    'mae/mae_hivit-base-p16_8xb512-amp-coslr-400e_in1k.py': (32, True),
    'mae/mae_hivit-large-p16_8xb512-amp-coslr-400e_in1k.py': (32, True),
    'itpn/itpn-pixel_hivit-base-p16_8xb512-amp-coslr-400e_in1k.py': (32, True),    # HiViT: 11-40 s each
    'itpn/itpn-pixel_hivit-large-p16_8xb512-amp-coslr-400e_in1k.py': (32, True),
    'itpn/itpn-clip-b_hivit-base-p16_8xb256-amp-coslr-300e_in1k.py': (32, True),   # + CLIP ViT-B/16, random
}


def _shrink(cfg: Config, size: int) -> None:
    """Images of ``size`` px: the model's input size and what the pipeline crops and masks."""
    model = cfg.model
    bb = model['backbone']
    bb['img_size'] = size
    patch = bb.get('patch_size', 16 if 'ViT' in bb['type'] else 4)
    if model['type'] in ('MAE', 'iTPN'):
        model['neck']['num_patches'] = (size // patch) ** 2
    if 'tokenizer_path' in model.get('target_generator', {}):
        model['target_generator']['tokenizer_path'] = None     # random CLIP weights (no download)
    if model['type'] == 'SimMIM':
        bb['pad_small_map'] = True               # 64 px leaves maps smaller than the windows
    for t in cfg.train_dataloader['dataset']['pipeline']:
        if t['type'] == 'RandomResizedCrop':
            t['scale'] = size
        elif t['type'] == 'RandomResizedCropAndInterpolationWithTwoPic':
            t['size'] = t['second_size'] = size
        elif t['type'] == 'SimMIMMaskGenerator':
            t['input_size'] = size
        elif t['type'] == 'BEiTMaskGenerator':
            t['input_size'] = size // patch
            t['num_masking_patches'] = (size // patch) ** 2 // 4
            t['min_num_patches'] = 1
            t['max_num_patches'] = None


@pytest.mark.parametrize('name', [pytest.param(n, marks=pytest.mark.slow) if slow else n
                                  for n, (_, slow) in sorted(CONFIGS.items())])
def test_one_training_step(name):
    if ROOT is None or not (ROOT / name).is_file():
        pytest.skip('MMPretrain 1.2.0 configs not found')
    size = CONFIGS[name][0]
    cfg = Config.fromfile(str(ROOT / name))
    _shrink(cfg, size)
    pipeline = Compose([t for t in cfg.train_dataloader['dataset']['pipeline'] if t['type'] != 'LoadImageFromFile'])
    g = torch.Generator().manual_seed(0)
    imgs = [torch.randint(0, 256, (3, size + 8, size + 8), dtype=torch.uint8, generator=g) for _ in range(2)]
    batch = default_collate([pipeline({'img': img, 'img_shape': (size + 8,) * 2}) for img in imgs])
    torch.manual_seed(0)
    model = build(cfg.model_cfg(), MODELS, key='model')
    model.init_weights()
    ow = OptimWrapper(torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=1e-3))
    before = {k: v.detach().clone() for k, v in model.named_parameters() if v.requires_grad}
    log = model.train().train_step(batch, ow)
    assert torch.isfinite(torch.as_tensor(log['loss']))
    changed = [k for k, v in model.named_parameters() if v.requires_grad and not torch.equal(v, before[k])]
    assert changed and any(k.startswith('backbone.') for k in changed)
