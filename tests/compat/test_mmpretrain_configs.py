"""MMPretrain 1.2.0's own config files, for every model family fovea ships, build unchanged, and
the models have the parameter counts MMPretrain's metafiles publish.

MMPretrain's configs are found through ``$FOVEA_MMPRETRAIN_CONFIGS``, an importable ``mmpretrain``
(its wheel ships them under ``.mim/configs``) or the side venv ``/work/refvenv``; the tests skip
where none is there.
"""
from __future__ import annotations

import glob
import importlib.util
import os
from pathlib import Path

import pytest
import torch

from fovea.config import Config
from fovea.registry import MODELS, build
from fovea.utils.errors import ConfigKeyError

pytestmark = pytest.mark.reference

FOVEA_CONFIGS = Path(__file__).parents[2] / 'fovea' / 'configs'
FOVEA_FAMILIES = sorted(p.name for p in FOVEA_CONFIGS.iterdir() if p.is_dir() and p.name != '_base_')
# families whose evaluation configs (linear probe, fine-tune: <family>/benchmarks/) fovea ships
BENCHMARK_FAMILIES = sorted(p.parent.name for p in FOVEA_CONFIGS.glob('*/benchmarks'))

# configs MMPretrain 1.2.0 cannot build itself (they name types it no longer registers)
BROKEN_UPSTREAM = {'resnet/resnet50_8xb32-cutmix_in1k.py': 'BatchCutMix (MMClassification 0.x name)',
                   # they edit _base_['test_pipeline'], which their ImageNet-21k base does not define (KeyError)
                   'swin_transformer_v2/swinv2-base-w12_8xb128_in21k-192px.py': 'a missing test_pipeline',
                   'swin_transformer_v2/swinv2-large-w12_8xb128_in21k-192px.py': 'a missing test_pipeline'}

# configs whose model needs a component fovea does not have yet (name prefix -> what is missing);
# they must fail with ConfigKeyError's "does not implement yet", never build something else
NOT_IN_FOVEA_YET: dict[str, str] = {}

# metafile figures that are not the model its config builds; checked against the corrected figure
PUBLISHED_FIXES = {
    'resnet/resnet34_8xb32_in1k.py': 21_797_672,        # metafile: 2180000 (a dropped digit)
    'repvgg/repvgg-B0_8xb32_in1k.py': 14_339_048,       # metafile: 3420000; deploy-mode B0 is 14.34 M
    'regnet/regnetx-3.2gf_8xb64_in1k.py': 15_296_552,   # metafile: 3210000 (its comment: 32.1M); timm and
                                                        # torchvision count 15,296,552 too
    # the in21k configs build a 21,841-class head (the metafile counts a 1,000-class one), and the
    # large/xlarge ones inherit convnext-base.py without changing arch, so they build ConvNeXt-B
    'convnext/convnext-base_32xb128_in21k.py': 109_953_489,
    'convnext/convnext-large_64xb64_in21k.py': 109_953_489,
    'convnext/convnext-xlarge_64xb64_in21k.py': 109_953_489,
    # self-supervised configs whose metafile entry gives the fine-tuned classifier's count (86.53 M);
    # the figure is that of the model MMPretrain 1.2.0 builds from the config, tokenizer included
    'beit/beit_beit-base-p16_8xb256-amp-coslr-300e_in1k.py': 145_752_016,      # + DALL-E 53.79 M
    'beitv2/beitv2_beit-base-p16_8xb256-amp-coslr-300e_in1k.py': 192_809_840,  # + neck, VQ-KD 86.67 M
    # MFF: the metafile's 85.88 M is none of the built parts (encoder 88.75 M with the fusion layers,
    # decoder 26.11 M); MMPretrain builds 114,860,806
    'mff/mff_vit-base-p16_8xb512-amp-coslr-300e_in1k.py': 114_860_806,
    'mff/mff_vit-base-p16_8xb512-amp-coslr-800e_in1k.py': 114_860_806,
    # EVA: the metafile counts the MAE encoder-decoder (111,776,512); the config also builds the CLIP
    # ViT-B/16 target (149,620,737, OpenAI's count), as MMPretrain's CLIPGenerator does
    'eva/eva-mae-style_vit-base-p16_16xb256-coslr-400e_in1k.py': 261_397_249,
    'milan/milan_vit-base-p16_16xb256-amp-coslr-400e_in1k.py': 261_528_321,   # metafile 111,907,584 + CLIP
    # MixMIM: the metafile gives the fine-tuned classifier's 88.34 M; the decoder makes MMPretrain's 114.67 M
    'mixmim/mixmim_mixmim-base_16xb128-coslr-300e_in1k.py': 114_665_784,
    # SparK: the metafile counts the backbone alone (ResNet-50 23.52 M, ConvNeXt V2-T 28.64 M); with the
    # decoder, projectors and mask tokens MMPretrain builds these
    'spark/spark_sparse-resnet50_8xb512-amp-coslr-800e_in1k.py': 37_970_611,
    'spark/spark_sparse-resnet50_8xb512-amp-coslr-1600e_in1k.py': 37_970_611,
    'spark/spark_sparse-convnextv2-tiny_16xb256-amp-coslr-800e_in1k.py': 39_729_619,
}
# LeViT: the metafile leaves out the distillation classifier (batch norm + linear on C features: 1000 (C + 1) + 2 C)
# that the configs build (distillation=True; its logits are averaged with the class head's)
PUBLISHED_FIXES.update({f'levit/levit-{arch}_8xb256_in1k.py': n + 1000 * (c + 1) + 2 * c for arch, n, c in (
    ('128s', 7_391_290, 384), ('128', 8_828_168, 384), ('192', 10_561_301, 384), ('256', 18_379_852, 512),
    ('384', 38_358_300, 768))})
