"""CocoMetric: COCO mAP of detections (and instance masks) with pycocotools (MMDetection's names).

The ground truth is the COCO json (``ann_file``) when given, else built from the samples'
``gt_bboxes``/``gt_labels`` (areas from the boxes, no crowd regions). Predictions are the samples'
``pred_bboxes`` (x1, y1, x2, y2), ``pred_scores``, ``pred_labels`` (0-based class indices, mapped to
category ids with the dataset's ``cat_ids``) and, for ``'segm'``, ``pred_masks``. Results are
``coco/bbox_mAP``, ``coco/bbox_mAP_50``, ``_75``, ``_s``, ``_m``, ``_l`` (0-1, three decimals), the same
for ``segm``.
"""
from __future__ import annotations

import contextlib
import io
from typing import Any, Sequence

import numpy as np

from fovea.evaluation.base import BaseMetric
from fovea.registry import METRICS
from fovea.utils.errors import ConfigError, require

__all__ = ['CocoMetric']

_STATS = ('mAP', 'mAP_50', 'mAP_75', 'mAP_s', 'mAP_m', 'mAP_l')


def _np(value) -> np.ndarray:
    return value.detach().cpu().numpy() if hasattr(value, 'detach') else np.asarray(value)


@METRICS.register_module()
class CocoMetric(BaseMetric):
    """COCO-style mean average precision.

    Args:
        ann_file: COCO json of the evaluated images (None: ground truth from the samples).
        metric: 'bbox', 'segm' or both.
        classwise: also report each class's AP (``coco/<class>_precision``).
        iou_thrs: IoU thresholds (default 0.50:0.05:0.95).
    """

    default_prefix = 'coco'

    def __init__(self, ann_file: str | None = None, metric: str | Sequence[str] = 'bbox', classwise: bool = False,
                 iou_thrs: Sequence[float] | None = None, format_only: bool = False, outfile_prefix: str | None = None,
                 backend_args: dict | None = None, proposal_nums: Sequence[int] = (100, 300, 1000),
                 metric_items: Sequence[str] | None = None, sort_categories: bool = False,
                 collect_device: str = 'cpu', prefix: str | None = None):
        super().__init__(collect_device, prefix)
        self.metrics = [metric] if isinstance(metric, str) else list(metric)
        bad = [m for m in self.metrics if m not in ('bbox', 'segm')]
        if bad:
            raise ConfigError(f"CocoMetric metric {bad}: fovea evaluates 'bbox' and 'segm'.")
        if format_only:
            raise ConfigError('CocoMetric format_only is not implemented in fovea; remove it.')
        self.ann_file, self.classwise = ann_file, classwise
        self.iou_thrs = None if iou_thrs is None else np.asarray(iou_thrs, dtype=np.float64)

    def process(self, data_batch: Any, data_samples: Sequence) -> None:
        mask_utils = require('pycocotools.mask', 'detection', 'COCO evaluation') if 'segm' in self.metrics else None
        for s in data_samples:
            rec = dict(img_id=s.get('img_id'), ori_shape=tuple(s.get('ori_shape') or ()),
                       bboxes=_np(s.get('pred_bboxes')).reshape(-1, 4), scores=_np(s.get('pred_scores')).reshape(-1),
                       labels=_np(s.get('pred_labels')).reshape(-1))
            if mask_utils is not None and s.get('pred_masks') is not None:
                rec['masks'] = [mask_utils.encode(np.asfortranarray(m)) for m in _np(s.get('pred_masks')).astype(np.uint8)]
            if self.ann_file is None:
                rec['gt_bboxes'] = _np(s.get('gt_bboxes')).reshape(-1, 4)
                rec['gt_labels'] = _np(s.get('gt_labels')).reshape(-1)
            self.results.append(rec)

    def _gt_from_samples(self, results: list, cat_ids: list[int]):
        coco_mod = require('pycocotools.coco', 'detection', 'COCO evaluation')
        images, anns = [], []
        for i, r in enumerate(results):
            if r['img_id'] is None:
                r['img_id'] = i
            h, w = r['ori_shape'][:2] if r['ori_shape'] else (0, 0)
            images.append(dict(id=r['img_id'], height=h, width=w))
            for box, label in zip(r['gt_bboxes'], r['gt_labels']):
                x1, y1, x2, y2 = (float(v) for v in box)
                anns.append(dict(id=len(anns) + 1, image_id=r['img_id'], category_id=cat_ids[int(label)],
                                 bbox=[x1, y1, x2 - x1, y2 - y1], area=(x2 - x1) * (y2 - y1), iscrowd=0))
        gt = coco_mod.COCO()
        gt.dataset = dict(images=images, annotations=anns, categories=[dict(id=c, name=str(c)) for c in cat_ids])
        with contextlib.redirect_stdout(io.StringIO()):
            gt.createIndex()
        return gt

    def compute_metrics(self, results: list) -> dict[str, float]:
        cocoeval = require('pycocotools.cocoeval', 'detection', 'COCO evaluation')
        meta = self.dataset_meta or {}
        if self.ann_file is not None:
            from fovea.data.datasets.coco_detection import load_coco
            gt = load_coco(self.ann_file)
        cat_ids = list(meta.get('cat_ids') or (sorted(gt.getCatIds()) if self.ann_file is not None else
                                               range(1 + max((int(l) for r in results for l in r['gt_labels']),
                                                             default=0))))
        if self.ann_file is None:
            gt = self._gt_from_samples(results, cat_ids)
        out: dict[str, float] = {}
        for iou_type in self.metrics:
            dets = []
            for r in results:
                for j, (box, score, label) in enumerate(zip(r['bboxes'], r['scores'], r['labels'])):
                    x1, y1, x2, y2 = (float(v) for v in box)
                    d = dict(image_id=r['img_id'], category_id=cat_ids[int(label)], score=float(score),
                             bbox=[x1, y1, x2 - x1, y2 - y1])
                    if iou_type == 'segm':
                        if 'masks' not in r:
                            raise ConfigError("CocoMetric metric 'segm' needs pred_masks (a Mask R-CNN model).")
                        rle = dict(r['masks'][j])
                        rle['counts'] = rle['counts'].decode() if isinstance(rle['counts'], bytes) else rle['counts']
                        d['segmentation'] = rle
                    dets.append(d)
            if not dets:
                out.update({f'{iou_type}_{k}': 0.0 for k in _STATS})
                continue
            with contextlib.redirect_stdout(io.StringIO()):
                dt = gt.loadRes(dets)
                ev = cocoeval.COCOeval(gt, dt, iou_type)
                ev.params.imgIds = [r['img_id'] for r in results]
                ev.params.catIds = cat_ids
                if self.iou_thrs is not None:
                    ev.params.iouThrs = self.iou_thrs
                ev.evaluate()
                ev.accumulate()
                ev.summarize()
            out.update({f'{iou_type}_{k}': float(f'{v:.3f}') for k, v in zip(_STATS, ev.stats[:6])})
            if self.classwise:
                names = meta.get('classes') or [str(c) for c in cat_ids]
                for k, name in enumerate(names):
                    p = ev.eval['precision'][:, :, k, 0, -1]
                    p = p[p > -1]
                    out[f'{name}_precision'] = float(f'{(p.mean() if p.size else float("nan")):.3f}')
        return out
