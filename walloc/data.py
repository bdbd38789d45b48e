"""The first import path of :mod:`walloc.learning.latents`, kept for code that imports it so."""

import sys

from .learning import latents as _module

sys.modules[__name__] = _module
