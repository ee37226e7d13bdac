r"""The Hessian of a discrete 1-D functional: tridiagonal + low rank (+ dense), with fast solves.

Claims served: C2, C4, C5, C16, C17, C18 (the Newton solves of the 1-D JKO step,
docs/numerics.md §3.1). Potentials and internal energies give a tridiagonal Hessian in the
quantile nodes, the quadratic interaction adds a rank-one term, and a general pair interaction a
dense block; :meth:`Hessian1D.solve` picks the cheapest exact solver for the structure present.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray
from scipy import linalg

__all__ = ["Hessian1D", "zero_hessian"]

Array = NDArray[np.float64]


@dataclass
class Hessian1D:
    r"""A symmetric matrix :math:`T + \sum_r c_r u_ru_r^\top (+ D)`: T tridiagonal, D dense/None.

    Attributes:
        diag ((n,) array), off ((n-1,) array): T's diagonal and super-diagonal.
        lowrank (list of (float, (n,) array)): rank-one terms :math:`c\,uu^\top` (c may be < 0).
        dense ((n, n) array or None): a dense part (general pair interactions).

    Raises:
        ValueError: naming ``diag``, ``off`` or ``dense`` if the shapes do not fit.
    """

    diag: Array
    off: Array
    lowrank: list[tuple[float, Array]] = field(default_factory=list)
    dense: Array | None = None

    def __post_init__(self) -> None:
        """Check the shapes (ValueError naming ``diag``, ``off`` or ``dense``)."""
        d, o = np.asarray(self.diag), np.asarray(self.off)
        if d.ndim != 1 or d.size == 0:
            raise ValueError(f"diag must be a non-empty 1-D array, got shape {d.shape}")
        if o.shape != (d.size - 1,):
            raise ValueError(f"off must have shape ({d.size - 1},), got {o.shape}")
        if self.dense is not None and np.shape(self.dense) != (d.size, d.size):
            raise ValueError(f"dense must have shape ({d.size}, {d.size}), "
                             f"got {np.shape(self.dense)}")

    def __add__(self, other: Hessian1D) -> Hessian1D:
        """Sum of two Hessians of the same size (structures are merged, nothing is densified)."""
        dense = self.dense if other.dense is None else (
            other.dense if self.dense is None else self.dense + other.dense)
        return Hessian1D(self.diag + other.diag, self.off + other.off,
                         self.lowrank + other.lowrank, dense)

    def add_diag(self, d: Array) -> Hessian1D:
        """Return a copy with ``d`` ((n,) array) added to the diagonal."""
        return Hessian1D(self.diag + d, self.off.copy(), list(self.lowrank), self.dense)

    def to_dense(self) -> Array:
        """The full (n, n) matrix (for tests and small problems)."""
        n = self.diag.size
        h = np.diag(self.diag) + np.diag(self.off, 1) + np.diag(self.off, -1)
        for c, u in self.lowrank:
            h += c * np.outer(u, u)
        if self.dense is not None:
            h += self.dense
        return h.reshape(n, n)

    def matvec(self, p: Array) -> Array:
        """The product :math:`Hp` for an (n,) vector p, in O(n) without a dense part."""
        out = self.diag * p
        out[:-1] += self.off * p[1:]
        out[1:] += self.off * p[:-1]
        for c, u in self.lowrank:
            out += c * u * np.dot(u, p)
        if self.dense is not None:
            out += self.dense @ p
        return out

    def solve(self, rhs: Array) -> Array:
        """Solve :math:`Hp = b` for symmetric positive definite H.

        Tridiagonal: banded Cholesky (``solveh_banded``, O(n)); rank-one terms by the Woodbury
        identity (O(n) each); a dense part: Cholesky of the full matrix (O(n³)).

        Raises:
            numpy.linalg.LinAlgError / scipy.linalg.LinAlgError: if H is not positive definite.
        """
        if self.dense is not None:
            return linalg.cho_solve(linalg.cho_factor(self.to_dense()), rhs)
        ab = np.empty((2, self.diag.size))
        ab[0, 0] = 0.0
        ab[0, 1:] = self.off
        ab[1] = self.diag
        if not self.lowrank:
            return linalg.solveh_banded(ab, rhs)
        u = np.stack([v for _, v in self.lowrank], axis=1)
        c = np.array([cc for cc, _ in self.lowrank])
        sol = linalg.solveh_banded(ab, np.column_stack([rhs, u]))
        tb, tu = sol[:, 0], sol[:, 1:]
        cap = np.diag(1.0 / c) + u.T @ tu
        return tb - tu @ np.linalg.solve(cap, u.T @ tb)


def zero_hessian(n: int) -> Hessian1D:
    """The zero (n, n) Hessian (constants and functionals linear in the sorted nodes)."""
    return Hessian1D(np.zeros(n), np.zeros(n - 1))
