"""Random test cases: Haar rotations and SPD matrices with a prescribed or random spectrum.

Used by the experiments and tests of claims C1-C19 to draw non-commuting Gaussian cases. Each
function draws from the given generator in a fixed order (documented), so a seeded generator
reproduces the same matrices bit for bit.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from theory.spd import symmetrize
from theory.validate import as_vector, check_int

__all__ = ["random_rotation", "random_spd", "spd_with_eigs"]

Array = NDArray[np.float64]


def _check_rng(rng: np.random.Generator) -> None:
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")


def random_rotation(rng: np.random.Generator, d: int) -> Array:
    """A Haar-random orthogonal (d, d) matrix: QR of a Gaussian matrix, signs fixed by diag(R).

    Draws one ``rng.standard_normal((d, d))``.

    Example:
        >>> q = random_rotation(np.random.default_rng(0), 3)
        >>> bool(np.allclose(q @ q.T, np.eye(3)))
        True

    Raises:
        ValueError: if ``d`` is not an integer >= 1 or ``rng`` is not a Generator.
    """
    _check_rng(rng)
    d = check_int(d, "d", minimum=1)
    q, r = np.linalg.qr(rng.standard_normal((d, d)))
    return q * np.sign(np.diag(r))


def spd_with_eigs(rng: np.random.Generator, eigs: ArrayLike) -> Array:
    """``U diag(eigs) Uᵀ`` with ``U`` from :func:`random_rotation` (PSD if ``eigs >= 0``).

    Not symmetrized: exactly symmetric only up to round-off (wrap in
    :func:`theory.spd.symmetrize` where exact symmetry matters).

    Example:
        >>> c = spd_with_eigs(np.random.default_rng(0), [1.0, 4.0])
        >>> np.linalg.eigvalsh(c).round(12).tolist()
        [1.0, 4.0]

    Raises:
        ValueError: if ``eigs`` is not a non-empty finite 1-D array.
    """
    eigs = as_vector(eigs, "eigs")
    u = random_rotation(rng, len(eigs))
    return (u * eigs) @ u.T


def random_spd(rng: np.random.Generator, d: int) -> Array:
    """Random SPD matrix ``GGᵀ/d + 0.05 I`` normalised to unit Frobenius norm (cond ≲ 10²).

    Draws one ``rng.standard_normal((d, d))``. The random map direction ``E`` of the inexact
    steps (claims C3-C6).

    Raises:
        ValueError: if ``d`` is not an integer >= 1 or ``rng`` is not a Generator.
    """
    _check_rng(rng)
    d = check_int(d, "d", minimum=1)
    g = rng.standard_normal((d, d))
    e = g @ g.T / d + 0.05 * np.eye(d)
    return symmetrize(e / np.linalg.norm(e))
