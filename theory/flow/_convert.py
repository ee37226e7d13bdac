"""The one crossing from torch to numpy: detach, move to the CPU, convert (default float64).

Every place in :mod:`theory.flow` that hands a tensor to numpy code (KL estimators, OT, the
authors' residual estimator) goes through :func:`to_numpy`, so a tensor that requires grad, lives
on a GPU or is float32 / bfloat16 crosses the same way everywhere.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from numpy.typing import DTypeLike

__all__ = ["to_numpy"]

#: torch dtypes numpy has no equivalent of; ``dtype=None`` widens them to float32.
_NO_NUMPY = (torch.bfloat16,)


def to_numpy(t: Any, dtype: DTypeLike | None = np.float64) -> np.ndarray:
    """Return ``t`` (tensor, ndarray, or anything ``np.asarray`` takes) as a numpy array.

    A tensor is detached (no graph, ``requires_grad`` allowed), moved to the CPU and converted;
    for a CPU tensor already of the requested dtype the array shares its memory (as
    ``Tensor.numpy`` does), so copy it before writing into it.

    Args:
        t: a torch tensor (any device, any dtype), a numpy array or array-like.
        dtype: the result's numpy dtype (default float64); ``None`` keeps the input's dtype
            (a bfloat16 tensor, which numpy cannot hold, becomes float32).

    Returns:
        The array, of the input's shape.

    Example:
        >>> x = torch.ones(2, 3, dtype=torch.float32, requires_grad=True)
        >>> a = to_numpy(2 * x)
        >>> a.dtype, a.shape
        (dtype('float64'), (2, 3))
        >>> to_numpy(x, dtype=None).dtype
        dtype('float32')
    """
    if isinstance(t, torch.Tensor):
        t = t.detach()
        if dtype is not None:
            # convert in torch (also from bfloat16); moving first keeps GPU memory unchanged
            return t.to(device="cpu").to(_torch_dtype(np.dtype(dtype))).numpy()
        if t.dtype in _NO_NUMPY:
            t = t.to(torch.float32)
        return t.to(device="cpu").numpy()
    a = np.asarray(t)
    return a if dtype is None else a.astype(dtype, copy=False)


def _torch_dtype(dt: np.dtype) -> torch.dtype:
    """The torch dtype of numpy dtype ``dt`` (``ValueError`` for one torch cannot hold)."""
    try:
        return torch.from_numpy(np.zeros(0, dtype=dt)).dtype
    except TypeError:
        raise ValueError(f"dtype must be a numeric numpy dtype torch can hold, got {dt}") from None
