"""The first import path of :mod:`walloc.wavelets.packets`, kept for code that imports it so."""

import sys

from .wavelets import packets as _module

sys.modules[__name__] = _module
