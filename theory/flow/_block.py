r"""One JKO flow block: an MLP velocity field integrated over unit time by fixed-step RK4.

The MLP computes its own divergence in the same forward pass (:meth:`VelocityField.forward_div`):
the Jacobian :math:`\partial h_l/\partial x` of every hidden layer is carried along with the state,
:math:`J_{l} = \mathrm{diag}(\sigma'(z_l))\,W_l J_{l-1}`, and
:math:`\nabla\!\cdot f = \mathrm{tr}(W_L J_{L-1})` (the exact-trace idea of OT-Flow, Onken et al.
2021, for a plain MLP). This costs about d forward passes of the MLP as batched matrix products,
and training differentiates it with a single backward pass (no double backward).

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
from theory.validate import check_choice, check_int, check_positive_scalar

__all__ = ["ACTIVATIONS", "Block", "VelocityField", "check_points"]

ACTIVATIONS = ("softplus", "tanh", "silu")

#: torch's Softplus is the identity above beta*z > threshold. At 40 the true slope there,
#: sigmoid(40) = 1 - 4e-18, is 1 in float64, so the closed-form derivative below is the derivative
#: of the function torch computes, to round-off.
_SOFTPLUS_THRESHOLD = 40.0


def _act(kind: str, beta: float, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Activation :math:`\sigma(z)` and its derivative :math:`\sigma'(z)`, elementwise."""
    if kind == "tanh":
        a = torch.tanh(z)
        return a, 1.0 - a * a
    if kind == "silu":
        s = torch.sigmoid(z)
        return z * s, s * (1.0 + z * (1.0 - s))
    return (torch.nn.functional.softplus(z, beta=beta, threshold=_SOFTPLUS_THRESHOLD),
            torch.sigmoid(beta * z))


def check_points(x, name: str, d: int | None) -> None:
    """Check that ``x`` is an (n, d) tensor with n >= 1 and finite entries.

    Raises:
        ValueError: naming ``name`` for a non-tensor, a wrong shape, no rows, or NaN/inf.
    """
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"{name} must be an (n, {d}) torch tensor, got {type(x).__name__}")
    if x.ndim != 2 or (d is not None and x.shape[1] != d) or x.shape[0] < 1:
        raise ValueError(f"{name} must have shape (n, {d}) with n >= 1, got {tuple(x.shape)}")
    if not bool(torch.isfinite(x).all()):
        bad = int((~torch.isfinite(x).all(dim=1)).sum())
        raise ValueError(f"{name} contains NaN or inf in {bad} of {x.shape[0]} rows")


