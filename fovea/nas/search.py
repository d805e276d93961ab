"""Evolution search of a trained supernet (MMRazor's ``EvolutionSearchLoop``), run by ``fovea search``.

Each epoch fills the pool to ``num_candidates`` with uniformly sampled subnets that meet
``constraints_range``, scores every new one (BatchNorm statistics recalibrated on
``calibrate_sample_num`` training images, then ``score_key`` on ``dataloader``), keeps the ``top_k``
best seen so far and breeds the next pool: ``num_mutation`` subnets that take each layer from a
random subnet with probability ``mutate_prob``, ``num_crossover`` that mix two top-k parents
(``crossover_prob``). MFLOPs are multiply-accumulates at ``flops_input_shape`` (fovea's and
MMRazor's counting), from a per-layer table, so checking a candidate needs no forward pass.

After each epoch ``search_epoch_<n>.json`` (the pools, every score, the generator's state) is
written in the run folder; ``resume_from`` continues from one exactly. At the end the run folder
holds ``best_fix_subnet.yaml`` (MMRazor 1.x format), ``best_subnet.pth`` (the best subnet's sliced
weights, BN recalibrated: the checkpoint of the subnet config's classifier) and
``search_scores.png`` (score against MFLOPs of every candidate evaluated).

Differences from MMRazor: a subnet already scored is not evaluated again (the evaluation is
deterministic: calibration images and augmentations are drawn from a fixed seed), and the top-k
holds distinct subnets.
"""
from __future__ import annotations

import contextlib
import copy
import json
import logging
import random
import time
from pathlib import Path
from typing import Any, Mapping, Sequence

import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from fovea.nas.models.flops import MacsTable
from fovea.nas.models.mutator import NasMutator, write_subnet_yaml
from fovea.utils.errors import CheckpointError, ConfigError

__all__ = ['EvolutionSearchLoop', 'calibrate_bn', 'search_architecture']

_LOOP_KEYS = ('max_epochs', 'max_keep_ckpts', 'resume_from', 'num_candidates', 'top_k', 'num_mutation',
              'num_crossover', 'mutate_prob', 'crossover_prob', 'calibrate_sample_num', 'constraints_range',
              'flops_input_shape', 'score_key', 'init_candidates', 'estimator_cfg', 'predictor_cfg')


@torch.no_grad()
def calibrate_bn(model: nn.Module, loader, num_samples: int, seed: int = 0, autocast=None) -> int:
    """Re-estimate the BatchNorm statistics of the model's current path: the average of the batch
    means and (unbiased) variances of ``num_samples`` training images (MMRazor's ``CalibrateBNMixin``).
    The images and their augmentations come from ``seed``, the same for every candidate. Returns the
    number of images used."""
    bns = [m for m in model.modules() if isinstance(m, _BatchNorm)]
    saved = [(m.momentum, m.training) for m in bns]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative average over the batches
    was_training = model.training
    model.train()
    seen = 0
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            for batch in loader:
                n = len(batch['inputs'])
                if seen + n > num_samples:
                    keep = num_samples - seen
                    batch = dict(batch, inputs=batch['inputs'][:keep], data_samples=batch['data_samples'][:keep])
                    n = keep
                data = model.data_preprocessor(batch, False)
                with (autocast() if autocast else contextlib.nullcontext()):
                    model(**data, mode='tensor')
                seen += n
                if seen >= num_samples:
                    break
    finally:
        for m, (momentum, training) in zip(bns, saved):
            m.momentum = momentum
        model.train(was_training)
    return seen


def _crossover(a: Mapping[str, str], b: Mapping[str, str], prob: float, rng: random.Random) -> dict[str, str]:
    """``a`` with each layer taken from ``b`` with probability ``prob`` (MMRazor's ``crossover``)."""
    return {k: (b[k] if rng.random() < prob else v) for k, v in a.items()}


