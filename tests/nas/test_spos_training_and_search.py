"""SPOS end to end on tiny data: supernet training samples one path per optimizer step (through the
training-step contract, resumable), `fovea search` is deterministic under a seed, resumes from its
per-epoch checkpoint, writes the YAML / sliced weights / plot, and refuses bad budgets and checkpoints;
the searched subnet is an ordinary classifier (test, flops)."""
from __future__ import annotations

import glob
import json
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))
from nas_testutil import make_image_folder, search_cfg, supernet_cfg  # noqa: E402

from fovea.config import Config  # noqa: E402
from fovea.engine.runner import Runner  # noqa: E402
from fovea.utils.errors import CheckpointError, ConfigError  # noqa: E402


@pytest.fixture(scope='module')
def data_root(tmp_path_factory):
    return make_image_folder(tmp_path_factory.mktemp('spos_data'))


def _train(cfg: dict) -> tuple[Runner, list]:
    runner = Runner.from_cfg(Config(cfg))
    model = runner.unwrapped_model
    paths = []
    original = model.loss

    def recording_loss(inputs, data_samples):
        out = original(inputs, data_samples)
        paths.append(tuple(model.mutator.current_choices.values()))
        return out

    model.loss = recording_loss
    runner.train()
    return runner, paths


@pytest.fixture(scope='module')
def supernet(data_root, tmp_path_factory):
    """A supernet trained 6 steps; its checkpoint and the path of every step."""
    runner, paths = _train(supernet_cfg(data_root, tmp_path_factory.mktemp('supernet'), max_iters=6))
    ckpt = sorted(glob.glob(str(Path(runner.run_dir) / 'iter_*.pth')))[-1]
    return dict(runner=runner, paths=paths, checkpoint=ckpt)


def test_one_path_per_optimizer_step_drawn_after_each_update(supernet):
    model, paths = supernet['runner'].unwrapped_model, supernet['paths']
    assert len(paths) == 6 and len(set(paths)) > 1  # a new uniform path per step
    expected = [tuple(model.sample_path(step).values()) for step in range(6)]
    assert paths == expected  # step s trains the path drawn for s (after the update of step s - 1)
    assert int(model.path_step) == 6


def test_supernet_trains_channels_last_like_its_backbone(supernet):
    # the Runner reads `prefers_channels_last` from model.backbone; SPOS exposes its architecture's
    # (ShuffleNet layers run ~1.5x faster channels-last on CPU)
    runner = supernet['runner']
    assert runner.unwrapped_model.backbone is runner.unwrapped_model.architecture.backbone
    assert runner.channels_last


def test_accumulation_micro_steps_share_the_path(data_root, tmp_path):
    cfg = supernet_cfg(data_root, tmp_path, max_iters=4)
    cfg['optim_wrapper']['accumulative_counts'] = 2
    _, paths = _train(cfg)
    assert paths[0] == paths[1] and paths[2] == paths[3] and paths[1] != paths[2]


def test_resumed_supernet_training_draws_the_same_paths(data_root, tmp_path, supernet):
    cfg = supernet_cfg(data_root, tmp_path, max_iters=6)
    cfg['default_hooks']['checkpoint'] = dict(type='CheckpointHook', interval=3, by_epoch=False)
    first, _ = _train(dict(cfg, train_cfg=dict(cfg['train_cfg'], max_iters=3)))
    cfg['resume'] = True
    resumed, paths = _train(cfg)
    assert paths == supernet['paths'][3:]
    for (k, a), b in zip(supernet['runner'].unwrapped_model.state_dict().items(),
                         resumed.unwrapped_model.state_dict().values()):
        torch.testing.assert_close(a, b, msg=k)


def _search(data_root, work: Path, checkpoint: str, **loop):
    from fovea.nas.search import search_architecture
    return search_architecture(Config(search_cfg(supernet_cfg(data_root, work), **loop)), checkpoint)


