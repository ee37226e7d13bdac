"""The 1-D Lagrangian (quantile) JKO solver for any convex functional, with exact references.

Claims C2, C4, C5, C10, C16, C17, C18 beyond Gaussians (docs/numerics.md §3.1). In 1-D a
probability measure is its quantile function; a JKO step is a strictly convex problem in n
mass-weighted quantile nodes with W2 exact, solved by Newton's method with a tridiagonal
Hessian. One import is enough::

    import torch
    from theory import oned
    G = oned.kl_to_gibbs(oned.Potential.from_function(lambda x: x**2 / 2
                                                      + torch.log(torch.cosh(x)), lam=1.0))
    grid = oned.gaussian_grid(400)
    path = oned.trajectory(grid.nodes(oned.gaussian_quantile(3.0, 0.5)), grid, G,
                           gamma=0.5, n_steps=10)
    path.w2_steps, path.energies, path.w2_to_minimiser   # per-step W2, KL (nats), W2 to ρ*

Public names are re-exported from small private modules:

- :mod:`._measures`: mass grids, quantile nodes, exact 1-D W2, input checks of node vectors;
- :mod:`._autodiff`: exact V', V'' of a function written once (torch autograd, float64);
- :mod:`._hessian`: the tridiagonal + low-rank (+ dense) Hessian and its fast solves;
- :mod:`._functionals`: potentials (hand-written or :meth:`Potential.from_function`), internal
  energies (entropy, porous medium, :meth:`InternalEnergy.from_energy_density`), sums, KL to a
  Gibbs measure;
- :mod:`._interactions`: interaction energies (quadratic, |z|, general W incl.
  :meth:`PairInteraction.from_function`);
- :mod:`._lagrangian`: the JKO step, its first-order residual, inexact steps, steady states;
- :mod:`._trajectory`: whole trajectories with per-step W2, G values and W2 to the minimiser;
- exact references: Gaussian mixtures and atoms (:mod:`._mixtures`), Gibbs measures e^{-V}/Z
  (:mod:`._gibbs`), Barenblatt profiles (:mod:`._barenblatt`).
"""

from theory.oned._barenblatt import BarenblattProfile
from theory.oned._functionals import (
    Constant,
    Entropy,
    Functional1D,
    InternalEnergy,
    PorousMedium,
    Potential,
    SumFunctional,
    kl_to_gibbs,
    quartic_potential,
)
from theory.oned._gibbs import GibbsMeasure1D
from theory.oned._hessian import Hessian1D
from theory.oned._interactions import AbsInteraction, PairInteraction, QuadraticInteraction
from theory.oned._lagrangian import (
    JKOStepResult,
    foc_residual,
    inexact_step,
    jko_objective,
    jko_step,
    steady_state,
)
from theory.oned._measures import (
    MassGrid,
    cosine_grid,
    density_at_nodes,
    gap_densities,
    gaussian_grid,
    gaussian_quantile,
    mass_grid,
    moments,
    quantiles_by_bisection,
    uniform_grid,
    validate_nodes,
    w2,
    w2_sq,
    w2_to_quantile,
)
from theory.oned._mixtures import (
    Atoms1D,
    GaussianMixture1D,
    w2_atoms_to_mixture,
    w2_between_quantiles,
)
from theory.oned._trajectory import Trajectory1D, trajectory

__all__ = [
    "AbsInteraction",
    "Atoms1D",
    "BarenblattProfile",
    "Constant",
    "Entropy",
    "Functional1D",
    "GaussianMixture1D",
    "GibbsMeasure1D",
    "Hessian1D",
    "InternalEnergy",
    "JKOStepResult",
    "MassGrid",
    "PairInteraction",
    "PorousMedium",
    "Potential",
    "QuadraticInteraction",
    "SumFunctional",
    "Trajectory1D",
    "cosine_grid",
    "density_at_nodes",
    "foc_residual",
    "gap_densities",
    "gaussian_grid",
    "gaussian_quantile",
    "inexact_step",
    "jko_objective",
    "jko_step",
    "kl_to_gibbs",
    "mass_grid",
    "moments",
    "quantiles_by_bisection",
    "quartic_potential",
    "steady_state",
    "trajectory",
    "uniform_grid",
    "validate_nodes",
    "w2",
    "w2_atoms_to_mixture",
    "w2_between_quantiles",
    "w2_sq",
    "w2_to_quantile",
]
