r"""Exact first and second derivatives of a scalar function written once, by torch autograd.

Claims served: C16, C17, C18 (a potential V, kernel W or energy density U of one's own, for the
1-D solver, docs/numerics.md §3.1). The user writes an *elementwise* function f with torch
operations (``x**2/2 + torch.log(torch.cosh(x))``); :func:`derivatives` returns three vectorised
NumPy callables f, f', f'' in float64. The derivatives are those of the computational graph
(reverse-mode automatic differentiation, applied twice), exact up to float64 round-off of the
operations themselves — no finite-difference step, no truncation error.

Because f acts elementwise, :math:`\partial_{x_i}\sum_j f(x_j) = f'(x_i)`, so one backward pass
over ``f(x).sum()`` gives f' at every point, and a second one over ``f'(x).sum()`` gives f''.
A function that couples entries (``x - x.mean()``) is *not* elementwise and gives wrong
derivatives; :func:`derivatives` checks this on a probe vector.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from numpy.typing import ArrayLike, NDArray

__all__ = ["derivatives"]

Array = NDArray[np.float64]
TorchFn = Callable[[torch.Tensor], torch.Tensor]
Fn = Callable[[Array], Array]

_PROBE = np.array([-1.3, -0.2, 0.45, 1.7])
#: Vectorised and one-point evaluations of the same elementwise function may differ by a few
#: ulps (SIMD kernels); a coupled function differs at O(1) on the probe vector.
_ELEMENTWISE_RTOL = 1e-10


def _flat_tensor(x: ArrayLike, grad: bool) -> tuple[torch.Tensor, tuple[int, ...]]:
    a = np.asarray(x, dtype=np.float64)
    t = torch.tensor(a.reshape(-1), dtype=torch.float64, requires_grad=grad)
    return t, a.shape


def _apply(f: TorchFn, t: torch.Tensor, name: str) -> torch.Tensor:
    y = f(t)
    if not isinstance(y, torch.Tensor):
        raise ValueError(f"{name} must return a torch tensor (write it with torch operations)")
    if y.dtype != torch.float64:
        raise ValueError(f"{name} must compute in float64, got {y.dtype}")
    if y.shape != t.shape:
        y = y.expand(t.shape) if y.dim() == 0 else y
    if y.shape != t.shape:
        raise ValueError(f"{name} must act elementwise: input shape {tuple(t.shape)}, "
                         f"output shape {tuple(y.shape)}")
    return y


def _grad(y: torch.Tensor, t: torch.Tensor, create_graph: bool) -> torch.Tensor:
    """Elementwise derivative dy_i/dt_i of an elementwise y(t) (zeros where y is constant)."""
    if not y.requires_grad:
        return torch.zeros_like(t)
    (g,) = torch.autograd.grad(y.sum(), t, create_graph=create_graph, materialize_grads=True)
    return g


def _numpy(t: torch.Tensor, shape: tuple[int, ...]) -> Array:
    return t.detach().numpy().reshape(shape)


def derivatives(f: TorchFn, name: str = "f", *, positive: bool = False) -> tuple[Fn, Fn, Fn]:
    r"""Vectorised float64 NumPy callables :math:`(f, f', f'')` of an elementwise torch function.

    Each callable takes an array of any shape and returns float64 of the same shape.

    Args:
        f: elementwise function of a float64 torch tensor, written with torch operations.
        name: the argument's name for error messages (``"V"``, ``"W"``, ``"U"``).
        positive: f is defined on (0, ∞) only (checked on a positive probe vector).

    Returns:
        (value, first derivative, second derivative), exact by automatic differentiation.

    Raises:
        ValueError: naming ``name`` if f does not return a float64 tensor of its input's shape,
            is not finite on a probe vector, or is not elementwise (its derivative at a point
            depends on other entries).

    Example:
        >>> V, dV, d2V = derivatives(lambda x: x**3 / 3)
        >>> [float(v) for v in (V(2.0), dV(2.0), d2V(2.0))]
        [2.6666666666666665, 4.0, 4.0]
    """
    if not callable(f):
        raise ValueError(f"{name} must be a callable, got {f!r}")

    def value(x: ArrayLike) -> Array:
        t, shape = _flat_tensor(x, grad=False)
        with torch.no_grad():
            return _numpy(_apply(f, t, name), shape)

    def first(x: ArrayLike) -> Array:
        t, shape = _flat_tensor(x, grad=True)
        return _numpy(_grad(_apply(f, t, name), t, create_graph=False), shape)

    def second(x: ArrayLike) -> Array:
        t, shape = _flat_tensor(x, grad=True)
        g = _grad(_apply(f, t, name), t, create_graph=True)
        return _numpy(_grad(g, t, create_graph=False), shape)

    _check_elementwise((value, first), name, np.abs(_PROBE) if positive else _PROBE)
    return value, first, second


def _check_elementwise(fns: tuple[Fn, Fn], name: str, probe: Array) -> None:
    for fn in fns:
        together = fn(probe)
        apart = np.array([fn(probe[i:i + 1])[0] for i in range(probe.size)])
        if not (np.all(np.isfinite(together)) and np.all(np.isfinite(apart))):
            raise ValueError(f"{name} must be finite with finite derivatives on {probe.tolist()}")
        if not np.allclose(together, apart, rtol=_ELEMENTWISE_RTOL, atol=_ELEMENTWISE_RTOL):
            raise ValueError(f"{name} must act elementwise (its value or derivative at a point "
                             "changed when other points were added)")
