r"""A-priori bound on the float64 evaluation error of the Gaussian residual ε.

Claims C3-C6, C19 (docs/numerics.md §2.6). :func:`theory.gaussian.foc_residual` evaluates

.. math::
    \varepsilon = \|(c, M)\|,\qquad c = Q(\mu-b) + (\mu-m)/\gamma,\qquad
    M = (Q + P + I/\gamma)S^{1/2} - B S^{1/2}/\gamma - \beta S^{-1/2},

with :math:`B S^{1/2} = S^{-1/2}X^{1/2}`, :math:`X = S^{1/2}\Sigma S^{1/2}`. A norm is
1-Lipschitz, so :math:`|\hat\varepsilon - \varepsilon| \le \|\delta c\| + \|\delta M\|_F`: the
error of ε is at most the sum of the errors of its parts, whatever their cancellation. Each part
is bounded to first order in the unit round-off ``u`` from the backward error of ``eigh``
(the computed eigen-decomposition is exact for :math:`A + E`, :math:`\|E\|_2 \le d\,u\,\|A\|_2`)
and the perturbation bounds of the matrix functions (Daleckii-Krein, with the Frobenius norm
:math:`\|E\|_F \le \sqrt d\,\|E\|_2`):

- :math:`\|\delta A^{1/2}\|_F \le \sqrt d\,\|E\|_2 / (2\sqrt{\lambda_{\min}(A)})`, and, for a PSD
  ``A`` whose smallest eigenvalue is at round-off level, the Hölder bound
  :math:`\|\delta A^{1/2}\|_2 \le \|E\|_2^{1/2}` (whichever is smaller);
- :math:`\|\delta A^{-1/2}\|_F \le \sqrt d\,\|E\|_2 / (2\lambda_{\min}(A)^{3/2})`,
  :math:`\|\delta A^{-1}\|_F \le \sqrt d\,\|E\|_2/\lambda_{\min}(A)^2`;
- a product ``F G`` adds :math:`d\,u\,\|F\|\,\|G\|` (dot products of length d), a difference
  ``x − y`` adds :math:`u(|x| + |y|)`.

The resulting bound is what float64 can resolve of ε at this state; it grows like κ(S)·u·s for
ill-conditioned steps (s the size of the cancelling terms, :func:`theory.gaussian.residual_scale`)
and is ≈ u·s for well-conditioned ones. Constants are those of the standard bounds above (no
fitted factor); docs/numerics.md §2.6 has the derivation. ``gaussian_inexact`` checks that the
achieved ε of every generated step is within this bound (claim C3).
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray

from theory.gaussian._target import _GaussianTarget, gaussian_target, mean_cov
from theory.spd import spectrum
from theory.validate import as_matrix, as_vector, check_positive_scalar

__all__ = ["residual_error_bound", "residual_error_bound_at"]

Array = NDArray[np.float64]
_U = float(np.finfo(np.float64).eps)


def _sqrt_err(e2: float, lam_min: float, d: int) -> float:
    """Bound on ‖δA^{1/2}‖_F for an ``eigh`` backward error ‖E‖_2 = ``e2`` (see module doc)."""
    lipschitz = math.sqrt(d) * e2 / (2.0 * math.sqrt(lam_min)) if lam_min > 0.0 else math.inf
    return min(lipschitz, math.sqrt(d * e2))


def residual_error_bound_at(m: Array, sig: Array, mu: Array, new_cov: Array, gamma: float,
                            tg: _GaussianTarget) -> float:
    r"""First-order bound on :math:`|\hat\varepsilon - \varepsilon|` of ``foc_residual``.

    Args:
        m ((d,) array): mean of ρ_n.
        sig ((d, d) PSD array): covariance Σ of ρ_n (singular allowed).
        mu ((d,) array): mean of the candidate ρ_{n+1}.
        new_cov ((d, d) SPD array): covariance S of the candidate.
        gamma (float > 0): step size γ.
        tg: the validated target (Q = C^{-1}, b, β, P).

    Returns:
        float: the bound, in the units of ε (length / time). ``inf`` if S is not PD.
    """
    d = m.shape[0]
    lam = np.linalg.eigvalsh(new_cov)
    if not lam[0] > 0.0:
        return math.inf
    s_min, s_max = float(lam[0]), float(lam[-1])
    e_s = d * _U * s_max  # eigh backward error of S
    r_norm, ri_norm = math.sqrt(s_max), 1.0 / math.sqrt(s_min)  # ‖S^{1/2}‖, ‖S^{-1/2}‖
    d_r = _sqrt_err(e_s, s_min, d)
    d_ri = math.sqrt(d) * e_s / (2.0 * s_min**1.5)
    sig_max = max(float(np.linalg.eigvalsh(sig)[-1]), 0.0)
    # X = S^{1/2} Σ S^{1/2}: error from δS^{1/2} (twice), the products, and its own eigh
    x = np.linalg.eigvalsh(_sym_sqrt_prod(new_cov, sig))
    x_min, x_max = max(float(x[0]), 0.0), max(float(x[-1]), 0.0)
    e_x = 2.0 * d_r * sig_max * r_norm + 2.0 * d * _U * x_max + d * _U * x_max
    d_xh = _sqrt_err(e_x, x_min, d)
    # B S^{1/2} = S^{-1/2} X^{1/2}
    d_bs = d_ri * math.sqrt(x_max) + ri_norm * d_xh + d * _U * ri_norm * math.sqrt(x_max)
    # Q = C^{-1}, from the target's spectrum
    qw = tg.q_spec.w
    q_max = float(qw.max())
    c_max = 1.0 / float(qw.min())
    d_q = 0.0 if tg.identity_cov else math.sqrt(d) * d * _U * c_max * q_max**2
    p_norm = 0.0 if tg.p is None else float(np.linalg.norm(tg.p, 2))
    lin = q_max + p_norm + 1.0 / gamma  # ‖Q + P + I/γ‖_2
    d_m = (d_q * r_norm + lin * d_r + d * _U * lin * r_norm  # (Q + P + I/γ) S^{1/2}
           + d_bs / gamma + tg.beta * d_ri                     # B S^{1/2}/γ, β S^{-1/2}
           + _U * math.sqrt(d) * (lin * r_norm + math.sqrt(x_max) * ri_norm / gamma
                                  + tg.beta * ri_norm))        # the two subtractions
    nb, nm, nmu = (float(np.linalg.norm(v)) for v in (tg.b, m, mu))
    dev, step = float(np.linalg.norm(mu - tg.b)), float(np.linalg.norm(mu - m))
    d_c = (d_q * dev + q_max * _U * (nmu + nb) + d * _U * q_max * dev  # Q(μ − b)
           + _U * (nmu + nm) / gamma                                    # (μ − m)/γ
           + _U * (q_max * dev + step / gamma))                         # their sum
    return float(d_c + d_m)


def _sym_sqrt_prod(s: Array, sig: Array) -> Array:
    """``S^{1/2} Σ S^{1/2}`` (for its spectrum only)."""
    w, v = np.linalg.eigh(0.5 * (s + s.T))
    r = (v * np.sqrt(np.maximum(w, 0.0))) @ v.T
    return 0.5 * (r @ sig @ r + (r @ sig @ r).T)


def residual_error_bound(
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
    r"""Bound on the float64 error of :func:`theory.gaussian.foc_residual` at this step.

    Claims C3-C6 (docs/numerics.md §2.6); see the module docstring for the derivation. Same
    arguments as :func:`theory.gaussian.foc_residual` (``cov`` may be singular, ``new_cov`` must
    be positive definite).

    Returns:
        float: a first-order bound on :math:`|\hat\varepsilon - \varepsilon|`, in the units of ε.

    Example:
        >>> b = residual_error_bound([0.0], [[1.0]], [0.5], [[1.0]], gamma=1.0)
        >>> 0.0 < b < 1e-14
        True
    """
    m, s = mean_cov(mean, cov)
    mu = as_vector(new_mean, "new_mean", s.d)
    gamma = check_positive_scalar(gamma, "gamma")
    tg = gaussian_target(s.d, target_mean=target_mean, target_cov=target_cov, beta=beta,
                         interaction=interaction)
    s_new = spectrum(new_cov, "new_cov", d=s.d)
    s_new.require_definite("new_cov")
    return residual_error_bound_at(m, as_matrix(cov, "cov", s.d), mu,
                                   as_matrix(new_cov, "new_cov", s.d), gamma, tg)
