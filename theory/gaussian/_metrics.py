r"""Distances and divergences between Gaussians: KL, entropy, W2, the Brenier (OT) map.

Claims C2-C8 (docs/theory.md §5.1, docs/numerics.md §1.1). All in float64.

Units: :func:`w2` returns W2 (not squared), :func:`w2_sq` returns W2², :func:`kl` and
:func:`entropy` are in nats. Singular (PSD) covariances are valid data: W2 accepts them, and
``kl`` of a singular Gaussian against a non-degenerate one is ``inf``.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.linalg import solve_triangular

from theory.gaussian._target import mean_cov
from theory.spd import DEFAULT_RTOL, Spectrum, spectrum, symmetrize
from theory.validate import as_matrix, as_vector

__all__ = ["entropy", "kl", "ot_map", "w2", "w2_sq"]

Array = NDArray[np.float64]

#: Below this |delta| the series of delta - log1p(delta) is used (error < 1e-12 relative).
_SERIES_CUTOFF = 1e-4

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
    r"""KL divergence KL(N(m0, Σ0) ‖ N(m1, Σ1)) in nats.

    Claims C5, C7, C8 (docs/theory.md §5.1). With :math:`\Sigma_1 = LL^\top` (Cholesky) and
    :math:`\delta_i` the eigenvalues of :math:`L^{-1}(\Sigma_0-\Sigma_1)L^{-\top}` (formed from
    the *difference*, so that KL stays accurate relative to itself down to ~1e-20 near the target),

    .. math::
        \mathrm{KL} = \tfrac12\sum_i\big(\delta_i - \log(1+\delta_i)\big)
                      + \tfrac12 |L^{-1}(m_0-m_1)|^2.

    When some :math:`1+\delta_i < 1/2` (then KL > 0.09, far from the target) the log terms are
    taken together as :math:`\log\det\Sigma_0 - \log\det\Sigma_1` by Cholesky, so that an
    ill-conditioned but definite Σ0 (e.g. ``diag(1, 1e-12)``: KL to N(0, I) = 13.3) keeps full
    relative accuracy: exact-to-round-off for diagonal data, and in general an absolute error
    ~``d * cond * eps`` (the conditioning of log det). ``kl(m, Σ, m, Σ) = 0`` exactly.

    Args:
        mean0 ((d,) array): mean of the first law.
        cov0 ((d, d) PSD array): covariance of the first law.
        mean1 ((d,) array or None): mean of the second law (default 0).
        cov1 ((d, d) SPD array or None): covariance of the second law (default I).

    Returns:
        float: KL in nats; ``inf`` if ``cov0`` is singular (no density).

    Raises:
        ValueError: on bad shapes, non-finite, non-symmetric or indefinite matrices, or a
            singular ``cov1``.

    Example:
        >>> round(kl([1.0, 0.0], [[1.0, 0.0], [0.0, 1.0]]), 12)
        0.5
    """
    m0, s0 = mean_cov(mean0, cov0, "mean0", "cov0")
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
    c0 = as_matrix(cov0, "cov0", d)
    whiten = _whitener(s1, c1, cov1 is None)
    delta = np.linalg.eigvalsh(symmetrize(whiten(whiten(c0 - c1).T)))
    dm = whiten(m0 - m1)
    mean_part = 0.5 * float(dm @ dm)
    if delta[0] > _LOGDET_SWITCH:
        val = 0.5 * float(np.sum(_delta_minus_log1p(delta))) + mean_part
    else:
        # Some 1 + δ_i < 1/2: log1p(δ_i) would inherit the absolute error ~eps of δ_i, relative
        # to 1 + δ_i. Use log det(Σ1^{-1} Σ0) = log det Σ0 - log det Σ1 by Cholesky instead
        # (relatively accurate for diagonal, well-scaled-diagonal data); here KL >= 0.096, so the
        # difference of the two terms does not cancel.
        tr_part = float(np.sum(delta))  # tr(Σ1^{-1}(Σ0 - Σ1))
        val = 0.5 * (tr_part - (s0.logdet() - s1.logdet())) + mean_part
    return max(val, 0.0)  # each term is >= 0 in exact arithmetic


#: Below this smallest δ_i = λ_i(Σ1^{-1} Σ0) - 1, :func:`kl` takes log det by Cholesky.
_LOGDET_SWITCH = -0.5


def _whitener(s1: Spectrum, c1: Array, identity: bool):
    r"""Return ``f`` with ``f(x) = L^{-1} x`` for a factor ``Σ1 = L L^T``.

    A matrix argument is whitened column by column, so ``f(f(X).T) = L^{-1} X L^{-T}``.
    ``L`` is the Cholesky factor (backward stable; accurate for diagonal and well-scaled-diagonal
    Σ1), or the symmetric root ``Σ1^{1/2}`` where Cholesky fails; the identity for ``Σ1 = I``.
    """
    if identity:
        return lambda x: x
    try:
        lo = np.linalg.cholesky(c1)
    except np.linalg.LinAlgError:
        w = s1.inv_sqrt("cov1")
        return lambda x: w @ x
    return lambda x: solve_triangular(lo, x, lower=True, check_finite=False)


def entropy(cov: ArrayLike) -> float:
    r"""Differential entropy :math:`h = \tfrac12\log\det(2\pi e\Sigma)` of N(m, Σ), in nats.

    Note :math:`\int\rho\log\rho = -h`. Returns ``-inf`` for a numerically singular
    covariance (:attr:`theory.spd.Spectrum.is_singular`); ``log det`` is by Cholesky, accurate to
    round-off for diagonal (any condition number) and well-scaled-diagonal covariances and to
    ~``d * cond * eps`` absolute in general.
    """
    s = spectrum(cov, "cov")
    return 0.5 * (s.d * np.log(2.0 * np.pi * np.e) + s.logdet())


#: Relative eigenvalue cut-off (a rank decision) for the product Σ0^{1/2} Σ1 Σ0^{1/2} when Σ1 is
#: singular data (claim C10): its round-off eigenvalues (~d·eps·max) would otherwise enter the
#: Sylvester denominators as sqrt(eps) ~ 1e-8. Its condition number is cond(Σ0)·cond(Σ1), so
#: the input-level cut-off spd.DEFAULT_RTOL = 2.2e-10 would zero genuine eigenvalues.
_PRODUCT_RTOL = 1e3 * np.finfo(np.float64).eps

#: Both covariances definite: the Bures trace formula is used when its value is at least this
#: fraction of tr Σ0 + tr Σ1 (its cancellation then costs at most a factor 1e3 of eps, and it
#: stays accurate to ~sqrt(cond)·eps for ill-conditioned Σ0, Σ1, where the Sylvester form
#: divides by Σ0^{1/2} and loses ~cond·eps); below it (near the target) the Sylvester form.
_BURES_MIN_FRACTION = 1e-3


def _cov_gap_sq(s0: Spectrum, c0: Array, c1: Array, x: Spectrum) -> float:
    r"""Return :math:`\|(A-I)\Sigma_0^{1/2}\|_F^2 = \mathrm{tr}((A-I)\Sigma_0(A-I))` for SPD Σ0.

    ``Z = X^{1/2} - Σ0`` with ``X = Σ0^{1/2} Σ1 Σ0^{1/2}`` solves the Sylvester equation
    ``X^{1/2} Z + Z Σ0 = Σ0^{1/2} (Σ1 - Σ0) Σ0^{1/2}``, whose right-hand side is formed from the
    difference of the covariances: no cancellation, so W2 stays accurate far below 1e-8.
    Then ``(A - I) Σ0^{1/2} = Σ0^{-1/2} Z``. ``x`` is the spectrum of ``X``.
    """
    r0 = s0.sqrt()
    rhs = symmetrize(r0 @ (c1 - c0) @ r0)  # exactly 0 when Σ1 = Σ0: then W2 = 0 exactly
    # Solve in the eigenbases: X^{1/2} = Ux diag(a) Ux^T, Σ0 = U0 diag(s) U0^T.
    k = (x.u.T @ rhs @ s0.u) / (np.sqrt(x.w)[:, None] + s0.w[None, :])
    # Σ0^{-1/2} Z = U0 diag(s^{-1/2}) U0^T Ux k U0^T; Frobenius norm is invariant under U0.
    m = (s0.u.T @ x.u @ k) / np.sqrt(s0.w)[:, None]
    return float(np.sum(m * m))


#: Inputs whose length scale L (see :func:`_scale_exponent`) lies in [2^-225, 2^225] are used as
#: they are: then |m0 - m1|² and products such as Σ0^{1/2} Σ1 Σ0^{1/2} (~L⁴ <= 2^900) stay inside
#: float64's normal range (2^±1022), so no rescaling (and no change of any bit) is needed.
_SAFE_LOG2 = 225


def _scale_exponent(dm_max: float, cov_max: float) -> int:
    r"""Exponent k of the power of two :math:`s = 2^k \approx L` by which to rescale space.

    ``L = max(max|m0 - m1|, sqrt(max|Σ0|, max|Σ1|))`` is the problem's length scale (``dm_max``
    may be ``inf`` when m0 - m1 overflows). Returns 0 (no rescaling) when L is 0 or lies in
    :math:`[2^{-225}, 2^{225}]`; otherwise ``k`` with :math:`2^{k-1} \le L < 2^k` (for
    ``dm_max = inf``: 1025, the exponent of :math:`2\cdot` the largest float).
    """
    if dm_max == np.inf:
        return 1025
    scale = max(dm_max, math.sqrt(cov_max))
    if scale == 0.0:
        return 0
    k = math.frexp(scale)[1]
    return 0 if -_SAFE_LOG2 <= k <= _SAFE_LOG2 else k


def _ldexp(x: float, k: int) -> float:
    """Return ``x * 2**k`` (exact), ``inf`` if it overflows float64."""
    try:
        return math.ldexp(x, k)
    except OverflowError:
        return math.inf


def _w2_sq_scaled(
    mean0: ArrayLike,
    cov0: ArrayLike,
    mean1: ArrayLike | None,
    cov1: ArrayLike | None,
) -> tuple[float, int]:
    r"""Return ``(v, k)`` with :math:`W_2^2 = 4^k v` (see :func:`w2_sq`).

    ``v`` is W2² of the two laws pushed forward by :math:`x \mapsto x/2^k` (means divided by
    :math:`2^k`, covariances by :math:`4^k`: exact in binary floating point), by the scaling law
    :math:`W_2(S_\#\mu, S_\#\nu) = W_2(\mu,\nu)/s` for :math:`S(x) = x/s`. ``k = 0`` (no
    rescaling, the formula as it is) for moderate input (:data:`_SAFE_LOG2`); otherwise every
    intermediate stays finite, and entries below :math:`2^{-1022}` of the new unit underflow to 0
    (a change of at most ~1e-150 relative to the length scale).
    """
    m0, s0 = mean_cov(mean0, cov0, "mean0", "cov0")
    d = s0.d
    m1 = np.zeros(d) if mean1 is None else as_vector(mean1, "mean1", d)
    c0 = as_matrix(cov0, "cov0", d)
    c1 = np.eye(d) if cov1 is None else as_matrix(cov1, "cov1", d)
    s1 = Spectrum(np.ones(d), np.eye(d), 0.0) if cov1 is None else spectrum(c1, "cov1", d=d)
    with np.errstate(over="ignore"):
        dm = m0 - m1  # inf only if |m0 - m1| > the largest float
    k = _scale_exponent(float(np.abs(dm).max()),
                        max(float(np.abs(c0).max()), float(np.abs(c1).max())))
    if k != 0:
        dm = np.ldexp(m0, -k) - np.ldexp(m1, -k) if k > 0 else np.ldexp(dm, -k)
        c0, c1 = np.ldexp(c0, -2 * k), np.ldexp(c1, -2 * k)
        s0, s1 = spectrum(c0, "cov0"), spectrum(c1, "cov1")
    mean_part = float(dm @ dm)
    if s0.is_singular and not s1.is_singular:
        s0, s1, c0, c1 = s1, s0, c1, c0
    if not s0.is_singular:
        r0 = s0.sqrt()
        x = spectrum(symmetrize(r0 @ c1 @ r0), "cov1",
                     cutoff=_PRODUCT_RTOL if s1.is_singular else 0.0)
        if not s1.is_singular:
            traces = float(np.trace(c0) + np.trace(c1))
            bures = traces - 2.0 * float(np.sum(np.sqrt(x.w)))
            if bures >= _BURES_MIN_FRACTION * traces:
                return mean_part + bures, k
        return mean_part + _cov_gap_sq(s0, c0, c1, x), k
    r0 = s0.sqrt()
    x = symmetrize(r0 @ c1 @ r0)
    # The product's round-off is ~eps * ||Σ0|| ||Σ1||, not relative to the product itself (which
    # is ~0 for nearly orthogonal supports): cut eigenvalues off relative to ||Σ0|| ||Σ1||.
    x_max = float(np.abs(x).max())
    ref = float(s0.w[-1]) * float(s1.w[-1])
    rtol = DEFAULT_RTOL if x_max == 0.0 else max(DEFAULT_RTOL, DEFAULT_RTOL * d * ref / x_max)
    cross = spectrum(x, "cov1", rtol=rtol, cutoff=rtol)  # rank decision: both are singular
    bures = float(np.trace(c0) + np.trace(c1) - 2.0 * np.sum(np.sqrt(cross.w)))
    return mean_part + max(bures, 0.0), k  # Bures^2 >= 0; can round to ~ -1e-15


def w2_sq(
    mean0: ArrayLike,
    cov0: ArrayLike,
    mean1: ArrayLike | None = None,
    cov1: ArrayLike | None = None,
) -> float:
    r"""Squared 2-Wasserstein distance between two Gaussians (default second law ``N(0, I)``).

    Claims C2-C7 (docs/theory.md §5.1, docs/numerics.md §1.1). Map (cancellation-free) form

    .. math::
        W_2^2 = |m_0-m_1|^2 + \mathrm{tr}\big((A-I)\Sigma_0(A-I)\big),\qquad
        A = \Sigma_0^{-1/2}(\Sigma_0^{1/2}\Sigma_1\Sigma_0^{1/2})^{1/2}\Sigma_0^{-1/2},

    evaluated through a Sylvester equation so that it is accurate when W2 ≪ 1e-4 (and exactly 0
    for identical laws). The non-singular covariance is put first. When both are definite and
    the Bures term :math:`\mathrm{tr}\,\Sigma_0+\mathrm{tr}\,\Sigma_1-2\,\mathrm{tr}
    (\Sigma_0^{1/2}\Sigma_1\Sigma_0^{1/2})^{1/2}` is at least 1e-3 of the traces, that trace
    form is used instead (no cancellation to speak of, and accurate to ~sqrt(cond)·eps for
    ill-conditioned covariances, where the Sylvester form loses ~cond·eps); if both are
    singular the Bures trace formula is used (accurate only to ~1e-8 absolute in W2). When the
    length scale
    ``L = max(max|m0 - m1|, sqrt(max|Σ0|, max|Σ1|))`` lies outside
    :math:`[2^{-225}, 2^{225}] \approx [1.9\cdot10^{-68}, 5.4\cdot10^{67}]`, both laws are first
    pushed forward by :math:`S(x) = x/s` with :math:`s = 2^k \approx L` (exact in binary) and
    :math:`W_2^2(\mu,\nu) = s^2 W_2^2(S_\#\mu, S_\#\nu)`, so no intermediate over- or
    underflows; inside it the formula runs unscaled.

    Returns:
        float: W2² (squared), >= 0; ``inf`` only when W2² itself exceeds the largest float64
        (~1.8e308; :func:`w2` is then still finite).
    """
    v, k = _w2_sq_scaled(mean0, cov0, mean1, cov1)
    return v if k == 0 else _ldexp(v, 2 * k)


def w2(
    mean0: ArrayLike,
    cov0: ArrayLike,
    mean1: ArrayLike | None = None,
    cov1: ArrayLike | None = None,
) -> float:
    r"""2-Wasserstein distance W2 (not squared) between two Gaussians (default ``N(0, I)``).

    See :func:`w2_sq` for the formula, accuracy and rescaling of extreme scales; finite whenever
    W2 is below the largest float64 (e.g. 1e200 for means 1e200 apart).

    Example:
        >>> round(w2([3.0, 4.0], [[1.0, 0.0], [0.0, 1.0]]), 12)
        5.0
    """
    v, k = _w2_sq_scaled(mean0, cov0, mean1, cov1)
    return float(np.sqrt(v)) if k == 0 else _ldexp(math.sqrt(v), k)


def ot_map(cov0: ArrayLike, cov1: ArrayLike) -> Array:
    r"""Brenier map matrix from N(·, Σ0) to N(·, Σ1) (claims C9, C11).

    .. math:: A = \Sigma_0^{-1/2}(\Sigma_0^{1/2}\Sigma_1\Sigma_0^{1/2})^{1/2}\Sigma_0^{-1/2}

    (symmetric PSD, ``A Σ0 A = Σ1``); the map is ``x -> m1 + A (x - m0)``.

    Covariances of extreme scale are rescaled each by a power of four first:
    :math:`A(\Sigma_0,\Sigma_1) = 2^{k_1-k_0}A(\Sigma_0/4^{k_0},\Sigma_1/4^{k_1})`
    (exact in binary; ``k = 0`` for entries in [2^-450, 2^450], see :data:`_SAFE_LOG2`).

    Raises:
        ValueError: if ``cov0`` is singular (the map is then not unique).
    """
    c0 = as_matrix(cov0, "cov0")
    s0 = spectrum(c0, "cov0")
    s0.require_definite("cov0")
    c1 = as_matrix(cov1, "cov1", s0.d)
    singular1 = spectrum(c1, "cov1").is_singular
    k0 = _scale_exponent(0.0, float(np.abs(c0).max()))
    k1 = _scale_exponent(0.0, float(np.abs(c1).max()))
    if k0 != 0:
        s0 = spectrum(np.ldexp(c0, -2 * k0), "cov0")
    if k1 != 0:
        c1 = np.ldexp(c1, -2 * k1)
    r0, r0i = s0.sqrt(), s0.inv_sqrt("cov0")
    # Singular target data (C10): a rank decision on the product, whose round-off eigenvalues
    # would otherwise add ~sqrt(eps) to the map.
    x = spectrum(symmetrize(r0 @ c1 @ r0), "cov1", cutoff=_PRODUCT_RTOL if singular1 else 0.0)
    a = symmetrize(r0i @ x.sqrt() @ r0i)
    if k0 == k1:
        return a
    with np.errstate(over="ignore"):
        return np.ldexp(a, k1 - k0)  # inf only where an entry of A exceeds the largest float
