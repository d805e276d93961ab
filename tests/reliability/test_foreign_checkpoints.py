"""Training checkpoints of MMPretrain/mmengine and timm read without their packages and without
running code: the tests pickle objects of fake classes registered under mmengine's and timm's
module names, remove those modules, then load (issue 21). Hostile variants would create a marker
file if anything in them ran."""
from __future__ import annotations

import argparse
import contextlib
import copy
import logging
import subprocess
import sys
import types
from collections import Counter, OrderedDict
from pathlib import Path

import numpy as np
import pytest
import torch

from _faults import ITERS_PER_EPOCH, assert_same_weights, final_state, tiny_options
from fovea.config import Config
from fovea.engine.runner import Runner
from fovea.models.weights import load_weights
from fovea.tools.convert_weights import convert_checkpoint
from fovea.utils.errors import CheckpointError
from fovea.utils.safe_pickle import placeholder_name
from fovea.utils.weights import checkpoint_info, extract_state_dict, read_weights

CLASSES = ('zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine')


@contextlib.contextmanager
def fake_modules(**members: dict):
    """Register modules (``'mmengine.logging.history_buffer'={'HistoryBuffer': cls}``, dots as '__') and
    their parents in sys.modules while the block runs, so that pickle can save objects of those classes."""
    added = []
    for dotted, attrs in members.items():
        dotted = dotted.replace('__', '.')
        parts = dotted.split('.')
        for i in range(1, len(parts) + 1):
            name = '.'.join(parts[:i])
            if name not in sys.modules:
                sys.modules[name] = types.ModuleType(name)
                added.append(name)
        for attr, obj in attrs.items():
            obj.__module__ = dotted
            for member in vars(obj).values():   # methods too: Python 3.12+ pickles them by their own module
                if isinstance(member, types.FunctionType):
                    member.__module__ = dotted
            setattr(sys.modules[dotted], attr, obj)
    try:
        yield
    finally:
        for name in reversed(added):
            del sys.modules[name]


class HistoryBuffer:
    """mmengine.logging.history_buffer.HistoryBuffer's pickled state: numpy histories and a dict of
    its statistics functions (pickled at protocol 2 as ``getattr(HistoryBuffer, 'min')``)."""

    def __init__(self, values, counts):
        self.max_length = 1000000
        self._log_history = np.asarray(values, dtype=np.float64)
        self._count_history = np.asarray(counts)
        self.statistics_methods = {'min': HistoryBuffer.min, 'mean': HistoryBuffer.mean}

    def min(self):
        return self._log_history.min()

    def mean(self):
        return self._log_history.mean()


class MessageHub:
    def __init__(self, name, log_scalars, runtime_info):
        self.instance_name = name
        self._log_scalars = log_scalars
        self._runtime_info = runtime_info


def mmengine_classes():
    return fake_modules(mmengine__logging__history_buffer={'HistoryBuffer': HistoryBuffer},
                        mmengine__logging__message_hub={'MessageHub': MessageHub})