class EvolutionSearchLoop:
    """The search of ``fovea search`` with MMRazor's ``EvolutionSearchLoop`` arguments.

    Args:
        runner: the Runner built from the search config (model, device, loaders, logging, run folder).
        dataloader / evaluator: what candidates are scored on (MMRazor: the validation set).
        calibrate_sample_num: training images for BatchNorm recalibration per candidate (<= 0: none).
        constraints_range: ``dict(flops=(low, high))`` in MFLOPs (MACs) at ``flops_input_shape``,
            and/or ``params=(low, high)`` in millions.
        seed: of the evolution's generator (default: the runner's seed).
    """

    def __init__(self, runner, dataloader: dict, evaluator: Any, max_epochs: int = 20, max_keep_ckpts: int = 3,
                 resume_from: str | None = None, num_candidates: int = 50, top_k: int = 10,
                 num_mutation: int = 25, num_crossover: int = 25, mutate_prob: float = 0.1,
                 crossover_prob: float = 0.5, calibrate_sample_num: int = -1,
                 constraints_range: Mapping[str, Sequence[float]] = dict(flops=(0., 330.)),
                 flops_input_shape: Sequence[int] = (3, 224, 224), score_key: str = 'accuracy/top1',
                 init_candidates: str | None = None, estimator_cfg: dict | None = None,
                 predictor_cfg: dict | None = None, seed: int | None = None):
        if predictor_cfg is not None:
            raise ConfigError('train_cfg.predictor_cfg: fovea search scores every candidate on the data; '
                              'metric predictors are not implemented, remove the key')
        if estimator_cfg not in (None, {}):
            raise ConfigError('train_cfg.estimator_cfg: fovea counts MFLOPs (MACs) and parameters itself at '
                              'train_cfg.flops_input_shape; remove the key')
        if num_mutation + num_crossover > num_candidates:
            raise ConfigError(f'train_cfg: num_mutation + num_crossover ({num_mutation} + {num_crossover}) must '
                              f'not exceed num_candidates ({num_candidates})')
        if not 0 < top_k <= num_candidates:
            raise ConfigError(f'train_cfg.top_k must be in 1..num_candidates ({num_candidates}), got {top_k}')
        for name, p in (('mutate_prob', mutate_prob), ('crossover_prob', crossover_prob)):
            if not 0. <= p <= 1.:
                raise ConfigError(f'train_cfg.{name} must be in [0, 1], got {p}')
        unknown = [k for k in constraints_range if k not in ('flops', 'params')]
        if unknown:
            raise ConfigError(f'train_cfg.constraints_range: unknown resource {unknown[0]!r}; fovea constrains '
                              f"'flops' (MFLOPs = million MACs) and 'params' (millions)")
        self.runner = runner
        self.logger = runner.logger
        self.max_epochs, self.max_keep_ckpts = int(max_epochs), int(max_keep_ckpts)
        self.num_candidates, self.top_k = int(num_candidates), int(top_k)
        self.num_mutation, self.num_crossover = int(num_mutation), int(num_crossover)
        self.mutate_prob, self.crossover_prob = float(mutate_prob), float(crossover_prob)
        self.calibrate_sample_num = int(calibrate_sample_num)
        self.constraints = {k: (float(v[0]), float(v[1])) for k, v in constraints_range.items()}
        self.score_key = score_key
        self.resume_from = resume_from
        self.seed = int(runner.seed if seed is None else seed)
        self.rng = random.Random(self.seed)

        model = runner.unwrapped_model
        self.model = model
        self.architecture = getattr(model, 'architecture', model)
        self.mutator = getattr(model, 'mutator', None) or NasMutator(self.architecture)
        self.dataloader = runner._build_loader(dataloader, 'train_cfg.dataloader')
        from fovea.evaluation.base import Evaluator
        self.evaluator = evaluator if isinstance(evaluator, Evaluator) else Evaluator(evaluator)
        self.evaluator.dataset_meta = getattr(self.dataloader.dataset, 'metainfo', None)
        self.calib_loader = None
        if self.calibrate_sample_num > 0:
            # workers started afresh for every candidate, seeded from calibrate_bn's fixed seed: the same
            # images and augmentations each time
            self.calib_loader = runner._build_loader(dict(runner._train_loader_cfg, persistent_workers=False),
                                                     'train_dataloader')
        self.table = MacsTable(self.architecture, flops_input_shape)
        self._check_feasible()

        self.epoch = 0
        self.candidates: list[dict[str, str]] = []
        self.top: list[dict[str, str]] = []
        self.history: dict[str, dict] = {}  # encoded subnet -> {score, flops, params, epoch}
        if init_candidates:
            self.candidates = [self.mutator.parse_subnet(c, init_candidates) for c in _read_json(init_candidates)]

    # ------------------------------------------------------------------ resources
    def _check_feasible(self) -> None:
        lo_macs, hi_macs = self.table.bounds()
        if 'flops' in self.constraints:
            lo, hi = self.constraints['flops']
            if lo_macs / 1e6 > hi or hi_macs / 1e6 < lo:
                shape = 'x'.join(str(s) for s in self.table.input_shape[1:])
                raise ConfigError(
                    f'train_cfg.constraints_range.flops=({lo:g}, {hi:g}) MFLOPs: no subnet of this search space meets '
                    f'it; its subnets have {lo_macs / 1e6:.1f} to {hi_macs / 1e6:.1f} MFLOPs (MACs) at {shape} px. '
                    f'Raise the budget, or check flops_input_shape.')
        if 'params' in self.constraints:
            lo, hi = self.constraints['params']
            per = self.table.per_layer_params.values()
            p_lo = (self.table.base_params + sum(min(v.values()) for v in per)) / 1e6
            p_hi = (self.table.base_params + sum(max(v.values()) for v in per)) / 1e6
            if p_lo > hi or p_hi < lo:
                raise ConfigError(f'train_cfg.constraints_range.params=({lo:g}, {hi:g}) M: no subnet of this search '
                                  f'space meets it; its subnets have {p_lo:.2f} to {p_hi:.2f} M parameters.')

    def resources(self, choices: Mapping[str, str]) -> dict[str, float]:
        return dict(flops=self.table.macs(choices) / 1e6, params=self.table.params(choices) / 1e6)

    def meets(self, choices: Mapping[str, str]) -> bool:
        res = self.resources(choices)
        return all(lo <= res[k] <= hi for k, (lo, hi) in self.constraints.items())

    def _key(self, choices: Mapping[str, str]) -> str:
        return ','.join(str(i) for i in self.mutator.encode(choices))

    # ------------------------------------------------------------------ scoring
    @torch.no_grad()
    def score(self, choices: Mapping[str, str]) -> float:
        """``score_key`` of the subnet (rounded to 2 decimals as MMRazor), BN recalibrated first."""
        key = self._key(choices)
        if key in self.history:
            return self.history[key]['score']
        self.mutator.set_choices(choices)
        if self.calib_loader is not None:
            calibrate_bn(self.model, self.calib_loader, self.calibrate_sample_num, self.seed, self.runner.autocast)
        model = self.model
        model.eval()
        for batch in self.dataloader:
            with self.runner.autocast():
                outputs = model.val_step(batch)
            self.evaluator.process(outputs, batch)
        metrics = self.evaluator.evaluate(len(self.dataloader.dataset))
        if self.score_key not in metrics:
            raise ConfigError(f'train_cfg.score_key={self.score_key!r} is not a metric of the evaluator; it gives '
                              f'{", ".join(metrics)}')
        score = round(float(metrics[self.score_key]), 2)
        self.history[key] = dict(score=score, epoch=self.epoch + 1, **self.resources(choices))
        return score

    # ------------------------------------------------------------------ evolution
    def _sample_feasible(self, max_tries: int = 100_000) -> dict[str, str]:
        for _ in range(max_tries):
            c = self.mutator.sample_choices(self.rng)
            if self.meets(c):
                return c
        raise ConfigError(f'train_cfg.constraints_range={self.constraints}: {max_tries} uniformly sampled subnets '
                          f'missed it; the budget is met by almost no subnet of this space, widen it')

    def _breed(self, count: int, make) -> list[dict[str, str]]:
        out, tries = [], 0
        while len(out) < count and tries < count * 10:
            tries += 1
            c = make()
            if self.meets(c):
                out.append(c)
        return out

    def run_epoch(self) -> None:
        while len(self.candidates) < self.num_candidates:
            self.candidates.append(self._sample_feasible())
        start = time.time()
        for i, c in enumerate(self.candidates):
            cached = self._key(c) in self.history
            s = self.score(c)
            res = self.resources(c)
            self.logger.info(f'Epoch [{self.epoch + 1}/{self.max_epochs}] Candidate [{i + 1}/{len(self.candidates)}] '
                             f'MFLOPs {res["flops"]:.2f} params {res["params"]:.3f}M score {s:.2f}'
                             f'{" (scored before)" if cached else ""}  {time.time() - start:.0f}s')
        pool, seen = [], set()
        for c in self.candidates + self.top:
            k = self._key(c)
            if k not in seen:
                seen.add(k)
                pool.append(c)
        pool.sort(key=lambda c: self.history[self._key(c)]['score'], reverse=True)  # stable: ties keep order
        self.top = pool[:self.top_k]
        self.logger.info(f'Epoch [{self.epoch + 1}/{self.max_epochs}] top {len(self.top)} scores: '
                         f'{[self.history[self._key(c)]["score"] for c in self.top]}')
        mutations = self._breed(self.num_mutation, lambda: _crossover(
            self.rng.choice(self.top), self.mutator.sample_choices(self.rng), self.mutate_prob, self.rng))
        crossovers = self._breed(self.num_crossover, lambda: _crossover(
            self.rng.choice(self.top), self.rng.choice(self.top), self.crossover_prob, self.rng))
        self.candidates = mutations + crossovers
        self.epoch += 1

    # ------------------------------------------------------------------ state
    def state(self) -> dict:
        version, internal, gauss = self.rng.getstate()
        return dict(epoch=self.epoch, seed=self.seed, layers=self.mutator.names,
                    candidates=[self.mutator.encode(c) for c in self.candidates],
                    top=[self.mutator.encode(c) for c in self.top],
                    history=self.history, rng=[version, list(internal), gauss],
                    settings=dict(num_candidates=self.num_candidates, top_k=self.top_k,
                                  constraints_range={k: list(v) for k, v in self.constraints.items()},
                                  score_key=self.score_key, calibrate_sample_num=self.calibrate_sample_num,
                                  flops_input_shape=list(self.table.input_shape)))

    def load_state(self, path: str | Path) -> None:
        state = _read_json(path)
        if not isinstance(state, dict) or 'epoch' not in state or 'layers' not in state:
            raise CheckpointError(f'{path} is not a search checkpoint (search_epoch_<n>.json of `fovea search`)')
        if state['layers'] != self.mutator.names:
            raise CheckpointError(f'{path} was written for another search space ({len(state["layers"])} layers, '
                                  f'{state["layers"][0]} ...) than this config\'s ({len(self.mutator.names)} layers)')
        self.epoch = int(state['epoch'])
        self.candidates = [self.mutator.decode(c) for c in state['candidates']]
        self.top = [self.mutator.decode(c) for c in state['top']]
        self.history = dict(state['history'])
        version, internal, gauss = state['rng']
        self.rng.setstate((version, tuple(internal), gauss))
        self.logger.info(f'Resumed the search from {path} after epoch {self.epoch}')

    def _save_state(self) -> Path:
        from fovea.utils.io import atomic_write_text
        run_dir = Path(self.runner.run_dir)
        path = run_dir / f'search_epoch_{self.epoch}.json'
        atomic_write_text(path, json.dumps(self.state()))
        if self.max_keep_ckpts > 0:
            for old in range(1, self.epoch - self.max_keep_ckpts + 1):
                (run_dir / f'search_epoch_{old}.json').unlink(missing_ok=True)
        return path

    # ------------------------------------------------------------------ run
    def run(self) -> dict:
        if self.resume_from:
            self.load_state(self.resume_from)
        self.logger.info(f'Evolution search: {len(self.mutator.names)} layers, {self.mutator.search_space_size:.3g} '
                         f'subnets, constraints {self.constraints}, seed {self.seed}')
        while self.epoch < self.max_epochs:
            self.run_epoch()
            path = self._save_state()
            best = self.history[self._key(self.top[0])]
            self.logger.info(f'Epoch [{self.epoch}/{self.max_epochs}] best {self.score_key} {best["score"]:.2f} at '
                             f'{best["flops"]:.1f} MFLOPs; saved {path.name}')
        return self.export_best()

    def export_best(self) -> dict:
        """Write best_fix_subnet.yaml, best_subnet.pth and search_scores.png into the run folder."""
        from fovea.engine.checkpoint import save_checkpoint
        run_dir = Path(self.runner.run_dir)
        best = self.top[0]
        self.mutator.set_choices(best)
        if self.calib_loader is not None:
            calibrate_bn(self.model, self.calib_loader, self.calibrate_sample_num, self.seed, self.runner.autocast)
        yaml_path = run_dir / 'best_fix_subnet.yaml'
        write_subnet_yaml(best, yaml_path)
        subnet = copy.deepcopy(self.architecture)
        NasMutator(subnet).fix_choices(best)
        ckpt_path = run_dir / 'best_subnet.pth'
        info = dict(self.history[self._key(best)], subnet=dict(best))
        save_checkpoint({'state_dict': {k: v.detach().cpu() for k, v in subnet.state_dict().items()},
                         'meta': dict(search=info)}, ckpt_path)
        plot_path = run_dir / 'search_scores.png'
        plot_scores(self.history, self._key(best), self.constraints.get('flops'), self.score_key, plot_path)
        self.logger.info(f'Best subnet: {self.score_key} {info["score"]:.2f}, {info["flops"]:.1f} MFLOPs, '
                         f'{info["params"]:.2f} M params -> {yaml_path}, {ckpt_path}, {plot_path}')
        return dict(info, yaml=str(yaml_path), checkpoint=str(ckpt_path), plot=str(plot_path))


