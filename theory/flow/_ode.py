r"""Fixed-step ODE integration of a state with its log-determinant (docs/numerics.md §6.2-§6.3).

For a velocity field :math:`f(x, t)` on :math:`\mathbb R^d` the joint system

.. math::
    \dot x = f(x, t), \qquad \dot\ell = \nabla\!\cdot f(x, t),\qquad \ell(t_0) = 0

gives :math:`x(t_1) = \Phi(x(t_0))` and :math:`\ell(t_1) = \log\det\nabla\Phi(x(t_0))` (Liouville).
Integrating from ``t0 = 1`` to ``t1 = 0`` gives the inverse map and *its* log-determinant, so one
routine serves both directions. Claims C9, C11 (exact densities, inversion errors).

The divergence is

- ``"exact"``: carried through the MLP in its own forward pass by fields that provide
  ``forward_div`` (:class:`~theory.flow.VelocityField`; docs/numerics.md §6.2), so training needs
  one backward pass; other fields fall back to ``"autograd"``;
- ``"autograd"``: the oracle, one autograd pass per coordinate (d passes, and a double backward
  in training);
- ``"hutchinson"``: :math:`v^\top(\nabla f)v` with one Rademacher probe held fixed per solve
  (through ``forward_div`` when the field has it, else by autograd).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from theory.validate import check_choice, check_finite_scalar, check_int

__all__ = ["DIVERGENCES", "METHODS", "divergence", "integrate"]

METHODS = ("rk4", "euler")
DIVERGENCES = ("exact", "autograd", "hutchinson")

Field = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def divergence(f: torch.Tensor, x: torch.Tensor, *, mode: str = "autograd",
               probe: torch.Tensor | None = None, create_graph: bool = False) -> torch.Tensor:
    r"""Divergence :math:`\nabla\!\cdot f = \mathrm{tr}\,\nabla_x f` of ``f = field(x)`` per row.

    Args:
        f ((n, d) tensor): field values computed from ``x`` (so that autograd links them).
        x ((n, d) tensor): points, part of an autograd graph (``requires_grad``).
        mode: ``"autograd"`` (sum of d diagonal Jacobian entries, d backward passes; ``"exact"``
            is accepted as a synonym, since a bare tensor has no cheaper exact route) or
            ``"hutchinson"`` (:math:`v^\top\nabla f\,v`, unbiased, one pass; needs ``probe``).
        probe ((n, d) tensor or None): Hutchinson probe vectors.
        create_graph: keep the graph (needed to differentiate the divergence again: training,
            residuals).

    Returns:
        (n,) tensor: the divergence at each point.

    Raises:
        ValueError: on an unknown ``mode`` or a missing (or wrongly shaped) ``probe``.
    """
    if mode in ("exact", "autograd"):
        d = x.shape[1]
        div = torch.zeros(x.shape[0], dtype=x.dtype, device=x.device)
        for i in range(d):
            g = torch.autograd.grad(f[:, i].sum(), x, create_graph=create_graph,
                                    retain_graph=True)[0]
            div = div + g[:, i]
        return div
    if mode == "hutchinson":
        if probe is None or probe.shape != x.shape:
            raise ValueError(f"probe of shape {tuple(x.shape)} is required for "
                             f"mode='hutchinson'")
        vjp = torch.autograd.grad(f, x, grad_outputs=probe, create_graph=create_graph,
                                  retain_graph=True)[0]
        return (vjp * probe).sum(dim=1)
    raise ValueError(f"mode must be one of {DIVERGENCES}, got {mode!r}")


def _stage(field: Field, x: torch.Tensor, t: float, *, logdet: bool, mode: str,
           probe: torch.Tensor | None,
           create_graph: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Evaluate (f, div f) at one RK stage; detached unless ``create_graph``."""
    tt = torch.full((x.shape[0], 1), float(t), dtype=x.dtype, device=x.device)
    if not logdet:
        f = field(x, tt)
        return (f if create_graph else f.detach()), None
    fused = getattr(field, "forward_div", None)
    if fused is not None and mode != "autograd":
        pr = probe if mode == "hutchinson" else None
        if create_graph:
            return fused(x, tt, pr)
        with torch.no_grad():
            return fused(x.detach(), tt, pr)
    with torch.enable_grad():
        xs = x if (create_graph and x.requires_grad) else x.detach().requires_grad_(True)
        f = field(xs, tt)
        div = divergence(f, xs, mode=mode, probe=probe, create_graph=create_graph)
    if create_graph:
        return f, div
    return f.detach(), div.detach()


