"""The project's single SPD-matrix toolkit: validation, spectra and matrix functions.

Every matrix square root, inverse, log-determinant and spectral function of a covariance in
``theory/`` goes through :func:`spectrum`. Nothing here calls ``scipy.linalg.sqrtm`` (complex or
NaN output on singular input). The recipe (after ``scipy.stats._PSD``):

1. validate shape and finiteness, and check symmetry to a relative tolerance;
2. symmetrise, ``numpy.linalg.eigh``;
3. reject eigenvalues below ``-tol`` where ``tol = rtol * max|eigenvalue|`` (a *relative* cut-off);
4. clamp the survivors in ``[-tol, tol]`` to exactly ``0`` (they are zero up to round-off).

A PSD matrix with zero eigenvalues is *valid* (singular Gaussian data, claim C10); functions that
need an inverse say so and raise a ``ValueError`` naming the argument.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "DEFAULT_RTOL",
    "Spectrum",
    "as_matrix",
    "as_vector",
    "check_positive_scalar",
    "spectrum",
    "symmetrize",
]

#: Relative eigenvalue cut-off: eigenvalues within ``DEFAULT_RTOL * max|eig|`` of 0 are zero.
#: ``eigh`` of a symmetric matrix has absolute eigenvalue error ~ d * eps * max|eig|; 1e6 * eps
#: (2.2e-10) leaves room for d up to ~1e4 and for matrices built from a few products.
DEFAULT_RTOL = 1e6 * np.finfo(np.float64).eps

#: Relative asymmetry tolerated in an input covariance (products like ``A @ S @ A`` are not
#: exactly symmetric in floating point).
_SYM_RTOL = 1e-8


def check_positive_scalar(value: float, name: str) -> float:
    """Return ``value`` as a float after checking that it is finite and > 0.

    Raises:
        ValueError: naming ``name`` if the value is not a finite positive number.
    """
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a finite positive number, got {value!r}") from None
    if not np.isfinite(v) or v <= 0.0:
        raise ValueError(f"{name} must be a finite positive number, got {value!r}")
    return v


def as_vector(x: ArrayLike, name: str, d: int | None = None) -> NDArray[np.float64]:
    """Return ``x`` as a finite float64 vector of shape ``(d,)``.

    Raises:
        ValueError: naming ``name`` for a wrong shape or non-finite entries.
    """
    v = np.asarray(x, dtype=np.float64)
    if v.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array, got shape {v.shape}")
    if d is not None and v.shape[0] != d:
        raise ValueError(f"{name} must have length {d}, got {v.shape[0]}")
    if not np.all(np.isfinite(v)):
        raise ValueError(f"{name} has non-finite entries")
    return v


def as_matrix(c: ArrayLike, name: str, d: int | None = None) -> NDArray[np.float64]:
    """Return ``c`` as a finite, symmetric float64 ``(d, d)`` matrix (symmetrised).

    Raises:
        ValueError: naming ``name`` if ``c`` is not square, has the wrong size, has non-finite
            entries, or is not symmetric to relative tolerance 1e-8.
    """
    m = np.asarray(c, dtype=np.float64)
    if m.ndim != 2 or m.shape[0] != m.shape[1]:
        raise ValueError(f"{name} must be a square matrix, got shape {m.shape}")
    if d is not None and m.shape[0] != d:
        raise ValueError(f"{name} must have shape ({d}, {d}), got {m.shape}")
    if not np.all(np.isfinite(m)):
        raise ValueError(f"{name} has non-finite entries")
    scale = np.abs(m).max() if m.size else 0.0
    if np.abs(m - m.T).max(initial=0.0) > _SYM_RTOL * max(scale, np.finfo(float).tiny):
        raise ValueError(f"{name} is not symmetric (max |{name} - {name}.T| is too large)")
    return symmetrize(m)


def symmetrize(m: NDArray[np.float64]) -> NDArray[np.float64]:
    """Return ``(m + m.T) / 2``."""
    return 0.5 * (m + m.T)


@dataclass(frozen=True)
class Spectrum:
    """Eigen-decomposition ``C = U diag(w) U^T`` of a validated PSD matrix.

    Attributes:
        w ((d,) float64 array): eigenvalues, ascending, clamped so that ``w >= 0`` and the ones
            below the relative cut-off are exactly ``0``.
        u ((d, d) float64 array): orthonormal eigenvectors (columns).
        tol (float): the absolute cut-off used, ``rtol * max|eigenvalue|``.
    """

    w: NDArray[np.float64]
    u: NDArray[np.float64]
    tol: float

    @property
    def d(self) -> int:
        """Dimension."""
        return int(self.w.shape[0])

    @property
    def rank(self) -> int:
        """Number of eigenvalues above the cut-off."""
        return int(np.count_nonzero(self.w > 0.0))

    @property
    def is_singular(self) -> bool:
        """True if some eigenvalue is (numerically) zero."""
        return self.rank < self.d

    def apply(self, f: Callable[[NDArray[np.float64]], NDArray[np.float64]]) -> NDArray:
        """Return the symmetric matrix ``U diag(f(w)) U^T``."""
        return symmetrize((self.u * f(self.w)) @ self.u.T)

    def sqrt(self) -> NDArray[np.float64]:
        """Return the PSD square root ``C^{1/2}``."""
        return self.apply(np.sqrt)

    def inv_sqrt(self, name: str = "cov") -> NDArray[np.float64]:
        """Return ``C^{-1/2}``; raises ``ValueError`` naming ``name`` if ``C`` is singular."""
        self.require_definite(name)
        return self.apply(lambda w: 1.0 / np.sqrt(w))

    def inv(self, name: str = "cov") -> NDArray[np.float64]:
        """Return ``C^{-1}``; raises ``ValueError`` naming ``name`` if ``C`` is singular."""
        self.require_definite(name)
        return self.apply(lambda w: 1.0 / w)

    def logdet(self) -> float:
        """Return ``log det C`` (``-inf`` for a singular matrix)."""
        if self.is_singular:
            return -np.inf
        return float(np.sum(np.log(self.w)))

    def require_definite(self, name: str) -> None:
        """Raise ``ValueError`` naming ``name`` unless the matrix is positive definite."""
        if self.is_singular:
            raise ValueError(
                f"{name} must be positive definite here, but it is singular "
                f"(rank {self.rank} < {self.d})"
            )


def spectrum(
    c: ArrayLike, name: str = "cov", *, d: int | None = None, rtol: float = DEFAULT_RTOL
) -> Spectrum:
    """Validate a PSD matrix and return its clamped spectrum.

    Args:
        c ((d, d) array): symmetric positive semi-definite matrix.
        name (str): argument name used in error messages.
        d (int, optional): required dimension.
        rtol (float): relative eigenvalue cut-off (see :data:`DEFAULT_RTOL`).

    Returns:
        Spectrum: eigenvalues (clamped, ascending) and eigenvectors.

    Raises:
        ValueError: naming ``name`` if ``c`` is not square, not finite, not symmetric, or has an
            eigenvalue below ``-rtol * max|eig|`` (indefinite). The zero matrix is valid.

    Example:
        >>> s = spectrum([[2.0, 0.0], [0.0, 0.0]])
        >>> s.w.tolist(), s.rank
        ([0.0, 2.0], 1)
    """
    m = as_matrix(c, name, d)
    w, u = np.linalg.eigh(m)
    scale = float(np.abs(w).max()) if w.size else 0.0
    tol = rtol * scale  # the zero matrix (a Dirac mass) is valid: all eigenvalues are 0
    if w[0] < -tol:
        raise ValueError(
            f"{name} is not positive semi-definite: min eigenvalue {w[0]:.3e} < -{tol:.3e}"
        )
    w = np.where(w <= tol, 0.0, w)
    return Spectrum(w=w, u=u, tol=tol)
