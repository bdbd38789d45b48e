"""The first import path of :mod:`walloc.wavelets.filter_banks`, kept for code that imports it so."""

import sys

from .wavelets import filter_banks as _module

sys.modules[__name__] = _module
