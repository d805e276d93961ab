"""MMPretrain 1.2.0's SimSiam, DenseCL and SwAV configs train in fovea unchanged but for the data: one
iteration of the Runner (their hooks included) on 2 images at small crops gives a finite loss.
(Their parameter counts against the metafiles: tests/compat/test_mmpretrain_configs.py.)"""
from __future__ import annotations

import math

import pytest
from PIL import Image

from compat.test_mmpretrain_configs import ROOT

from fovea.config import Config
from fovea.engine.hooks import Hook
from fovea.engine.runner import Runner

pytestmark = pytest.mark.reference

FAMILIES = ('simsiam', 'densecl', 'swav')
CONFIGS = sorted(str(p.relative_to(ROOT)) for fam in FAMILIES for p in (ROOT / fam).glob('*.py')) \
    if ROOT and ROOT.is_dir() else []


class _Record(Hook):
    priority = 'LOWEST'

    def __init__(self):
        self.losses, self.frozen = [], []

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        self.frozen.append(sorted(n for n, p in runner.unwrapped_model.named_parameters()
                                  if not p.requires_grad and not n.startswith(('encoder_k', 'target'))))

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        self.losses.append(float(outputs['loss']))


def _small_crops(pipeline):
    """RandomResizedCrop to 32 px (the large views) and 16 px (SwAV's small ones)."""
    for t in pipeline:
        if t.get('type') == 'RandomResizedCrop':
            t['scale'] = 32 if t['scale'] >= 224 else 16
        for inner in t.get('transforms', []):
            _small_crops(inner if isinstance(inner, list) else [inner])


@pytest.mark.slow                                  # ResNet-50s end to end
@pytest.mark.parametrize('name', CONFIGS or ['<none>'])
def test_one_training_step_gives_a_finite_loss(name, tmp_path):
    if name == '<none>':
        pytest.skip('MMPretrain 1.2.0 configs not found')
    d = tmp_path / 'data' / 'a'
    d.mkdir(parents=True)
    for i in range(2):
        Image.new('RGB', (48, 40), (60 * i, 180, 90 + 50 * i)).save(d / f'{i}.png')
    cfg = Config.fromfile(str(ROOT / name))
    loader = cfg.train_dataloader
    loader.update(batch_size=2, num_workers=0, persistent_workers=False)
    pipeline = loader.dataset.pipeline
    _small_crops(pipeline)
    loader.dataset = dict(type='CustomDataset', data_root=str(tmp_path / 'data'), with_label=False, pipeline=pipeline)
    cfg.train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=1)
    cfg.work_dir = str(tmp_path / 'run')
    cfg.default_hooks['checkpoint'] = None        # (a ResNet-50 checkpoint is slow to write)
    runner = Runner.from_cfg(cfg)
    record = _Record()
    runner.register_hook(record)
    runner.train()
    assert len(record.losses) == 1 and math.isfinite(record.losses[0]), record.losses
    if name.startswith('swav/'):                 # SwAVHook froze the prototypes for iteration 0
        assert record.frozen == [['head.loss_module.prototypes.weight']]
    else:
        assert record.frozen == [[]]
