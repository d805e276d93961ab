from fovea.utils.autoimport import import_all

__all__ = import_all(__name__, globals())