def plot_scores(history: Mapping[str, dict], best: str, budget: Sequence[float] | None, score_key: str,
                path: str | Path) -> None:
    """Score against MFLOPs of every candidate evaluated, coloured by search epoch, the best starred."""
    from fovea.utils.errors import require
    require('matplotlib', 'tools', 'the search score plot')
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    from fovea.utils.io import atomic_save
    rows = list(history.values())
    fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
    sc = ax.scatter([r['flops'] for r in rows], [r['score'] for r in rows], c=[r['epoch'] for r in rows],
                    cmap='viridis', s=14)
    fig.colorbar(sc, ax=ax, label='search epoch')
    ax.scatter([history[best]['flops']], [history[best]['score']], marker='*', s=160, c='red', label='best')
    if budget is not None and budget[1] <= 1.2 * max(r['flops'] for r in rows):
        ax.axvline(budget[1], color='grey', linestyle='--', label='FLOPs budget')
    ax.set_xlabel('MFLOPs (MACs)')
    ax.set_ylabel(score_key)
    ax.legend(loc='lower right')
    ax.set_title(f'{len(rows)} subnets evaluated')
    fig.tight_layout()
    atomic_save(path, lambda f: fig.savefig(f, format='png'))
    plt.close(fig)


def _read_json(path: str | Path) -> Any:
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f'{path} does not exist')
    try:
        return json.loads(path.read_text(encoding='utf-8'))
    except json.JSONDecodeError as exc:
        raise CheckpointError(f'{path} is not valid JSON: {exc}') from None


