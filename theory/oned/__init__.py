"""The 1-D Lagrangian (quantile) JKO solver for any convex functional, with exact references.

Claims C2, C4, C5, C10, C16, C17, C18 beyond Gaussians. In 1-D a probability measure is its
quantile function; a JKO step is a strictly convex problem in n mass-weighted quantile nodes with
W2 exact, solved by Newton's method with a tridiagonal Hessian. Public names are re-exported from
small private modules:

- mass grids, quantile nodes and exact 1-D W2 (:mod:`._measures`);
- functionals G: potentials, internal energies (entropy, porous medium), interactions
  (:mod:`._functionals`);
- the JKO step, its first-order residual, inexact steps and trajectories (:mod:`._lagrangian`);
- exact references: Gaussian mixtures and atoms (:mod:`._mixtures`), Gibbs measures e^{-V}/Z
  (:mod:`._gibbs`), Barenblatt profiles (:mod:`._barenblatt`).
"""

from theory.oned._barenblatt import BarenblattProfile
from theory.oned._functionals import (
    AbsInteraction,
    Constant,
    Entropy,
    Functional1D,
    Hessian1D,
    InternalEnergy,
    PairInteraction,
    PorousMedium,
    Potential,
    QuadraticInteraction,
    SumFunctional,
    kl_to_gibbs,
    quartic_potential,
)
from theory.oned._gibbs import GibbsMeasure1D
from theory.oned._lagrangian import (
    JKOStepResult,
    foc_residual,
    inexact_step,
    jko_objective,
    jko_step,
    steady_state,
    trajectory,
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
