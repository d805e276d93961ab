"""A tiny SPOS set-up for the NAS tests: a folder of 16 px images of 2 learnable classes and a narrow
search space (2 stages of 2 one-shot layers, 3 candidates), built as configs the Runner runs."""
from __future__ import annotations

from pathlib import Path

import numpy as np

CANDIDATES = dict(
    shuffle_3x3=dict(type='ShuffleBlock', kernel_size=3),
    shuffle_5x5=dict(type='ShuffleBlock', kernel_size=5),
    shuffle_xception=dict(type='ShuffleXception'))


def make_image_folder(root: Path, per_class: int = 12, size: int = 16) -> Path:
    """train/ and test/ with classes 'dark' and 'light' (noisy images of two brightness levels)."""
    from PIL import Image
    rng = np.random.default_rng(0)
    for split in ('train', 'test'):
        for c, (name, level) in enumerate((('dark', 70), ('light', 180))):
            d = root / split / name
            d.mkdir(parents=True, exist_ok=True)
            for i in range(per_class):
                img = np.clip(rng.normal(level, 40, (size, size, 3)), 0, 255).astype(np.uint8)
                Image.fromarray(img).save(d / f'{i}.png')
    return root


def supernet_cfg(data_root: Path, work_dir: Path, max_iters: int = 6, arch: list | None = None) -> dict:
    mutable = dict(type='OneShotMutableOP', candidates=CANDIDATES)
    pipeline = [dict(type='LoadImageFromFile'), dict(type='PackInputs')]
    ds = dict(type='CustomDataset', data_root=str(data_root), metainfo=dict(classes=('dark', 'light')),
              pipeline=pipeline)
    return dict(
        model=dict(type='SPOS', architecture=dict(
            type='ImageClassifier',
            backbone=dict(type='SearchableShuffleNetV2', stem_stride=1, last_channels=32,
                          arch_setting=arch or [[16, 2, mutable], [32, 2, mutable]]),
            neck=dict(type='GlobalAveragePooling'),
            head=dict(type='LinearClsHead', num_classes=2, in_channels=32, topk=(1,)),
            data_preprocessor=dict(num_classes=2, mean=[127.5] * 3, std=[64.] * 3))),
        work_dir=str(work_dir),
        train_dataloader=dict(batch_size=8, num_workers=0, dataset=dict(ds, data_prefix='train'),
                              sampler=dict(type='DefaultSampler', shuffle=True)),
        val_dataloader=dict(batch_size=16, num_workers=0, dataset=dict(ds, data_prefix='test', test_mode=True),
                            sampler=dict(type='DefaultSampler', shuffle=False)),
        val_evaluator=dict(type='Accuracy', topk=(1,)),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.05, momentum=0.9, weight_decay=4e-5),
                           paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0)),
        train_cfg=dict(by_epoch=False, max_iters=max_iters, val_interval=10_000),
        default_hooks=dict(logger=dict(type='LoggerHook', interval=100),
                           checkpoint=dict(type='CheckpointHook', interval=max_iters, by_epoch=False)),
        env_cfg=dict(device='cpu', precision='fp32'),
        randomness=dict(seed=0),
    )


def search_cfg(base: dict, **loop) -> dict:
    cfg = dict(base)
    cfg['train_cfg'] = dict(type='EvolutionSearchLoop', dataloader=base['val_dataloader'],
                            evaluator=base['val_evaluator'], max_epochs=2, num_candidates=4, top_k=2,
                            num_mutation=2, num_crossover=2, mutate_prob=0.1, crossover_prob=0.5,
                            calibrate_sample_num=8, constraints_range=dict(flops=(0., 1000.)),
                            flops_input_shape=(3, 16, 16), score_key='accuracy/top1')
    cfg['train_cfg'].update(loop)
    return cfg
