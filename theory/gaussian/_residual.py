r"""The first-order (Assumption 1) residual ε of a Gaussian JKO step, and its round-off floor.

Claims C1, C3-C6, C19 (docs/theory.md A1, §5.2; docs/numerics.md §2.1).
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray

from theory.gaussian._metrics import ot_map
from theory.gaussian._step import exact_step
from theory.gaussian._target import _GaussianTarget, gaussian_target, mean_cov
from theory.spd import spectrum
from theory.validate import as_matrix, as_vector, check_positive_scalar

__all__ = ["foc_residual", "residual_floor", "residual_scale"]

Array = NDArray[np.float64]


def residual_at(m: Array, cov: ArrayLike, mu: Array, new_cov: ArrayLike, gamma: float,
                tg: _GaussianTarget) -> float:
    """:func:`foc_residual` for a validated mean ``m``, new mean ``mu``, γ and target ``tg``."""
    d = m.shape[0]
    s_new = spectrum(new_cov, "new_cov", d=d)
    s_new.require_definite("new_cov")
    b_map = ot_map(new_cov, cov)
    r = s_new.sqrt()
    c_mat = tg.q + (np.zeros((d, d)) if tg.p is None else tg.p) + (np.eye(d) - b_map) / gamma
    # C S^{1/2} = (Q + P + (I - B)/γ) S^{1/2} - β S^{-1/2}
    cs = c_mat @ r - tg.beta * s_new.inv_sqrt("new_cov")
    c_vec = tg.q @ (mu - tg.b) + (mu - m) / gamma
    return float(np.sqrt(c_vec @ c_vec + np.sum(cs * cs)))


def foc_residual(
    mean: ArrayLike,
    cov: ArrayLike,
    new_mean: ArrayLike,
    new_cov: ArrayLike,
    *,
    gamma: float,
    target_mean: ArrayLike | None = None,
    target_cov: ArrayLike | None = None,
    beta: float = 1.0,
    interaction: ArrayLike | None = None,
) -> float:
    r"""Residual ε of a candidate Gaussian step ρ_n = N(m, Σ) → ρ' = N(μ, S) (Assumption 1).

    Claims C1, C3-C6 (docs/theory.md §5.2). ε is the :math:`L^2(\rho')` norm of the Wasserstein
    gradient of the step objective at ρ',

    .. math::
        \xi(y) = \nabla V(y) + \beta\nabla\log\rho'(y) + \nabla W*\rho'(y)
                 + \frac{y - T^{-1}(y)}{\gamma} = c + C(y-\mu),

    with :math:`T^{-1}(y) = m + B(y-\mu)` the OT map from ρ' to ρ_n,
    :math:`C = Q + P - \beta S^{-1} + (I-B)/\gamma`, :math:`c = Q(\mu-b) + (\mu-m)/\gamma`, so
    :math:`\varepsilon^2 = |c|^2 + \mathrm{tr}(CSC^\top)`. Zero for the exact step.
    ``cov`` may be singular; ``new_cov`` must be positive definite.

    Returns:
        float: ε (not squared), in the units of a Wasserstein gradient (length / time).

    Example:
        >>> round(foc_residual([0.0], [[1.0]], [0.5], [[1.0]], gamma=1.0), 12)
        1.0
    """
    m, s = mean_cov(mean, cov)
    mu = as_vector(new_mean, "new_mean", s.d)
    gamma = check_positive_scalar(gamma, "gamma")
    tg = gaussian_target(s.d, target_mean=target_mean, target_cov=target_cov, beta=beta,
                         interaction=interaction)
    return residual_at(m, cov, mu, new_cov, gamma, tg)


def scale_at(m: Array, sig: Array, mu: Array, new_cov: ArrayLike, gamma: float,
             tg: _GaussianTarget) -> float:
    """:func:`residual_scale` for validated arguments (``sig``: the data covariance matrix)."""
    d = m.shape[0]
    s_spec = spectrum(new_cov, "new_cov", d=d)
    s_spec.require_definite("new_cov")
    # Q summed slowest direction first (the order of the original implementation: bit-identical).
    q = tg.slowest_first().apply(lambda w: w)
    qp = q if tg.p is None else q + tg.p
    s_mat = s_spec.apply(lambda w: w)
    return float(
        np.linalg.norm(q @ (mu - tg.b)) + np.linalg.norm(mu - m) / gamma
        + math.sqrt(max(float(np.trace(qp @ s_mat @ qp)), 0.0))
        + (math.sqrt(float(np.sum(s_spec.w))) + math.sqrt(max(float(np.trace(sig)), 0.0))) / gamma
        + tg.beta * math.sqrt(float(np.sum(1.0 / s_spec.w)))
    )


def residual_scale(
    mean: ArrayLike,
    cov: ArrayLike,
    new_mean: ArrayLike,
    new_cov: ArrayLike,
    *,
    gamma: float,
    target_mean: ArrayLike | None = None,
    target_cov: ArrayLike | None = None,
    beta: float = 1.0,
    interaction: ArrayLike | None = None,
) -> float:
    r"""Size ``s`` of the terms that cancel in the residual ξ (its round-off floor is ~u_mach·s).

    Claims C3-C6 (docs/numerics.md §2.1).

    .. math::
        s = |Q(\mu-b)| + |\mu-m|/\gamma + \sqrt{\mathrm{tr}((Q+P)S(Q+P))}
            + \frac{\sqrt{\mathrm{tr}S} + \sqrt{\mathrm{tr}\Sigma}}{\gamma}
            + \beta\sqrt{\mathrm{tr}S^{-1}},

    i.e. the :math:`L^2(\rho')` norms of :math:`Q(\mu-b)`, :math:`(\mu-m)/\gamma`,
    :math:`(Q+P)(y-\mu)`, :math:`(y-\mu)/\gamma`, :math:`B(y-\mu)/\gamma` and
    :math:`\beta S^{-1}(y-\mu)`. Same units as ε (length / time).
    """
    m = as_vector(mean, "mean")
    d = m.shape[0]
    sig = as_matrix(cov, "cov", d)
    mu = as_vector(new_mean, "new_mean", d)
    gamma = check_positive_scalar(gamma, "gamma")
    tg = gaussian_target(d, target_mean=target_mean, target_cov=target_cov, beta=beta,
                         interaction=interaction)
    return scale_at(m, sig, mu, new_cov, gamma, tg)


def residual_floor(
    mean: ArrayLike,
    cov: ArrayLike,
    *,
    gamma: float,
    target_mean: ArrayLike | None = None,
    target_cov: ArrayLike | None = None,
    beta: float = 1.0,
    interaction: ArrayLike | None = None,
) -> float:
    r"""Round-off floor of the residual near the exact step: ``max(ε(exact step), u_mach·s)``.

    Claims C3-C6 (docs/numerics.md §2.1). ε(exact step) is :func:`foc_residual` of the computed
    exact step (0 in exact arithmetic; it measures how well float64 resolves the residual for
    this conditioning) and ``s`` is :func:`residual_scale` there. A prescribed ε is met to
    ≈ 1e-10·ε + 10·floor (absolute).
    """
    m, s = mean_cov(mean, cov)
    gamma = check_positive_scalar(gamma, "gamma")
    tg = gaussian_target(s.d, target_mean=target_mean, target_cov=target_cov, beta=beta,
                         interaction=interaction)
    m_star, s_star = exact_step(m, s, gamma, tg)
    r0 = residual_at(m, cov, m_star, s_star, gamma, tg)
    sig = as_matrix(cov, "cov", s.d)
    return max(r0, float(np.finfo(np.float64).eps) * scale_at(m, sig, m_star, s_star, gamma, tg))
