r"""Whole JKO trajectories of the 1-D solver, with the per-step quantities a user wants.

Claims served: C2, C4, C5, C16, C17, C18 (docs/numerics.md §3.1). :func:`trajectory` runs n
exact (ε = 0) or ε-inexact JKO steps :math:`\rho_{k+1} = \arg\min W_2^2(\cdot,\rho_k)/(2\gamma)
+ G` on a fixed :class:`~theory.oned.MassGrid` and returns a :class:`Trajectory1D` holding the
nodes and the measured FOC residuals ε_k, from which it computes

- ``w2_steps``: :math:`W_2(\rho_k,\rho_{k+1})` (not squared), shape (N,);
- ``energies``: :math:`G_h(\rho_k)`, shape (N+1,) — for ``kl_to_gibbs`` this is
  :math:`\mathrm{KL}(\rho_k\|e^{-V}/Z)` in nats (its minimum is 0);
- ``w2_to_minimiser``: :math:`W_2(\rho_k, \rho^*)` when the minimiser ρ* is known in closed form
  (``kl_to_gibbs``: the Gibbs measure), shape (N+1,); ``w2_to(ref)`` for any other reference
  (e.g. the discrete minimiser of :func:`~theory.oned.steady_state`).

All W2 values are exact W2 distances between the node measures
:math:`\sum_i w_i\delta_{x_i}` (docs/numerics.md §3.1).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from numpy.typing import ArrayLike, NDArray

from theory.oned._functionals import Functional1D
from theory.oned._lagrangian import inexact_step, jko_step
from theory.oned._measures import MassGrid, validate_nodes, w2
from theory.validate import check_choice, check_int, check_nonneg_scalar, check_positive_scalar

__all__ = ["Trajectory1D", "trajectory"]

Array = NDArray[np.float64]


@dataclass(frozen=True)
class Trajectory1D:
    r"""The iterates :math:`\rho_0,\dots,\rho_N` of a 1-D JKO trajectory and their diagnostics.

    Unpacks as ``nodes, residuals = trajectory(...)`` (the earlier tuple return).

    Attributes:
        nodes ((N+1, n) array): quantile nodes of ρ_0 (the data) … ρ_N on ``grid``.
        residuals ((N,) array): measured FOC residual ε_k of each step (W2/time units).
        grid: the mass grid.
        G: the functional.
        gamma (float): the step size γ.
        converged ((N,) bool array or None): whether each step's Newton solve reached its
            tolerance (``None`` when not recorded); :func:`trajectory` warns for every step
            that did not, and :attr:`all_converged` summarises.
    """

    nodes: Array
    residuals: Array
    grid: MassGrid
    G: Functional1D
    gamma: float
    converged: Array | None = None

    @property
    def all_converged(self) -> bool:
        """True if every step's solve converged (also True when nothing was recorded)."""
        return self.converged is None or bool(np.all(self.converged))

    def __iter__(self) -> Iterator[Array]:
        """Iterate over ``(nodes, residuals)``, so that tuple unpacking keeps working."""
        return iter((self.nodes, self.residuals))

    @property
    def n_steps(self) -> int:
        """Number of steps N."""
        return int(self.residuals.size)

    @cached_property
    def w2_steps(self) -> Array:
        r""":math:`W_2(\rho_k, \rho_{k+1})` (not squared), shape (N,)."""
        return np.array([w2(a, b, self.grid) for a, b in zip(self.nodes[:-1], self.nodes[1:],
                                                                  strict=True)])

    @cached_property
    def energies(self) -> Array:
        r""":math:`G_h(\rho_k)`, shape (N+1,) (nats for KL; +inf for a tied start with entropy)."""
        out = [self.G.energy(x, self.grid) for x in self.nodes[1:]]
        with np.errstate(divide="ignore", invalid="ignore"):
            first = self.G.energy(self.nodes[0], self.grid)
        return np.array([np.inf if np.isnan(first) else first, *out])

    def w2_to(self, reference: ArrayLike | Callable[..., Array]) -> Array:
        r""":math:`W_2(\rho_k, \nu)` (not squared) for each k, shape (N+1,).

        Args:
            reference: ν as nodes on the same grid ((n,) array, non-decreasing) or as a
                quantile function ``q(s, sc=None)``.
        """
        ref = self.grid.nodes(reference) if callable(reference) else validate_nodes(
            reference, self.grid, "reference", strict=False)
        return np.array([w2(x, ref, self.grid) for x in self.nodes])

    @cached_property
    def w2_to_minimiser(self) -> Array | None:
        r""":math:`W_2(\rho_k, \rho^*)` to the exact minimiser, shape (N+1,), or None if unknown.

        Known when G comes from :func:`~theory.oned.kl_to_gibbs` (ρ* = e^{-V}/Z, quantiles by
        quadrature). It includes the grid's discretisation error (second order in n); use
        ``w2_to(steady_state(G, grid, x0).x)`` for the distance to the discrete minimiser.
        """
        gibbs = getattr(self.G, "gibbs", None)
        return None if gibbs is None else self.w2_to(gibbs.quantile)