def test_search_is_deterministic_and_writes_yaml_weights_and_plot(data_root, tmp_path, supernet):
    a = _search(data_root, tmp_path / 'a', supernet['checkpoint'])
    b = _search(data_root, tmp_path / 'b', supernet['checkpoint'])
    assert a['subnet'] == b['subnet'] and a['score'] == b['score']
    run_a, run_b = Path(a['yaml']).parent, Path(b['yaml']).parent
    ha = json.loads((run_a / 'search_epoch_2.json').read_text())
    hb = json.loads((run_b / 'search_epoch_2.json').read_text())
    assert ha['history'] == hb['history'] and len(ha['history']) >= 4
    assert Path(a['yaml']).read_text() == Path(b['yaml']).read_text()
    assert Path(a['plot']).read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    best = max(h['score'] for h in ha['history'].values())
    assert a['score'] == best
    # a different seed explores other subnets
    c = _search(data_root, tmp_path / 'c', supernet['checkpoint'], seed=123)
    hc = json.loads((Path(c['yaml']).parent / 'search_epoch_2.json').read_text())
    assert hc['history'].keys() != ha['history'].keys()

    # the subnet config: sub_model of the YAML, the sliced weights load exactly, `test` runs on it
    cfg = supernet_cfg(data_root, tmp_path / 'sub')
    cfg['model'] = dict(type='sub_model', cfg=cfg['model']['architecture'], fix_subnet=a['yaml'])
    cfg['test_dataloader'], cfg['test_evaluator'] = cfg['val_dataloader'], cfg['val_evaluator']
    cfg['load_from'] = a['checkpoint']
    metrics = Runner.from_cfg(Config(cfg)).test()
    # the sliced weights hold the BN statistics recalibrated for the best subnet, so its score is reproduced
    assert metrics['accuracy/top1'] == pytest.approx(a['score'], abs=0.01)


@pytest.mark.slow
def test_search_resumes_from_its_epoch_checkpoint(data_root, tmp_path, supernet):
    full = _search(data_root, tmp_path / 'full', supernet['checkpoint'], max_epochs=3)
    part = _search(data_root, tmp_path / 'part', supernet['checkpoint'], max_epochs=1)
    state = Path(part['yaml']).parent / 'search_epoch_1.json'
    resumed = _search(data_root, tmp_path / 'resumed', supernet['checkpoint'], max_epochs=3, resume_from=str(state))
    assert resumed['subnet'] == full['subnet']
    h_full = json.loads((Path(full['yaml']).parent / 'search_epoch_3.json').read_text())['history']
    h_res = json.loads((Path(resumed['yaml']).parent / 'search_epoch_3.json').read_text())['history']
    assert h_full == h_res


def test_infeasible_budget_is_a_clear_error(data_root, tmp_path, supernet):
    with pytest.raises(ConfigError, match=r'flops=\(0, 0.01\) MFLOPs: no subnet of this search space meets it; '
                                          r'its subnets have 0.2\d* to 0.3\d* MFLOPs'):
        _search(data_root, tmp_path, supernet['checkpoint'], constraints_range=dict(flops=(0., 0.01)))


def test_supernet_checkpoint_of_another_space_is_a_clear_error(data_root, tmp_path, supernet):
    from fovea.nas.search import search_architecture
    layer = dict(type='OneShotMutableOP', candidates=dict(shuffle_7x7=dict(type='ShuffleBlock', kernel_size=7)))
    other = search_cfg(supernet_cfg(data_root, tmp_path, arch=[[16, 2, layer], [32, 2, layer]]))
    with pytest.raises(CheckpointError, match=r'does not match the search space of .*shuffle_7x7'):
        search_architecture(Config(other), supernet['checkpoint'])