def mmengine_layout(ckpt: dict, max_epochs: int, with_ema: bool = False, hub_object: bool = False) -> dict:
    """A fovea training checkpoint as mmengine's Runner.save_checkpoint writes the same state."""
    meta = ckpt['meta']
    schedulers = []
    for st in ckpt.get('param_schedulers', []):
        st = dict(st, param_name='lr', _last_value=[0.01])
        st['_global_step'] = st.pop('global_step')
        if 'milestones' in st:
            st['milestones'] = Counter(st['milestones'])
        schedulers.append(st)
    log_scalars = OrderedDict({'train/loss': HistoryBuffer([2.3, 2.1], [32, 32]),
                               'train/lr': HistoryBuffer([0.01], [1])})
    runtime = {'epoch': meta['epoch'], 'iter': meta['iter'], 'max_epochs': max_epochs,
               'max_iters': max_epochs * ITERS_PER_EPOCH, 'eta': np.float64(12.5), 'best_score': 0.25,
               'dataset_meta': {'classes': CLASSES}, 'loop_stage': 'train'}
    hub = (MessageHub('mmpretrain', log_scalars, runtime) if hub_object else
           {'log_scalars': log_scalars, 'runtime_info': runtime, 'resumed_keys': {'epoch': False}})
    out = {'meta': {'epoch': meta['epoch'], 'iter': meta['iter'], 'cfg': meta.get('config', ''), 'seed': 0,
                    'experiment_name': 'lenet_20240101_000000', 'time': '20240101_000000',
                    'mmengine_version': '0.10.7', 'dataset_meta': {'classes': CLASSES}},
           'state_dict': OrderedDict(ckpt['state_dict']), 'message_hub': hub}
    if 'optimizer' in ckpt:
        out['optimizer'] = ckpt['optimizer']['optimizer']
        out['param_schedulers'] = schedulers
    if with_ema:  # EMAHook saves the averaged weights as state_dict, the trained ones under module.
        out['ema_state_dict'] = OrderedDict({'steps': torch.tensor(7)}, **{
            f'module.{k}': v + 1 for k, v in ckpt['state_dict'].items()})
    return out


def _lenet(seed: int = 0):
    from fovea.apis.model import build_model_from_cfg
    torch.manual_seed(seed)
    return build_model_from_cfg(Config.fromfile('lenet5_digits').model_cfg())


def test_mmengine_checkpoint_reads_without_mmengine(tmp_path, caplog):
    model = _lenet()
    sd = {k: v.clone() for k, v in model.state_dict().items()}
    path = tmp_path / 'epoch_3.pth'
    with mmengine_classes():
        torch.save(mmengine_layout({'meta': {'epoch': 3, 'iter': 12}, 'state_dict': sd}, 3, with_ema=True,
                                   hub_object=True), path)
    assert 'mmengine' not in sys.modules
    with pytest.raises(Exception, match='HistoryBuffer|weights_only|Unsupported'):  # what torch alone does
        torch.load(path, weights_only=True)
    with caplog.at_level(logging.INFO, logger='fovea'):
        ckpt = read_weights(path)
    assert 'mmengine' not in sys.modules
    assert 'mmengine.logging.history_buffer.HistoryBuffer' in caplog.text
    info = checkpoint_info(ckpt)
    assert (info.layout, info.epoch, info.iter, info.classes, info.has_ema) == ('mmengine', 3, 12, CLASSES, True)
    hub = ckpt['message_hub']
    assert placeholder_name(hub) == 'mmengine.logging.message_hub.MessageHub'
    buffer = hub.state['_log_scalars']['train/loss']
    assert placeholder_name(buffer) == 'mmengine.logging.history_buffer.HistoryBuffer'
    np.testing.assert_array_equal(buffer.state['_log_history'], [2.3, 2.1])
    assert placeholder_name(buffer.state['statistics_methods']['min']) == \
        'mmengine.logging.history_buffer.HistoryBuffer.min'
    runtime = hub.state['_runtime_info']
    assert isinstance(runtime['eta'], np.float64) and runtime['eta'] == 12.5
    # weights: state_dict holds the EMA (as mmengine's EMAHook saves), ema_state_dict the trained ones
    for ema, offset in ((None, 0), (True, 0), (False, 1)):
        got = extract_state_dict(ckpt, ema=ema)
        assert got.keys() == sd.keys() and all(torch.equal(got[k], sd[k] + offset) for k in sd)
    fresh = _lenet(seed=1)
    report = load_weights(fresh, path, strict=True)
    assert report.source == 'fovea' and all(torch.equal(fresh.state_dict()[k], sd[k]) for k in sd)


