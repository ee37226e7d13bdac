r"""The paper's predictions as functions: one function per inequality of the claims catalogue.

Notation (theory.md §3): :math:`W_n = W_2(\rho_n,\rho^*)` (W2, *not* squared), γ the step size,
λ > 0 the convexity modulus of G, ε the per-step first-order-condition residual (Assumption 1),
:math:`W_0 = W_2(\rho_0,\rho^*)`. KL / objective gaps in nats. The inequalities are tagged [D]
(derived in theory.md, matching the abstract) unless stated; the paper's own constants may differ.

All functions accept numpy arrays (broadcasting) and raise ``ValueError`` for non-positive γ or λ
(where λ > 0 is required) and negative ε.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "a_posteriori_kl",
    "evi_rhs",
    "gap_one_step",
    "gap_one_step_loose",
    "inversion_telescoping",
    "kl_after_n",
    "kl_contraction_gaussian",
    "kl_contraction_generic",
    "kl_guarantee_constant",
    "local_rate_mean",
    "local_rate_std",
    "merely_convex_gap",
    "n_blocks_required",
    "ou_contraction",
    "ou_smoothing_w2",
    "stationary_kl",
    "talagrand_w2_sq",
    "w2_contraction_factor",
    "w2_multi_step",
    "w2_multi_step_variable",
    "w2_one_step",
]


def _pos(x: ArrayLike, name: str) -> NDArray[np.float64]:
    a = np.asarray(x, dtype=np.float64)
    if not np.all(np.isfinite(a)) or np.any(a <= 0):
        raise ValueError(f"{name} must be finite and > 0, got {x!r}")
    return a


def _nonneg(x: ArrayLike, name: str) -> NDArray[np.float64]:
    a = np.asarray(x, dtype=np.float64)
    if not np.all(np.isfinite(a)) or np.any(a < 0):
        raise ValueError(f"{name} must be finite and >= 0, got {x!r}")
    return a


def w2_contraction_factor(gamma: ArrayLike, lam: ArrayLike) -> NDArray[np.float64]:
    r"""C2 (T1, exact steps): :math:`W_{n+1} \le W_n/(1+\gamma\lambda)`; returns :math:`1/(1+\gamma\lambda)`.

    Sharp: a Gaussian mean shift along the slowest direction attains it (theory.md T5).
    """
    return 1.0 / (1.0 + _pos(gamma, "gamma") * _pos(lam, "lam"))


def w2_one_step(w_prev: ArrayLike, gamma: ArrayLike, lam: ArrayLike,
                eps: ArrayLike = 0.0) -> NDArray[np.float64]:
    r"""C3 (T1, one inexact step): :math:`W_{n+1} \le (W_n + \gamma\varepsilon)/(1+\gamma\lambda)`."""
    g = _pos(gamma, "gamma")
    return (_nonneg(w_prev, "w_prev") + g * _nonneg(eps, "eps")) / (1.0 + g * _pos(lam, "lam"))


def w2_multi_step(n: ArrayLike, gamma: ArrayLike, lam: ArrayLike, w0: ArrayLike,
                  eps: ArrayLike = 0.0) -> NDArray[np.float64]:
    r"""C4 (T1 iterated): :math:`W_n \le (1+\gamma\lambda)^{-n}W_0 + (\varepsilon/\lambda)(1-(1+\gamma\lambda)^{-n})`.

    ε is the maximum residual over the first n steps. The second term is the ε/λ floor.
    """
    lam = _pos(lam, "lam")
    r = (1.0 + _pos(gamma, "gamma") * lam) ** (-_nonneg(n, "n"))
    return r * _nonneg(w0, "w0") + _nonneg(eps, "eps") / lam * (1.0 - r)


def w2_multi_step_variable(gammas: ArrayLike, lam: float, w0: float,
                           eps: ArrayLike = 0.0) -> NDArray[np.float64]:
    r"""C4 with step sizes γ_k (theory.md T1): the bound on :math:`W_0, \dots, W_N`.

    :math:`W_n \le \prod_{k\le n}(1+\gamma_k\lambda)^{-1}W_0 + \sum_{k\le n}\gamma_k\varepsilon_k\prod_{j=k}^{n}(1+\gamma_j\lambda)^{-1}`,
    computed by the recursion :math:`B_k = (B_{k-1} + \gamma_k\varepsilon_k)/(1+\gamma_k\lambda)`.

    Returns:
        (N+1,) array: bounds for n = 0..N.
    """
    g = _pos(np.atleast_1d(gammas), "gammas")
    e = np.broadcast_to(_nonneg(eps, "eps"), g.shape)
    lam = float(_pos(lam, "lam"))
    out = np.empty(g.size + 1)
    out[0] = float(_nonneg(w0, "w0"))
    for k in range(g.size):
        out[k + 1] = (out[k] + g[k] * e[k]) / (1.0 + g[k] * lam)
    return out


def gap_one_step(w_prev: ArrayLike, gamma: ArrayLike, lam: ArrayLike,
                 eps: ArrayLike = 0.0) -> NDArray[np.float64]:
    r"""C5 (T2): :math:`G(\rho_{n+1}) - G^* \le (W_n+\gamma\varepsilon)^2/(2\gamma(2+\gamma\lambda))`.

    Finite even when :math:`G(\rho_n) = \infty` (only W_n enters): claim (3) of the abstract.
    """
    g = _pos(gamma, "gamma")
    w = _nonneg(w_prev, "w_prev") + g * _nonneg(eps, "eps")
    return w * w / (2.0 * g * (2.0 + g * _pos(lam, "lam")))


def gap_one_step_loose(w_prev: ArrayLike, gamma: ArrayLike, lam: ArrayLike,
                       eps: ArrayLike = 0.0) -> NDArray[np.float64]:
    r"""C5, looser form (T2): :math:`G(\rho_{n+1}) - G^* \le W_n^2/(2\gamma) + \gamma\varepsilon^2/(2(1+\gamma\lambda))`."""
    g = _pos(gamma, "gamma")
    w = _nonneg(w_prev, "w_prev")
    e = _nonneg(eps, "eps")
    return w * w / (2.0 * g) + g * e * e / (2.0 * (1.0 + g * _pos(lam, "lam")))


def kl_after_n(n: ArrayLike, gamma: ArrayLike, lam: ArrayLike, w0: ArrayLike,
               eps: ArrayLike = 0.0) -> NDArray[np.float64]:
    r"""C5/C8 (T2 combined with T1), for n ≥ 1:

    .. math:: \mathrm{KL}(\rho_n\|q) \le \frac{[(1+\gamma\lambda)^{-(n-1)}W_0 + \varepsilon(1+\gamma\lambda)/\lambda]^2}{2\gamma(2+\gamma\lambda)}.
    """
    n = np.asarray(n, dtype=np.float64)
    if np.any(n < 1):
        raise ValueError(f"n must be >= 1, got {n!r}")
    g, lam = _pos(gamma, "gamma"), _pos(lam, "lam")
    a = 1.0 + g * lam
    w = a ** (-(n - 1.0)) * _nonneg(w0, "w0") + _nonneg(eps, "eps") * a / lam
    return w * w / (2.0 * g * (2.0 + g * lam))


def evi_rhs(w_prev_nu: ArrayLike, w_next_nu: ArrayLike, w_step: ArrayLike, gamma: ArrayLike,
            lam: ArrayLike, eps: ArrayLike = 0.0) -> NDArray[np.float64]:
    r"""C6 (P1, inexact discrete EVI): the right-hand side bounding :math:`G(\rho_{n+1}) - G(\nu)`,

    .. math:: \frac{1}{2\gamma}\big[W_2^2(\rho_n,\nu) - (1+\gamma\lambda)W_2^2(\rho_{n+1},\nu)
              - W_2^2(\rho_n,\rho_{n+1})\big] + \varepsilon W_2(\rho_{n+1},\nu).

    Arguments are W2 distances (not squared): ``w_prev_nu`` = W2(ρ_n, ν), ``w_next_nu`` =
    W2(ρ_{n+1}, ν), ``w_step`` = W2(ρ_n, ρ_{n+1}). λ ≥ 0 allowed.
    """
    g = _pos(gamma, "gamma")
    lam = _nonneg(lam, "lam")
    a, b, c = (_nonneg(x, nm) for x, nm in ((w_prev_nu, "w_prev_nu"), (w_next_nu, "w_next_nu"),
                                             (w_step, "w_step")))
    return (a * a - (1.0 + g * lam) * b * b - c * c) / (2.0 * g) + _nonneg(eps, "eps") * b


def talagrand_w2_sq(kl: ArrayLike, lam: ArrayLike) -> NDArray[np.float64]:
    r"""C7 (L4, Talagrand T2): :math:`W_2^2(\rho,q) \le 2\,\mathrm{KL}(\rho\|q)/\lambda`; returns the W2² bound."""
    return 2.0 * _nonneg(kl, "kl") / _pos(lam, "lam")


def kl_guarantee_constant(gamma: ArrayLike, lam: ArrayLike) -> NDArray[np.float64]:
    r"""C8 (T4): :math:`C(\gamma,\lambda) = \frac{\lambda^2 + (1+\gamma\lambda)^2}{\gamma\lambda^2(2+\gamma\lambda)}` in KL ≤ C ε².

    Example:
        >>> round(float(kl_guarantee_constant(1.0, 1.0)), 12)
        1.666666666667
    """
    g, lam = _pos(gamma, "gamma"), _pos(lam, "lam")
    return (lam * lam + (1.0 + g * lam) ** 2) / (g * lam * lam * (2.0 + g * lam))


def n_blocks_required(w0: float, eps: float, gamma: float, lam: float, c: float = 1.0) -> int:
    r"""C8 (T4): the number of blocks :math:`N = \lceil 1 + c\log(W_0/\varepsilon)/\log(1+\gamma\lambda)\rceil`.

    ``c = 1`` is the theorem's requirement; ``c < 1`` is a negative control. Returns at least 1.
    """
    w0 = float(_pos(w0, "w0"))
    eps = float(_pos(eps, "eps"))
    a = 1.0 + float(_pos(gamma, "gamma")) * float(_pos(lam, "lam"))
    return max(1, math.ceil(1.0 + float(_pos(c, "c")) * math.log(w0 / eps) / math.log(a)))


def kl_contraction_generic(gamma: ArrayLike, lam: ArrayLike) -> NDArray[np.float64]:
    r"""C18 (design.md's generic form, exact steps): :math:`\mathrm{KL}_{n+1} \le \mathrm{KL}_n/(1+2\gamma\lambda)`.

    Returns the factor. Looser than :func:`kl_contraction_gaussian`, which holds in general too.
    """
    return 1.0 / (1.0 + 2.0 * _pos(gamma, "gamma") * _pos(lam, "lam"))


def kl_contraction_gaussian(gamma: ArrayLike, lam: ArrayLike) -> NDArray[np.float64]:
    r"""C18: :math:`G(\rho_{n+1}) - G^* \le (G(\rho_n) - G^*)/(1+\gamma\lambda)^2`; returns the factor.

    Sharp for Gaussians (a mean shift attains it) and, despite the name, valid for every
    λ-convex G with exact steps: the above-tangent inequality along the step's geodesic keeps the
    :math:`\tfrac\lambda2 W_2^2(\rho_n,\rho_{n+1})` term, and :math:`W_2(\rho_n,\rho_{n+1}) =
    \gamma\|\xi\|` for the exact step, so :math:`G_n - G_{n+1} \ge \gamma(1+\gamma\lambda/2)
    \|\xi\|^2`; gradient domination :math:`\|\xi\|^2 \ge 2\lambda(G_{n+1} - G^*)` then gives
    :math:`(1+\gamma\lambda)^2` (derived in this project; design.md states only 1+2γλ).
    """
    return (1.0 + _pos(gamma, "gamma") * _pos(lam, "lam")) ** -2.0


def a_posteriori_kl(eps: ArrayLike, w_step: ArrayLike, gamma: ArrayLike,
                    lam: ArrayLike) -> NDArray[np.float64]:
    r"""C19 (numerics §2.3(b)): :math:`\mathrm{KL}(\rho_N\|q) \le (\varepsilon + W_2(\rho_{N-1},\rho_N)/\gamma)^2/(2\lambda)`."""
    v = _nonneg(eps, "eps") + _nonneg(w_step, "w_step") / _pos(gamma, "gamma")
    return v * v / (2.0 * _pos(lam, "lam"))


def stationary_kl(eps: ArrayLike, lam: ArrayLike) -> NDArray[np.float64]:
    r"""C19 (numerics §2.3(c)): the stationary value :math:`\mathrm{KL}_\infty \le \varepsilon^2/(2\lambda)` (LSI)."""
    e = _nonneg(eps, "eps")
    return e * e / (2.0 * _pos(lam, "lam"))


def merely_convex_gap(n: ArrayLike, gamma: ArrayLike, w0_nu_sq: ArrayLike) -> NDArray[np.float64]:
    r"""C16 (T3, λ = 0, exact steps): :math:`G(\rho_n) - G(\nu) \le W_2^2(\rho_0,\nu)/(2\gamma n)`.

    ``w0_nu_sq`` is W2² (squared).
    """
    return _nonneg(w0_nu_sq, "w0_nu_sq") / (2.0 * _pos(gamma, "gamma") * _pos(n, "n"))


def local_rate_mean(gamma: ArrayLike, q: ArrayLike) -> NDArray[np.float64]:
    r"""C15: per-step factor of a mean error along an eigenvector of Q with eigenvalue q: 1/(1+γq)."""
    return 1.0 / (1.0 + _pos(gamma, "gamma") * _pos(q, "q"))


def local_rate_std(gamma: ArrayLike, q: ArrayLike) -> NDArray[np.float64]:
    r"""C15: asymptotic per-step factor of a std error near :math:`1/\sqrt q`: 1/(1+2γq)."""
    return 1.0 / (1.0 + 2.0 * _pos(gamma, "gamma") * _pos(q, "q"))


def ou_smoothing_w2(delta: ArrayLike, m2: ArrayLike, d: int) -> NDArray[np.float64]:
    r"""C10 (R6(a)): :math:`W_2(P,\rho_\delta) \le \sqrt{(1-e^{-\delta})^2M_2(P) + (1-e^{-2\delta})d}` (W2, not squared).

    ``m2`` is the second moment :math:`M_2(P) = E|X|^2`.
    """
    de = _nonneg(delta, "delta")
    return np.sqrt(np.expm1(-de) ** 2 * _nonneg(m2, "m2") - np.expm1(-2.0 * de) * d)


def ou_contraction(delta: ArrayLike, w: ArrayLike) -> NDArray[np.float64]:
    r"""C10 (R6(b)): :math:`W_2(\rho_\delta, q) \le e^{-\delta}W_2(P,q)`."""
    return np.exp(-_nonneg(delta, "delta")) * _nonneg(w, "w")


def inversion_telescoping(lips: ArrayLike, deltas: ArrayLike) -> float:
    r"""C11 (R7(b)): :math:`\|S\circ T - \mathrm{Id}\| \le \sum_n \mathrm{Lip}(S_1\circ\cdots\circ S_{n-1})\,\delta_n`.

    Args:
        lips ((N,) array): ``lips[n-1]`` is a Lipschitz bound of :math:`S_1\circ\cdots\circ S_{n-1}`
            (so ``lips[0] = 1``).
        deltas ((N,) array): :math:`\delta_n = \|S_n\circ T_n - \mathrm{Id}\|_{L^2(\rho_{n-1})}`.
    """
    lp, de = _nonneg(lips, "lips"), _nonneg(deltas, "deltas")
    if lp.shape != de.shape:
        raise ValueError(f"lips and deltas must have the same shape, got {lp.shape}, {de.shape}")
    return float(np.sum(lp * de))
