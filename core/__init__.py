"""vh.core: models, the inference engine, colour management, image/video I/O and metrics."""

__version__ = "0.1.0"