# MAE fine-tuning builds a LayerNorm after the token average (ln2, 2 x width) the metafile leaves out
PUBLISHED_FIXES.update({f'mae/benchmarks/{name}.py': n for name, n in (
    ('vit-base-p16_8xb128-coslr-100e_in1k', 86_567_656), ('vit-large-p16_8xb128-coslr-50e_in1k', 304_326_632),
    ('vit-huge-p14_8xb128-coslr-50e_in1k', 632_045_800), ('vit-huge-p14_32xb8-coslr-50e_in1k-448px', 633_028_840),
    ('vit-large-p16_8xb128-ds-coslr-50e_in1k', 304_326_632), ('vit-large-p16_8xb128-fsdp-coslr-50e_in1k', 304_326_632),
    ('vit-huge-p14_8xb128-ds-coslr-50e_in1k', 632_045_800), ('vit-huge-p14_8xb128-fsdp-coslr-50e_in1k', 632_045_800))})


def _mmpretrain_configs() -> Path | None:
    if os.environ.get('FOVEA_MMPRETRAIN_CONFIGS'):
        return Path(os.environ['FOVEA_MMPRETRAIN_CONFIGS'])
    spec = importlib.util.find_spec('mmpretrain')
    if spec and spec.origin:
        return Path(spec.origin).parent / '.mim' / 'configs'
    found = glob.glob('/work/refvenv/lib/python3*/site-packages/mmpretrain/.mim/configs')
    return Path(found[0]) if found else None


ROOT = _mmpretrain_configs()
# the detection benchmarks (mask-rcnn_*) are MMDetection configs
CONFIGS = sorted(
    [str(p.relative_to(ROOT)) for fam in FOVEA_FAMILIES if any((FOVEA_CONFIGS / fam).glob('*.py'))
     for p in [*(ROOT / fam).glob('*.py'), *(ROOT / fam / 'deploy').glob('*.py')]
     if not p.name.startswith('_')]   # resnest/_randaug_policies.py: a list the configs read, not a model
    + [str(p.relative_to(ROOT)) for fam in BENCHMARK_FAMILIES for p in (ROOT / fam / 'benchmarks').glob('*.py')
       if not p.name.startswith('mask-rcnn')]) if ROOT and ROOT.is_dir() else []


# families whose metafiles count the re-parameterised (deploy) form; deploy/ config names: '_8xb' -> this
DEPLOY_NAMES = {'riformer': '-deploy_8xb', 'mobileone': '_deploy_8xb'}
REPARAMETERISED = ('repvgg', *DEPLOY_NAMES)


def _published_params() -> dict[str, int]:
    yaml = pytest.importorskip('yaml')
    out = {}
    for fam in FOVEA_FAMILIES:
        meta = ROOT / fam / 'metafile.yml'
        if not meta.is_file():
            continue
        for entry in yaml.safe_load(meta.read_text()).get('Models', []):
            params = (entry.get('Metadata') or {}).get('Parameters')
            cfg = entry.get('Config', '')
            if params and cfg.startswith('configs/'):
                out[cfg[len('configs/'):]] = int(params)
                if fam in DEPLOY_NAMES:     # the deploy/ configs build the counted (re-parameterised) form
                    out[cfg[len('configs/'):].replace(f'{fam}/', f'{fam}/deploy/').replace('_8xb', DEPLOY_NAMES[fam])] \
                        = int(params)
    return out


@pytest.fixture(scope='module')
def published():
    return _published_params()


def test_configs_are_found():
    if not CONFIGS:
        pytest.skip('MMPretrain 1.2.0 configs not found')
    assert len(CONFIGS) > 100


