r"""Metrics for the neural flow: low-variance KL estimators, sample W2 with its null floor.

docs/numerics.md §4.2-§4.3. All inputs are converted to float64 numpy arrays. Claims C8-C11.

- :func:`kl_k3`: :math:`\mathrm{KL}(p\|q)\approx\overline{e^{-h}-1+h}`, :math:`h=\log p-\log q` on
  samples of p (each term ≥ 0; unbiased; relative sd :math:`O(n^{-1/2})` uniformly in KL).
- :func:`kl_from_q_samples`: the same KL(p‖q) from samples of **q**:
  :math:`\overline{r\log r - r + 1}`, :math:`r = p/q` (used for the generated law q̂: C9's second,
  independent estimate through the backward density).
- :func:`flow_kl`: KL(P‖q̂) of a flow's generated law from data samples (k3 estimator, C9).
- :func:`w2_emd` (W2, not squared, by ``ot.emd2``), :func:`w2_null_band` and the debiased
  :func:`w2_sq_debiased`.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import ot
import torch
from numpy.typing import ArrayLike, NDArray

from theory.flow._convert import to_numpy
from theory.flow._data import std_normal_log_prob
from theory.validate import as_finite_array, check_int

__all__ = [
    "flow_kl",
    "gaussian_fit",
    "kl_from_q_samples",
    "kl_k3",
    "w2_emd",
    "w2_null_band",
    "w2_sq_debiased",
]

Sampler = Callable[[int, np.random.Generator], NDArray[np.float64]]


def _log_densities(log_p: ArrayLike, log_q: ArrayLike) -> tuple[NDArray[np.float64], ...]:
    lp = as_finite_array(log_p, "log_p").ravel()
    lq = as_finite_array(log_q, "log_q").ravel()
    if lp.shape != lq.shape or lp.size < 2:
        raise ValueError(f"log_p and log_q must have the same length >= 2 (a standard error "
                         f"needs two samples), got {lp.size}, {lq.size}")
    return lp, lq


def _check_terms(terms: NDArray[np.float64], what: str) -> None:
    """``ValueError`` (naming log_p - log_q) if a term of the estimator overflowed."""
    if not np.all(np.isfinite(terms)):
        raise ValueError(f"log_p - log_q: {what} overflows float64 at "
                         f"{int((~np.isfinite(terms)).sum())} samples (|log p - log q| > ~709); "
                         f"the KL estimate is not finite")


def kl_k3(log_p: ArrayLike, log_q: ArrayLike) -> tuple[float, float]:
    r"""KL(p‖q) in nats from log-densities at samples of p, and its standard error.

    .. math::
        \widehat{\mathrm{KL}} = \frac1n\sum_i\big(e^{-h_i} - 1 + h_i\big),\quad
        h_i = \log p(x_i) - \log q(x_i).

    Requires normalised densities and supp q ⊆ supp p. Returns ``(estimate, standard error)``.

    Raises:
        ValueError: naming ``log_p`` / ``log_q`` if they are not finite, have different lengths
            or fewer than 2 entries, or if :math:`e^{-h}` overflows (h < about -709).
    """
    lp, lq = _log_densities(log_p, log_q)
    h = lp - lq
    with np.errstate(over="ignore"):
        terms = np.expm1(-h) + h
    _check_terms(terms, "q/p")
    return float(terms.mean()), float(terms.std(ddof=1) / np.sqrt(terms.size))


def kl_from_q_samples(log_p: ArrayLike, log_q: ArrayLike) -> tuple[float, float]:
    r"""KL(p‖q) in nats from log-densities at samples of **q**: mean of :math:`r\log r - r + 1`.

    Here r = p/q.

    Unbiased since :math:`E_q[r] = 1`; each term ≥ 0. Returns ``(estimate, standard error)``.

    Raises:
        ValueError: naming ``log_p`` / ``log_q`` if they are not finite, have different lengths
            or fewer than 2 entries, or if r overflows (log r > about 709).
    """
    lp, lq = _log_densities(log_p, log_q)
    lr = lp - lq
    with np.errstate(over="ignore", invalid="ignore"):
        terms = np.exp(lr) * lr - np.expm1(lr)
    _check_terms(terms, "p/q")
    return float(terms.mean()), float(terms.std(ddof=1) / np.sqrt(terms.size))


def flow_kl(flow: Callable[..., tuple[torch.Tensor, torch.Tensor]], data, x: torch.Tensor, *,
            steps: int | None = None) -> tuple[float, float]:
    r"""KL(P‖q̂) in nats of a flow's generated law q̂ from samples ``x`` of the data law P (C9).

    :math:`\log\hat q(x) = \log q(F(x)) + \log\det\nabla F(x)` with q = N(0, I) (forward pass),
    then :func:`kl_k3` with :math:`\log p` from ``data.log_prob``. Equals KL(ρ_N‖q).

    Args:
        flow: a :class:`~theory.flow.JKOFlow` (float64 for reported numbers), called as
            ``flow(x, steps=steps) -> (F(x), log det ∇F(x))``.
        data: a law with an exact ``log_prob`` (a torch tensor (n, d) -> (n,)).
        x ((n, d) tensor): samples of P, in the flow's dtype.
        steps: RK4 steps per block (``None``: each block's own).

    Returns:
        ``(estimate, standard error)`` in nats.

    Raises:
        ValueError: if ``data`` has no ``log_prob``; naming ``x`` if it is not a finite (n, d)
            tensor with n >= 2 (from the flow, the law or :func:`kl_k3`).
    """
    if not callable(getattr(data, "log_prob", None)):
        raise ValueError(f"data must be a law with an exact log_prob, got {type(data).__name__}")
    z, ell = flow(x, steps=steps)
    return kl_k3(to_numpy(data.log_prob(x)), to_numpy(std_normal_log_prob(z) + ell))


#: Point clouds whose largest |coordinate| lies in [2^-450, 2^450] are used as they are (squared
#: distances stay normal floats); others are divided by a power of two first (exact), using
#: W2(S_#μ, S_#ν) = W2(μ, ν)/s for S(x) = x/s, so that e.g. data scaled by 1e200 gives a finite
#: W2 instead of an overflowing cost matrix.
_SAFE_LOG2 = 450


def w2_emd(x: ArrayLike, y: ArrayLike) -> float:
    """Empirical W2 (not squared) between two point clouds by exact OT (``ot.emd2``, uniform).

    Args:
        x ((n, d) array): points of the first cloud (each of weight 1/n).
        y ((m, d) array): points of the second cloud (each of weight 1/m).

    Returns:
        float: W2 (not squared), in the units of the points. Clouds of extreme scale are
        rescaled by a power of two first (:data:`_SAFE_LOG2`).

    Raises:
        ValueError: naming ``x`` or ``y`` if it is empty or has NaN/inf entries (POT would
            return 0.0 for NaN input), or if the shapes do not match.
    """
    x = as_finite_array(x, "x")
    y = as_finite_array(y, "y")
    if x.ndim != 2 or y.ndim != 2 or x.shape[1] != y.shape[1]:
        raise ValueError(f"x and y must be (n, d) arrays of the same d, got {x.shape}, {y.shape}")
    a = np.full(x.shape[0], 1.0 / x.shape[0])
    b = np.full(y.shape[0], 1.0 / y.shape[0])
    top = max(float(np.abs(x).max()), float(np.abs(y).max()))
    k = math.frexp(top)[1] if top > 0.0 else 0
    if abs(k) <= _SAFE_LOG2:
        return float(np.sqrt(max(ot.emd2(a, b, ot.dist(x, y), numItermax=10_000_000), 0.0)))
    cost = ot.dist(np.ldexp(x, -k), np.ldexp(y, -k))
    w2_scaled = math.sqrt(max(ot.emd2(a, b, cost, numItermax=10_000_000), 0.0))
    try:
        return math.ldexp(w2_scaled, k)
    except OverflowError:
        return math.inf  # W2 itself exceeds the largest float64


def w2_null_band(sample: Sampler, n: int, reps: int,
                 rng: np.random.Generator) -> tuple[float, float]:
    """Null floor of :func:`w2_emd`: mean and sd of W2 between two independent n-samples of a law.

    ``sample(n, rng)`` draws (n, d) points; ``reps`` (≥ 2) pairs of ``n`` (≥ 1) points are drawn.

    Raises:
        ValueError: naming ``n`` or ``reps`` if out of range, or ``x``/``y`` if ``sample``
            returns non-finite points (see :func:`w2_emd`).
    """
    check_int(n, "n", minimum=1)
    check_int(reps, "reps", minimum=2)
    vals = [w2_emd(sample(n, rng), sample(n, rng)) for _ in range(reps)]
    return float(np.mean(vals)), float(np.std(vals, ddof=1))


def w2_sq_debiased(sample_p: Sampler, sample_q: Sampler, n: int, reps: int,
                   rng: np.random.Generator) -> tuple[float, float]:
    r"""Debiased plug-in :math:`W_2^2(P, Q)` from replicate n-samples (docs/numerics.md §4.3).

    Each replicate draws :math:`\hat P, \hat P'` then :math:`\hat Q, \hat Q'` (in that order,
    from ``rng``) and forms :math:`W_2^2(\hat P,\hat Q) - \tfrac12W_2^2(\hat P,\hat P')
    - \tfrac12W_2^2(\hat Q,\hat Q')`, which removes the leading sampling bias of the plug-in.

    Args:
        sample_p: sampler ``(n, rng) -> (n, d)`` of P.
        sample_q: sampler of Q.
        n: points per sample.
        reps: replicates (≥ 2).
        rng: the generator.

    Returns:
        ``(mean, standard error)`` of the replicates (squared length units; may be < 0).

    Raises:
        ValueError: naming ``n`` or ``reps`` if out of range, or ``x``/``y`` if a sampler
            returns non-finite points (see :func:`w2_emd`).
    """
    check_int(n, "n", minimum=1)
    check_int(reps, "reps", minimum=2)
    vals = []
    for _ in range(reps):
        a1, a2 = sample_p(n, rng), sample_p(n, rng)
        b1, b2 = sample_q(n, rng), sample_q(n, rng)
        vals.append(w2_emd(a1, b1) ** 2 - 0.5 * w2_emd(a1, a2) ** 2 - 0.5 * w2_emd(b1, b2) ** 2)
    return float(np.mean(vals)), float(np.std(vals, ddof=1) / np.sqrt(len(vals)))


def gaussian_fit(x: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Sample mean (d,) and covariance (d, d) of points (n, d), in float64.

    Raises:
        ValueError: naming ``x`` if it is not an (n >= 2, d) array of finite numbers.
    """
    x = as_finite_array(x, "x")
    if x.ndim != 2 or x.shape[0] < 2:
        raise ValueError(f"x must be an (n >= 2, d) array, got {x.shape}")
    return x.mean(0), np.cov(x, rowvar=False).reshape(x.shape[1], x.shape[1])