class VelocityField(nn.Module):
    r"""MLP velocity :math:`f_\theta(x, t)`: ``(d [+1]) -> hidden... -> d``.

    Args:
        d (int ≥ 1): dimension.
        hidden (tuple of int): hidden widths, e.g. ``(64, 64)``; JKO-iFlow uses ``(128,)*3``.
        activation: ``"softplus"`` (slope β = ``softplus_beta``; JKO-iFlow uses β = 20),
            ``"tanh"`` or ``"silu"``.
        time_dependent: feed t as an extra input (JKO-iFlow's field ignores t).
        zero_init: zero the last layer so that the block starts as the identity map.
        softplus_beta (> 0): β of the softplus :math:`\log(1+e^{\beta z})/\beta`.
    """

    def __init__(self, d: int, hidden: tuple[int, ...] = (64, 64), activation: str = "softplus",
                 time_dependent: bool = True, zero_init: bool = True,
                 softplus_beta: float = 20.0) -> None:
        """Build the MLP (see the class docstring for the arguments)."""
        super().__init__()
        d = check_int(d, "d", minimum=1)
        if not isinstance(hidden, (tuple, list)) or len(hidden) == 0 or any(
                isinstance(h, bool) or not isinstance(h, int) or h < 1 for h in hidden):
            raise ValueError(f"hidden must be a non-empty tuple of positive ints, got {hidden!r}")
        check_choice(activation, "activation", ACTIVATIONS)
        for name, flag in (("time_dependent", time_dependent), ("zero_init", zero_init)):
            if not isinstance(flag, bool):
                raise ValueError(f"{name} must be a bool, got {flag!r}")
        self.d = d
        self.time_dependent = time_dependent
        self.activation = activation
        self.softplus_beta = check_positive_scalar(softplus_beta, "softplus_beta")
        layers: list[nn.Module] = []
        width = d + (1 if time_dependent else 0)
        for h in hidden:
            layers.append(nn.Linear(width, h))
            if activation == "softplus":
                layers.append(nn.Softplus(beta=self.softplus_beta, threshold=_SOFTPLUS_THRESHOLD))
            else:
                layers.append(nn.Tanh() if activation == "tanh" else nn.SiLU())
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

    def forward_div(self, x: torch.Tensor, t: torch.Tensor,
                    probe: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        r"""Return ``(f(x, t), div)`` in one forward pass, ``div`` of shape (n,).

        Without ``probe``: the exact divergence :math:`\mathrm{tr}\,\nabla_x f`. Write
        :math:`D_l = \mathrm{diag}\,\sigma'(z_l)`, :math:`W_1^x` the x-columns of the first layer
        and :math:`W_{L+1}` the output layer, so that
        :math:`\nabla_x f = W_{L+1}D_L W_L\cdots D_1 W_1^x` (docs/numerics.md §6.2).

        - one hidden layer: :math:`\mathrm{tr} = \sum_c D_1[c]\,(W_1^xW_2)_{cc}`;
        - two hidden layers: :math:`\mathrm{tr} = \sum_{k,c} D_2[k]D_1[c]\,B_{ck}` with the
          parameter-only :math:`B = W_2^\top\circ(W_1^xW_3)`: one (n, w_1)×(w_1, w_2) product,
          a cost independent of d;
        - deeper: the Jacobians :math:`J_l = D_lW_lJ_{l-1}` of the hidden layers 2..L-1 are
          carried (stored transposed and flattened, (n, d·w)); the first and the last products
          are folded into parameter-only matrices,
          :math:`J_2^\top = (D_1E)\circ D_2` with :math:`E_{c,(i,b)} = W^x_{1,ci}W_{2,bc}` and
          :math:`\mathrm{tr} = \sum_a D_L[a]\,(J_{L-1}^\top F)_a` with
          :math:`F_{(i,b),a} = W_{L,ab}W_{L+1,ia}`, so one (n, d, w) product per hidden layer is
          the only elementwise work. Cost :math:`O(n\,d\sum_l w_{l-1}w_l)`, linear in d.

        With ``probe`` v ((n, d)): Hutchinson's :math:`v^\top(\nabla_x f)v`, carrying only
        :math:`J_l v` (about two forward passes). All are ordinary differentiable torch
        expressions, so gradients in the parameters or in x need one backward pass.
        """
        linears = [m for m in self.net if isinstance(m, nn.Linear)]
        h = torch.cat([x, t], dim=1) if self.time_dependent else x
        wx = linears[0].weight[:, :self.d]  # (w_1, d)
        w_out = linears[-1].weight  # (d, w_L)
        dsig = []
        for lin in linears[:-1]:
            h, ds = _act(self.activation, self.softplus_beta, lin(h))
            dsig.append(ds)
        f = linears[-1](h)
        if probe is not None:
            u = (probe @ wx.T) * dsig[0]
            for lin, ds in zip(linears[1:-1], dsig[1:], strict=True):
                u = (u @ lin.weight.T) * ds
            return f, ((u @ w_out.T) * probe).sum(dim=1)
        if len(dsig) == 1:
            return f, dsig[0] @ (wx * w_out.T).sum(dim=1)
        if len(dsig) == 2:
            b = linears[1].weight.T * (wx @ w_out)  # (w_1, w_2)
            return f, ((dsig[0] @ b) * dsig[1]).sum(dim=1)
        n, d = x.shape
        w2 = linears[1].weight  # (w_2, w_1)
        e = (wx.unsqueeze(2) * w2.T.unsqueeze(1)).reshape(wx.shape[0], -1)  # (w_1, d·w_2)
        jt = (dsig[0] @ e).view(n, d, -1) * dsig[1].unsqueeze(1)  # J_2^T, (n, d, w_2)
        for lin, ds in zip(linears[2:-2], dsig[2:-1], strict=True):
            jt = (jt @ lin.weight.T) * ds.unsqueeze(1)
        w_last = linears[-2].weight  # (w_L, w_{L-1})
        fold = (w_last.T.unsqueeze(0) * w_out.unsqueeze(1)).reshape(-1, w_last.shape[0])
        return f, ((jt.reshape(n, -1) @ fold) * dsig[-1]).sum(dim=1)


class Block(nn.Module):
    r"""An invertible ODE block :math:`T = \Phi_{0\to1}` of a velocity field.

    The field is any module ``(x (n, d), t (n, 1)) -> (n, d)``.

    Args:
        field: the velocity module; build one with :class:`VelocityField` or pass your own.
        steps (int ≥ 1): RK4 steps S over [0, 1] (JKO-iFlow: 3).
        div: ``"exact"`` (trace carried through the MLP, see :meth:`VelocityField.forward_div`;
            other fields fall back to ``"autograd"``), ``"autograd"`` (d backward passes, the
            oracle) or ``"hutchinson"`` (one Rademacher probe per solve, for large d).
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
        check_points(x, name, getattr(self.field, "d", None))

    def forward(self, x: torch.Tensor, *, logdet: bool = True, steps: int | None = None,
                method: str = "rk4", create_graph: bool = False,
                div: str | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        r"""Return :math:`T(x)` and :math:`\log\det\nabla T(x)` (``None`` if ``logdet=False``).

        ``steps`` / ``method`` / ``div`` override the block's settings (evaluation with finer
        steps, or deliberate errors). ``create_graph=True`` keeps a differentiable graph.

        Raises:
            ValueError: naming ``x`` unless it is a finite (n, d) tensor with n >= 1; for bad
                ``steps``, ``method`` or ``div``.
        """
        self._check(x, "x")
        return integrate(self.field, x, t0=0.0, t1=1.0,
                         steps=self.steps if steps is None else steps,
                         method=method, logdet=logdet, div=div or self.div,
                         create_graph=create_graph)

    def inverse(self, y: torch.Tensor, *, logdet: bool = True, steps: int | None = None,
                method: str = "rk4", create_graph: bool = False,
                div: str | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        r"""Return :math:`S(y)\approx T^{-1}(y)` (backward integration) and its log-det.

        The log-det is :math:`\log\det\nabla S(y)`.

        With ``method="euler"`` or few ``steps`` this is a deliberately inexact inverse (C11).

        Raises:
            ValueError: naming ``y`` unless it is a finite (n, d) tensor with n >= 1; for bad
                ``steps``, ``method`` or ``div``.
        """
        self._check(y, "y")
        check_choice(method, "method", METHODS)
        return integrate(self.field, y, t0=1.0, t1=0.0,
                         steps=self.steps if steps is None else steps,
                         method=method, logdet=logdet, div=div or self.div,
                         create_graph=create_graph)
