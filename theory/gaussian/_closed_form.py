r"""Exact Gaussian JKO theory: KL, W2, OT maps, the JKO step and its first-order residual.

Claims C1, C2, C5, C7, C10, C14, C15, C18 (theory.md §5, numerics.md §1-§2). All in float64.

The objective of one step is the quadratic-family functional of numerics.md §0,

.. math::
    G(\rho) = \int V\,d\rho + \beta\int\rho\log\rho + \tfrac12\iint W(x-y)\,d\rho\,d\rho,
    \qquad V(x) = \tfrac12 (x-b)^\top Q (x-b),\quad W(z) = \tfrac12 z^\top P z,

with target :math:`q = \mathcal N(b, C)`, :math:`Q = C^{-1}`. For ``beta = 1`` and ``P = 0`` this
is :math:`\mathrm{KL}(\cdot\|q)` up to a constant, with convexity modulus
:math:`\lambda = \lambda_{\min}(Q) = 1/\lambda_{\max}(C)`.

Units: ``w2`` returns W2 (not squared), ``w2_sq`` returns W2^2, ``kl`` is in nats.
Singular (PSD) covariances are valid data: the JKO step, OU smoothing and W2 accept them, and
``kl`` of a singular Gaussian against a non-degenerate one is ``inf``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from theory.gaussian._affine import AffineMap
from theory.spd import DEFAULT_RTOL, Spectrum, spectrum, symmetrize
from theory.validate import as_matrix, as_vector, check_positive_scalar

__all__ = [
    "convexity_modulus",
    "entropy",
    "entropy_prox",
    "foc_residual",
    "jko_map",
    "jko_step",
    "kl",
    "ot_map",
    "ou_marginal",
    "potential_step",
    "w2",
    "w2_sq",
]

Array = NDArray[np.float64]

#: Below this |delta| the series of delta - log1p(delta) is used (error < 1e-12 relative).
_SERIES_CUTOFF = 1e-4

#: Relative eigenvalue cut-off for the *intermediate* product Σ0^{1/2} Σ1 Σ0^{1/2} (OT map, W2):
#: its condition number is cond(Σ0)·cond(Σ1), so the input cut-off (spd.DEFAULT_RTOL = 2.2e-10)
#: would zero genuine eigenvalues (e.g. cond 1e7 data against a cond 1e4 step gave a residual
#: of 4e-3 for the exact step). eigh's absolute eigenvalue error is ~d·eps·max|eig|.
_PRODUCT_RTOL = 1e3 * np.finfo(np.float64).eps


# ----------------------------------------------------------------------------------------------
# Argument handling
# ----------------------------------------------------------------------------------------------


def _mean_cov(mean: ArrayLike, cov: ArrayLike, mname: str, cname: str) -> tuple[Array, Spectrum]:
    s = spectrum(cov, cname)
    return as_vector(mean, mname, s.d), s


@dataclass(frozen=True)
class _Target:
    """Quadratic potential ``V = (x-b)^T Q (x-b) / 2`` of a target ``N(b, C)``."""

    b: Array
    q: Array  # Q = C^{-1}
    q_spec: Spectrum
    standard: bool


def _target(d: int, target_mean: ArrayLike | None, target_cov: ArrayLike | None) -> _Target:
    b = np.zeros(d) if target_mean is None else as_vector(target_mean, "target_mean", d)
    if target_cov is None:
        eye = np.eye(d)
        return _Target(b, eye, Spectrum(np.ones(d), eye, 0.0), standard=target_mean is None)
    c = spectrum(target_cov, "target_cov", d=d)
    c.require_definite("target_cov")
    q_spec = Spectrum(1.0 / c.w, c.u, 0.0)
    return _Target(b, q_spec.apply(lambda w: w), q_spec, standard=False)


def _interaction(d: int, interaction: ArrayLike | None) -> Array | None:
    if interaction is None:
        return None
    spectrum(interaction, "interaction", d=d)  # validates PSD
    return as_matrix(interaction, "interaction", d)


def _check_beta(beta: float) -> float:
    b = float(beta)
    if not np.isfinite(b) or b < 0.0:
        raise ValueError(f"beta must be a finite number >= 0, got {beta!r}")
    return b


def convexity_modulus(target_cov: ArrayLike | None = None, d: int | None = None) -> float:
    r"""Convexity modulus :math:`\lambda = 1/\lambda_{\max}(C)` of :math:`\mathrm{KL}(\cdot\|\mathcal N(b,C))`.

    Args:
        target_cov ((d, d) array or None): target covariance ``C`` (``None``: identity, λ = 1).
        d (int, optional): dimension check.

    Returns:
        float: λ (per unit of W2², the modulus of λ-convexity along generalized geodesics).
    """
    if target_cov is None:
        return 1.0
    c = spectrum(target_cov, "target_cov", d=d)
    c.require_definite("target_cov")
    return float(1.0 / c.w[-1])


# ----------------------------------------------------------------------------------------------
# KL, entropy, W2, OT maps (theory.md §5.1, numerics.md §1.1)
# ----------------------------------------------------------------------------------------------


def _delta_minus_log1p(delta: Array) -> Array:
    """Return ``delta - log(1 + delta)`` elementwise, accurate for tiny |delta|; inf at -1."""
    delta = np.asarray(delta, dtype=np.float64)
    out = np.empty_like(delta)
    small = np.abs(delta) < _SERIES_CUTOFF
    ds = delta[small]
    out[small] = ds * ds * (0.5 - ds * (1.0 / 3.0 - ds * (0.25 - ds / 5.0)))
    big = ~small
    db = delta[big]
    with np.errstate(divide="ignore"):
        out[big] = np.where(db <= -1.0, np.inf, db - np.log1p(np.maximum(db, -1.0)))
    return out


def kl(
    mean0: ArrayLike,
    cov0: ArrayLike,
    mean1: ArrayLike | None = None,
    cov1: ArrayLike | None = None,
) -> float:
    r"""KL divergence :math:`\mathrm{KL}(\mathcal N(m_0,\Sigma_0)\,\|\,\mathcal N(m_1,\Sigma_1))` in nats.

    Claims C5, C7, C8 (theory.md §5.1). With :math:`\delta_i` the eigenvalues of
    :math:`\Sigma_1^{-1/2}(\Sigma_0-\Sigma_1)\Sigma_1^{-1/2}` (formed from the *difference*, so
    that KL stays accurate relative to itself down to ~1e-20 near the target),

    .. math::
        \mathrm{KL} = \tfrac12\sum_i\big(\delta_i - \log(1+\delta_i)\big)
                      + \tfrac12 (m_0-m_1)^\top\Sigma_1^{-1}(m_0-m_1).

    Args:
        mean0 ((d,) array), cov0 ((d, d) PSD array): the first law.
        mean1 ((d,) array or None), cov1 ((d, d) SPD array or None): the second law
            (default ``N(0, I)``).

    Returns:
        float: KL in nats; ``inf`` if ``cov0`` is singular (no density).

    Raises:
        ValueError: on bad shapes, non-finite, non-symmetric or indefinite matrices, or a
            singular ``cov1``.

    Example:
        >>> round(kl([1.0, 0.0], [[1.0, 0.0], [0.0, 1.0]]), 12)
        0.5
    """
    m0, s0 = _mean_cov(mean0, cov0, "mean0", "cov0")
    d = s0.d
    m1 = np.zeros(d) if mean1 is None else as_vector(mean1, "mean1", d)
    if cov1 is None:
        c1 = np.eye(d)
        s1 = Spectrum(np.ones(d), c1, 0.0)
    else:
        c1 = as_matrix(cov1, "cov1", d)
        s1 = spectrum(c1, "cov1", d=d)
        s1.require_definite("cov1")
    if s0.is_singular:
        return float("inf")
    w = s1.apply(lambda x: 1.0 / np.sqrt(x))  # Sigma_1^{-1/2}
    c0 = as_matrix(cov0, "cov0", d)
    delta = np.linalg.eigvalsh(symmetrize(w @ (c0 - c1) @ w))
    dm = w @ (m0 - m1)
    val = 0.5 * float(np.sum(_delta_minus_log1p(delta))) + 0.5 * float(dm @ dm)
    return max(val, 0.0)  # each term is >= 0 in exact arithmetic


def entropy(cov: ArrayLike) -> float:
    r"""Differential entropy :math:`h = \tfrac12\log\det(2\pi e\Sigma)` of :math:`\mathcal N(m,\Sigma)` in nats.

    Note :math:`\int\rho\log\rho = -h`. Returns ``-inf`` for a singular covariance.
    """
    s = spectrum(cov, "cov")
    return 0.5 * (s.d * np.log(2.0 * np.pi * np.e) + s.logdet())


def _cov_gap_sq(s0: Spectrum, c0: Array, c1: Array) -> float:
    r"""Return :math:`\|(A-I)\Sigma_0^{1/2}\|_F^2 = \mathrm{tr}((A-I)\Sigma_0(A-I))` for SPD Σ0.

    ``Z = X^{1/2} - Σ0`` with ``X = Σ0^{1/2} Σ1 Σ0^{1/2}`` solves the Sylvester equation
    ``X^{1/2} Z + Z Σ0 = Σ0^{1/2} (Σ1 - Σ0) Σ0^{1/2}``, whose right-hand side is formed from the
    difference of the covariances: no cancellation, so W2 stays accurate far below 1e-8.
    Then ``(A - I) Σ0^{1/2} = Σ0^{-1/2} Z``.
    """
    r0 = s0.sqrt()
    x = spectrum(symmetrize(r0 @ c1 @ r0), "cov1", rtol=_PRODUCT_RTOL)
    rhs = symmetrize(r0 @ (c1 - c0) @ r0)
    # Solve in the eigenbases: X^{1/2} = Ux diag(a) Ux^T, Σ0 = U0 diag(s) U0^T.
    k = (x.u.T @ rhs @ s0.u) / (np.sqrt(x.w)[:, None] + s0.w[None, :])
    # Σ0^{-1/2} Z = U0 diag(s^{-1/2}) U0^T Ux k U0^T; Frobenius norm is invariant under U0.
    m = (s0.u.T @ x.u @ k) / np.sqrt(s0.w)[:, None]
    return float(np.sum(m * m))


def w2_sq(
    mean0: ArrayLike,
    cov0: ArrayLike,
    mean1: ArrayLike | None = None,
    cov1: ArrayLike | None = None,
) -> float:
    r"""Squared 2-Wasserstein distance between two Gaussians (default second law ``N(0, I)``).

    Claims C2-C7 (theory.md §5.1, numerics.md §1.1). Map (cancellation-free) form

    .. math::
        W_2^2 = |m_0-m_1|^2 + \mathrm{tr}\big((A-I)\Sigma_0(A-I)\big),\qquad
        A = \Sigma_0^{-1/2}(\Sigma_0^{1/2}\Sigma_1\Sigma_0^{1/2})^{1/2}\Sigma_0^{-1/2},

    evaluated through a Sylvester equation so that it is accurate when W2 ≪ 1e-4. The
    non-singular covariance is put first; if both are singular the Bures trace formula is used
    (accurate only to ~1e-8 absolute in W2).

    Returns:
        float: W2² (squared), >= 0.
    """
    m0, s0 = _mean_cov(mean0, cov0, "mean0", "cov0")
    d = s0.d
    m1 = np.zeros(d) if mean1 is None else as_vector(mean1, "mean1", d)
    c0 = as_matrix(cov0, "cov0", d)
    c1 = np.eye(d) if cov1 is None else as_matrix(cov1, "cov1", d)
    s1 = Spectrum(np.ones(d), np.eye(d), 0.0) if cov1 is None else spectrum(c1, "cov1", d=d)
    dm = m0 - m1
    mean_part = float(dm @ dm)
    if s0.is_singular and not s1.is_singular:
        s0, c0, c1 = s1, c1, c0
    if not s0.is_singular:
        return mean_part + _cov_gap_sq(s0, c0, c1)
    r0 = s0.sqrt()
    x = symmetrize(r0 @ c1 @ r0)
    # The product's round-off is ~eps * ||Σ0|| ||Σ1||, not relative to the product itself (which
    # is ~0 for nearly orthogonal supports): cut eigenvalues off relative to ||Σ0|| ||Σ1||.
    x_max = float(np.abs(x).max())
    ref = float(s0.w[-1]) * float(s1.w[-1])
    rtol = DEFAULT_RTOL if x_max == 0.0 else max(DEFAULT_RTOL, DEFAULT_RTOL * d * ref / x_max)
    cross = spectrum(x, "cov1", rtol=rtol)
    bures = float(np.trace(c0) + np.trace(c1) - 2.0 * np.sum(np.sqrt(cross.w)))
    return mean_part + max(bures, 0.0)  # Bures^2 >= 0; can round to ~ -1e-15


def w2(
    mean0: ArrayLike,
    cov0: ArrayLike,
    mean1: ArrayLike | None = None,
    cov1: ArrayLike | None = None,
) -> float:
    r"""2-Wasserstein distance W2 (not squared) between two Gaussians (default ``N(0, I)``).

    See :func:`w2_sq` for the formula and accuracy.

    Example:
        >>> round(w2([3.0, 4.0], [[1.0, 0.0], [0.0, 1.0]]), 12)
        5.0
    """
    return float(np.sqrt(w2_sq(mean0, cov0, mean1, cov1)))


def ot_map(cov0: ArrayLike, cov1: ArrayLike) -> Array:
    r"""Brenier map matrix from :math:`\mathcal N(\cdot,\Sigma_0)` to :math:`\mathcal N(\cdot,\Sigma_1)`.

    .. math:: A = \Sigma_0^{-1/2}(\Sigma_0^{1/2}\Sigma_1\Sigma_0^{1/2})^{1/2}\Sigma_0^{-1/2}

    (symmetric PSD, ``A Σ0 A = Σ1``); the map is ``x -> m1 + A (x - m0)``.

    Raises:
        ValueError: if ``cov0`` is singular (the map is then not unique).
    """
    s0 = spectrum(cov0, "cov0")
    s0.require_definite("cov0")
    c1 = as_matrix(cov1, "cov1", s0.d)
    spectrum(c1, "cov1")
    r0, r0i = s0.sqrt(), s0.inv_sqrt("cov0")
    x = spectrum(symmetrize(r0 @ c1 @ r0), "cov1", rtol=_PRODUCT_RTOL)
    return symmetrize(r0i @ x.sqrt() @ r0i)


# ----------------------------------------------------------------------------------------------
# The JKO step (theory.md §5.2, numerics.md §1.2)
# ----------------------------------------------------------------------------------------------


def _step_cov(s: Spectrum, gamma: float, m_spec: Spectrum, beta: float) -> Array:
    r"""Covariance after one step: :math:`\Sigma' = M^{-1/2} g(R) M^{-1/2}`.

    ``R = M^{-1/2} Σ M^{-1/2}``, ``g(r) = (√r/(2γ) + √(β + r/(4γ²)))²``. Derived from
    numerics.md §1.2 (``A = M^{-1/2}[I/(2γ) + (βM^{1/2}Σ^{-1}M^{1/2} + I/(4γ²))^{1/2}]M^{-1/2}``,
    ``Σ' = AΣA``) by writing ``AΣA`` as a function of ``R``; this form has no ``Σ^{-1}`` and so
    is valid for singular Σ (a zero eigenvalue of R maps to β).
    """
    mh = m_spec.apply(lambda w: 1.0 / np.sqrt(w))
    cov = s.apply(lambda w: w)
    r = spectrum(symmetrize(mh @ cov @ mh), "cov")
    g = r.apply(lambda w: (np.sqrt(w) / (2 * gamma) + np.sqrt(beta + w / (4 * gamma**2))) ** 2)
    return symmetrize(mh @ g @ mh)


def _step(
    mean: ArrayLike,
    cov: ArrayLike,
    gamma: float,
    target_mean: ArrayLike | None,
    target_cov: ArrayLike | None,
    beta: float,
    interaction: ArrayLike | None,
    *,
    potential: bool = True,
) -> tuple[Array, Array]:
    """Shared implementation of :func:`jko_step` (``potential=True``) and :func:`entropy_prox`."""
    m, s = _mean_cov(mean, cov, "mean", "cov")
    d = s.d
    gamma = check_positive_scalar(gamma, "gamma")
    beta = _check_beta(beta)
    p = _interaction(d, interaction)
    if not potential:
        # Q = 0, P = 0: per eigenvalue s' = (σ + sqrt(σ² + 4βγ))² / 4, mean unchanged.
        return m.copy(), s.apply(lambda w: (np.sqrt(w) + np.sqrt(w + 4 * beta * gamma)) ** 2 / 4)
    tg = _target(d, target_mean, target_cov)
    qs = tg.q_spec
    # mean: (m' - m)/γ + Q(m' - b) = 0  =>  m' = b + (I + γQ)^{-1}(m - b)
    new_mean = tg.b + qs.u @ ((qs.u.T @ (m - tg.b)) / (1.0 + gamma * qs.w))
    if p is None and np.ptp(qs.w) == 0.0:
        # Q = qI: per eigenvalue σ² of Σ, σ' = (σ + sqrt(σ² + 4βγ(1+γq))) / (2(1+γq)).
        gq = 1.0 + gamma * float(qs.w[0])
        sig = np.sqrt(s.w)
        new_sig = (sig + np.sqrt(sig * sig + 4.0 * beta * gamma * gq)) / (2.0 * gq)
        return new_mean, symmetrize((s.u * new_sig**2) @ s.u.T)
    m_mat = np.eye(d) / gamma + tg.q + (0.0 if p is None else p)
    return new_mean, _step_cov(s, gamma, spectrum(m_mat, "interaction"), beta)


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
    r"""One exact JKO step :math:`\rho' = \arg\min_\rho G(\rho) + W_2^2(\rho,\rho_n)/(2\gamma)` from a Gaussian.

    Claims C1, C2, C5, C10, C15, C18 (theory.md §5.2, numerics.md §1.2). With
    :math:`M = I/\gamma + Q + P`,

    .. math::
        m' = b + (I+\gamma Q)^{-1}(m-b),\qquad
        \Sigma' = M^{-1/2}\Big(\tfrac{R^{1/2}}{2\gamma}
                  + \big(\beta I + \tfrac{R}{4\gamma^2}\big)^{1/2}\Big)^2 M^{-1/2},
        \quad R = M^{-1/2}\Sigma M^{-1/2}.

    For the standard target this is, per eigenvalue σ² of Σ,
    :math:`\sigma' = (\sigma + \sqrt{\sigma^2+4\gamma(1+\gamma)})/(2(1+\gamma))` and
    :math:`m' = m/(1+\gamma)`; a zero eigenvalue (singular data) maps to γ/(1+γ).

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
    return _step(mean, cov, gamma, target_mean, target_cov, beta, interaction)


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

    ``A`` is the OT matrix from Σ to Σ' (symmetric PD). Requires a non-singular ``cov``: from
    singular data the step is defined (see :func:`jko_step`) but no map pushes it forward.
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

    Claim C14 (theory.md §5.3, numerics.md §1.2). Mean unchanged; per eigenvalue
    :math:`s' = (\sigma + \sqrt{\sigma^2 + 4\beta\gamma})^2/4`, i.e.
    :math:`\Sigma' = \tfrac12(\Sigma + 2\beta\gamma I + [\Sigma(\Sigma + 4\beta\gamma I)]^{1/2})`.

    Returns:
        ((d,) array, (d, d) array): mean and covariance after the step.
    """
    return _step(mean, cov, gamma, None, None, beta, None, potential=False)


def potential_step(
    mean: ArrayLike,
    cov: ArrayLike,
    *,
    gamma: float,
    target_mean: ArrayLike | None = None,
    target_cov: ArrayLike | None = None,
) -> tuple[Array, Array]:
    r"""Explicit (forward) gradient step on :math:`V = (x-b)^\top Q(x-b)/2`: push by ``x - γ∇V(x)``.

    Claim C14 (numerics.md §1.2): :math:`m \mapsto m - \gamma Q(m-b)`,
    :math:`\Sigma \mapsto (I-\gamma Q)\Sigma(I-\gamma Q)`.
    """
    m, s = _mean_cov(mean, cov, "mean", "cov")
    gamma = check_positive_scalar(gamma, "gamma")
    t = _target(s.d, target_mean, target_cov)
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
    r"""Law at time t of the OU / Fokker–Planck flow of :math:`\mathrm{KL}(\cdot\|\mathcal N(b,C))`.

    Claim C10 (theory.md R6, numerics.md §1.5). For :math:`dX = -Q(X-b)dt + \sqrt2\,dW`,

    .. math::
        m_t = b + e^{-Qt}(m_0-b),\qquad \Sigma_t = e^{-Qt}\Sigma_0e^{-Qt} + C(I - e^{-2Qt}).

    Standard target: :math:`\mathcal N(e^{-t}m_0, e^{-2t}\Sigma_0 + (1-e^{-2t})I)` (the paper's
    short-time diffusion ρ_δ for ``t = δ``). Singular ``cov`` allowed.

    Raises:
        ValueError: if ``t`` is negative or not finite.
    """
    m, s = _mean_cov(mean, cov, "mean", "cov")
    tt = float(t)
    if not np.isfinite(tt) or tt < 0.0:
        raise ValueError(f"t must be a finite number >= 0, got {t!r}")
    tg = _target(s.d, target_mean, target_cov)
    qs = tg.q_spec
    e = qs.apply(lambda w: np.exp(-w * tt))
    noise = qs.apply(lambda w: -np.expm1(-2.0 * w * tt) / w)
    return tg.b + e @ (m - tg.b), symmetrize(e @ s.apply(lambda w: w) @ e + noise)


# ----------------------------------------------------------------------------------------------
# First-order-condition residual (Assumption 1; numerics.md §2.1, theory.md §5.2)
# ----------------------------------------------------------------------------------------------


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

    Claims C1, C3-C6 (theory.md §5.2). ε is the :math:`L^2(\rho')` norm of the Wasserstein
    gradient of the step objective at ρ',

    .. math::
        \xi(y) = \nabla V(y) + \beta\nabla\log\rho'(y) + \nabla W*\rho'(y) + \frac{y - T^{-1}(y)}{\gamma}
               = c + C(y-\mu),

    with :math:`T^{-1}(y) = m + B(y-\mu)` the OT map from ρ' to ρ_n,
    :math:`C = Q + P - \beta S^{-1} + (I-B)/\gamma`, :math:`c = Q(\mu-b) + (\mu-m)/\gamma`, so
    :math:`\varepsilon^2 = |c|^2 + \mathrm{tr}(CSC^\top)`. Zero for the exact step.
    ``cov`` may be singular; ``new_cov`` must be positive definite.

    Returns:
        float: ε (not squared), in the units of a Wasserstein gradient (length / time).
    """
    m, s = _mean_cov(mean, cov, "mean", "cov")
    d = s.d
    mu = as_vector(new_mean, "new_mean", d)
    s_new = spectrum(new_cov, "new_cov", d=d)
    s_new.require_definite("new_cov")
    gamma = check_positive_scalar(gamma, "gamma")
    beta = _check_beta(beta)
    tg = _target(d, target_mean, target_cov)
    p = _interaction(d, interaction)
    b_map = ot_map(new_cov, cov)
    r = s_new.sqrt()
    c_mat = tg.q + (np.zeros((d, d)) if p is None else p) + (np.eye(d) - b_map) / gamma
    # C S^{1/2} = (Q + P + (I - B)/γ) S^{1/2} - β S^{-1/2}
    cs = c_mat @ r - beta * s_new.inv_sqrt("new_cov")
    c_vec = tg.q @ (mu - tg.b) + (mu - m) / gamma
    return float(np.sqrt(c_vec @ c_vec + np.sum(cs * cs)))
