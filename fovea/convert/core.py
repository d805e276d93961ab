"""``fovea.convert``'s public loading API, which lives below the models so that models can load
weights without importing the converters: reading files in :mod:`fovea.utils.weights`, converting
and loading in :mod:`fovea.models.weights`. The converter modules of this package register
themselves with :func:`fovea.models.weights.register_converter`."""
from __future__ import annotations

from fovea.models.weights import (CONVERTERS, LoadReport, adapt_to_model, convert_state_dict, converters,
                                  load_pretrained, load_weights, register_converter)
from fovea.utils.weights import checkpoint_info, extract_state_dict, read_weights

__all__ = ['read_weights', 'extract_state_dict', 'checkpoint_info', 'register_converter', 'converters',
           'convert_state_dict', 'adapt_to_model', 'load_weights', 'load_pretrained', 'LoadReport', 'CONVERTERS']
