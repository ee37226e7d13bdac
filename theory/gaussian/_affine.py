"""Affine maps ``x -> A x + c`` and their action on Gaussian laws.

Every block of an exact Gaussian JKO flow is affine (docs/theory.md §5.2), so the composed flow
``F = T_N o ... o T_1``, its inverse and the generated law ``q_hat = (F^{-1})_# N(0, I)`` are exact
affine / Gaussian objects (claims C8, C9, C11).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from theory.spd import symmetrize
from theory.validate import as_matrix, as_vector

__all__ = ["AffineMap"]


@dataclass(frozen=True)
class AffineMap:
    """The map ``x -> matrix @ x + offset``.

    Attributes:
        matrix ((d, d) float64 array): linear part ``A``.
        offset ((d,) float64 array): translation ``c``.
    """

    matrix: NDArray[np.float64]
    offset: NDArray[np.float64]

    def __post_init__(self) -> None:
        a = np.asarray(self.matrix, dtype=np.float64)
        if a.ndim != 2 or a.shape[0] != a.shape[1]:
            raise ValueError(f"matrix must be square, got shape {a.shape}")
        c = as_vector(self.offset, "offset", a.shape[0])
        if not np.all(np.isfinite(a)):
            raise ValueError("matrix has non-finite entries")
        object.__setattr__(self, "matrix", a)
        object.__setattr__(self, "offset", c)

    @classmethod
    def identity(cls, d: int) -> AffineMap:
        """Return the identity map on R^d."""
        return cls(np.eye(d), np.zeros(d))

    @classmethod
    def from_centered(cls, matrix: ArrayLike, center: ArrayLike, image: ArrayLike) -> AffineMap:
        """Return ``x -> image + matrix @ (x - center)`` (the form of a Gaussian OT map)."""
        a = np.asarray(matrix, dtype=np.float64)
        return cls(a, np.asarray(image, dtype=np.float64) - a @ np.asarray(center, float))

    @property
    def d(self) -> int:
        """Dimension."""
        return int(self.offset.shape[0])

    def __call__(self, x: ArrayLike) -> NDArray[np.float64]:
        """Apply to points ``x`` of shape ``(d,)`` or ``(n, d)`` (any leading axes: ``(..., d)``).

        Raises:
            ValueError: naming ``x`` if its last axis is not of length d (or it is not numeric).
        """
        try:
            x = np.asarray(x, dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"x must be an array of numbers, got {x!r}") from None
        if x.ndim == 0 or x.shape[-1] != self.d:
            raise ValueError(f"x must have shape ({self.d},) or (n, {self.d}), got {x.shape}")
        return x @ self.matrix.T + self.offset

    def then(self, other: AffineMap) -> AffineMap:
        """Return ``other o self`` (apply ``self`` first).

        Raises:
            ValueError: naming ``other`` if it is not an AffineMap of the same dimension.
        """
        _check_same_d(self, other)
        return AffineMap(other.matrix @ self.matrix, other.matrix @ self.offset + other.offset)

    def inverse(self) -> AffineMap:
        """Return the inverse map ``y -> A^{-1} (y - c)``.

        Raises:
            ValueError: if the linear part is singular.
        """
        if np.linalg.matrix_rank(self.matrix) < self.d:
            raise ValueError("matrix is singular: the affine map has no inverse")
        a_inv = np.linalg.inv(self.matrix)
        return AffineMap(a_inv, -a_inv @ self.offset)

    def push(
        self, mean: ArrayLike, cov: ArrayLike
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Push ``N(mean, cov)`` forward: ``N(A mean + c, A cov A^T)``.

        Raises:
            ValueError: naming ``mean`` or ``cov`` for a wrong shape or non-finite entries
                (``cov`` must be symmetric; it is used as given).
        """
        m = as_vector(mean, "mean", self.d)
        as_matrix(cov, "cov", self.d)
        s = np.asarray(cov, dtype=np.float64)
        return self.matrix @ m + self.offset, symmetrize(self.matrix @ s @ self.matrix.T)

    def lipschitz(self) -> float:
        """Return the Lipschitz constant ``||A||_2`` (largest singular value)."""
        return float(np.linalg.norm(self.matrix, 2))

    def log_abs_det(self) -> float:
        """Return ``log |det A|`` (the log-Jacobian of the map)."""
        return float(np.linalg.slogdet(self.matrix)[1])

    def l2_distance(self, other: AffineMap, mean: ArrayLike, cov: ArrayLike) -> float:
        """Return ``||self - other||_{L^2(N(mean, cov))}`` exactly.

        ``E|(A - B) x + (c - e)|^2 = |(A - B) m + c - e|^2 + tr((A - B) S (A - B)^T)``.

        Raises:
            ValueError: naming ``other``, ``mean`` or ``cov`` for a wrong type, shape or
                non-finite entries.
        """
        _check_same_d(self, other)
        m = as_vector(mean, "mean", self.d)
        as_matrix(cov, "cov", self.d)
        s = np.asarray(cov, dtype=np.float64)
        da = self.matrix - other.matrix
        dc = da @ m + self.offset - other.offset
        val = float(dc @ dc + np.trace(da @ s @ da.T))
        return float(np.sqrt(max(val, 0.0)))  # >= 0 in exact arithmetic


def _check_same_d(a: AffineMap, other: object) -> None:
    if not isinstance(other, AffineMap) or other.d != a.d:
        got = f"dimension {other.d}" if isinstance(other, AffineMap) else type(other).__name__
        raise ValueError(f"other must be an AffineMap of dimension {a.d}, got {got}")