def test_search_cli_and_flops_of_the_subnet(data_root, tmp_path, supernet, capsys, caplog):
    from fovea.cli.main import main
    cfg_path = tmp_path / 'search.json'
    cfg_path.write_text(json.dumps(search_cfg(supernet_cfg(data_root, tmp_path / 'w'), max_epochs=1)))
    with pytest.raises(SystemExit) as exit_info:
        main(['search', str(cfg_path), '--checkpoint', supernet['checkpoint'], '--calibrate-samples', '8'])
    out = capsys.readouterr().out
    assert exit_info.value.code == 0 and 'subnet YAML:' in out and 'MFLOPs' in out
    assert 'calibrate_sample_num' not in out
    # --resume (no value): the newest search_epoch_<n>.json under the work dir; the search had ended
    with pytest.raises(SystemExit) as exit_info:
        main(['search', str(cfg_path), '--checkpoint', supernet['checkpoint'], '--resume'])
    assert exit_info.value.code == 0 and 'Best subnet' in capsys.readouterr().out
    assert 'Resumed the search from' in caplog.text and 'search_epoch_1.json after epoch 1' in caplog.text
    with pytest.raises(SystemExit) as exit_info:
        main(['search', str(cfg_path), '--checkpoint', str(tmp_path / 'missing.pth')])
    assert exit_info.value.code == 1 and 'missing.pth' in capsys.readouterr().err
    # the shipped subnet config through `fovea flops`
    with pytest.raises(SystemExit) as exit_info:
        main(['flops', 'spos_shufflenet_subnet_8xb128_in1k', '--depth', '0'])
    assert exit_info.value.code == 0 and '3.35' in capsys.readouterr().out


def test_searched_subnet_exports_and_inits_from_supernet_weights(data_root, tmp_path, supernet, capsys):
    """The subnet config (sub_model of a YAML) exports like any classifier; initialised from the supernet
    checkpoint (prefix 'architecture.') it computes what the supernet computes on that path."""
    from fovea.cli.main import main
    from fovea.nas.models import write_subnet_yaml
    from fovea.registry import MODELS
    sup = supernet['runner'].unwrapped_model
    choices = sup.sample_path(123)
    write_subnet_yaml(choices, tmp_path / 'subnet.yaml')
    cfg = supernet_cfg(data_root, tmp_path / 'w')
    arch = cfg['model']['architecture']
    cfg['model'] = dict(type='sub_model', cfg=arch, fix_subnet=str(tmp_path / 'subnet.yaml'),
                        init_cfg=dict(type='Pretrained', checkpoint=supernet['checkpoint'], prefix='architecture.'))
    sub = MODELS.build(cfg['model'])
    sub.init_weights()
    loaded = Runner.from_cfg(Config(supernet_cfg(data_root, tmp_path / 'v'))).unwrapped_model
    from fovea.models.weights import load_weights
    load_weights(loaded, supernet['checkpoint'], require_all=True)
    loaded.mutator.set_choices(choices)
    loaded.eval(), sub.eval()
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        torch.testing.assert_close(sub(x, mode='tensor'), loaded(x, mode='tensor'))
    cfg_path = tmp_path / 'subnet.json'
    del cfg['model']['init_cfg']
    cfg_path.write_text(json.dumps(cfg))
    torch.save({'state_dict': sub.state_dict()}, tmp_path / 'sub.pth')
    with pytest.raises(SystemExit) as exit_info:
        main(['export', str(cfg_path), '--checkpoint', str(tmp_path / 'sub.pth'), '--format', 'torchscript',
              '--out', str(tmp_path / 'sub.pt'), '--shape', '16'])
    assert exit_info.value.code == 0 and 'max |diff| = 0' in capsys.readouterr().out
    torch.testing.assert_close(torch.jit.load(str(tmp_path / 'sub.pt'))(x), sub(x, mode='tensor'))


