r"""Metrics for the neural flow: low-variance KL estimators, sample W2 with its null floor, moments.

numerics.md §4.2-§4.3. All inputs are converted to float64 numpy arrays. Claims C8, C9, C11.

- :func:`kl_k3`: :math:`\mathrm{KL}(p\|q)\approx\overline{e^{-h}-1+h}`, :math:`h=\log p-\log q` on
  samples of p (each term ≥ 0; unbiased; relative sd :math:`O(n^{-1/2})` uniformly in KL).
- :func:`kl_from_q_samples`: the same KL(p‖q) from samples of **q**:
  :math:`\overline{r\log r - r + 1}`, :math:`r = p/q` (used for the generated law q̂: C9's second,
  independent estimate through the backward density).
- :func:`w2_emd` (W2, not squared, by ``ot.emd2``) and :func:`w2_null_band`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import ot
from numpy.typing import ArrayLike, NDArray

__all__ = ["gaussian_fit", "kl_from_q_samples", "kl_k3", "w2_emd", "w2_null_band"]


def _vec(a: ArrayLike, name: str) -> NDArray[np.float64]:
    v = np.asarray(a, dtype=np.float64).ravel()
    if v.size == 0 or not np.all(np.isfinite(v)):
        raise ValueError(f"{name} must be a non-empty finite array")
    return v


def kl_k3(log_p: ArrayLike, log_q: ArrayLike) -> tuple[float, float]:
    r"""KL(p‖q) in nats from log-densities at samples of p, and its standard error.

    .. math:: \widehat{\mathrm{KL}} = \frac1n\sum_i\big(e^{-h_i} - 1 + h_i\big),\quad h_i = \log p(x_i) - \log q(x_i).

    Requires normalised densities and supp q ⊆ supp p. Returns ``(estimate, standard error)``.
    """
    lp, lq = _vec(log_p, "log_p"), _vec(log_q, "log_q")
    if lp.shape != lq.shape:
        raise ValueError(f"log_p and log_q must have the same length, got {lp.size}, {lq.size}")
    h = lp - lq
    terms = np.expm1(-h) + h
    return float(terms.mean()), float(terms.std(ddof=1) / np.sqrt(terms.size))


def kl_from_q_samples(log_p: ArrayLike, log_q: ArrayLike) -> tuple[float, float]:
    r"""KL(p‖q) in nats from log-densities at samples of **q**: mean of :math:`r\log r - r + 1`, r = p/q.

    Unbiased since :math:`E_q[r] = 1`; each term ≥ 0. Returns ``(estimate, standard error)``.
    """
    lp, lq = _vec(log_p, "log_p"), _vec(log_q, "log_q")
    if lp.shape != lq.shape:
        raise ValueError(f"log_p and log_q must have the same length, got {lp.size}, {lq.size}")
    lr = lp - lq
    r = np.exp(lr)
    terms = r * lr - np.expm1(lr)
    return float(terms.mean()), float(terms.std(ddof=1) / np.sqrt(terms.size))


def w2_emd(x: ArrayLike, y: ArrayLike) -> float:
    """Empirical W2 (not squared) between two point clouds by exact OT (``ot.emd2``, uniform weights)."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.ndim != 2 or y.ndim != 2 or x.shape[1] != y.shape[1]:
        raise ValueError(f"x and y must be (n, d) arrays of the same d, got {x.shape}, {y.shape}")
    a = np.full(x.shape[0], 1.0 / x.shape[0])
    b = np.full(y.shape[0], 1.0 / y.shape[0])
    return float(np.sqrt(max(ot.emd2(a, b, ot.dist(x, y), numItermax=10_000_000), 0.0)))


def w2_null_band(sample: Callable[[int, np.random.Generator], NDArray[np.float64]], n: int,
                 reps: int, rng: np.random.Generator) -> tuple[float, float]:
    """Null floor of :func:`w2_emd`: mean and sd of W2 between two independent n-samples of one law."""
    if reps < 2:
        raise ValueError(f"reps must be >= 2, got {reps!r}")
    vals = [w2_emd(sample(n, rng), sample(n, rng)) for _ in range(reps)]
    return float(np.mean(vals)), float(np.std(vals, ddof=1))


def gaussian_fit(x: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Sample mean (d,) and covariance (d, d) of points (n, d), in float64."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < 2:
        raise ValueError(f"x must be an (n >= 2, d) array, got {x.shape}")
    return x.mean(0), np.cov(x, rowvar=False).reshape(x.shape[1], x.shape[1])
