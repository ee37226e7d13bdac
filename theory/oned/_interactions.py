r"""Interaction energies :math:`\tfrac12\iint W(x-y)\,d\rho(x)d\rho(y)` on 1-D quantile nodes.

Claims served: C17, C18 (interaction functionals, docs/numerics.md §3.1). On the nodes x of a
:class:`~theory.oned.MassGrid` the energy is :math:`\tfrac12\sum_{i,k}w_iw_kW(x_i-x_k)`:

- quadratic :math:`W = \kappa z^2/2`: O(n) (variance form), Hessian with a rank-one correction;
- :math:`W = \kappa|z|`: *linear* in sorted x (O(n), zero Hessian);
- a general even convex W (:class:`PairInteraction`, also from a function written once by
  :meth:`PairInteraction.from_function`): O(n²) per energy/gradient and O(n³) per Newton solve
  (dense Hessian; use n ≲ 2000).

All are translation invariant: λ = 0.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from theory.oned._autodiff import Fn, TorchFn, derivatives
from theory.oned._functionals import Functional1D
from theory.oned._hessian import Hessian1D, zero_hessian
from theory.oned._measures import MassGrid
from theory.validate import check_finite_scalar, check_positive_scalar

__all__ = ["AbsInteraction", "PairInteraction", "QuadraticInteraction"]

Array = NDArray[np.float64]


class QuadraticInteraction(Functional1D):
    r""":math:`\tfrac12\iint\kappa(x-y)^2/2\,d\rho d\rho = \kappa\,\mathrm{Var}(\rho)/2`, O(n).

    Gradient :math:`\kappa w_i(x_i-\bar x)`; Hessian :math:`\kappa(\mathrm{diag}(w) - ww^\top)`
    (rank-one correction, solved by Woodbury). λ = 0 (translation invariant).

    Raises:
        ValueError: if ``kappa`` is not finite and > 0.
    """

    def __init__(self, kappa: float = 1.0) -> None:
        """Interaction strength ``kappa`` > 0."""
        check_positive_scalar(kappa, "kappa")
        self.kappa, self.lam, self.name = float(kappa), 0.0, f"{kappa:g}·W=z²/2"

    def energy(self, x: Array, grid: MassGrid) -> float:
        r""":math:`\kappa\sum_i w_i(x_i-\bar x)^2/2`."""
        mean = np.dot(grid.w, x)
        return float(0.5 * self.kappa * np.dot(grid.w, (x - mean) ** 2))

    def gradient(self, x: Array, grid: MassGrid) -> Array:
        r""":math:`\kappa w_i(x_i-\bar x)`, shape (n,)."""
        return self.kappa * grid.w * (x - np.dot(grid.w, x))

    def hessian(self, x: Array, grid: MassGrid) -> Hessian1D:
        r""":math:`\kappa(\mathrm{diag}(w) - ww^\top)`."""
        return Hessian1D(self.kappa * grid.w, np.zeros(grid.n - 1), [(-self.kappa, grid.w)])


class AbsInteraction(Functional1D):
    r"""|z| interaction :math:`\tfrac12\iint\kappa|x-y|\,d\rho d\rho`: linear in sorted x, O(n).

    On the nodes it equals :math:`\kappa\sum_{i<k}w_iw_k(x_k-x_i)`.

    Gradient :math:`\kappa w_i(\sum_{k<i}w_k - \sum_{k>i}w_k)`; Hessian 0. λ = 0.

    Raises:
        ValueError: if ``kappa`` is not finite and > 0.
    """

    def __init__(self, kappa: float = 1.0) -> None:
        """Interaction strength ``kappa`` > 0."""
        check_positive_scalar(kappa, "kappa")
        self.kappa, self.lam, self.name = float(kappa), 0.0, f"{kappa:g}·W=|z|"

    def _coef(self, grid: MassGrid) -> Array:
        below = np.concatenate(([0.0], np.cumsum(grid.w)[:-1]))
        above = 1.0 - below - grid.w
        return self.kappa * grid.w * (below - above)

    def energy(self, x: Array, grid: MassGrid) -> float:
        r"""Linear in the sorted nodes: :math:`\sum_i c_ix_i`."""
        return float(np.dot(self._coef(grid), x))

    def gradient(self, x: Array, grid: MassGrid) -> Array:
        """The constant coefficients :math:`c_i`, shape (n,)."""
        return self._coef(grid)

    def hessian(self, x: Array, grid: MassGrid) -> Hessian1D:
        """Zero."""
        return zero_hessian(grid.n)


class PairInteraction(Functional1D):
    r"""General even convex W: :math:`\tfrac12\sum_{i,k}w_iw_kW(x_i-x_k)`; O(n²), dense Hessian.

    Args:
        W, dW, d2W: vectorised W (even, convex), W', W'' (or use :meth:`from_function`).
        lam: convexity modulus (0 for translation-invariant interactions).
        name: a label for reports.
    """

    def __init__(self, W: Fn, dW: Fn, d2W: Fn, *, name: str = "W", lam: float = 0.0) -> None:
        """Store the kernel and its derivatives (ValueError naming ``lam`` if not finite)."""
        lam = check_finite_scalar(lam, "lam")
        self.W, self.dW, self.d2W, self.name, self.lam = W, dW, d2W, name, lam

    @classmethod
    def from_function(cls, W: TorchFn, *, name: str = "W", lam: float = 0.0) -> PairInteraction:
        r"""The interaction of a kernel W written once with torch operations; W', W'' exact.

        The derivatives come from torch autograd in float64 (:mod:`theory.oned._autodiff`).

        Args:
            W: even convex elementwise kernel of a float64 torch tensor, e.g.
                ``lambda z: z**4 / 4``.
            name: a label for reports.
            lam: convexity modulus of the energy (0 for translation-invariant interactions).

        Raises:
            ValueError: naming ``W`` if it is not an elementwise float64 torch function, or
                ``lam`` if it is not a finite number.

        Example:
            >>> F = PairInteraction.from_function(lambda z: z**4 / 4)
            >>> float(F.d2W(2.0))
            12.0
        """
        return cls(*derivatives(W, "W"), name=name, lam=lam)

    def energy(self, x: Array, grid: MassGrid) -> float:
        r""":math:`\tfrac12 w^\top W(x_i - x_k) w`."""
        d = x[:, None] - x[None, :]
        return float(0.5 * grid.w @ self.W(d) @ grid.w)

    def gradient(self, x: Array, grid: MassGrid) -> Array:
        r""":math:`w_i\sum_k w_kW'(x_i-x_k)`, shape (n,)."""
        d = x[:, None] - x[None, :]
        return grid.w * (self.dW(d) @ grid.w)

    def hessian(self, x: Array, grid: MassGrid) -> Hessian1D:
        """Dense: the weighted graph Laplacian of :math:`w_iw_kW''(x_i-x_k)`."""
        d = x[:, None] - x[None, :]
        k = self.d2W(d) * np.outer(grid.w, grid.w)
        dense = np.diag(k.sum(axis=1)) - k
        return Hessian1D(np.zeros(grid.n), np.zeros(grid.n - 1), dense=dense)