def test_timm_train_checkpoint_reads_args_and_ema(tmp_path):
    model = _lenet()
    sd = {k: v.clone() for k, v in model.state_dict().items()}
    ema = {k: v + 2 for k, v in sd.items()}
    args = argparse.Namespace(model='lenet', epochs=300, lr=0.05, smoothing=0.1)
    path = tmp_path / 'checkpoint-4.pth.tar'
    torch.save({'epoch': 4, 'arch': 'lenet', 'state_dict': sd, 'optimizer': {'state': {}, 'param_groups': []},
                'version': 2, 'args': args, 'state_dict_ema': ema, 'metric': np.float64(71.5)}, path)
    ckpt = read_weights(path)
    assert placeholder_name(ckpt['args']) == 'argparse.Namespace'
    assert (ckpt['args'].model, ckpt['args'].epochs) == ('lenet', 300)
    info = checkpoint_info(ckpt)
    assert (info.layout, info.epoch, info.has_ema) == ('timm', 5, True)  # timm counts the finished epoch from 0
    assert all(torch.equal(extract_state_dict(ckpt)[k], sd[k]) for k in sd)
    assert all(torch.equal(extract_state_dict(ckpt, ema=True)[k], ema[k]) for k in sd)
    fresh = _lenet(seed=1)
    load_weights(fresh, path, ema=True, strict=True)
    assert all(torch.equal(fresh.state_dict()[k], ema[k]) for k in sd)
    with pytest.raises(CheckpointError, match='no EMA weights'):
        extract_state_dict({'state_dict': sd}, ema=True)


# ---- hostile pickles: if anything in them ran, the marker file would exist

def write_marker(path):
    Path(path).write_text('pwned')


class Stateful:
    """A foreign class whose __setstate__ would write the marker."""

    def __init__(self, marker):
        self.marker = marker

    def __setstate__(self, state):
        Path(state['marker']).write_text('pwned')


class _Reduce:
    def __init__(self, fn, *args):
        self.fn, self.args = fn, args

    def __reduce__(self):
        return self.fn, self.args


def test_hostile_checkpoints_never_run(tmp_path):
    marker = tmp_path / 'marker'
    sd = {'w': torch.zeros(2)}
    refused = {'os_system': _Reduce(__import__('os').system, f'touch {marker}'),
               'exec': _Reduce(exec, f'open({str(marker)!r}, "w")'),
               'getattr_on_real': _Reduce(getattr, OrderedDict, 'fromkeys')}
    for name, payload in refused.items():
        path = tmp_path / f'{name}.pth'
        torch.save({'state_dict': sd, 'x': payload}, path)
        with pytest.raises(CheckpointError, match='refused to unpickle') as exc:
            read_weights(path)
        assert str(path) in str(exc.value)
    # a foreign package's callable and a foreign __setstate__: inert even while the package is importable
    with fake_modules(evilpkg__payload={'write_marker': write_marker, 'Stateful': Stateful}):
        path = tmp_path / 'foreign.pth'
        torch.save({'state_dict': sd, 'call': _Reduce(write_marker, str(marker)), 'obj': Stateful(str(marker))}, path)
        ckpt = read_weights(path)
        assert placeholder_name(ckpt['call']) == 'evilpkg.payload.write_marker'
        assert ckpt['call'].args == (str(marker),)
        assert placeholder_name(ckpt['obj']) == 'evilpkg.payload.Stateful' and ckpt['obj'].marker == str(marker)
    assert not marker.exists()
    # sanity: the same file does run code when unpickled without fovea's reader
    with fake_modules(evilpkg__payload={'write_marker': write_marker, 'Stateful': Stateful}):
        torch.load(path, weights_only=False)
    assert marker.read_text() == 'pwned'


class ForeignNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(2, 2)


class ForeignTensor(torch.Tensor):
    pass


