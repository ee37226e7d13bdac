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

from theory.validate import as_matrix, check_nonneg_scalar

__all__ = [
    "DEFAULT_RTOL",
    "Spectrum",
    "spectrum",
    "symmetrize",
]

#: Relative eigenvalue cut-off: eigenvalues within ``DEFAULT_RTOL * max|eig|`` of 0 are zero.
#: ``eigh`` of a symmetric matrix has absolute eigenvalue error ~ d * eps * max|eig|; 1e6 * eps
#: (2.2e-10) leaves room for d up to ~1e4 and for matrices built from a few products.
DEFAULT_RTOL = 1e6 * np.finfo(np.float64).eps

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
        rtol (float >= 0): relative eigenvalue cut-off (see :data:`DEFAULT_RTOL`).

    Returns:
        Spectrum: eigenvalues (clamped, ascending) and eigenvectors.

    Raises:
        ValueError: naming ``name`` if ``c`` is not square (or is 0 x 0), not finite, not
            symmetric, or has an eigenvalue below ``-rtol * max|eig|`` (indefinite); naming
            ``rtol`` if it is negative or not finite. The zero matrix is valid.

    Example:
        >>> s = spectrum([[2.0, 0.0], [0.0, 0.0]])
        >>> s.w.tolist(), s.rank
        ([0.0, 2.0], 1)
    """
    rtol = check_nonneg_scalar(rtol, "rtol")
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
