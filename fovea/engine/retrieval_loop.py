"""Image-text retrieval evaluation (MMPretrain's ``RetrievalValLoop`` / ``RetrievalTestLoop``).

Retrieval cannot be scored batch by batch: every image is ranked against every caption of the split. The
loop runs the model's feature pass (``mode='tensor'``) over the whole loader, concatenates the features,
asks the model's ``predict_all(feats, data_samples, num_images, num_texts)`` for the image-to-text and
text-to-image predictions (DataSamples with ``pred_score`` over the other side and ``gt_label`` the right
items: a retrieval test set's ``gt_text_id`` / ``gt_image_id``), and evaluates each direction with the
configured metrics (``RetrievalRecall``), reported as ``i2t/<metric>`` and ``t2i/<metric>``. The dataset says
how many images and captions the split has (``img_size`` / ``text_size``, as ``COCORetrieval`` and
``Flickr30kRetrieval`` in test mode do).
"""
from __future__ import annotations

from typing import Any

import torch

from fovea.engine.loops import _EvalLoop
from fovea.registry import LOOPS
from fovea.utils.errors import ConfigError

__all__ = ['RetrievalValLoop', 'RetrievalTestLoop']


class _RetrievalLoop(_EvalLoop):

    def _check(self, model) -> tuple[int, int]:
        ds = self.dataloader.dataset
        len(ds)  # loads a lazily initialised sample list, which sets the sizes
        sizes = getattr(ds, 'img_size', None), getattr(ds, 'text_size', None)
        if None in sizes:
            raise ConfigError(f'{type(self).__name__}: {type(ds).__name__} does not say how many images and '
                              f'captions it has (img_size / text_size); use a retrieval dataset in test mode '
                              f"(COCORetrieval or Flickr30kRetrieval with test_mode=True).")
        if not callable(getattr(model, 'predict_all', None)):
            raise ConfigError(f'{type(self).__name__}: {type(model).__name__} has no predict_all(feats, '
                              f'data_samples, num_images, num_texts); retrieval loops evaluate retrieval models '
                              f"(BlipRetrieval). Use {self.phase}_cfg=dict() for others.")
        return sizes

    def _evaluate(self, model) -> dict[str, Any]:
        num_images, num_texts = self._check(model)
        feats, samples = [], []

        def step(batch):
            with self.runner.autocast():
                data = model.data_preprocessor(batch, False)
                feats.append(model(**data, mode='tensor'))
            samples.extend(data['data_samples'])
            return feats[-1]

        self._each_batch(step)
        feats = {k: torch.cat([f[k] for f in feats]) for k in feats[0]}
        i2t, t2i = model.predict_all(feats, samples, num_images=num_images, num_texts=num_texts)
        metrics = {}
        for name, preds, size in (('i2t', i2t, num_images), ('t2i', t2i, num_texts)):
            self.evaluator.process(preds)
            metrics.update({f'{name}/{k}': v for k, v in self.evaluator.evaluate(size).items()})
        return metrics


@LOOPS.register_module()
class RetrievalValLoop(_RetrievalLoop):
    phase = 'val'


@LOOPS.register_module()
class RetrievalTestLoop(_RetrievalLoop):
    phase = 'test'