def test_what_cannot_be_rebuilt_is_an_error_naming_the_class(tmp_path):
    whole, sub = tmp_path / 'whole_model.pth', tmp_path / 'subclass.pth'
    with fake_modules(mypkg__nets={'ForeignNet': ForeignNet, 'ForeignTensor': ForeignTensor}):
        torch.save(ForeignNet(), whole)
        torch.save({'state_dict': {'w': torch.zeros(3).as_subclass(ForeignTensor)}}, sub)
    with pytest.raises(CheckpointError, match=r'pickled mypkg\.nets\.ForeignNet object.*state_dict'):
        read_weights(whole)
    with pytest.raises(CheckpointError, match=r'mypkg\.nets\.ForeignTensor'):
        read_weights(sub)


def test_convert_trust_needs_no_mmengine_and_keeps_classes(tmp_path):
    model = _lenet()
    src, dst = tmp_path / 'mm.pth', tmp_path / 'fovea.pth'
    with mmengine_classes():
        torch.save(mmengine_layout({'meta': {'epoch': 1, 'iter': 4}, 'state_dict': model.state_dict()}, 1), src)
    report = convert_checkpoint(src, dst, 'lenet5_digits', trust=True, strict=True)
    assert not report.missing and 'mmengine' not in sys.modules
    out = torch.load(dst, weights_only=True)
    assert out['meta']['dataset_meta']['classes'] == list(CLASSES)


def test_resume_an_mmpretrain_run_continues_it_exactly(sandbox, reference, tmp_path):
    """epoch_2 of the uninterrupted run, rewritten as mmengine saves it, resumed for epoch 3: the same
    final weights as the run that was never interrupted (the lenet pipeline draws no random numbers)."""
    _, dirs, env = sandbox
    ref_work, ref_final = reference
    ep2 = next(ref_work.rglob('epoch_2.pth'))
    mm = tmp_path / 'mm_epoch_2.pth'
    with mmengine_classes():
        torch.save(mmengine_layout(torch.load(ep2, weights_only=True), 3), mm)
    work = tmp_path / 'work'
    out = subprocess.run([sys.executable, '-m', 'fovea', 'train', 'lenet5_digits', '--seed', '0', '--resume', str(mm),
                          '--cfg-options', *tiny_options(work)], cwd=dirs['cwd'], env=env, capture_output=True,
                         text=True, timeout=300)
    log = out.stdout + out.stderr
    assert out.returncode == 0, log[-3000:]
    assert 'Resuming the MMPretrain run' in log and 'random number generator states' in log
    assert 'optimizer state' in log and 'starts afresh' not in log and 'starts from its beginning' not in log
    assert 'at epoch 2, iteration 8' in log
    assert_same_weights(final_state(work), ref_final)


def test_resume_says_what_does_not_carry_over(reference, tmp_path, caplog):
    ref_work, _ = reference
    ckpt = torch.load(next(ref_work.rglob('epoch_2.pth')), weights_only=True)
    mm_ckpt = mmengine_layout(copy.deepcopy(ckpt), 3)
    mm_ckpt['optimizer']['param_groups'][0].pop('momentum')  # another optimizer type
    mm_ckpt['optimizer']['param_groups'][0]['betas'] = (0.9, 0.999)
    mm_ckpt['param_schedulers'][0]['start_factor'] = 0.5
    mm = tmp_path / 'mm.pth'
    with mmengine_classes():
        torch.save(mm_ckpt, mm)
    runner = Runner.from_cfg(Config.fromfile('lenet5_digits', tiny_options(tmp_path / 'w', extra=(f'resume={mm}',))))
    with caplog.at_level(logging.WARNING, logger='fovea'):
        runner._setup_training()
    assert 'the optimizer state (another optimizer type' in caplog.text and runner.epoch == 2
    caplog.clear()
    mm_ckpt = mmengine_layout(ckpt, 3)
    mm_ckpt['param_schedulers'][0]['start_factor'] = 0.5
    with mmengine_classes():
        torch.save(mm_ckpt, mm)
    runner = Runner.from_cfg(Config.fromfile('lenet5_digits', tiny_options(tmp_path / 'w2', extra=(f'resume={mm}',))))
    with caplog.at_level(logging.WARNING, logger='fovea'):
        runner._setup_training()
    assert 'param_scheduler 0 (LinearLR: start_factor=0.5 there, 0.1 here)' in caplog.text
    assert 'param_scheduler 1' not in caplog.text and 'optimizer state (' not in caplog.text
    assert runner.param_schedulers[1].last_step == mm_ckpt['param_schedulers'][1]['last_step'] > 0