@pytest.mark.parametrize('name', CONFIGS or ['<none>'])
def test_builds_with_published_parameter_count(name, published):
    if name == '<none>':
        pytest.skip('MMPretrain 1.2.0 configs not found')
    if name in BROKEN_UPSTREAM:
        pytest.skip(f'MMPretrain itself cannot build it: {BROKEN_UPSTREAM[name]}')
    cfg = Config.fromfile(str(ROOT / name))
    model_cfg = cfg.model_cfg()
    _drop_pretrained(model_cfg)
    missing = next((why for prefix, why in NOT_IN_FOVEA_YET.items() if name.startswith(prefix)), None)
    if missing:
        with pytest.raises(ConfigKeyError, match='does not implement yet'), torch.device('meta'):
            build(model_cfg, MODELS, key='model')
        pytest.skip(f'needs {missing}, which fovea does not implement yet')
    if name.split('/')[0] in REPARAMETERISED:
        model_cfg['backbone']['deploy'] = True        # the metafiles give the re-parameterised counts
    with torch.device('meta'):
        model = build(model_cfg, MODELS, key='model')
    if name in published:
        expected = PUBLISHED_FIXES.get(name, published[name])
        n = sum(p.numel() for p in model.parameters())
        # metafiles round to 10^4 (e.g. 11170000) or give exact counts
        assert abs(n - expected) <= max(0.005 * expected, 10_000), \
            f'{name}: {n} parameters, MMPretrain publishes {published[name]}'


def _drop_pretrained(cfg):
    """Pretrained init_cfgs point at downloads; the architecture is what is checked here."""
    if isinstance(cfg, dict):
        init = cfg.get('init_cfg')
        if isinstance(init, dict) and init.get('type') == 'Pretrained':
            cfg['init_cfg'] = None
        elif isinstance(init, list):
            cfg['init_cfg'] = [c for c in init if not (isinstance(c, dict) and c.get('type') == 'Pretrained')] or None
        for v in cfg.values():
            _drop_pretrained(v)
    elif isinstance(cfg, list):
        for v in cfg:
            _drop_pretrained(v)


# shipped families written from MMPretrain's files: resolved, they must give MMPretrain's settings
MIRRORED = {'blip': (), 'convnext_v2': (), 'regnet': ('param_scheduler',), 'convmixer': (), 'poolformer': (),
            'riformer': (), 'mlp_mixer': (), 'van': ('model',), 'deit3': (), 'hivit': (), 'xcit': (), 'mobileone': (),
            'efficientnet_v2': (), 'replknet': (), 'blip': (), 'chinese_clip': (),
            'itpn': (), 'mae/mae_hivit-': (), 'swin_transformer_v2': (), 'hrnet': (), 'resnest': (), 'levit': (),
            'res2net': (), 'cspnet': ()}
# regnet: fovea's coslr base warms up per iteration. van: MMPretrain's van_base/van_large model files drop
# the tiny/small init_cfg and Mixup/CutMix that the VAN recipe uses for every size; fovea keeps them
# families whose configs also set hooks, seeds, loops and metrics of their own (checked too)
_MORE_RECIPE_KEYS = {'blip': ('default_hooks', 'randomness', 'val_cfg', 'test_cfg', 'val_evaluator', 'test_evaluator')}
_RECIPE_KEYS = ('model', 'train_dataloader', 'val_dataloader', 'test_dataloader', 'optim_wrapper', 'param_scheduler',
                'train_cfg', 'custom_hooks', 'data_preprocessor', 'auto_scale_lr')


def _mirrored(name: str) -> str | None:
    """The MIRRORED key covering config ``name`` (a family, or a name prefix), if any."""
    return next((k for k in MIRRORED if name.startswith(k if '/' in k else k + '/')), None)


# (a family fovea ships in part, blip, is compared where fovea has the file)
@pytest.mark.parametrize('name', [c for c in CONFIGS if _mirrored(c) and (FOVEA_CONFIGS / c).is_file()]
                         or ['<none>'])
def test_shipped_config_resolves_to_mmpretrains_recipe(name):
    if name == '<none>':
        pytest.skip('MMPretrain 1.2.0 configs not found')
    if name in BROKEN_UPSTREAM:
        pytest.skip(f'MMPretrain itself cannot load it: {BROKEN_UPSTREAM[name]}')
    ours, theirs = Config.fromfile(name).to_dict(), Config.fromfile(str(ROOT / name)).to_dict()
    skip = MIRRORED[_mirrored(name)]
    keys = _RECIPE_KEYS + _MORE_RECIPE_KEYS.get(name.split('/')[0], ())
    assert [k for k in keys if k not in skip and ours.get(k) != theirs.get(k)] == []