def test_flops_bin_sampler_spreads_paths_over_the_flops_range():
    """On the SPOS ShuffleNetV2 space (269..398 MMACs), uniform paths crowd the middle; the FLOPs-bin
    sampler gives each of 3 bins of (300, 360) about a third of the paths."""
    import collections
    import random
    from fovea.nas.models import FlopsBinSampler, MacsTable, NasMutator, UniformSampler
    from fovea.registry import MODELS
    with torch.device('meta'):
        model = MODELS.build(dict(type='ImageClassifier', backbone=dict(type='SearchableShuffleNetV2'),
                                  neck=dict(type='GlobalAveragePooling'),
                                  head=dict(type='LinearClsHead', num_classes=1000, in_channels=1024)))
    mutator, table, rng = NasMutator(model), MacsTable(model), random.Random(0)
    sampler = FlopsBinSampler(flops_range=(300, 360), num_bins=3)
    sampler.prepare(model, table)

    def bins(sample) -> collections.Counter:
        flops = [table.macs(sample(mutator, rng, model)) / 1e6 for _ in range(150)]
        return collections.Counter(int((f - 300) // 20) if 300 <= f < 360 else 'out' for f in flops)
    binned, uniform = bins(sampler), bins(UniformSampler())
    assert 'out' not in binned and min(binned.values()) >= 35
    assert uniform[2] < 25 and uniform[1] > 70
    with pytest.raises(ConfigError, match=r'contains no subnet: the space spans 269.4..397.6 MMACs'):
        FlopsBinSampler(flops_range=(0, 100)).prepare(model, table)


def test_supernet_config_is_mmrazors_recipe():
    cfg = Config.fromfile('spos_shufflenet_supernet_8xb128_in1k')
    assert cfg.optim_wrapper.optimizer == dict(type='SGD', lr=0.5, momentum=0.9, weight_decay=4e-5)
    assert cfg.optim_wrapper.paramwise_cfg == dict(bias_decay_mult=0.0, norm_decay_mult=0.0, dwconv_decay_mult=0.0)
    assert cfg.param_scheduler == dict(type='PolyLR', power=1.0, eta_min=0.0, by_epoch=True, end=300,
                                       convert_to_iter_based=True)
    assert cfg.train_dataloader.batch_size * 8 == cfg.auto_scale_lr.base_batch_size == 1024
    assert cfg.model.architecture.head.loss.label_smooth_val == 0.1
    # the parameter groups: no decay on norms, biases and depthwise convolutions
    from fovea.engine.optim_constructor import build_optim_wrapper
    from fovea.registry import MODELS
    model = MODELS.build(dict(cfg.model_cfg(), architecture=dict(
        cfg.model_cfg()['architecture'], backbone=dict(type='SearchableShuffleNetV2', widen_factor=0.25,
                                                       last_channels=1024))))
    wrapper = build_optim_wrapper(model, cfg.to_dict()['optim_wrapper'])
    decay = {id(p) for g in wrapper.optimizer.param_groups if g['weight_decay'] > 0 for p in g['params']}
    named = dict(model.named_parameters())
    dw = model.architecture.backbone.layers[0][1]._candidates['shuffle_3x3'].branch2[1].conv.weight
    assert id(dw) not in decay and id(named['architecture.head.fc.bias']) not in decay
    assert id(named['architecture.backbone.conv1.bn.weight']) not in decay
    assert id(named['architecture.head.fc.weight']) in decay and id(named['architecture.backbone.conv1.conv.weight']) in decay


def _ddp_worker(rank, world, port, data_root, work_dir):
    import torch.distributed as dist
    from dist_testutil import init_gloo
    init_gloo(rank, world, port)
    cfg = supernet_cfg(Path(data_root), Path(work_dir), max_iters=4)
    cfg['env_cfg'] = dict(cfg['env_cfg'], find_unused_parameters=True, dist_cfg=dict(backend='gloo'))
    cfg['train_dataloader']['batch_size'] = 4
    runner, paths = _train(cfg)
    assert isinstance(runner.model, torch.nn.parallel.DistributedDataParallel)
    # parameters (BN running statistics are each rank's own, as in any DDP run without SyncBN)
    flat = torch.cat([p.detach().flatten() for p in runner.unwrapped_model.parameters()])
    gathered = [torch.zeros_like(flat) for _ in range(world)]
    dist.all_gather(gathered, flat)
    assert torch.equal(gathered[0], gathered[1]), 'the ranks diverged: gradients were not all-reduced'
    all_paths = [None] * world
    dist.all_gather_object(all_paths, paths)
    assert all_paths[0] == all_paths[1] and len(set(paths)) > 1
    if rank == 0:
        (Path(work_dir) / 'paths.json').write_text(json.dumps(paths))
    dist.destroy_process_group()


@pytest.mark.slow
def test_supernet_under_ddp_trains_the_same_path_on_every_rank(data_root, tmp_path):
    import torch.multiprocessing as mp
    sys.path.insert(0, str(Path(__file__).parents[1]))
    from dist_testutil import free_port
    mp.spawn(_ddp_worker, args=(2, free_port(), str(data_root), str(tmp_path)), nprocs=2, join=True)
    _, single = _train(supernet_cfg(data_root, tmp_path / 'single', max_iters=4))
    assert [list(p) for p in single] == json.loads((tmp_path / 'paths.json').read_text())