@pytest.mark.parametrize('ema', [None, True, False])
def test_load_from_an_mmpretrain_checkpoint_with_ema_choice(tmp_path, ema):
    model = _lenet()
    sd = {k: v.clone() for k, v in model.state_dict().items()}
    mm = tmp_path / 'mm.pth'
    with mmengine_classes():
        torch.save(mmengine_layout({'meta': {'epoch': 3, 'iter': 12}, 'state_dict': sd}, 3, with_ema=True), mm)
    extra = (f'load_from={mm}',) + ((f'load_from_ema={ema}',) if ema is not None else ())
    runner = Runner.from_cfg(Config.fromfile('lenet5_digits', tiny_options(tmp_path / 'w', extra=extra)))
    runner._setup_training()
    offset = 1 if ema is False else 0
    got = runner.unwrapped_model.state_dict()
    assert all(torch.equal(got[k], sd[k] + offset) for k in sd)


@pytest.mark.reference
@pytest.mark.real
@pytest.mark.slow
def test_real_mmpretrain_training_checkpoint(tmp_path, cifar10_root):
    """Train ResNet-18 (CIFAR) for one epoch with MMPretrain 1.2.0's tools/train.py in /work/refvenv on 96
    images, then read, test and resume its epoch_1.pth in fovea without mmengine."""
    ref = Path('/work/refvenv/bin/python')
    if not ref.exists() or subprocess.run([str(ref), '-c', 'import mmpretrain'], capture_output=True).returncode:
        pytest.skip('needs MMPretrain in /work/refvenv')
    data = Path(cifar10_root)
    for split, src in (('train', 'train'), ('val', 'test')):
        for c in ('airplane', 'cat', 'dog'):
            (tmp_path / 'data' / split / c).mkdir(parents=True)
            for f in sorted((data / src / c).iterdir())[:32]:
                (tmp_path / 'data' / split / c / f.name).symlink_to(f)
    cfg = tmp_path / 'r18_tiny.py'
    cfg.write_text(REAL_CONFIG.replace('DATA_ROOT', str(tmp_path / 'data')))
    train = ref.parent.parent / 'lib/python3.11/site-packages/mmpretrain/.mim/tools/train.py'
    out = subprocess.run([str(ref), str(train), str(cfg), '--work-dir', str(tmp_path / 'mm')], capture_output=True,
                         text=True, timeout=900, env={'OMP_NUM_THREADS': '1', 'PATH': '/usr/bin:/bin'})
    assert out.returncode == 0, out.stderr[-3000:]
    ckpt = read_weights(tmp_path / 'mm' / 'epoch_1.pth')
    assert 'mmengine' not in sys.modules
    info = checkpoint_info(ckpt)
    assert (info.layout, info.epoch, info.classes, info.has_ema) == ('mmengine', 1, ('airplane', 'cat', 'dog'), True)
    runner = Runner.from_cfg(Config.fromfile(str(cfg), [f'work_dir={tmp_path / "fovea"}', 'train_cfg.max_epochs=2',
                                                        f'resume={tmp_path / "mm" / "epoch_1.pth"}']))
    runner._setup_training()
    assert (runner.epoch, runner.iter) == (1, 6)
    saved = ckpt['optimizer']['state']
    state = runner.optim_wrapper.optimizer.state_dict()['state']
    assert all(torch.equal(state[i]['momentum_buffer'], saved[i]['momentum_buffer']) for i in saved)


