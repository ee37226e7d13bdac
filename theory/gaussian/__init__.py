"""The exact Gaussian JKO solver: closed forms in float64, trajectories, inexact steps, affine flows.

Claims C1-C7, C9-C11, C14, C15, C18, C19 to machine precision. Public names are re-exported from
small private modules:

- closed forms (:mod:`._closed_form`): :func:`kl`, :func:`entropy`, :func:`w2`, :func:`w2_sq`,
  :func:`ot_map`, :func:`jko_step`, :func:`jko_map`, :func:`entropy_prox`,
  :func:`potential_step`, :func:`ou_marginal`, :func:`foc_residual`,
  :func:`convexity_modulus`;
- whole trajectories from one eigendecomposition (:mod:`._trajectory`);
- inexact steps with a prescribed residual ε (:mod:`._inexact`);
- the forward-backward scheme beside JKO (:mod:`._forward_backward`);
- affine maps and the composed affine flow F with its generated law q̂ = F⁻¹#N(0, I)
  (:mod:`._affine`, :mod:`._affine_flow`).
"""

from theory.gaussian._affine import AffineMap
from theory.gaussian._affine_flow import GaussianFlow, build_flow
from theory.gaussian._closed_form import (
    convexity_modulus,
    entropy,
    entropy_prox,
    foc_residual,
    jko_map,
    jko_step,
    kl,
    ot_map,
    ou_marginal,
    potential_step,
    w2,
    w2_sq,
)
from theory.gaussian._forward_backward import fb_fixed_point, fb_step, prox_residual
from theory.gaussian._inexact import (
    KINDS as INEXACT_KINDS,
)
from theory.gaussian._inexact import (
    InexactTrajectory,
    inexact_step,
    inexact_trajectory,
    residual_floor,
    residual_scale,
)
from theory.gaussian._trajectory import (
    GaussianPath,
    StandardTrajectory,
    general_trajectory,
    standard_trajectory,
)

__all__ = [
    "INEXACT_KINDS",
    "AffineMap",
    "GaussianFlow",
    "GaussianPath",
    "InexactTrajectory",
    "StandardTrajectory",
    "build_flow",
    "convexity_modulus",
    "entropy",
    "entropy_prox",
    "fb_fixed_point",
    "fb_step",
    "foc_residual",
    "general_trajectory",
    "inexact_step",
    "inexact_trajectory",
    "jko_map",
    "jko_step",
    "kl",
    "ot_map",
    "ou_marginal",
    "potential_step",
    "prox_residual",
    "residual_floor",
    "residual_scale",
    "standard_trajectory",
    "w2",
    "w2_sq",
]
