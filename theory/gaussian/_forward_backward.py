r"""The forward-backward (Wasserstein proximal-gradient) scheme on Gaussians, exactly.

Claim C14 (docs/theory.md R8). For
:math:`G(\rho) = \int V\,d\rho + \int\rho\log\rho` with :math:`V(x) = \tfrac12(x-b)^\top Q(x-b)`,
:math:`Q = C^{-1}`, one forward-backward step is an explicit gradient step on V followed by the
exact W2-proximal step of the entropy:

.. math::
    \rho \mapsto \mathrm{prox}^{W_2}_{\gamma H}\big((I - \gamma\nabla V)_\#\rho\big).

Both halves map Gaussians to Gaussians, so the scheme is computed in closed form
(:func:`~theory.gaussian.potential_step`, :func:`~theory.gaussian.entropy_prox`).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from theory.gaussian._metrics import ot_map
from theory.gaussian._step import entropy_prox, potential_step
from theory.spd import spectrum
from theory.validate import as_vector, check_nonneg_scalar, check_positive_scalar

__all__ = ["fb_fixed_point", "fb_step", "prox_residual"]

Array = NDArray[np.float64]

#: ``direction`` of :func:`fb_step` must have unit norm to this absolute tolerance: the realised
#: prox residual is ε·|u|, so a non-unit u silently changes it; eigenvectors from ``eigh`` are
#: unit to ~1e-15, and 1e-10 leaves a ×1e5 margin.
UNIT_ATOL = 1e-10


def fb_step(mean: ArrayLike, cov: ArrayLike, *, gamma: float, target_mean: ArrayLike,
            target_cov: ArrayLike, eps: float = 0.0,
            direction: ArrayLike | None = None) -> tuple[Array, Array]:
    r"""One forward-backward step from N(m, Σ) toward the target N(b, C).

    Claim C14. With ``eps > 0`` the prox output mean is shifted by :math:`\gamma\varepsilon u`
    (``u = direction``, a unit vector), which makes the residual of the prox objective exactly
    :math:`\varepsilon` (an inexact backward step).

    Args:
        mean ((d,) array): :math:`m`.
        cov ((d, d) array): PSD :math:`\Sigma`.
        gamma (float > 0): step size.
        target_mean ((d,) array): :math:`b`.
        target_cov ((d, d) array): SPD :math:`C`.
        eps (float >= 0): prescribed residual of the prox step.
        direction ((d,) array): unit vector :math:`u`; required when ``eps > 0``.

    Returns:
        (d,) float64 array, (d, d) float64 array: mean and covariance after the step.

    Raises:
        ValueError: for a bad ``gamma``, ``eps`` negative or not finite, or ``eps > 0`` without
            a unit vector ``direction`` (norm within :data:`UNIT_ATOL` of 1).
    """
    eps = check_nonneg_scalar(eps, "eps")
    m, s = potential_step(mean, cov, gamma=gamma, target_mean=target_mean,
                          target_cov=target_cov)
    m, s = entropy_prox(m, s, gamma=gamma)
    if eps > 0:
        if direction is None:
            raise ValueError("direction is required when eps > 0")
        u = as_vector(direction, "direction", len(m))
        norm = float(np.linalg.norm(u))
        if abs(norm - 1.0) > UNIT_ATOL:
            raise ValueError(f"direction must be a unit vector, got norm {norm!r}")
        m = m + gamma * eps * u
    return m, s


def fb_fixed_point(*, gamma: float, target_mean: ArrayLike,
                   target_cov: ArrayLike) -> tuple[Array, Array]:
    r"""The fixed point :math:`q^*_\gamma` of the forward-backward step.

    Claim C14. With :math:`q_i` the eigenvalues of :math:`Q = C^{-1}` (eigenvectors U) and
    :math:`a_i = |1 - \gamma q_i|`,

    .. math::
        q^*_\gamma = \mathcal N\big(b,\; U\,\mathrm{diag}(\gamma/(1 - a_i))\,U^\top\big),

    which equals the target iff :math:`\gamma \le 1/\lambda_{\max}(Q)`.

    Args:
        gamma (float > 0): step size, below the stability limit :math:`2/\lambda_{\max}(Q)`.
        target_mean ((d,) array): :math:`b`.
        target_cov ((d, d) array): SPD :math:`C`.

    Returns:
        (d,) float64 array, (d, d) float64 array: mean and covariance of :math:`q^*_\gamma`.

    Raises:
        ValueError: if ``gamma`` is not a finite positive number or is at or beyond the
            stability limit (no fixed point), or ``target_cov`` is not positive definite.
    """
    gamma = check_positive_scalar(gamma, "gamma")
    sp = spectrum(target_cov, "target_cov")
    sp.require_definite("target_cov")
    a = np.abs(1.0 - gamma / sp.w)
    if np.any(a >= 1.0):
        raise ValueError(f"gamma={gamma} is beyond the stability limit 2/λmax(Q): no fixed point")
    return as_vector(target_mean, "target_mean", len(sp.w)), (sp.u * (gamma / (1.0 - a))) @ sp.u.T


def prox_residual(mean: ArrayLike, cov: ArrayLike, new_mean: ArrayLike, new_cov: ArrayLike,
                  gamma: float) -> float:
    r"""Residual of the entropy-prox objective at :math:`\mathcal N(m_1, S_1)` from N(m, S).

    Claim C14 (the inexact backward step). With T the OT map from the new law to the old one,
    :math:`\xi(y) = -S_1^{-1}(y - m_1) + (y - T(y))/\gamma`, and

    .. math::
        \varepsilon^2 = \|(m_1 - m)/\gamma\|^2
            + \big\|\big(-S_1^{-1} + (I - B)/\gamma\big)S_1^{1/2}\big\|_F^2,

    where B is the matrix of T.

    Args:
        mean ((d,) array): mean m of the law before the prox step.
        cov ((d, d) array): its covariance S.
        new_mean ((d,) array): mean m_1 of the candidate prox output.
        new_cov ((d, d) SPD array): its covariance S_1.
        gamma (float > 0): step size.

    Returns:
        float: ε, the L²(new law) norm of ξ (not squared).

    Raises:
        ValueError: naming the argument for bad shapes, non-finite entries, a non-PSD ``cov``,
            a singular ``new_cov`` or ``gamma <= 0``.
    """
    gamma = check_positive_scalar(gamma, "gamma")
    d = spectrum(cov, "cov").d
    m = as_vector(mean, "mean", d)
    m1 = as_vector(new_mean, "new_mean", d)
    sp = spectrum(new_cov, "new_cov", d=d)
    sp.require_definite("new_cov")
    bmap = ot_map(new_cov, cov)
    cs = (np.eye(len(sp.w)) - bmap) / gamma @ sp.sqrt() - sp.inv_sqrt("new_cov")
    cv = (m1 - m) / gamma
    return float(np.sqrt(cv @ cv + np.sum(cs * cs)))