REAL_CONFIG = '''
model = dict(type='ImageClassifier',
             backbone=dict(type='ResNet_CIFAR', depth=18, num_stages=4, out_indices=(3, ), style='pytorch'),
             neck=dict(type='GlobalAveragePooling'),
             head=dict(type='LinearClsHead', num_classes=3, in_channels=512, loss=dict(type='CrossEntropyLoss')))
data_preprocessor = dict(num_classes=3, mean=[125.307, 122.961, 113.8575], std=[51.5865, 50.847, 51.255])
train_pipeline = [dict(type='LoadImageFromFile'), dict(type='RandomCrop', crop_size=32, padding=4),
                  dict(type='RandomFlip', prob=0.5, direction='horizontal'), dict(type='PackInputs')]
test_pipeline = [dict(type='LoadImageFromFile'), dict(type='PackInputs')]
train_dataloader = dict(batch_size=16, num_workers=0, persistent_workers=False,
    dataset=dict(type='CustomDataset', data_root='DATA_ROOT', data_prefix='train', pipeline=train_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=True))
val_dataloader = dict(batch_size=16, num_workers=0, persistent_workers=False,
    dataset=dict(type='CustomDataset', data_root='DATA_ROOT', data_prefix='val', pipeline=test_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=False))
val_evaluator = dict(type='Accuracy', topk=(1, ))
test_dataloader, test_evaluator = val_dataloader, val_evaluator
optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=0.0001))
param_scheduler = [dict(type='LinearLR', start_factor=0.25, by_epoch=False, begin=0, end=4),
                   dict(type='MultiStepLR', by_epoch=True, milestones=[1, 2], gamma=0.1)]
train_cfg = dict(by_epoch=True, max_epochs=1, val_interval=1)
val_cfg, test_cfg = dict(), dict()
default_scope = 'mmpretrain'
default_hooks = dict(timer=dict(type='IterTimerHook'), logger=dict(type='LoggerHook', interval=2),
                     param_scheduler=dict(type='ParamSchedulerHook'),
                     checkpoint=dict(type='CheckpointHook', interval=1, save_best='auto'),
                     sampler_seed=dict(type='DistSamplerSeedHook'))
custom_hooks = [dict(type='EMAHook', momentum=0.01)]
env_cfg = dict(cudnn_benchmark=False, mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
               dist_cfg=dict(backend='nccl'))
randomness = dict(seed=0, deterministic=False)
'''


def test_get_model_takes_class_names_from_an_mmpretrain_checkpoint(tmp_path):
    from fovea.apis.model import get_model
    cfg = Config.fromfile('lenet5_digits')
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        if cfg.get(key):  # a folder dataset: the config itself names no classes
            cfg[key]['dataset'] = dict(type='CustomDataset', data_root=str(tmp_path), pipeline=[])
    mm = tmp_path / 'epoch_3.pth'
    with mmengine_classes():
        torch.save(mmengine_layout({'meta': {'epoch': 3, 'iter': 12}, 'state_dict': _lenet().state_dict()}, 3), mm)
    assert get_model(cfg).dataset_meta == {}
    assert get_model(cfg, pretrained=str(mm)).dataset_meta == {'classes': list(CLASSES)}


def test_forced_weights_only_loading_is_honoured(tmp_path, monkeypatch):
    model = _lenet()
    own, mm = tmp_path / 'own.pth', tmp_path / 'mm.pth'
    torch.save({'state_dict': model.state_dict(), 'meta': {'epoch': 1}}, own)
    with mmengine_classes():
        torch.save(mmengine_layout({'meta': {'epoch': 1, 'iter': 4}, 'state_dict': model.state_dict()}, 1), mm)
    monkeypatch.setenv('TORCH_FORCE_WEIGHTS_ONLY_LOAD', '1')
    assert read_weights(own)['meta'] == {'epoch': 1}
    with pytest.raises(CheckpointError, match=f'{mm}: it holds Python objects .*TORCH_FORCE_WEIGHTS_ONLY_LOAD'):
        read_weights(mm)
