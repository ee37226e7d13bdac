r"""Closed-form Gaussian references for the neural flow: the exact JKO trajectory and block losses.

docs/theory.md §5.2-§5.3, claim C12. For an affine block :math:`T(x) = b + Ax` acting on
:math:`\mathcal N(m,\Sigma)` the JKO-iFlow per-block loss (V = |x|²/2) splits into

.. math::
    V = \tfrac12\big(|Am+b|^2 + \mathrm{tr}A\Sigma A^\top\big),\quad
    \mathrm{div} = -\log\det A,\quad
    W = \frac{|(A-I)m+b|^2 + \mathrm{tr}\big((A-I)\Sigma(A-I)^\top\big)}{2\gamma},

and at the exact JKO map (theory.gaussian.jko_map) it is minimal. Example: ρ_0 = N((3,3), I),
γ = 0.5 gives V = 5, div = 0, W = 2, total 7 (the authors' run).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from theory import bounds, gaussian
from theory.gaussian import GaussianPath, iterate_steps
from theory.validate import (
    as_finite_array,
    as_matrix,
    as_positive_array,
    as_vector,
    check_finite_scalar,
    check_nonneg_scalar,
    check_positive_scalar,
)

__all__ = [
    "affine_block_loss",
    "block_loss_on_points",
    "finite_n_kl_bound",
    "jko_trajectory",
    "optimal_block_loss",
]


def _gammas(gammas: ArrayLike) -> np.ndarray:
    """``gammas`` as a non-empty 1-D float64 array of finite step sizes > 0."""
    g = as_positive_array(gammas, "gammas").ravel()
    if g.size < 1:
        raise ValueError("gammas must be non-empty")
    return g


def affine_block_loss(mean: ArrayLike, cov: ArrayLike, matrix: ArrayLike, offset: ArrayLike, *,
                      gamma: float) -> dict[str, float]:
    """Exact loss terms of the block x -> offset + matrix x on N(mean, cov) (V = |x|²/2).

    Returns:
        dict with ``v``, ``div``, ``w``, ``total`` (nats).

    Raises:
        ValueError: naming ``mean``, ``cov``, ``matrix``, ``offset`` or ``gamma`` for a bad
            value (non-finite, wrong shape, cov not symmetric, γ <= 0), or if ``matrix`` has
            det <= 0.
    """
    c = as_matrix(cov, "cov")
    d = c.shape[0]
    m = as_vector(mean, "mean", d)
    a = as_finite_array(matrix, "matrix")
    if a.shape != (d, d):
        raise ValueError(f"matrix must have shape ({d}, {d}), got {a.shape}")
    b = as_vector(offset, "offset", d)
    gamma = check_positive_scalar(gamma, "gamma")
    sign, logdet = np.linalg.slogdet(a)
    if sign <= 0:
        raise ValueError("matrix must have a positive determinant (orientation-preserving)")
    mu = a @ m + b
    v = 0.5 * (mu @ mu + np.trace(a @ c @ a.T))
    e = a - np.eye(d)
    dm = e @ m + b
    w = (dm @ dm + np.trace(e @ c @ e.T)) / (2.0 * gamma)
    return {"v": float(v), "div": float(-logdet), "w": float(w), "total": float(v - logdet + w)}


def block_loss_on_points(x: ArrayLike, y: ArrayLike, *, gamma: float,
                         div: float = 0.0) -> dict[str, float]:
    r"""Sample loss terms of a block y = T(x) on given points (V = |y|²/2; nats).

    :math:`V = \overline{|y|^2}/2`, :math:`W = \overline{|y-x|^2}/(2\gamma)`, ``div`` as given
    (:math:`-\log\det A` for an affine map), ``total = v + div + w``. Evaluating the exact JKO
    map on the model's held-out points gives the comparison with common random numbers (C12).

    Args:
        x ((n, d)): points of ρ_{n-1}.
        y ((n, d)): their images T(x).
        gamma: step size γ > 0.
        div: the div-term (nats).

    Returns:
        dict with ``v``, ``div``, ``w``, ``total``.

    Raises:
        ValueError: naming ``x`` / ``y`` unless they are finite (n, d) arrays of one shape, or
            ``gamma`` / ``div`` for a non-finite or (γ) non-positive value.
    """
    x = as_finite_array(x, "x")
    y = as_finite_array(y, "y")
    if x.ndim != 2 or y.shape != x.shape:
        raise ValueError(f"x and y must be (n, d) arrays of one shape, got {x.shape}, {y.shape}")
    gamma = check_positive_scalar(gamma, "gamma")
    v = float(0.5 * (y**2).sum(1).mean())
    w = float(((y - x) ** 2).sum(1).mean() / (2 * gamma))
    div = check_finite_scalar(div, "div")
    return {"v": v, "div": div, "w": w, "total": v + div + w}


def optimal_block_loss(mean: ArrayLike, cov: ArrayLike, *, gamma: float) -> dict[str, float]:
    """:func:`affine_block_loss` at the exact JKO map from N(mean, cov) (target N(0, I))."""
    t = gaussian.jko_map(mean, cov, gamma=gamma)
    return affine_block_loss(mean, cov, t.matrix, t.offset, gamma=gamma)


def jko_trajectory(mean: ArrayLike, cov: ArrayLike, gammas: ArrayLike) -> dict[str, list]:
    """Exact JKO trajectory ρ_0..ρ_N (target N(0, I)) with per-step KL(ρ_n‖q) and optimal losses.

    Returns:
        dict with ``means`` (N+1, d), ``covs`` (N+1, d, d), ``kl`` (N+1,) in nats, ``w2`` (N+1,)
        W2(ρ_n, q) and ``loss`` (N,) list of optimal-loss dicts.

    Raises:
        ValueError: naming ``mean``, ``cov`` or ``gammas`` (non-empty, finite, > 0) for a bad
            value.
    """
    m = as_vector(mean, "mean")
    c = as_matrix(cov, "cov", m.shape[0])
    g = _gammas(gammas)
    means, covs = iterate_steps(m, c, g.size,
                                lambda k, mk, ck: gaussian.jko_step(mk, ck, gamma=float(g[k])))
    path = GaussianPath(means=means, covs=covs, gammas=g)
    losses = [optimal_block_loss(means[k], covs[k], gamma=float(g[k])) for k in range(g.size)]
    return {"means": means.tolist(), "covs": covs.tolist(), "kl": path.kl_to_target().tolist(),
            "w2": path.w2_to_target().tolist(), "loss": losses}


def finite_n_kl_bound(gammas: ArrayLike, w0: float, eps: float) -> float:
    r"""Bound on KL(ρ_N‖q) after N inexact steps with step sizes γ_1..γ_N (λ = 1; C8 at finite N).

    docs/theory.md T1 with variable steps,
    :math:`W_{N-1}\le` ``bounds.w2_multi_step_variable(γ_1..γ_{N-1}, 1, W_0, ε)``, then T2 at
    the last step,
    :math:`\mathrm{KL}(\rho_N\|q)\le(W_{N-1}+\gamma_N\varepsilon)^2/(2\gamma_N(2+\gamma_N))`
    (``bounds.gap_one_step``). ``w0`` may be any upper bound of W2(ρ_0, q).

    Raises:
        ValueError: naming ``gammas`` (non-empty, finite, > 0), ``w0`` or ``eps`` (finite,
            >= 0) for a bad value.
    """
    g = _gammas(gammas)
    w0, eps = check_nonneg_scalar(w0, "w0"), check_nonneg_scalar(eps, "eps")
    w_prev = bounds.w2_multi_step_variable(g[:-1], 1.0, w0, eps)[-1] if g.size > 1 else w0
    return float(bounds.gap_one_step(w_prev, g[-1], 1.0, eps))