def find_search_state(work_dir: str | Path) -> Path | None:
    """The newest search_epoch_<n>.json under ``work_dir`` (its run folders), for ``--resume auto``."""
    found = sorted(Path(work_dir).glob('*/search_epoch_*.json'),
                   key=lambda p: (p.stat().st_mtime, int(p.stem.rsplit('_', 1)[1])))
    return found[-1] if found else None


def search_architecture(cfg, checkpoint: str | None, resume: str | None = None,
                        calibrate_samples: int | None = None, logger: logging.Logger | None = None) -> dict:
    """``fovea search``: build the runner from ``cfg``, load the supernet, run the config's
    ``train_cfg`` (type ``EvolutionSearchLoop``) and export the best subnet."""
    from fovea.engine.runner import Runner
    from fovea.models.weights import load_weights
    from fovea.utils.weights import read_weights
    loop_cfg = dict(cfg.get('train_cfg') or {})
    kind = str(loop_cfg.pop('type', '')).split('.')[-1]
    if kind != 'EvolutionSearchLoop':
        raise ConfigError(f"{getattr(cfg, 'filename', 'the config')}: train_cfg.type must be 'EvolutionSearchLoop' "
                          f"for `fovea search` (got {kind or 'none'}); search configs set train_cfg = dict("
                          f"_delete_=True, type='EvolutionSearchLoop', dataloader=..., evaluator=..., ...), see "
                          f"spos_shufflenet_search_8xb128_in1k.py")
    unknown = [k for k in loop_cfg if k not in (*_LOOP_KEYS, 'dataloader', 'evaluator', 'seed')]
    if unknown:
        from fovea.utils.errors import did_you_mean
        raise ConfigError(f'train_cfg.{unknown[0]} is not an EvolutionSearchLoop argument.'
                          f'{did_you_mean(unknown[0], _LOOP_KEYS)}')
    if calibrate_samples is not None:
        loop_cfg['calibrate_sample_num'] = calibrate_samples
    if not checkpoint:
        raise ConfigError('fovea search needs --checkpoint SUPERNET.pth (the weights `fovea train` wrote for the '
                          'supernet config)')
    cfg['load_from'], cfg['resume'] = None, False
    runner = Runner.from_cfg(cfg)
    runner._prepare_run_dir()
    if resume == 'auto':
        resume = find_search_state(runner.work_dir)
        if resume is None:
            runner.logger.info(f'--resume auto: no search_epoch_*.json under {runner.work_dir}; starting afresh')
    try:
        report = load_weights(runner.unwrapped_model, read_weights(checkpoint), require_all=True)
    except CheckpointError as exc:
        raise CheckpointError(f'--checkpoint {checkpoint} does not match the search space of '
                              f'{getattr(cfg, "filename", "the config")}: {exc}') from None
    runner.logger.info(f'Supernet weights from {checkpoint}: {report}')
    loop = EvolutionSearchLoop(runner, **{**loop_cfg, 'resume_from': str(resume) if resume else None})
    return loop.run()
