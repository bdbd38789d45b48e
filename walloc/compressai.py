"""CompressAI's entropy models coded with walloc's rANS: drop-ins for CompressAI models.

``walloc.compressai.EntropyBottleneck`` and ``GaussianConditional`` *are* CompressAI's classes (subclasses),
so CompressAI's ``isinstance`` checks, ``update(force=, update_quantiles=)``, ``aux_loss()``, the private
helpers (``_get_medians``, ``_build_indexes``, ...), state dicts and tables are all CompressAI's own. The one
intended difference is the bytes of ``compress``: they are walloc rANS streams (chunked, lane-interleaved,
checked on decode, the same from CPU and GPU), so a stream written by CompressAI's coder does not decode here
and the other way round. ``convert(net)`` switches every entropy model of an existing CompressAI model to them.

Needs CompressAI; ``walloc.EntropyBottleneck`` is the dependency-free bottleneck with the same parameter names.
"""

from __future__ import annotations

try:
    from compressai import entropy_models as _compressai
except ImportError as error:
    raise ImportError(f"walloc.compressai needs CompressAI (pip install compressai): {error}; "
                      f"walloc.EntropyBottleneck needs nothing more than walloc") from None

import torch
from torch import Tensor, nn

from .entropy.rans import rans_decode, rans_encode

#: The name CompressAI's ``entropy_coder.name`` reports for walloc's coder.
CODER_NAME = "walloc-rans"


class WallocRansCoder:
    """CompressAI's entropy-coder protocol (``encode_with_indexes`` / ``decode_with_indexes``) on walloc's rANS.

    Takes CompressAI's Python lists or tensors (no conversion to lists on the tensor path)."""

    name = CODER_NAME

    def encode_with_indexes(self, symbols, indexes, cdfs, cdf_lengths, offsets) -> bytes:
        return rans_encode(symbols, indexes, cdfs, cdf_lengths, offsets)

    def decode_with_indexes(self, data: bytes, indexes, cdfs, cdf_lengths, offsets) -> Tensor:
        return rans_decode(data, indexes, cdfs, cdf_lengths, offsets)


class _WallocCoded(_compressai.EntropyModel):
    """``EntropyModel.compress`` / ``decompress`` with CompressAI's argument checks, on tensors, through walloc's
    rANS. Placed after CompressAI's concrete class in the bases, so that class's ``super().compress`` lands here."""

    def __init__(self, *args, entropy_coder: str | None = None, **kwargs) -> None:
        if entropy_coder not in (None, CODER_NAME):
            raise ValueError(f"walloc's entropy models code with {CODER_NAME!r}, not {entropy_coder!r}; use "
                             f"CompressAI's own classes for its coders")
        super().__init__(*args, **kwargs)
        self.entropy_coder = WallocRansCoder()

    # CompressAI pickles its coder by name and rebuilds it from its registry, which does not know walloc's.
    def __getstate__(self) -> dict:
        return self.__dict__.copy()

    def __setstate__(self, state: dict) -> None:
        nn.Module.__setstate__(self, state)

    def _check_tables(self) -> None:
        self._check_cdf_size()
        self._check_cdf_length()
        self._check_offsets_size()

    def compress(self, inputs: Tensor, indexes: Tensor, means: Tensor | None = None) -> list[bytes]:
        if inputs.dim() < 2:
            raise ValueError("Invalid `inputs` size. Expected a tensor with at least 2 dimensions.")
        if inputs.size() != indexes.size():
            raise ValueError("`inputs` and `indexes` should have the same size.")
        self._check_tables()
        symbols = self.quantize(inputs, "symbols", means)
        tables = (self._quantized_cdf, self._cdf_length, self._offset)
        return [self.entropy_coder.encode_with_indexes(symbols[i], indexes[i], *tables)
                for i in range(symbols.size(0))]

    def decompress(self, strings: list[bytes], indexes: Tensor, dtype: torch.dtype = torch.float,
                   means: Tensor | None = None) -> Tensor:
        if not isinstance(strings, (tuple, list)):
            raise ValueError("Invalid `strings` parameter type.")
        if len(strings) != indexes.size(0):
            raise ValueError("Invalid strings or indexes parameters")
        if indexes.dim() < 2:
            raise ValueError("Invalid `indexes` size. Expected a tensor with at least 2 dimensions.")
        self._check_tables()
        if means is not None:
            if means.size()[:2] != indexes.size()[:2]:
                raise ValueError("Invalid means or indexes parameters")
            if means.size() != indexes.size() and any(means.size(i) != 1 for i in range(2, indexes.dim())):
                raise ValueError("Invalid means parameters")
        tables = (self._quantized_cdf, self._cdf_length, self._offset)
        outputs = self._quantized_cdf.new_empty(indexes.size())
        for i, data in enumerate(strings):
            outputs[i] = self.entropy_coder.decode_with_indexes(data, indexes[i], *tables).to(outputs.device)
        return self.dequantize(outputs, means, dtype)


class EntropyBottleneck(_compressai.EntropyBottleneck, _WallocCoded):
    """CompressAI's ``EntropyBottleneck`` (same arguments, parameters, tables and helpers), coded with walloc's
    rANS."""


class GaussianConditional(_compressai.GaussianConditional, _WallocCoded):
    """CompressAI's ``GaussianConditional`` (same arguments, scale table and helpers), coded with walloc's rANS."""


_DROP_INS = {_compressai.EntropyBottleneck: EntropyBottleneck,
             _compressai.GaussianConditional: GaussianConditional}


def convert(model: nn.Module) -> nn.Module:
    """Switches, in place, every CompressAI ``EntropyBottleneck`` / ``GaussianConditional`` of ``model`` (or
    ``model`` itself) to walloc's coder, keeping its parameters, buffers and tables; returns ``model``."""
    drop_in = _DROP_INS.get(type(model))
    if drop_in is not None:
        return _converted(model, drop_in)
    for name, child in list(model.named_children()):
        converted = convert(child)
        if converted is not child:
            setattr(model, name, converted)
    return model


def _converted(module: nn.Module, drop_in: type) -> nn.Module:
    # The drop-ins add no state of their own: the same attributes under the subclass are the same model.
    new = drop_in.__new__(drop_in)
    new.__dict__.update(module.__dict__)
    new.entropy_coder = WallocRansCoder()
    return new


__all__ = ["CODER_NAME", "EntropyBottleneck", "GaussianConditional", "WallocRansCoder", "convert"]