def integrate(field: Field, x: torch.Tensor, *, t0: float = 0.0, t1: float = 1.0, steps: int = 3,
              method: str = "rk4", logdet: bool = True, div: str = "exact",
              create_graph: bool = False,
              probe: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
    r"""Integrate :math:`\dot x = f(x,t)` and :math:`\dot\ell = \nabla\cdot f` from t0 to t1.

    Classical RK4 (global error :math:`O((|t_1-t_0|/S)^4)`) or explicit Euler (order 1, used to
    inject inversion errors, docs/numerics.md §6.4) with ``S = steps`` equal steps; ``t1 < t0``
    integrates backward.

    Args:
        field: callable ``(x (n,d), t (n,1)) -> (n,d)``.
        x ((n, d) tensor): initial state.
        t0: start time.
        t1: end time.
        steps (int ≥ 1): number of fixed steps S.
        method: ``"rk4"`` or ``"euler"``.
        logdet: also integrate :math:`\ell` (the log-determinant of the map ``x -> x(t1)``).
        div: ``"exact"``, ``"autograd"`` or ``"hutchinson"`` (module docstring).
        create_graph: build a differentiable graph (training; derivatives in x for residuals).
        probe ((n, d) tensor or None): Hutchinson probe; drawn (Rademacher) if needed and None.

    Returns:
        ((n, d) tensor, (n,) tensor or None): ``x(t1)`` and :math:`\log\det\nabla_x x(t_1)`.

    Raises:
        ValueError: on bad ``steps``, ``method``, ``div``, non-finite ``t0`` / ``t1``, an ``x``
            that is not a finite (n, d) tensor with n >= 1, or a ``probe`` not of its shape.
    """
    steps = check_int(steps, "steps", minimum=1)
    check_choice(method, "method", METHODS)
    check_choice(div, "div", DIVERGENCES)
    t0, t1 = check_finite_scalar(t0, "t0"), check_finite_scalar(t1, "t1")
    if not isinstance(x, torch.Tensor) or x.ndim != 2 or x.shape[0] < 1:
        raise ValueError(f"x must be an (n, d) tensor with n >= 1, got "
                         f"{tuple(getattr(x, 'shape', ())) or type(x).__name__}")
    if not bool(torch.isfinite(x).all()):
        raise ValueError("x contains NaN or inf")
    if probe is not None and (not isinstance(probe, torch.Tensor) or probe.shape != x.shape):
        raise ValueError(f"probe must be a tensor of the shape of x {tuple(x.shape)}")
    if logdet and div == "hutchinson" and probe is None:
        probe = torch.randint(0, 2, x.shape, dtype=x.dtype, device=x.device) * 2.0 - 1.0
    h = (float(t1) - float(t0)) / steps
    kw = dict(logdet=logdet, mode=div, probe=probe, create_graph=create_graph)
    ell = torch.zeros(x.shape[0], dtype=x.dtype, device=x.device) if logdet else None
    t = float(t0)
    for _ in range(steps):
        if method == "euler":
            f, dv = _stage(field, x, t, **kw)
            x = x + h * f
            if logdet:
                ell = ell + h * dv
        else:
            k1, d1 = _stage(field, x, t, **kw)
            k2, d2 = _stage(field, x + 0.5 * h * k1, t + 0.5 * h, **kw)
            k3, d3 = _stage(field, x + 0.5 * h * k2, t + 0.5 * h, **kw)
            k4, d4 = _stage(field, x + h * k3, t + h, **kw)
            x = x + (h / 6.0) * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
            if logdet:
                ell = ell + (h / 6.0) * (d1 + 2.0 * d2 + 2.0 * d3 + d4)
        t += h
    return x, ell
