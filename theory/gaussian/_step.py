r"""The exact Gaussian JKO step, its Brenier map, and the closed-form sub-steps beside it.

Claims C1, C2, C5, C10, C14, C15, C18 (docs/theory.md §5.2-§5.3, docs/numerics.md §1.2, §1.5).
One step minimises :math:`G(\rho) + W_2^2(\rho,\rho_n)/(2\gamma)` with G the quadratic-family
functional of :mod:`theory.gaussian._target`; for ``beta = 1`` and ``P = 0`` this is
:math:`\mathrm{KL}(\cdot\|q)` up to a constant. All in float64; singular (PSD) data covariances
are accepted by the step, the entropy prox and the OU marginal.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from theory.gaussian._affine import AffineMap
from theory.gaussian._metrics import ot_map
from theory.gaussian._target import _GaussianTarget, gaussian_target, mean_cov
from theory.spd import Spectrum, spectrum, symmetrize
from theory.validate import check_nonneg_scalar, check_positive_scalar

__all__ = ["entropy_prox", "jko_map", "jko_step", "ou_marginal", "potential_step"]

Array = NDArray[np.float64]


def _step_cov(s: Spectrum, gamma: float, tg: _GaussianTarget) -> Array:
    r"""Covariance after one step: :math:`\Sigma' = M^{-1/2} g(R) M^{-1/2}`, for any γ > 0.

    With :math:`M = I/\gamma + Q + P`, ``R = M^{-1/2} Σ M^{-1/2}`` and
    ``g(r) = (√r/(2γ) + √(β + r/(4γ²)))²``. Derived from docs/numerics.md §1.2
    (``A = M^{-1/2}[I/(2γ) + (βM^{1/2}Σ^{-1}M^{1/2} + I/(4γ²))^{1/2}]M^{-1/2}``, ``Σ' = AΣA``)
    by writing ``AΣA`` as a function of ``R``; this form has no ``Σ^{-1}`` and so
    is valid for singular Σ (a zero eigenvalue of R maps to β).

    Evaluated with ``t = min(γ, 1)``, ``N = tM = (t/γ)I + t(Q + P)``, ``R_t = N^{-1/2} Σ N^{-1/2}
    = R/t``, ``a = (t/γ)√R_t/2`` and ``Σ' = N^{-1/2} (a + √(tβ + a²))² N^{-1/2}``: the same value,
    but no intermediate overflows for huge γ (no 4γ²; N → Q + P) or tiny γ (no I/γ;
    N = I + γ(Q + P) ⪰ I, so R_t ⪯ Σ). For γ ≥ 1 it is the M form above.
    """
    t = min(gamma, 1.0)
    g_over_t = gamma / t  # exactly γ (γ > 1) or 1 (γ <= 1)
    n_mat = np.eye(s.d) / g_over_t + t * tg.q + (0.0 if tg.p is None else t * tg.p)
    nh = spectrum(n_mat, "interaction").apply(lambda w: 1.0 / np.sqrt(w))
    r = spectrum(symmetrize(nh @ s.apply(lambda w: w) @ nh), "cov")

    def g_t(w: Array) -> Array:
        a = np.sqrt(w) / (2.0 * g_over_t)
        return (a + np.sqrt(t * tg.beta + a * a)) ** 2

    return symmetrize(nh @ r.apply(g_t) @ nh)


def _shrink(gamma: float, q: Array) -> tuple[Array, Array]:
    r"""Return ``(1/(1+γq), γ/(1+γq))`` elementwise, without overflow for any γ > 0, q > 0.

    For γ <= 1 the denominator is ``1 + γq``; for γ > 1 both are divided by γ:
    ``(1/γ)/(1/γ + q)`` and ``1/(1/γ + q)`` (γq may overflow, 1/γ + q does not).
    """
    t = min(gamma, 1.0)
    den = t / gamma + t * q  # (1 + γq)·t/γ
    return (t / gamma) / den, t / den


def exact_step(m: Array, s: Spectrum, gamma: float, tg: _GaussianTarget) -> tuple[Array, Array]:
    """The exact JKO step from validated ``N(m, Σ)`` (``s``: spectrum of Σ) toward ``tg``.

    Overflow-free for every finite γ > 0 (:func:`_shrink`, :func:`_step_cov`); as γ → ∞ the
    step tends to the minimiser of G, ``N(b, β(Q + P)^{-1})``.
    """
    qs = tg.q_spec
    # mean: (m' - m)/γ + Q(m' - b) = 0  =>  m' = b + (I + γQ)^{-1}(m - b)
    f, _ = _shrink(gamma, qs.w)
    new_mean = tg.b + qs.u @ ((qs.u.T @ (m - tg.b)) * f)
    if tg.p is None and np.ptp(qs.w) == 0.0:
        # Q = qI: per eigenvalue σ² of Σ, σ' = (σ + sqrt(σ² + 4βγ(1+γq))) / (2(1+γq))
        #                                    = a + sqrt(a² + βγ/(1+γq)),  a = σ/(2(1+γq)).
        f0, c0 = _shrink(gamma, qs.w[:1])
        a = np.sqrt(s.w) * (0.5 * f0[0])
        new_sig = a + np.sqrt(a * a + tg.beta * c0[0])
        return new_mean, symmetrize((s.u * new_sig**2) @ s.u.T)
    return new_mean, _step_cov(s, gamma, tg)


def jko_step(
    mean: ArrayLike,
    cov: ArrayLike,
    *,
    gamma: float,
    target_mean: ArrayLike | None = None,
    target_cov: ArrayLike | None = None,
    beta: float = 1.0,
    interaction: ArrayLike | None = None,
) -> tuple[Array, Array]:
    r"""One exact JKO step :math:`\arg\min_\rho G(\rho) + W_2^2(\rho,\rho_n)/(2\gamma)`, Gaussian.

    Claims C1, C2, C5, C10, C15, C18 (docs/theory.md §5.2, docs/numerics.md §1.2). With
    :math:`M = I/\gamma + Q + P`,

    .. math::
        m' = b + (I+\gamma Q)^{-1}(m-b),\qquad
        \Sigma' = M^{-1/2}\Big(\tfrac{R^{1/2}}{2\gamma}
                  + \big(\beta I + \tfrac{R}{4\gamma^2}\big)^{1/2}\Big)^2 M^{-1/2},
        \quad R = M^{-1/2}\Sigma M^{-1/2}.

    For the standard target this is, per eigenvalue σ² of Σ,
    :math:`\sigma' = (\sigma + \sqrt{\sigma^2+4\gamma(1+\gamma)})/(2(1+\gamma))` and
    :math:`m' = m/(1+\gamma)`; a zero eigenvalue (singular data) maps to γ/(1+γ).

    Every finite γ > 0 is evaluated without overflow (the formulas are rewritten with
    ``t = min(γ, 1)``, see ``_step_cov``): as γ → ∞ the step tends to the minimiser of G,
    :math:`\mathcal N(b, \beta(Q+P)^{-1})` (q itself for KL), and as γ → 0 to ρ_n.

    Args:
        mean ((d,) array): mean of ρ_n.
        cov ((d, d) PSD array): covariance of ρ_n (singular allowed).
        gamma (float > 0): step size γ.
        target_mean ((d,) array or None): b (default 0).
        target_cov ((d, d) SPD array or None): C = Q^{-1} (default I).
        beta (float >= 0): entropy weight β (1 for KL).
        interaction ((d, d) PSD array or None): P of the interaction W(z) = z^T P z / 2.

    Returns:
        ((d,) float64 array, (d, d) float64 array): mean and covariance of ρ_{n+1}.

    Raises:
        ValueError: on bad shapes, non-finite/non-symmetric/indefinite matrices, a singular
            ``target_cov``, ``gamma <= 0`` or ``beta < 0``.

    Example:
        >>> m, c = jko_step([3.0, 3.0], [[1.0, 0.0], [0.0, 1.0]], gamma=0.5)
        >>> m.tolist(), c.round(12).tolist()
        ([2.0, 2.0], [[1.0, 0.0], [0.0, 1.0]])
    """
    m, s = mean_cov(mean, cov)
    gamma = check_positive_scalar(gamma, "gamma")
    tg = gaussian_target(s.d, target_mean=target_mean, target_cov=target_cov, beta=beta,
                         interaction=interaction)
    return exact_step(m, s, gamma, tg)


def jko_map(
    mean: ArrayLike,
    cov: ArrayLike,
    *,
    gamma: float,
    target_mean: ArrayLike | None = None,
    target_cov: ArrayLike | None = None,
    beta: float = 1.0,
    interaction: ArrayLike | None = None,
) -> AffineMap:
    r"""The exact JKO step as its Brenier map :math:`T(x) = m' + A(x-m)` (an :class:`AffineMap`).

    Claims C9, C11 (docs/theory.md §5.2). ``A`` is the OT matrix from Σ to Σ' (symmetric PD).
    Requires a non-singular ``cov``: from singular data the step is defined (see
    :func:`jko_step`) but no map pushes it forward.
    """
    new_mean, new_cov = jko_step(
        mean, cov, gamma=gamma, target_mean=target_mean, target_cov=target_cov, beta=beta,
        interaction=interaction,
    )
    return AffineMap.from_centered(ot_map(cov, new_cov), mean, new_mean)


def entropy_prox(
    mean: ArrayLike, cov: ArrayLike, *, gamma: float, beta: float = 1.0
) -> tuple[Array, Array]:
    r"""W2-proximal step of the entropy alone, :math:`\beta\int\rho\log\rho` (backward heat step).

    Claim C14 (docs/theory.md §5.3, docs/numerics.md §1.2). Mean unchanged; per eigenvalue
    :math:`s' = (\sigma + \sqrt{\sigma^2 + 4\beta\gamma})^2/4`, i.e.
    :math:`\Sigma' = \tfrac12(\Sigma + 2\beta\gamma I + [\Sigma(\Sigma + 4\beta\gamma I)]^{1/2})`.

    Returns:
        ((d,) array, (d, d) array): mean and covariance after the step.
    """
    m, s = mean_cov(mean, cov)
    gamma = check_positive_scalar(gamma, "gamma")
    beta = check_nonneg_scalar(beta, "beta")
    return m.copy(), s.apply(lambda w: (np.sqrt(w) + np.sqrt(w + 4 * beta * gamma)) ** 2 / 4)


def potential_step(
    mean: ArrayLike,
    cov: ArrayLike,
    *,
    gamma: float,
    target_mean: ArrayLike | None = None,
    target_cov: ArrayLike | None = None,
) -> tuple[Array, Array]:
    r"""Explicit (forward) gradient step on :math:`V = (x-b)^\top Q(x-b)/2`: push by x - γ∇V(x).

    Claim C14 (docs/numerics.md §1.2): :math:`m \mapsto m - \gamma Q(m-b)`,
    :math:`\Sigma \mapsto (I-\gamma Q)\Sigma(I-\gamma Q)`.
    """
    m, s = mean_cov(mean, cov)
    gamma = check_positive_scalar(gamma, "gamma")
    t = gaussian_target(s.d, target_mean=target_mean, target_cov=target_cov)
    a = np.eye(s.d) - gamma * t.q
    return m - gamma * t.q @ (m - t.b), symmetrize(a @ s.apply(lambda w: w) @ a)


def ou_marginal(
    mean: ArrayLike,
    cov: ArrayLike,
    *,
    t: float,
    target_mean: ArrayLike | None = None,
    target_cov: ArrayLike | None = None,
) -> tuple[Array, Array]:
    r"""Law at time t of the OU / Fokker–Planck flow of KL(·‖N(b, C)).

    Claim C10 (docs/theory.md R6, docs/numerics.md §1.5). For :math:`dX = -Q(X-b)dt + \sqrt2\,dW`,

    .. math::
        m_t = b + e^{-Qt}(m_0-b),\qquad \Sigma_t = e^{-Qt}\Sigma_0e^{-Qt} + C(I - e^{-2Qt}).

    Standard target: :math:`\mathcal N(e^{-t}m_0, e^{-2t}\Sigma_0 + (1-e^{-2t})I)` (the paper's
    short-time diffusion ρ_δ for ``t = δ``). Singular ``cov`` allowed.

    Raises:
        ValueError: if ``t`` is negative or not finite.
    """
    m, s = mean_cov(mean, cov)
    tt = float(t)
    if not np.isfinite(tt) or tt < 0.0:
        raise ValueError(f"t must be a finite number >= 0, got {t!r}")
    tg = gaussian_target(s.d, target_mean=target_mean, target_cov=target_cov)
    qs = tg.q_spec
    e = qs.apply(lambda w: np.exp(-w * tt))
    noise = qs.apply(lambda w: -np.expm1(-2.0 * w * tt) / w)
    return tg.b + e @ (m - tg.b), symmetrize(e @ s.apply(lambda w: w) @ e + noise)
