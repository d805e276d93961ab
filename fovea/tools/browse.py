"""Look at a dataset as its pipeline produces it: grids of samples, optionally one column per step."""
from __future__ import annotations

import copy
from typing import Any, Sequence

import torch

__all__ = ['pipeline_steps', 'browse_dataset', 'MODES']

MODES = ('original', 'transformed', 'concat', 'pipeline', 'views')


def _raw_views(results: Any) -> list[Any]:
    """The sample's image, or every view a MultiView / pretext transform made of it (not converted)."""
    img = results.get('img', results.get('inputs')) if isinstance(results, dict) else None
    if img is None:
        return []
    return list(img) if isinstance(img, (list, tuple)) else [img]


def _image_of(results: Any) -> torch.Tensor | None:
    """The image (multi-view pipelines: the first view) as a tensor."""
    from fovea.data.transforms.formatting import to_tensor
    views = _raw_views(results)
    return to_tensor(views[0]) if views else None


def _views_of(results: Any) -> list[torch.Tensor]:
    """Every view of a (multi-view) sample as tensors."""
    from fovea.data.transforms.formatting import to_tensor
    return [to_tensor(v) for v in _raw_views(results)]


_GRID_NAMES = ('top-left', 'top', 'top-right', 'left', 'centre', 'right', 'bottom-left', 'bottom', 'bottom-right')


def _view_titles(results: dict, steps: list[tuple[str, Any]], n: int) -> list[str]:
    """What each view is: the rotation, the grid cell of a patch or jigsaw tile, or its number."""
    if 'rot_label' in results:
        return [f'{90 * int(k)} deg' for k in results['rot_label']][:n]
    if 'jigsaw_label' in results:
        perms = next((getattr(t, '_perms', None) for _, t in steps if hasattr(t, '_perms')), None)
        if perms is not None:
            return [f'tile {k}: {_GRID_NAMES[int(c)]}' for k, c in enumerate(perms[int(results['jigsaw_label'])])][:n]
    if 'patch_label' in results and n == len(_GRID_NAMES):
        return list(_GRID_NAMES)
    return [f'view {k}' for k in range(n)]


def pipeline_steps(dataset_cfg: dict) -> tuple[Any, list[tuple[str, Any]]]:
    """(dataset built without a pipeline, [(step name, transform), ...] of its configured pipeline)."""
    from fovea.registry import DATASETS, TRANSFORMS, build
    cfg = copy.deepcopy(dict(dataset_cfg))
    steps_cfg = list(cfg.get('pipeline') or [])
    cfg['pipeline'] = []
    dataset = DATASETS.build(cfg, key='dataset')
    steps = []
    for i, t in enumerate(steps_cfg):
        name = str(t.get('type', type(t).__name__)).split('.')[-1] if isinstance(t, dict) else type(t).__name__
        steps.append((name, build(t, TRANSFORMS, key=f'pipeline.{i}') if isinstance(t, dict) else t))
    return dataset, steps


def browse_dataset(dataset_cfg: dict, indices: Sequence[int], mode: str = 'transformed', seed: int = 0
                   ) -> tuple[list[torch.Tensor], list[str], list[str], int]:
    """Images for a grid: (images, per-image titles, column titles, number of columns).

    ``original``: the loaded images; ``transformed``: after the whole pipeline; ``concat``: both side
    by side; ``pipeline``: the image after every step (steps that do not change the image are skipped);
    ``views``: the loaded image, then every view the pipeline made of it (the crops of a multi-view
    pipeline, the rotations, patches or jigsaw tiles of a pretext task), titled by what each is.
    """
    if mode not in MODES:
        raise ValueError(f'mode must be one of {MODES}, got {mode!r}')
    torch.manual_seed(seed)
    dataset, steps = pipeline_steps(dataset_cfg)
    classes = list(dataset.metainfo.get('classes') or [])
    images, titles, columns = [], [], None
    for idx in indices:
        results = dataset.get_data_info(idx)
        label = results.get('gt_label')
        tag = f'#{idx}' + ('' if label is None else ' ' + (
            classes[label] if isinstance(label, int) and label < len(classes) else str(label)))
        row: list[tuple[str, torch.Tensor]] = []
        original = _image_of(results)
        if original is not None:
            row.append(('original', original))
        unpacked = None   # the sample as the last step before PackInputs left it (pretext labels)
        for name, t in steps:
            if name == 'PackInputs':
                unpacked = dict(results) if isinstance(results, dict) else None
            results = t(results)
            if results is None:
                break
            img = _image_of(results)
            if img is None:
                continue
            if original is None and name.startswith('Load'):
                original = img
                row.append(('original', img))
            elif name != 'PackInputs':
                row.append((name, img))
        final = _image_of(results) if results is not None else None
        if final is None:
            final = row[-1][1]
        if mode == 'views':
            views = _views_of(results) if results is not None else []
            names = _view_titles(unpacked if unpacked is not None else results, steps, len(views)) if views else []
            row = [('original', original if original is not None else final)] + list(zip(names, views))
        elif mode == 'original':
            row = [('original', original if original is not None else final)]
        elif mode == 'transformed':
            row = [('transformed', final)]
        elif mode == 'concat':
            row = [('original', original if original is not None else final), ('transformed', final)]
        if columns is None or len(row) > len(columns):
            columns = [n for n, _ in row] if mode != 'views' else ['original'] + [f'view {k}' for k in range(len(row) - 1)]
        for n, img in row:
            images.append(img)
            if mode == 'views':
                titles.append(tag if n == 'original' else n)
            else:
                titles.append(f'{tag} {tuple(img.shape[-2:])}' if n in ('original', 'transformed') else tag)
        # pad short rows (a step dropped the sample) to keep the grid aligned
        for _ in range(len(columns) - len(row)):
            images.append(torch.full((3, 4, 4), 255, dtype=torch.uint8))
            titles.append('')
    return images, titles, columns or [], len(columns or [1])
