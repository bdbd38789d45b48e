"""The first import path of :mod:`walloc.learning.heads`, kept for code that imports it so."""

import sys

from .learning import heads as _module

sys.modules[__name__] = _module
