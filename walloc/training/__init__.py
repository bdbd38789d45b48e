"""Training WaLLoC codecs: ``walloc train CONFIG`` (single process or torchrun)."""

from .config import TrainConfig
from .loop import train

__all__ = ["TrainConfig", "train"]