def trajectory(y0: ArrayLike, grid: MassGrid, G: Functional1D, gamma: float, n_steps: int, *,
               eps: float = 0.0, direction: str = "shift", tol: float = 1e-9) -> Trajectory1D:
    r"""Run n_steps JKO steps from y0: exact if eps == 0, else ε-inexact by perturbation.

    Each step is :func:`~theory.oned.jko_step` (Newton to FOC residual ≤ tol) or, for eps > 0,
    :func:`~theory.oned.inexact_step` with measured residual ε (Assumption 1,
    docs/theory.md A1).

    Args:
        y0 ((n,) array): non-decreasing quantile nodes of ρ_0 on ``grid`` (ties allowed).
        grid: the mass grid (fixed along the trajectory).
        G: the functional.
        gamma (float > 0): step size γ.
        n_steps (int ≥ 0): number of steps N.
        eps (float ≥ 0): per-step residual of inexact steps (0: exact steps).
        direction: perturbation of inexact steps, ``"shift"`` or ``"dilate"``.
        tol (float > 0): Newton tolerance on the FOC residual.

    Returns:
        Trajectory1D (nodes, residuals, per-step ``converged`` flags and per-step W2 / G
        values; unpacks as a pair).

    Warns:
        RuntimeWarning: for each step k (1-based) whose Newton solve did not reach ``tol``,
            naming k and the residual (also recorded in ``converged``); the steps go on.

    Raises:
        ValueError: naming the argument for bad y0, G, gamma, n_steps, eps, direction or tol;
            and, naming the step, when a step's FOC residual is not finite (NaN/inf gradient of
            G at the nodes, e.g. an overflowing potential) — the trajectory cannot go on.

    Example:
        >>> import torch
        >>> from theory import oned
        >>> V = oned.Potential.from_function(lambda x: x**2 / 2 + torch.log(torch.cosh(x)),
        ...                                  lam=1.0)
        >>> G = oned.kl_to_gibbs(V)
        >>> grid = oned.gaussian_grid(400)
        >>> y0 = grid.nodes(oned.gaussian_quantile(3.0, 0.5))
        >>> path = oned.trajectory(y0, grid, G, gamma=0.5, n_steps=10)
        >>> path.w2_steps.shape, path.energies.shape, path.w2_to_minimiser.shape
        ((10,), (11,), (11,))
        >>> bool(np.all(np.diff(path.energies) < 0))  # KL(ρ_k ‖ e^{-V}/Z) decreases
        True
        >>> bool(np.all(path.w2_to_minimiser[1:] <= path.w2_to_minimiser[:-1] / 1.5))  # C2
        True
    """
    y = validate_nodes(y0, grid, "y0", strict=False)
    if not isinstance(G, Functional1D):
        raise ValueError(f"G must be a Functional1D (e.g. kl_to_gibbs(...)), got {G!r}")
    gamma = check_positive_scalar(gamma, "gamma")
    n_steps = check_int(n_steps, "n_steps", minimum=0)
    eps = check_nonneg_scalar(eps, "eps")
    tol = check_positive_scalar(tol, "tol")
    check_choice(direction, "direction", ("shift", "dilate"))
    xs, res, ok = [y], [], []
    for k in range(1, n_steps + 1):
        try:
            if eps > 0:
                r = inexact_step(xs[-1], grid, G, gamma, eps=eps, direction=direction, tol=tol)
            else:
                r = jko_step(xs[-1], grid, G, gamma, tol=tol, warn=False)  # warned below, with k
        except ValueError as err:
            raise ValueError(f"trajectory step {k} of {n_steps}: {err}") from None
        converged = bool(r.converged)
        if not converged:
            warnings.warn(f"trajectory step {k} of {n_steps} did not converge: FOC residual "
                          f"{r.residual:.3e} > tol {tol:.1e} after {r.n_iter} Newton "
                          f"iterations (recorded in Trajectory1D.converged)",
                          RuntimeWarning, stacklevel=2)
        xs.append(r.x)
        res.append(r.residual)
        ok.append(converged)
    return Trajectory1D(np.array(xs), np.array(res, dtype=np.float64), grid, G, gamma,
                        np.array(ok, dtype=bool))
