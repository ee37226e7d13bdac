r"""Per-row Jacobians of row-wise maps by autograd, and the largest Jacobian spectral norm.

For a map acting on each row of ``x`` (n, d) independently, one backward pass per output
coordinate gives every row's Jacobian :math:`J(x_k) = \nabla f(x_k)` (d_out, d) at once. The
spectral norm :math:`\max_k\|J(x_k)\|_2` over sample points is the sample estimate of the
Lipschitz constant used by the telescoping inversion bound (docs/theory.md R7(b), claim C11); it
is an estimate over the points, not a certified bound.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

__all__ = ["batch_jacobian", "max_jacobian_norm"]


def batch_jacobian(out: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    r"""Jacobians of the rows of ``out`` with respect to the rows of ``x``.

    Args:
        out ((n, m) tensor): values of a row-wise map at ``x``, part of an autograd graph.
        x ((n, d) tensor): the points (``requires_grad``); row k of ``out`` must depend on row k
            of ``x`` only.

    Returns:
        (n, m, d) tensor ``jac`` with ``jac[k, i, j]`` =
        :math:`\partial\,out_{k,i}/\partial x_{k,j}` (the graph is retained, so ``out`` can
        still be differentiated).

    Raises:
        ValueError: naming ``out`` / ``x`` unless they are 2-D with the same number of rows.
    """
    if out.ndim != 2 or x.ndim != 2 or out.shape[0] != x.shape[0]:
        raise ValueError(f"out and x must be (n, m) and (n, d) tensors, got {tuple(out.shape)} "
                         f"and {tuple(x.shape)}")
    rows = [torch.autograd.grad(out[:, i].sum(), x, retain_graph=True)[0]
            for i in range(out.shape[1])]
    return torch.stack(rows, dim=1)


def max_jacobian_norm(fn: Callable[[torch.Tensor], torch.Tensor], y: torch.Tensor) -> float:
    r"""Largest Jacobian spectral norm :math:`\max_k\|\nabla f(y_k)\|_2` of a row-wise map f.

    Args:
        fn: ``(n, d) tensor -> (n, m) tensor``, differentiable, acting on each row independently
            (for a block's inverse pass ``create_graph=True``).
        y ((n, d) tensor): evaluation points (detached inside).

    Returns:
        The largest spectral norm (a float; dimensionless for m = d), a sample estimate of the
        Lipschitz constant of f on the support of the points (claim C11).

    Raises:
        ValueError: naming ``y`` unless it is a finite (n, d) tensor with n >= 1, or ``fn`` if
            its Jacobian is not finite.

    Example:
        >>> import torch
        >>> a = torch.tensor([[2.0, 1.0], [0.0, 1.0]], dtype=torch.float64)
        >>> round(max_jacobian_norm(lambda z: z @ a.T, torch.zeros(3, 2, dtype=torch.float64)), 6)
        2.288246
    """
    if not isinstance(y, torch.Tensor) or y.ndim != 2 or y.shape[0] < 1:
        raise ValueError(f"y must be an (n, d) tensor with n >= 1, got "
                         f"{tuple(getattr(y, 'shape', ())) or type(y).__name__}")
    if not bool(torch.isfinite(y).all()):
        raise ValueError("y contains NaN or inf")
    y = y.detach().requires_grad_(True)
    with torch.enable_grad():
        jac = batch_jacobian(fn(y), y)
    if not bool(torch.isfinite(jac).all()):
        raise ValueError("fn: its Jacobian at y has NaN or inf entries")
    return float(torch.linalg.matrix_norm(jac, ord=2).max())
