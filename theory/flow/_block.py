r"""One JKO flow block: an MLP velocity field integrated over unit time by fixed-step RK4.

docs/theory.md §1 and §6 (JKO-iFlow), docs/numerics.md §6.1-§6.4. The block map is
:math:`T(x) = x(1)` with :math:`\dot x = f_\theta(x, t)`, :math:`x(0) = x`, on the normalised time
[0, 1] (as JKO-iFlow: the step size γ enters only the loss weight; a horizon γ would only rescale
f). ``forward`` returns :math:`(T(x), \log\det\nabla T(x))`, ``inverse`` integrates backward and
returns :math:`(T^{-1}(y), \log\det\nabla T^{-1}(y))`. Claims C9, C11, C12, C13.
"""

from __future__ import annotations

import torch
from torch import nn

from theory.flow._ode import DIVERGENCES, METHODS, integrate
from theory.validate import check_choice, check_int

__all__ = ["ACTIVATIONS", "Block", "VelocityField"]

ACTIVATIONS = ("softplus", "tanh")


class VelocityField(nn.Module):
    r"""MLP velocity :math:`f_\theta(x, t)`: ``(d [+1]) -> hidden... -> d``.

    Args:
        d (int ≥ 1): dimension.
        hidden (tuple of int): hidden widths, e.g. ``(64, 64)``; JKO-iFlow uses ``(128,)*3``.
        activation: ``"softplus"`` (β = 20, as JKO-iFlow) or ``"tanh"``.
        time_dependent: feed t as an extra input (JKO-iFlow's field ignores t).
        zero_init: zero the last layer so that the block starts as the identity map.
    """

    def __init__(self, d: int, hidden: tuple[int, ...] = (64, 64), activation: str = "softplus",
                 time_dependent: bool = True, zero_init: bool = True) -> None:
        """Build the MLP (see the class docstring for the arguments)."""
        super().__init__()
        d = check_int(d, "d", minimum=1)
        if len(hidden) == 0 or any((not isinstance(h, int)) or h < 1 for h in hidden):
            raise ValueError(f"hidden must be a non-empty tuple of positive ints, got {hidden!r}")
        check_choice(activation, "activation", ACTIVATIONS)
        self.d = d
        self.time_dependent = bool(time_dependent)
        layers: list[nn.Module] = []
        width = d + (1 if time_dependent else 0)
        for h in hidden:
            layers.append(nn.Linear(width, h))
            layers.append(nn.Softplus(beta=20.0) if activation == "softplus" else nn.Tanh())
            width = h
        last = nn.Linear(width, d)
        if zero_init:
            nn.init.zeros_(last.weight)
            nn.init.zeros_(last.bias)
        layers.append(last)
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """Return f(x, t) for x of shape (n, d) and t of shape (n, 1)."""
        if self.time_dependent:
            return self.net(torch.cat([x, t], dim=1))
        return self.net(x)


class Block(nn.Module):
    r"""An invertible ODE block :math:`T = \Phi_{0\to1}` of a velocity field.

    The field is any module ``(x (n, d), t (n, 1)) -> (n, d)``.

    Args:
        field: the velocity module; build one with :class:`VelocityField` or pass your own.
        steps (int ≥ 1): RK4 steps S over [0, 1] (JKO-iFlow: 3).
        div: ``"exact"`` (d ≤ 10) or ``"hutchinson"``.
    """

    def __init__(self, field: nn.Module, steps: int = 3, div: str = "exact") -> None:
        """Wrap ``field`` (see the class docstring for the arguments)."""
        super().__init__()
        steps = check_int(steps, "steps", minimum=1)
        check_choice(div, "div", DIVERGENCES)
        self.field = field
        self.steps = steps
        self.div = div

    def _check(self, x: torch.Tensor, name: str) -> None:
        d = getattr(self.field, "d", None)
        if x.ndim != 2 or (d is not None and x.shape[1] != d):
            raise ValueError(f"{name} must have shape (n, {d}), got {tuple(x.shape)}")

    def forward(self, x: torch.Tensor, *, logdet: bool = True, steps: int | None = None,
                method: str = "rk4", create_graph: bool = False,
                div: str | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        r"""Return :math:`T(x)` and :math:`\log\det\nabla T(x)` (``None`` if ``logdet=False``).

        ``steps`` / ``method`` / ``div`` override the block's settings (evaluation with finer
        steps, or deliberate errors). ``create_graph=True`` keeps a differentiable graph.
        """
        self._check(x, "x")
        return integrate(self.field, x, t0=0.0, t1=1.0, steps=steps or self.steps,
                         method=method, logdet=logdet, div=div or self.div,
                         create_graph=create_graph)

    def inverse(self, y: torch.Tensor, *, logdet: bool = True, steps: int | None = None,
                method: str = "rk4", create_graph: bool = False,
                div: str | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        r"""Return :math:`S(y)\approx T^{-1}(y)` (backward integration) and its log-det.

        The log-det is :math:`\log\det\nabla S(y)`.

        With ``method="euler"`` or few ``steps`` this is a deliberately inexact inverse (C11).
        """
        self._check(y, "y")
        check_choice(method, "method", METHODS)
        return integrate(self.field, y, t0=1.0, t1=0.0, steps=steps or self.steps,
                         method=method, logdet=logdet, div=div or self.div,
                         create_graph=create_graph)
