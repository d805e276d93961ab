"""fovea: an image pretraining toolbox for PyTorch."""
__version__ = '0.1.0'


def __getattr__(name):  # lazy re-exports keep `import fovea` cheap
    if name in ('get_model', 'list_models', 'inference_model', 'ImageClassificationInferencer',
                'FeatureExtractor', 'ImageRetrievalInferencer'):
        import fovea.apis as apis
        return getattr(apis, name)
    if name == 'Config':
        from fovea.config import Config
        return Config
    if name == 'Runner':
        from fovea.engine.runner import Runner
        return Runner
    raise AttributeError(f'module fovea has no attribute {name!r}')
