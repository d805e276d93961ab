"""Neural architecture search: Single Path One-Shot (SPOS, Guo et al., ECCV 2020), as MMRazor runs it.

Two layers, kept apart as docs/architecture.md's arrows require:

* :mod:`fovea.nas.models` (the model layer, registered in ``MODELS``): the one-shot mutable op,
  the candidate blocks, the searchable backbones (search spaces), the mutator that sets, samples,
  dumps and loads the choices of a model, the path samplers, the ``SPOS`` supernet algorithm
  and ``sub_model`` (a supernet config fixed to one subnet: an ordinary classifier).
* :mod:`fovea.nas.search` (above the engine, like ``fovea.tools``): the evolution search loop
  of ``fovea search``, BatchNorm recalibration and the score-against-FLOPs plot.
"""
