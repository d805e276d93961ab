"""analyze-logs, confusion-matrix, tsne, analyze-results and browse-dataset: PNGs and numbers."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from fovea.cli.main import main
from fovea.utils.errors import DataError
from tests.tools.conftest import is_png

pytest.importorskip('matplotlib')


def _cli(argv) -> int:
    with pytest.raises(SystemExit) as e:
        main(argv)
    return e.value.code


def test_analyze_logs(lenet_run, tmp_path, capsys):
    from fovea.tools.logs import cal_train_time, load_scalars, series
    log = lenet_run['run_dir'] / 'scalars.json'
    out = tmp_path / 'curve.png'
    assert _cli(['analyze-logs', 'plot-curve', str(log), str(lenet_run['run_dir']), '--keys', 'loss',
                 'accuracy/top1', '--legend', 'a', 'b', '--out', str(out)]) == 0
    assert is_png(out)
    recs = load_scalars(log)
    x, y, xname = series(recs, 'accuracy/top1')
    assert xname == 'epoch' and x.tolist() == [1, 2] and y[-1] == pytest.approx(lenet_run['val_top1'])
    x, y, xname = series(recs, 'loss')
    assert xname == 'iteration' and len(x) >= 4 and y[-1] < y[0]  # 45 iters/epoch, logged every 15
    assert _cli(['analyze-logs', 'cal-train-time', str(log)]) == 0
    printed = capsys.readouterr().out
    t = cal_train_time(recs)
    times = [r['time'] for r in recs if 'lr' in r][1:]
    assert t['average_s_per_iter'] == pytest.approx(np.mean(times))
    assert f'average iter time: {np.mean(times):.4f} s/iter' in printed
    with pytest.raises(DataError, match='Did you mean'):
        series(recs, 'los')
    bad = tmp_path / 'bad.json'
    bad.write_text('{"loss": 1}\nnot json\n')
    with pytest.raises(DataError, match='bad.json:2'):
        load_scalars(bad)


@pytest.fixture(scope='module')
def results_json(lenet_run, tmp_path_factory):
    out = tmp_path_factory.mktemp('res') / 'results.json'
    assert _cli(['test', 'lenet5_digits', lenet_run['checkpoint'], '--out', str(out), '--precision', 'fp32',
                 '--work-dir', str(out.parent / 'w'), '--device', 'cpu']) == 0
    return out


def test_confusion_matrix(lenet_run, results_json, tmp_path, capsys):
    out, js = tmp_path / 'cm.png', tmp_path / 'cm.json'
    assert _cli(['confusion-matrix', 'lenet5_digits', lenet_run['checkpoint'], '--show', '--out', str(out),
                 '--json', str(js)]) == 0
    assert is_png(out)
    cm = np.array(json.loads(js.read_text())['matrix'])
    preds = json.loads(results_json.read_text())['predictions']
    ref = np.zeros((10, 10), int)
    for p in preds:
        ref[p['gt_label'], p['pred_label']] += 1
    np.testing.assert_array_equal(cm, ref)  # running the checkpoint == `fovea test` records
    assert cm.sum(1).tolist() == [np.sum([p['gt_label'] == c for p in preds]) for c in range(10)]
    assert 'true\\pred' in capsys.readouterr().out
    js2 = tmp_path / 'cm2.json'
    assert _cli(['confusion-matrix', 'lenet5_digits', '--results', str(results_json), '--json', str(js2),
                 '--out', str(tmp_path / 'cm2.png')]) == 0
    np.testing.assert_array_equal(np.array(json.loads(js2.read_text())['matrix']), ref)


def test_confusion_matrix_runs_in_the_precision_of_fovea_test(lenet_run, tmp_path, capsys):
    """One checkpoint, one number: with env_cfg.precision=bf16 both `fovea test` and confusion-matrix run bf16
    autocast (before, confusion-matrix always ran fp32 and did not say so)."""
    bf16 = ['--cfg-options', 'env_cfg.precision=bf16']
    res = tmp_path / 'r.json'
    assert _cli(['test', 'lenet5_digits', lenet_run['checkpoint'], '--out', str(res), '--work-dir',
                 str(tmp_path / 'w'), *bf16]) == 0
    capsys.readouterr()
    js = tmp_path / 'cm.json'
    assert _cli(['confusion-matrix', 'lenet5_digits', lenet_run['checkpoint'], '--out', str(tmp_path / 'cm.png'),
                 '--json', str(js), *bf16]) == 0
    top1 = json.loads(res.read_text())['metrics']['accuracy/top1']
    assert f'top-1 {top1:.2f}% on 364 images (precision bf16, as `fovea test` runs it)' in capsys.readouterr().out
    assert json.loads(js.read_text())['top1'] == pytest.approx(top1)


def test_tools_pick_the_precision_the_runner_picks(monkeypatch, tmp_path):
    """'auto' on bf16 hardware: small models stay fp32 in the Runner, and so in the tools."""
    import fovea.engine.optim_wrapper as ow
    from fovea.config import Config
    from fovea.engine.runner import Runner
    from fovea.tools.results import test_precision
    monkeypatch.setattr(ow, 'bf16_supported', lambda device_type: True)
    for name, expected in (('lenet5_digits', 'fp32'), ('resnet18_8xb16_cifar10', 'bf16')):
        cfg = Config.fromfile(name, [f'work_dir={tmp_path}', 'env_cfg.precision=auto', 'env_cfg.device=cpu'])
        runner = Runner.from_cfg(cfg)
        assert runner.precision == expected == test_precision(cfg, runner.model), name


def test_tsne(lenet_run, tmp_path):
    out, emb = tmp_path / 'tsne.png', tmp_path / 'emb.npz'
    assert _cli(['tsne', 'lenet5_digits', lenet_run['checkpoint'], '--max-num-samples', '120', '--n-iter', '500',
                 '--perplexity', '15', '--out', str(out), '--save-embedding', str(emb)]) == 0
    assert is_png(out)
    d = np.load(emb)
    assert d['points'].shape == (120, 2) and d['features'].shape == (120, 120)
    # the features are the neck's: recompute the first ones in-process
    from fovea.apis import FeatureExtractor
    from fovea.data.datasets import Digits
    fe = FeatureExtractor('lenet5_digits', pretrained=lenet_run['checkpoint'], stage='neck', device='cpu')
    ds = Digits(split='val')
    f = fe([ds.get_data_info(i)['img'] for i in range(3)])
    np.testing.assert_allclose(np.stack([(x[-1] if isinstance(x, tuple) else x).numpy() for x in f]),
                               d['features'][:3], atol=1e-4)
    # trained features cluster by class: nearest neighbour in the embedding mostly shares the label
    p, y = d['points'], d['labels']
    dist = ((p[:, None] - p[None]) ** 2).sum(-1) + np.eye(len(p)) * 1e9
    assert (y[dist.argmin(1)] == y).mean() > 0.7


def test_analyze_results(results_json, tmp_path):
    out_dir = tmp_path / 'ar'
    assert _cli(['analyze-results', 'lenet5_digits', str(results_json), '--out-dir', str(out_dir),
                 '--topk', '6']) == 0
    assert is_png(out_dir / 'success.png') and is_png(out_dir / 'fail.png')
    fails = json.loads((out_dir / 'fail.json').read_text())
    preds = json.loads(results_json.read_text())['predictions']
    wrong = sorted((p for p in preds if p['pred_label'] != p['gt_label']), key=lambda p: -p['pred_score'])
    assert [f['sample_idx'] for f in fails] == [w['sample_idx'] for w in wrong[:6]]
    with pytest.raises(DataError, match='does not exist'):
        from fovea.tools.results import load_results
        load_results(tmp_path / 'missing.json')


def test_browse_dataset_pipeline_mode(photo_dir, tmp_path):
    from PIL import Image
    root = tmp_path / 'photos'
    for cls, names in {'people': ['astronaut.png', 'camera.png'], 'drinks': ['coffee.jpg']}.items():
        (root / cls).mkdir(parents=True)
        for n in names:
            shutil.copy(photo_dir / n, root / cls / n)
    cfg = tmp_path / 'browse_cfg.py'
    cfg.write_text(
        "train_dataloader = dict(batch_size=2, dataset=dict(type='CustomDataset', data_root=%r, pipeline=[\n"
        "    dict(type='LoadImageFromFile'), dict(type='RandomResizedCrop', scale=64),\n"
        "    dict(type='RandomFlip', prob=1.0, direction='horizontal'), dict(type='PackInputs')]))\n" % str(root))
    out = tmp_path / 'pipe.png'
    assert _cli(['browse-dataset', str(cfg), '--mode', 'pipeline', '--num', '3', '--cell', '96',
                 '--out', str(out)]) == 0
    assert is_png(out)
    from fovea.tools.browse import browse_dataset
    from fovea.config import Config
    ds_cfg = Config.fromfile(str(cfg))['train_dataloader']['dataset']
    images, titles, cols, ncols = browse_dataset(ds_cfg, [0, 1], 'pipeline')
    assert cols == ['original', 'RandomResizedCrop', 'RandomFlip'] and ncols == 3 and len(images) == 6
    assert images[1].shape[-2:] == (64, 64)
    assert torch.equal(images[2], images[1].flip(-1))  # prob=1 flip of the crop
    w = Image.open(out).size[0]
    assert w == 3 * (96 + 4) + 4
    images, _, cols, _ = browse_dataset(ds_cfg, [2], 'concat')
    assert cols == ['original', 'transformed'] and images[1].shape[-2:] == (64, 64)


def test_browse_dataset_views_mode_shows_every_pretext_view(photo_dir, tmp_path):
    from fovea.data.transforms.pretext import jigsaw_permutations
    from fovea.tools.browse import browse_dataset
    root = tmp_path / 'photos' / 'all'
    root.mkdir(parents=True)
    for n in ('astronaut.png', 'coffee.jpg'):
        shutil.copy(photo_dir / n, root / n)

    def dataset(*steps):
        return dict(type='CustomDataset', data_root=str(root.parent), with_label=False, pipeline=[
            dict(type='LoadImageFromFile'), dict(type='Resize', scale=72), dict(type='CenterCrop', crop_size=64),
            *steps])
    images, titles, cols, ncols = browse_dataset(dataset(
        dict(type='RandomJigsawWithLabels', num_permutations=10, seed=3, patch_jitter=5),
        dict(type='PackInputs', algorithm_keys=['jigsaw_label'])), [0, 1], 'views')
    assert ncols == 10 and len(images) == 20 and cols[:2] == ['original', 'view 0']
    assert images[1].shape[-2:] == (16, 16)                                 # 21 px cells, 5 px jitter
    grid = ('top-left', 'top', 'top-right', 'left', 'centre', 'right', 'bottom-left', 'bottom', 'bottom-right')
    cells = [t.split(': ')[1] for t in titles[1:10]]
    assert sorted(cells) == sorted(grid)                                     # each cell once, shuffled
    assert [grid.index(c) for c in cells] in jigsaw_permutations(10, 3).tolist()
    images, titles, _, _ = browse_dataset(dataset(dict(type='RandomRotationWithLabels'), dict(type='PackInputs')),
                                          [0], 'views')
    assert titles == ['#0', '0 deg', '90 deg', '180 deg', '270 deg']
    assert torch.equal(images[2], torch.rot90(images[1], 1, dims=(1, 2)))
    images, titles, _, _ = browse_dataset(dataset(
        dict(type='MultiView', num_views=2, transforms=[[dict(type='RandomResizedCrop', scale=32)]]),
        dict(type='PackInputs')), [1], 'views')
    assert titles == ['#1', 'view 0', 'view 1'] and images[2].shape[-2:] == (32, 32)
