r"""The paper's predictions as functions: one function per inequality of the claims catalogue.

Notation (docs/theory.md §1, results in §3): :math:`W_n = W_2(\rho_n,\rho^*)` (W2, *not*
squared), γ the step size, λ > 0 the convexity modulus of G, ε the per-step first-order-condition
residual (Assumption 1, docs/theory.md A1), :math:`W_0 = W_2(\rho_0,\rho^*)`. KL and objective
gaps are in nats. Each function names the claim it serves (C1-C19, docs/claims.md) and the
result of docs/theory.md it implements; unless stated, the inequalities are the ones derived
there (matching the paper's abstract); the paper's own constants may differ.

All functions accept numpy arrays (broadcasting) and raise ``ValueError`` naming the argument for
non-positive γ or λ (where λ > 0 is required) and negative ε (checks in :mod:`theory.validate`).
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray

from theory.validate import (
    as_nonneg_array,
    as_positive_array,
    check_int,
    check_nonneg_scalar,
    check_positive_scalar,
)

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

def w2_contraction_factor(gamma: ArrayLike, lam: ArrayLike) -> NDArray[np.float64]:
    r"""C2 (docs/theory.md T1, exact steps): the factor :math:`1/(1+\gamma\lambda)`.

    The bound is :math:`W_{n+1} \le W_n/(1+\gamma\lambda)`. It is sharp: a Gaussian mean shift
    along the slowest direction attains it (docs/theory.md T5).
    """
    return 1.0 / (1.0 + as_positive_array(gamma, "gamma") * as_positive_array(lam, "lam"))


def w2_one_step(w_prev: ArrayLike, gamma: ArrayLike, lam: ArrayLike,
                eps: ArrayLike = 0.0) -> NDArray[np.float64]:
    r"""C3 (docs/theory.md T1, one inexact step): the bound on :math:`W_{n+1}` (W2).

    .. math:: W_{n+1} \le (W_n + \gamma\varepsilon)/(1+\gamma\lambda).
    """
    g = as_positive_array(gamma, "gamma")
    w = as_nonneg_array(w_prev, "w_prev") + g * as_nonneg_array(eps, "eps")
    return w / (1.0 + g * as_positive_array(lam, "lam"))


def w2_multi_step(n: ArrayLike, gamma: ArrayLike, lam: ArrayLike, w0: ArrayLike,
                  eps: ArrayLike = 0.0) -> NDArray[np.float64]:
    r"""C4 (docs/theory.md T1 iterated): the bound on :math:`W_n` (W2) after n steps.

    .. math:: W_n \le (1+\gamma\lambda)^{-n}W_0 + (\varepsilon/\lambda)(1-(1+\gamma\lambda)^{-n}).

    ε is the maximum residual over the first n steps. The second term is the ε/λ floor.
    """
    lam = as_positive_array(lam, "lam")
    r = (1.0 + as_positive_array(gamma, "gamma") * lam) ** (-as_nonneg_array(n, "n"))
    return r * as_nonneg_array(w0, "w0") + as_nonneg_array(eps, "eps") / lam * (1.0 - r)


def w2_multi_step_variable(gammas: ArrayLike, lam: float, w0: float,
                           eps: ArrayLike = 0.0) -> NDArray[np.float64]:
    r"""C4 with step sizes γ_k (docs/theory.md T1): the bounds on :math:`W_0, \dots, W_N` (W2).

    .. math:: W_n \le \prod_{k\le n}(1+\gamma_k\lambda)^{-1}W_0
              + \sum_{k\le n}\gamma_k\varepsilon_k\prod_{j=k}^{n}(1+\gamma_j\lambda)^{-1},

    computed by the recursion :math:`B_k = (B_{k-1} + \gamma_k\varepsilon_k)/(1+\gamma_k\lambda)`.

    Args:
        gammas ((N,) array): step sizes γ_1..γ_N, each > 0.
        lam (float): convexity modulus λ > 0.
        w0 (float): :math:`W_0 \ge 0`.
        eps (float or (N,) array): residuals ε_k ≥ 0.

    Returns:
        (N+1,) array: bounds for n = 0..N.
    """
    g = as_positive_array(np.atleast_1d(gammas), "gammas")
    if g.ndim != 1:
        raise ValueError(f"gammas must be a scalar or a 1-D array, got shape {g.shape}")
    e = as_nonneg_array(eps, "eps")
    try:
        e = np.broadcast_to(e, g.shape)
    except ValueError:
        raise ValueError(f"eps must be a scalar or have the shape of gammas {g.shape}, "
                         f"got {e.shape}") from None
    lam = check_positive_scalar(lam, "lam")
    out = np.empty(g.size + 1)
    out[0] = check_nonneg_scalar(w0, "w0")
    for k in range(g.size):
        out[k + 1] = (out[k] + g[k] * e[k]) / (1.0 + g[k] * lam)
    return out


def gap_one_step(w_prev: ArrayLike, gamma: ArrayLike, lam: ArrayLike,
                 eps: ArrayLike = 0.0) -> NDArray[np.float64]:
    r"""C5 (docs/theory.md T2): the objective gap after one step, in nats.

    .. math:: G(\rho_{n+1}) - G^* \le (W_n+\gamma\varepsilon)^2/(2\gamma(2+\gamma\lambda)).

    Finite even when :math:`G(\rho_n) = \infty` (only W_n enters): claim (3) of the abstract.
    """
    g = as_positive_array(gamma, "gamma")
    w = as_nonneg_array(w_prev, "w_prev") + g * as_nonneg_array(eps, "eps")
    return w * w / (2.0 * g * (2.0 + g * as_positive_array(lam, "lam")))


def gap_one_step_loose(w_prev: ArrayLike, gamma: ArrayLike, lam: ArrayLike,
                       eps: ArrayLike = 0.0) -> NDArray[np.float64]:
    r"""C5, looser form (docs/theory.md T2): the objective gap after one step, in nats.

    .. math:: G(\rho_{n+1}) - G^* \le W_n^2/(2\gamma) + \gamma\varepsilon^2/(2(1+\gamma\lambda)).
    """
    g = as_positive_array(gamma, "gamma")
    w = as_nonneg_array(w_prev, "w_prev")
    e = as_nonneg_array(eps, "eps")
    return w * w / (2.0 * g) + g * e * e / (2.0 * (1.0 + g * as_positive_array(lam, "lam")))


def kl_after_n(n: ArrayLike, gamma: ArrayLike, lam: ArrayLike, w0: ArrayLike,
               eps: ArrayLike = 0.0) -> NDArray[np.float64]:
    r"""C5/C8 (docs/theory.md T2 combined with T1): the KL bound in nats after n ≥ 1 steps.

    .. math:: \mathrm{KL}(\rho_n\|q) \le \frac{[(1+\gamma\lambda)^{-(n-1)}W_0
              + \varepsilon(1+\gamma\lambda)/\lambda]^2}{2\gamma(2+\gamma\lambda)}.

    Raises:
        ValueError: naming ``n`` if some n < 1 or is not finite (NaN included), or the argument
            that is out of range.
    """
    n = as_positive_array(n, "n")
    if np.any(n < 1):
        raise ValueError(f"n must be >= 1, got {n!r}")
    g, lam = as_positive_array(gamma, "gamma"), as_positive_array(lam, "lam")
    a = 1.0 + g * lam
    w = a ** (-(n - 1.0)) * as_nonneg_array(w0, "w0") + as_nonneg_array(eps, "eps") * a / lam
    return w * w / (2.0 * g * (2.0 + g * lam))


def evi_rhs(w_prev_nu: ArrayLike, w_next_nu: ArrayLike, w_step: ArrayLike, gamma: ArrayLike,
            lam: ArrayLike, eps: ArrayLike = 0.0) -> NDArray[np.float64]:
    r"""C6 (docs/theory.md P1, inexact discrete EVI): the bound on :math:`G(\rho_{n+1}) - G(\nu)`.

    .. math:: \frac{1}{2\gamma}\big[W_2^2(\rho_n,\nu) - (1+\gamma\lambda)W_2^2(\rho_{n+1},\nu)
              - W_2^2(\rho_n,\rho_{n+1})\big] + \varepsilon W_2(\rho_{n+1},\nu).

    Arguments are W2 distances (not squared): ``w_prev_nu`` = W2(ρ_n, ν), ``w_next_nu`` =
    W2(ρ_{n+1}, ν), ``w_step`` = W2(ρ_n, ρ_{n+1}). λ ≥ 0 allowed. The result is in nats.
    """
    g = as_positive_array(gamma, "gamma")
    lam = as_nonneg_array(lam, "lam")
    a, b, c = (as_nonneg_array(x, nm) for x, nm in ((w_prev_nu, "w_prev_nu"),
                                                    (w_next_nu, "w_next_nu"),
                                                    (w_step, "w_step")))
    return (a * a - (1.0 + g * lam) * b * b - c * c) / (2.0 * g) + as_nonneg_array(eps, "eps") * b


def talagrand_w2_sq(kl: ArrayLike, lam: ArrayLike) -> NDArray[np.float64]:
    r"""C7 (docs/theory.md L4, Talagrand T2): the W2² bound 2 KL(ρ‖q)/λ.

    The inequality is :math:`W_2^2(\rho,q) \le 2\,\mathrm{KL}(\rho\|q)/\lambda` (KL in nats).
    """
    return 2.0 * as_nonneg_array(kl, "kl") / as_positive_array(lam, "lam")


def kl_guarantee_constant(gamma: ArrayLike, lam: ArrayLike) -> NDArray[np.float64]:
    r"""C8 (docs/theory.md T4): the constant C(γ, λ) in KL ≤ C ε² (nats).

    .. math:: C(\gamma,\lambda) = \frac{\lambda^2 + (1+\gamma\lambda)^2}
              {\gamma\lambda^2(2+\gamma\lambda)}.

    Example:
        >>> round(float(kl_guarantee_constant(1.0, 1.0)), 12)
        1.666666666667
    """
    g, lam = as_positive_array(gamma, "gamma"), as_positive_array(lam, "lam")
    return (lam * lam + (1.0 + g * lam) ** 2) / (g * lam * lam * (2.0 + g * lam))


def n_blocks_required(w0: float, eps: float, gamma: float, lam: float, c: float = 1.0) -> int:
    r"""C8 (docs/theory.md T4): the number of blocks N the guarantee requires.

    .. math:: N = \lceil 1 + c\log(W_0/\varepsilon)/\log(1+\gamma\lambda)\rceil.

    ``c = 1`` is the theorem's requirement; ``c < 1`` is a negative control. Returns at least 1.
    """
    w0 = check_positive_scalar(w0, "w0")
    eps = check_positive_scalar(eps, "eps")
    a = 1.0 + check_positive_scalar(gamma, "gamma") * check_positive_scalar(lam, "lam")
    return max(1, math.ceil(1.0 + check_positive_scalar(c, "c") * math.log(w0 / eps)
                            / math.log(a)))


def kl_contraction_generic(gamma: ArrayLike, lam: ArrayLike) -> NDArray[np.float64]:
    r"""C18, generic form (exact steps): the factor :math:`1/(1+2\gamma\lambda)`.

    The bound is :math:`\mathrm{KL}_{n+1} \le \mathrm{KL}_n/(1+2\gamma\lambda)`, the weaker
    statement of the claims catalogue (docs/claims.md, C18). Looser than
    :func:`kl_contraction_gaussian`, which holds in general too.
    """
    return 1.0 / (1.0 + 2.0 * as_positive_array(gamma, "gamma") * as_positive_array(lam, "lam"))


def kl_contraction_gaussian(gamma: ArrayLike, lam: ArrayLike) -> NDArray[np.float64]:
    r"""C18: the per-step factor :math:`(1+\gamma\lambda)^{-2}` of the objective gap.

    The bound is :math:`G(\rho_{n+1}) - G^* \le (G(\rho_n) - G^*)/(1+\gamma\lambda)^2`.
    Sharp for Gaussians (a mean shift attains it) and, despite the name, valid for every
    λ-convex G with exact steps: the above-tangent inequality along the step's geodesic keeps the
    :math:`\tfrac\lambda2 W_2^2(\rho_n,\rho_{n+1})` term, and :math:`W_2(\rho_n,\rho_{n+1}) =
    \gamma\|\xi\|` for the exact step, so :math:`G_n - G_{n+1} \ge \gamma(1+\gamma\lambda/2)
    \|\xi\|^2`; gradient domination :math:`\|\xi\|^2 \ge 2\lambda(G_{n+1} - G^*)` then gives
    :math:`(1+\gamma\lambda)^2` (derived in this project; the older statement of the claims
    catalogue, docs/claims.md C18, has only 1+2γλ).
    """
    return (1.0 + as_positive_array(gamma, "gamma") * as_positive_array(lam, "lam")) ** -2.0


def a_posteriori_kl(eps: ArrayLike, w_step: ArrayLike, gamma: ArrayLike,
                    lam: ArrayLike) -> NDArray[np.float64]:
    r"""C19 (docs/numerics.md §2.3(b)): an a-posteriori KL bound in nats from the last step.

    .. math:: \mathrm{KL}(\rho_N\|q) \le
              (\varepsilon + W_2(\rho_{N-1},\rho_N)/\gamma)^2/(2\lambda).
    """
    v = (as_nonneg_array(eps, "eps")
         + as_nonneg_array(w_step, "w_step") / as_positive_array(gamma, "gamma"))
    return v * v / (2.0 * as_positive_array(lam, "lam"))


def stationary_kl(eps: ArrayLike, lam: ArrayLike) -> NDArray[np.float64]:
    r"""C19 (docs/numerics.md §2.3(c)): the stationary KL value in nats (LSI).

    .. math:: \mathrm{KL}_\infty \le \varepsilon^2/(2\lambda).
    """
    e = as_nonneg_array(eps, "eps")
    return e * e / (2.0 * as_positive_array(lam, "lam"))


def merely_convex_gap(n: ArrayLike, gamma: ArrayLike, w0_nu_sq: ArrayLike) -> NDArray[np.float64]:
    r"""C16 (docs/theory.md T3, λ = 0, exact steps): the gap bound :math:`W_2^2/(2\gamma n)`.

    The bound is :math:`G(\rho_n) - G(\nu) \le W_2^2(\rho_0,\nu)/(2\gamma n)` (nats);
    ``w0_nu_sq`` is W2² (squared).
    """
    return (as_nonneg_array(w0_nu_sq, "w0_nu_sq")
            / (2.0 * as_positive_array(gamma, "gamma") * as_positive_array(n, "n")))


def local_rate_mean(gamma: ArrayLike, q: ArrayLike) -> NDArray[np.float64]:
    r"""C15: per-step factor 1/(1+γq) of a mean error along an eigenvector of Q (eigenvalue q)."""
    return 1.0 / (1.0 + as_positive_array(gamma, "gamma") * as_positive_array(q, "q"))


def local_rate_std(gamma: ArrayLike, q: ArrayLike) -> NDArray[np.float64]:
    r"""C15: asymptotic per-step factor 1/(1+2γq) of a std error near :math:`1/\sqrt q`."""
    return 1.0 / (1.0 + 2.0 * as_positive_array(gamma, "gamma") * as_positive_array(q, "q"))


def ou_smoothing_w2(delta: ArrayLike, m2: ArrayLike, d: int) -> NDArray[np.float64]:
    r"""C10 (docs/theory.md R6(a)): the bound on :math:`W_2(P,\rho_\delta)` (W2, not squared).

    .. math:: W_2(P,\rho_\delta) \le \sqrt{(1-e^{-\delta})^2M_2(P) + (1-e^{-2\delta})d}.

    ``m2`` is the second moment :math:`M_2(P) = E|X|^2`; ``d`` the dimension.
    """
    de = as_nonneg_array(delta, "delta")
    d = check_int(d, "d", minimum=1)
    return np.sqrt(np.expm1(-de) ** 2 * as_nonneg_array(m2, "m2") - np.expm1(-2.0 * de) * d)


def ou_contraction(delta: ArrayLike, w: ArrayLike) -> NDArray[np.float64]:
    r"""C10 (docs/theory.md R6(b)): :math:`W_2(\rho_\delta, q) \le e^{-\delta}W_2(P,q)`."""
    return np.exp(-as_nonneg_array(delta, "delta")) * as_nonneg_array(w, "w")


def inversion_telescoping(lips: ArrayLike, deltas: ArrayLike) -> float:
    r"""C11 (docs/theory.md R7(b)): the telescoping bound on the inversion error (L2, not squared).

    .. math:: \|S\circ T - \mathrm{Id}\| \le \sum_n \mathrm{Lip}(S_1\circ\cdots\circ S_{n-1})
              \,\delta_n.

    Args:
        lips ((N,) array): ``lips[n-1]`` is a Lipschitz bound of
            :math:`S_1\circ\cdots\circ S_{n-1}` (so ``lips[0] = 1``).
        deltas ((N,) array): :math:`\delta_n = \|S_n\circ T_n - \mathrm{Id}\|_{L^2(\rho_{n-1})}`.

    Returns:
        float: the bound.
    """
    lp, de = as_nonneg_array(lips, "lips"), as_nonneg_array(deltas, "deltas")
    if lp.shape != de.shape:
        raise ValueError(f"lips and deltas must have the same shape, got {lp.shape}, {de.shape}")
    return float(np.sum(lp * de))
