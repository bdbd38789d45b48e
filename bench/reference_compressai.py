"""Loads CompressAI (1.2.8 on PyPI) for the tests and benchmarks that compare walloc with it or run its models
with walloc's coder.

CompressAI pins a CUDA-era numpy and imports torchvision (for its transform registry) and torch_geometric at
package import. Install it without dependencies, then the pure-Python ones it needs at import:
``pip install compressai==1.2.8 --no-deps && pip install scipy pandas torch_geometric``. A CPU torchvision
matching the installed torch may not exist, so when torchvision is absent a stand-in is provided while
CompressAI imports (nothing in its entropy models or model zoo uses torchvision).
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from reference_walloc import ReferenceUnavailable, torchvision_stand_in  # noqa: E402

INSTALL = "pip install compressai==1.2.8 --no-deps && pip install scipy pandas torch_geometric"


def load_reference():
    """The ``compressai`` package with ``compressai.zoo`` and ``compressai.entropy_models`` imported; raises
    :class:`ReferenceUnavailable` naming what is missing."""
    if importlib.util.find_spec("compressai") is None:
        raise ReferenceUnavailable(f"CompressAI is not installed ({INSTALL})")
    try:
        with torchvision_stand_in():
            compressai = importlib.import_module("compressai")
            importlib.import_module("compressai.zoo")
            importlib.import_module("compressai.entropy_models")
    except ImportError as error:
        raise ReferenceUnavailable(f"CompressAI does not import here ({error}; {INSTALL})") from None
    return compressai
