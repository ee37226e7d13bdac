r"""The 1-D JKO (W2-proximal) step for general convex functionals, solved in the quantile nodes.

Claims served: C2, C4, C5, C10, C16, C17, C18 (docs/numerics.md §3.1). On a fixed
:class:`~theory.oned.MassGrid`, with data nodes y (ρ_n) and unknown nodes x (ρ_{n+1}),

.. math:: \Phi(x) = \frac{1}{2\gamma}\sum_i w_i(x_i-y_i)^2 + G_h(x),

where the first term is *exactly* W2²/(2γ) between the two node measures and G_h is a convex
discretisation of G (:mod:`theory.oned._functionals`). Φ is strictly convex on the ordered cone
:math:`x_1 < \dots < x_n`; it is minimised by Newton's method with the (tridiagonal, plus
low-rank or dense for interactions) Hessian: O(n) per iteration for potential + internal energy
+ quadratic or |z| interaction (``scipy.linalg.solveh_banded``), O(n³) with a general pair W. An
Armijo backtracking line search starts from the largest step that keeps the nodes strictly
ordered (fraction 0.95 to the boundary of the cone).

**First-order residual (Assumption 1, discrete form).** The OT map from ρ_{n+1} to ρ_n on a
common mass grid is :math:`T(x_i) = y_i`, so the residual of docs/theory.md A1 at the nodes is

.. math:: \xi_i = \frac{x_i - y_i}{\gamma} + \nabla\frac{\delta G}{\delta\rho}(x_i)
          = \frac{1}{w_i}\frac{\partial\Phi}{\partial x_i},\qquad
          \varepsilon = \|\xi\|_{L^2(\rho_{n+1})} = \Big(\sum_i w_i\xi_i^2\Big)^{1/2},

with the discrete Wasserstein gradient :math:`\nabla\frac{\delta G}{\delta\rho}(x_i) =
(\partial G_h/\partial x_i)/w_i`. ε = 0 exactly at the discrete minimiser; :func:`foc_residual`
computes it, and the Newton iteration stops when ε ≤ ``tol``. Since G_h is λ-convex in the
weighted norm, the paper's inequalities (C2–C5, C16, C18) hold for the discrete iterates with
the discrete W2 (= exact W2 of the node measures) — the solver's discretisation error to the
continuum (second order on adapted grids) is measured separately (experiment
``lagrangian_validation``). Whole trajectories: :mod:`theory.oned._trajectory`.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import optimize

from theory.oned._functionals import Functional1D
from theory.oned._measures import MassGrid, gaussian_quantile, validate_nodes
from theory.validate import check_choice, check_int, check_nonneg_scalar, check_positive_scalar

__all__ = [
    "JKOStepResult",
    "foc_residual",
    "inexact_step",
    "jko_objective",
    "jko_step",
    "steady_state",
]

Array = NDArray[np.float64]
_ARMIJO_C = 1e-4
_TO_BOUNDARY = 0.95


@dataclass(frozen=True)
class JKOStepResult:
    """Result of a Newton solve.

    Attributes:
        x ((n,) array): the nodes of ρ_{n+1} (strictly increasing).
        converged (bool): ε ≤ tol was reached.
        n_iter (int): Newton iterations taken.
        residual (float): the FOC residual ε (module docstring; for :func:`steady_state` the
            weighted norm of ∇δG/δρ).
        objective (float): Φ(x) (or G_h(x) for :func:`steady_state`).
    """

    x: Array
    converged: bool
    n_iter: int
    residual: float
    objective: float


def _check_gamma(gamma: float) -> float:
    return check_positive_scalar(gamma, "gamma")


def _check_functional(G: Functional1D) -> Functional1D:
    if not isinstance(G, Functional1D):
        raise ValueError(f"G must be a Functional1D (e.g. kl_to_gibbs(...)), got {G!r}")
    return G


def _data(y: ArrayLike, grid: MassGrid, name: str = "y") -> Array:
    """Data nodes of ρ_n: finite, shape (n,), non-decreasing (ties allowed: atoms)."""
    return validate_nodes(y, grid, name, strict=False)


def jko_objective(x: ArrayLike, y: ArrayLike, grid: MassGrid, G: Functional1D,
                  gamma: float) -> float:
    r""":math:`\Phi(x) = \sum_i w_i(x_i-y_i)^2/(2\gamma) + G_h(x)` (W2²/(2γ) + G).

    Raises:
        ValueError: naming ``x``, ``y``, ``grid``, ``G`` or ``gamma`` if invalid.
    """
    x, y, gamma = validate_nodes(x, grid), _data(y, grid), _check_gamma(gamma)
    _check_functional(G)
    return float(np.dot(grid.w, (x - y) ** 2) / (2.0 * gamma) + G.energy(x, grid))


def foc_residual(x: ArrayLike, y: ArrayLike, grid: MassGrid, G: Functional1D,
                 gamma: float) -> float:
    r"""The discrete FOC residual ε of a candidate step x from y (module docstring; W2/time units).

    Raises:
        ValueError: naming ``x``, ``y``, ``grid``, ``G`` or ``gamma`` if invalid.

    Example:
        >>> from theory.oned._measures import gaussian_grid
        >>> from theory.oned._functionals import kl_to_gibbs, quartic_potential
        >>> g, G = gaussian_grid(201), kl_to_gibbs(quartic_potential(1.0))
        >>> y = 1.5 + 2.0 * np.linspace(-8, 8, 201)
        >>> r = jko_step(y, g, G, 0.5)
        >>> r.converged and foc_residual(r.x, y, g, G, 0.5) < 1e-9
        True
    """
    x, y, gamma = validate_nodes(x, grid), _data(y, grid), _check_gamma(gamma)
    _check_functional(G)
    xi = (x - y) / gamma + G.gradient(x, grid) / grid.w
    return float(np.sqrt(np.dot(grid.w, xi * xi)))


def _max_ordered_step(x: Array, p: Array) -> float:
    dl = np.diff(p)
    neg = dl < 0
    if not np.any(neg):
        return np.inf
    return float(np.min(-np.diff(x)[neg] / dl[neg]))


def _norm_w(g: Array, w: Array) -> float:
    r""":math:`(\sum_i g_i^2/w_i)^{1/2}`: the L²(ρ) norm of the Wasserstein gradient g/w."""
    return float(np.sqrt(np.dot(g * g, 1.0 / w)))


def _line_search(x: Array, f: float, g: Array, p: Array, eps: float, fun, grad,
                 w: Array) -> tuple[Array | None, float, bool]:
    """Armijo backtracking along p from the largest step that keeps x strictly ordered.

    Returns (accepted point or None, its objective, ``near``: the objective is at round-off
    level, where a point is also accepted if the residual drops by 10%).
    """
    slope = float(np.dot(g, p))
    alpha = min(1.0, _TO_BOUNDARY * _max_ordered_step(x, p))
    near = -slope <= 1e-8 * max(1.0, abs(f))
    while alpha > 1e-14:
        xn = x + alpha * p
        if np.all(np.diff(xn) > 0):
            with np.errstate(invalid="ignore", over="ignore"):
                fn = fun(xn)  # NaN/inf (G overflows at xn) fails the Armijo test: backtrack
            if fn <= f + _ARMIJO_C * alpha * slope:
                return xn, fn, near
            if near and _norm_w(grad(xn), w) < 0.9 * eps:
                return xn, fn, near
        alpha *= 0.5
    return None, f, near


def _check_finite_residual(eps: float, g: Array, x: Array, what: str, it: int) -> None:
    """Raise ``ValueError`` if the residual is NaN/inf (``nan > tol`` is False: never silent)."""
    if np.isfinite(eps):
        return
    bad = ~np.isfinite(g)
    where = (f" at {int(bad.sum())} of {g.size} nodes, x in [{x[bad].min():.6g}, "
             f"{x[bad].max():.6g}]") if bad.any() else ""
    at = "at the starting nodes" if it == 0 else f"after {it} Newton iterations"
    raise ValueError(
        f"{what}: the FOC residual is not finite ({eps!r}) {at}: the gradient of G is NaN or "
        f"inf{where}. G (e.g. its potential V) overflows there: write V with numerically "
        f"stable formulas (torch.nn.functional.softplus(x) for log(1 + e^x)) or start from "
        f"data y where G is finite")


def _check_finite_hessian(h, x: Array, eps: float, what: str, it: int) -> None:
    """Raise ``ValueError`` if the Hessian has NaN/inf entries (the Newton step would be NaN)."""
    parts = [h.diag, h.off, *(u for _, u in h.lowrank)]
    if h.dense is not None:
        parts.append(h.dense.ravel())
    if all(np.all(np.isfinite(a)) for a in parts):
        return
    bad = ~np.isfinite(h.diag)
    where = (f" at {int(bad.sum())} of {bad.size} nodes, x in [{x[bad].min():.6g}, "
             f"{x[bad].max():.6g}]") if bad.any() else ""
    raise ValueError(
        f"{what}: the Hessian of G is NaN or inf{where} after {it - 1} Newton iterations (FOC "
        f"residual {eps:.3e}). G (e.g. its potential V or V'') overflows there: write V with "
        f"numerically stable formulas (torch.nn.functional.softplus(x) for log(1 + e^x))")


def _newton(x0: Array, grid: MassGrid, fun, grad, hess, *, tol: float, max_iter: int,
            what: str, warn: bool) -> JKOStepResult:
    """Damped Newton on the ordered cone until the residual ``_norm_w(grad)`` ≤ tol.

    Raises ``ValueError`` as soon as the residual is not finite (a NaN or inf gradient).
    """
    x, w = x0.copy(), grid.w
    with np.errstate(invalid="ignore", over="ignore"):
        g = grad(x)
        eps, f = _norm_w(g, w), fun(x)
    _check_finite_residual(eps, g, x, what, 0)
    it = stall = 0
    while eps > tol and it < max_iter:
        it += 1
        with np.errstate(invalid="ignore", over="ignore"):
            h = hess(x)
        _check_finite_hessian(h, x, eps, what, it)
        try:
            with np.errstate(invalid="ignore", over="ignore"):
                p = h.solve(-g)
        except (np.linalg.LinAlgError, ValueError) as err:  # pragma: no cover - defensive
            if warn:
                warnings.warn(f"{what}: Hessian solve failed ({err}); residual {eps:.3e}",
                              stacklevel=3)
            return JKOStepResult(x, False, it, eps, f)
        if not np.all(np.isfinite(p)):
            raise ValueError(f"{what}: the Newton step is not finite after {it - 1} iterations "
                             f"(FOC residual {eps:.3e}): the Hessian of G is singular or "
                             f"overflows")
        xn, fn, near = _line_search(x, f, g, p, eps, fun, grad, w)
        if xn is None:
            break  # stagnation at the round-off floor
        x, f = xn, fn
        with np.errstate(invalid="ignore", over="ignore"):
            g = grad(x)
        eps_old, eps = eps, _norm_w(g, w)
        _check_finite_residual(eps, g, x, what, it)
        # at the round-off floor Newton stops making quadratic progress: stop after 4 such steps
        stall = stall + 1 if (near and eps > 0.5 * eps_old) else 0
        if stall >= 4:
            break
    if eps > tol and warn:
        warnings.warn(f"{what} did not converge: residual {eps:.3e} > tol {tol:.1e} after "
                      f"{it} Newton iterations (n = {grid.n})", stacklevel=3)
    return JKOStepResult(x, eps <= tol, it, eps, f)


def _initial_guess(y: Array, x0: ArrayLike | None, grid: MassGrid, gamma: float) -> Array:
    """Newton's starting nodes: ``x0``, else the data, else (ties) the data spread by √γ.

    Tied nodes (atomic or extremely concentrated data) have infinite internal energy, so the
    start must be spread. A spread of the order of the step's own diffusion length √γ, shaped
    like the grid's standard normal quantiles z_i, keeps the order and gives the Newton matrix a
    moderate condition number; a 1e-6 spread made node gaps ~1e-9 and the Hessian solve lost
    positive definiteness at n ≥ 600 (single atom) or n ≥ 2000 (several atoms).
    """
    if x0 is not None:
        return validate_nodes(x0, grid, "x0")
    if np.all(np.diff(y) > 1e-12 * max(1.0, float(np.max(np.abs(y))))):
        return y.copy()
    return y + np.sqrt(gamma) * grid.nodes(gaussian_quantile())


def jko_step(y: ArrayLike, grid: MassGrid, G: Functional1D, gamma: float, *,
             x0: ArrayLike | None = None, tol: float = 1e-9, max_iter: int = 200,
             warn: bool = True) -> JKOStepResult:
    r"""One JKO step :math:`\arg\min_x \Phi(x)` from data nodes y (docs/numerics.md §3.1).

    Args:
        y ((n,) array): non-decreasing nodes of ρ_n on ``grid``.
        grid: the mass grid (fixed along a trajectory).
        G: the functional (must be strictly convex with the W2 term: any G of this package).
        gamma (float > 0): step size γ.
        x0 ((n,) array or None): strictly increasing initial guess (default y, spread if tied).
        tol (float > 0): stop when the FOC residual ε ≤ tol (absolute, W2/time units).
        max_iter (int): Newton iteration cap (a small cap gives an *inexact* step, see
            :func:`inexact_step`).
        warn (bool): ``warnings.warn`` when not converged (never a silent wrong answer; the
            result's ``converged`` is False either way).

    Returns:
        JKOStepResult (x, converged, n_iter, residual ε, objective Φ).

    Raises:
        ValueError: naming the argument on bad shapes, non-finite or decreasing y, gamma ≤ 0,
            tol ≤ 0, max_iter not an integer ≥ 0, G not a Functional1D, grid not a MassGrid;
            and when the FOC residual is not finite (the
            gradient of G is NaN/inf at the nodes, e.g. a potential that overflows), naming the
            nodes where it is.
    """
    y, gamma, G = _data(y, grid), _check_gamma(gamma), _check_functional(G)
    tol = check_positive_scalar(tol, "tol")
    max_iter = check_int(max_iter, "max_iter", minimum=0)
    x = _initial_guess(y, x0, grid, gamma)
    w = grid.w

    def fun(z: Array) -> float:
        return float(np.dot(w, (z - y) ** 2) / (2.0 * gamma) + G.energy(z, grid))

    def grad(z: Array) -> Array:
        return w * (z - y) / gamma + G.gradient(z, grid)

    def hess(z: Array):
        return G.hessian(z, grid).add_diag(w / gamma)

    return _newton(x, grid, fun, grad, hess, tol=tol, max_iter=int(max_iter),
                   what="jko_step", warn=warn)


def steady_state(G: Functional1D, grid: MassGrid, x0: ArrayLike, *, tol: float = 1e-10,
                 max_iter: int = 500, warn: bool = True) -> JKOStepResult:
    r"""The discrete minimiser :math:`\arg\min G_h` on the grid (ρ* of the discrete problem).

    Newton on G_h itself (no W2 term); needs G_h strictly convex (e.g. a potential with V'' > 0
    somewhere plus an internal energy). ``residual`` is
    :math:`\|\nabla\delta G/\delta\rho\|_{L^2(\rho)}`.

    Raises:
        ValueError: naming the argument for bad x0, grid or G, tol ≤ 0 or max_iter not an
            integer ≥ 0, and when the residual is not finite (G's gradient NaN/inf at the nodes).
    """
    x, G = validate_nodes(x0, grid, "x0"), _check_functional(G)
    tol = check_positive_scalar(tol, "tol")
    max_iter = check_int(max_iter, "max_iter", minimum=0)
    return _newton(x, grid, lambda z: G.energy(z, grid), lambda z: G.gradient(z, grid),
                   lambda z: G.hessian(z, grid), tol=tol, max_iter=int(max_iter),
                   what="steady_state", warn=warn)


def inexact_step(y: ArrayLike, grid: MassGrid, G: Functional1D, gamma: float, *,
                 eps: float | None = None, max_iter: int | None = None,
                 direction: str = "shift", tol: float = 1e-9) -> JKOStepResult:
    r"""An ε-inexact JKO step with *measured* residual (Assumption 1 with ε > 0).

    Two modes:

    - ``max_iter=k``: stop Newton after k iterations (no warning); ``residual`` is the measured ε.
    - ``eps=e``: solve exactly, then perturb the output along ``direction`` — ``"shift"``
      (x + t, the mean-shift family that makes C3/C4 tight for Gaussians) or ``"dilate"``
      (x̄ + (1+t)(x − x̄)) — with t ≥ 0 found by ``brentq`` so that the measured ε equals e
      (to 1e-12 relative). The result's ``residual`` is the measured ε.

    Raises:
        ValueError: if neither or both of ``eps``/``max_iter`` are given, eps < 0, or an unknown
            direction; and for everything :func:`jko_step` rejects.
    """
    if (eps is None) == (max_iter is None):
        raise ValueError("give exactly one of eps and max_iter")
    if max_iter is not None:
        return jko_step(y, grid, G, gamma, tol=tol, max_iter=max_iter, warn=False)
    eps = check_nonneg_scalar(eps, "eps")
    check_choice(direction, "direction", ("shift", "dilate"))
    exact = jko_step(y, grid, G, gamma, tol=tol)
    yv = _data(y, grid)
    if eps <= exact.residual:
        return exact
    xs = exact.x
    xbar = float(np.dot(grid.w, xs))

    def perturbed(t: float) -> Array:
        return xs + t if direction == "shift" else xbar + (1.0 + t) * (xs - xbar)

    def gap(t: float) -> float:
        return foc_residual(perturbed(t), yv, grid, G, gamma) - eps

    hi = eps * gamma
    while gap(hi) < 0:
        hi *= 2.0
    t = optimize.brentq(gap, 0.0, hi, xtol=1e-300, rtol=1e-13)
    x = perturbed(t)
    return JKOStepResult(x, True, exact.n_iter, foc_residual(x, yv, grid, G, gamma),
                         jko_objective(x, yv, grid, G, gamma))
