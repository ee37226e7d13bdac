"""Hypothesis strategies for the exact Gaussian theory (docs/numerics.md §5.4).

Matrices are built from a *seeded* random rotation (:func:`theory.gaussian.random_rotation`) and a
drawn spectrum, so hypothesis shrinks on (dimension, seed, eigenvalues) rather than on d² floats,
and every example is reproducible from its printed seed.

- :func:`spd_matrices`: SPD with condition number <= ``cond_max`` (default 1e4).
- :func:`singular_psd_matrices`: rank-deficient PSD (data covariances without density, C10),
  rank in ``1..d-1`` (the zero matrix, a Dirac, is rejected by ``theory.spd`` by design).
- :func:`data_covariances`: either of the two.
- :func:`means`, :func:`gammas` (log-uniform in [1e-3, 1e3]), :func:`dims` (1..20).
- :func:`gaussian_cases`: a dimension with a mean and covariance drawn consistently.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from theory.gaussian import random_rotation, spd_with_eigs
from theory.spd import symmetrize

__all__ = [
    "data_covariances",
    "dims",
    "factored_covariances",
    "gammas",
    "gaussian_cases",
    "log_uniform",
    "means",
    "rotation",
    "singular_psd_matrices",
    "spd_from_eigs",
    "spd_matrices",
]

#: Eigenvalue range of drawn covariances: [1e-2, 1e2] gives condition numbers up to 1e4.
EIG_MIN, EIG_MAX = 1e-2, 1e2
#: Step-size range of the brief (log-uniform).
GAMMA_MIN, GAMMA_MAX = 1e-3, 1e3
#: Largest dimension drawn by default (expensive oracles pass a smaller d_max).
D_MAX = 20

seeds = st.integers(0, 2**32 - 1)


def log_uniform(lo: float, hi: float) -> st.SearchStrategy[float]:
    """Floats log-uniform in [lo, hi]."""
    return st.floats(np.log(lo), np.log(hi), allow_nan=False).map(lambda x: float(np.exp(x)))


def dims(d_min: int = 1, d_max: int = D_MAX) -> st.SearchStrategy[int]:
    """Dimensions in [d_min, d_max]."""
    return st.integers(d_min, d_max)


def gammas(lo: float = GAMMA_MIN, hi: float = GAMMA_MAX) -> st.SearchStrategy[float]:
    """Step sizes γ log-uniform in [lo, hi] (default [1e-3, 1e3])."""
    return log_uniform(lo, hi)


def rotation(d: int, seed: int) -> np.ndarray:
    """Haar-random orthogonal (d, d) matrix, seeded (:func:`theory.gaussian.random_rotation`)."""
    return random_rotation(np.random.default_rng(seed), d)


def spd_from_eigs(eigs: np.ndarray, seed: int) -> np.ndarray:
    """``U diag(eigs) U^T`` with a seeded random rotation ``U``, exactly symmetric."""
    return symmetrize(spd_with_eigs(np.random.default_rng(seed), eigs))


@st.composite
def _eigs(draw, d: int, cond_max: float) -> np.ndarray:
    """d eigenvalues in [lo, lo*cond_max] with lo in [EIG_MIN, EIG_MAX/cond_max] (log-uniform)."""
    lo = draw(log_uniform(EIG_MIN, max(EIG_MIN, EIG_MAX / cond_max)))
    logs = draw(st.lists(st.floats(0.0, float(np.log(cond_max))), min_size=d, max_size=d))
    # Include the extremes often so that the full condition number is exercised.
    if d >= 2 and draw(st.booleans()):
        logs[0], logs[-1] = 0.0, float(np.log(cond_max))
    return lo * np.exp(np.asarray(logs))


@st.composite
def spd_matrices(draw, d: int | None = None, d_max: int = D_MAX, cond_max: float = 1e4):
    """SPD (d, d) matrices with eigenvalues in [1e-2, 1e2] and condition number <= cond_max."""
    if d is None:
        d = draw(dims(1, d_max))
    return spd_from_eigs(draw(_eigs(d, cond_max)), draw(seeds))


@st.composite
def singular_psd_matrices(draw, d: int | None = None, d_max: int = D_MAX,
                          cond_max: float = 1e4):
    """Rank-deficient PSD (d, d) matrices (d >= 2, rank 1..d-1): data without density."""
    if d is None:
        d = draw(dims(2, max(2, d_max)))
    eigs = draw(_eigs(d, cond_max))
    n_zero = draw(st.integers(1, d - 1))
    eigs[:n_zero] = 0.0
    return spd_from_eigs(eigs, draw(seeds))


@st.composite
def data_covariances(draw, d: int | None = None, d_max: int = D_MAX, cond_max: float = 1e4,
                     allow_singular: bool = True):
    """An SPD or (if allowed and d >= 2) a singular PSD covariance."""
    if d is None:
        d = draw(dims(1, d_max))
    if allow_singular and d >= 2 and draw(st.booleans()):
        return draw(singular_psd_matrices(d=d, cond_max=cond_max))
    return draw(spd_matrices(d=d, cond_max=cond_max))


@st.composite
def means(draw, d: int, scale_max: float = 10.0):
    """Means of length d: a seeded Gaussian direction times a scale in {0} ∪ [1e-3, scale_max]."""
    seed = draw(seeds)
    scale = draw(st.one_of(st.just(0.0), log_uniform(1e-3, scale_max)))
    return scale * np.random.default_rng(seed).standard_normal(d)


@st.composite
def gaussian_cases(draw, d_max: int = D_MAX, allow_singular: bool = True,
                   cond_max: float = 1e4):
    """``(mean, cov)`` of a common, drawn dimension."""
    d = draw(dims(1, d_max))
    return draw(means(d)), draw(data_covariances(d=d, cond_max=cond_max,
                                                 allow_singular=allow_singular))


@st.composite
def factored_covariances(draw, d: int | None = None, d_max: int = D_MAX,
                         cond_max: float = 1e4, allow_singular: bool = True):
    """``(cov, factor)`` with ``cov = factor @ factor.T`` and ``factor`` of shape (d, rank).

    The exact-rank factor lets an oracle handle singular data without taking square roots of
    round-off eigenvalues (sqrt(1e-16) = 1e-8 would swamp any test).
    """
    if d is None:
        d = draw(dims(1, d_max))
    eigs = draw(_eigs(d, cond_max))
    if allow_singular and d >= 2 and draw(st.booleans()):
        eigs[: draw(st.integers(1, d - 1))] = 0.0
    u = rotation(d, draw(seeds))
    v = u[:, eigs > 0] * np.sqrt(eigs[eigs > 0])
    c = v @ v.T
    return 0.5 * (c + c.T), v
