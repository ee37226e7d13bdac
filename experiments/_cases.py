"""Shared random test cases of the experiments (rotations, SPD matrices with a given spectrum)."""

from __future__ import annotations

import numpy as np

__all__ = ["random_rotation", "spd_with_eigs"]


def random_rotation(rng: np.random.Generator, d: int) -> np.ndarray:
    """A Haar-random orthogonal (d, d) matrix: QR of a Gaussian matrix, signs fixed by diag(R)."""
    q, r = np.linalg.qr(rng.standard_normal((d, d)))
    return q * np.sign(np.diag(r))


def spd_with_eigs(rng: np.random.Generator, eigs: np.ndarray) -> np.ndarray:
    """``U diag(eigs) Uᵀ`` with ``U`` from :func:`random_rotation` (PSD if ``eigs >= 0``)."""
    u = random_rotation(rng, len(eigs))
    return (u * np.asarray(eigs, dtype=np.float64)) @ u.T
