"""The exact Gaussian JKO solver: closed forms in float64, trajectories, inexact steps, flows.

Claims C1-C7, C9-C11, C14, C15, C18, C19 to machine precision. Public names are re-exported from
small private modules:

- the target q = N(b, C) with β and P, validated once (:mod:`._target`):
  :func:`convexity_modulus`;
- KL, entropy, W2 and the Brenier map between Gaussians (:mod:`._metrics`): :func:`kl`,
  :func:`entropy`, :func:`w2`, :func:`w2_sq`, :func:`ot_map`;
- the exact step and the sub-steps beside it (:mod:`._step`): :func:`jko_step`, :func:`jko_map`,
  :func:`entropy_prox`, :func:`potential_step`, :func:`ou_marginal`;
- the Assumption-1 residual and its round-off floor (:mod:`._residual`): :func:`foc_residual`,
  :func:`residual_scale`, :func:`residual_floor`, and the a-priori bound on its float64 error
  (:mod:`._residual_error`): :func:`residual_error_bound`;
- inexact steps with a prescribed residual ε (:mod:`._inexact`, map perturbations solved in
  :mod:`._inexact_map`): :func:`inexact_step`, :data:`INEXACT_KINDS`;
- whole trajectories with W2 and KL to the target per step (:mod:`._trajectory`):
  :func:`standard_trajectory`, :func:`general_trajectory`, :func:`inexact_trajectory`, and
  the one trajectory loop :func:`iterate_steps`;
- the forward-backward scheme beside JKO (:mod:`._forward_backward`);
- affine maps, the composed affine flow F with its generated law q̂ = F⁻¹#N(0, I), and the
  reverse pass of approximate inverses (:mod:`._affine`, :mod:`._affine_flow`,
  :mod:`._inversion`);
- an independent brute-force oracle of the step (:mod:`._brute_force`):
  :func:`jko_step_brute_force`;
- random rotations and SPD test matrices (:mod:`._random`).
"""

from theory.gaussian._affine import AffineMap
from theory.gaussian._affine_flow import AffineFlow, build_affine_flow
from theory.gaussian._brute_force import BruteForceStep, JkoObjective, jko_step_brute_force
from theory.gaussian._forward_backward import fb_fixed_point, fb_step, prox_residual
from theory.gaussian._inexact import KINDS as INEXACT_KINDS
from theory.gaussian._inexact import inexact_step
from theory.gaussian._inversion import compose_inverse, lip_prefixes
from theory.gaussian._metrics import entropy, kl, ot_map, w2, w2_sq
from theory.gaussian._random import random_rotation, spd_with_eigs
from theory.gaussian._residual import foc_residual, residual_floor, residual_scale
from theory.gaussian._residual_error import residual_error_bound
from theory.gaussian._step import entropy_prox, jko_map, jko_step, ou_marginal, potential_step
from theory.gaussian._target import convexity_modulus
from theory.gaussian._trajectory import (
    GaussianPath,
    InexactTrajectory,
    StandardTrajectory,
    general_trajectory,
    inexact_trajectory,
    iterate_steps,
    standard_trajectory,
)

__all__ = [
    "INEXACT_KINDS",
    "AffineFlow",
    "AffineMap",
    "BruteForceStep",
    "GaussianPath",
    "InexactTrajectory",
    "JkoObjective",
    "StandardTrajectory",
    "build_affine_flow",
    "compose_inverse",
    "convexity_modulus",
    "entropy",
    "entropy_prox",
    "fb_fixed_point",
    "fb_step",
    "foc_residual",
    "general_trajectory",
    "inexact_step",
    "inexact_trajectory",
    "iterate_steps",
    "jko_map",
    "jko_step",
    "jko_step_brute_force",
    "kl",
    "lip_prefixes",
    "ot_map",
    "ou_marginal",
    "potential_step",
    "prox_residual",
    "random_rotation",
    "residual_error_bound",
    "residual_floor",
    "residual_scale",
    "spd_with_eigs",
    "standard_trajectory",
    "w2",
    "w2_sq",
]
