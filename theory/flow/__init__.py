"""The paper's model: a torch JKO flow network (JKO-iFlow style) with exact densities.

Claims C8-C13 on the real model. Training may be float32; every reported number is float64.
Public names are re-exported from small private modules:

- the network: ``_ode`` (fixed-step RK4/Euler with the exact log-determinant), ``_block`` (one
  ODE block, :class:`Block`, :class:`VelocityField`), ``_model`` (the stack :class:`JKOFlow`,
  densities both ways, :class:`FlowConfig`, :func:`gamma_schedule`);
- block-wise training (``_train``: :func:`train_block`, :func:`train_flow`, on a data law or a
  user's own array, :class:`Empirical`), per-block float64 diagnostics (``_evaluate``:
  :class:`BlockDiagnostics`, :class:`EvalState`), resumable content-fingerprinted checkpoints
  and :meth:`JKOFlow.save` / :meth:`JKOFlow.load` (``_checkpoint``);
- the target potential V with its gradient (``_potential``: :class:`Potential`,
  :data:`quadratic_potential`), per-row Jacobians (``_jacobian``: :func:`max_jacobian_norm`) and
  the scoped torch thread count (``_threads``: :func:`torch_threads`); the one tensor-to-numpy
  crossing (``_convert``: :func:`to_numpy`);
- data laws with exact densities (``_data``), KL estimators and sample W2 (``_diagnostics``), the
  Assumption-1 residual, through the network's inverse and by the authors' estimator
  (``_residual``), Gaussian closed forms for the model's blocks (``_reference``) and independent
  density cross-checks (``_crosscheck``: discrete-map slogdet, importance-sampled mass, Jacobian
  asymmetry);
- step convergence of densities (``_refinement``: :func:`nll_refinement` at S, 2S, 4S,
  :func:`grid_mass` of a 2-D flow; the training's step control is :func:`step_gap` in
  ``_train``), per-block acceptance on held-out data (``_acceptance``: :func:`block_gain`)
  and the exact densities and entropies of the 2-D toys (``_toy_density``).
"""

from theory.flow._acceptance import BlockGain, block_gain, zero_block
from theory.flow._block import Block, VelocityField
from theory.flow._convert import to_numpy
from theory.flow._crosscheck import discrete_logdet, importance_mass, jacobian_asymmetry
from theory.flow._data import (
    Circle,
    Empirical,
    Gaussian,
    GaussianMixture,
    Segment,
    Toy2D,
    ou_smooth,
    ring_mixture,
    std_normal_log_prob,
)
from theory.flow._diagnostics import (
    flow_kl,
    gaussian_fit,
    kl_from_q_samples,
    kl_k3,
    w2_emd,
    w2_null_band,
    w2_sq_debiased,
)
from theory.flow._evaluate import BlockDiagnostics, EvalState
from theory.flow._jacobian import batch_jacobian, max_jacobian_norm
from theory.flow._model import FlowConfig, JKOFlow, gamma_schedule, make_block, report_steps
from theory.flow._ode import divergence, integrate
from theory.flow._potential import Potential, as_potential, quadratic_potential
from theory.flow._reference import (
    affine_block_loss,
    block_loss_on_points,
    finite_n_kl_bound,
    jko_trajectory,
    optimal_block_loss,
)
from theory.flow._refinement import (
    GridMass,
    StepRefinement,
    grid_mass,
    nll_refinement,
    refinement_tolerance,
)
from theory.flow._residual import authors_residual, exact_residual, kde_score
from theory.flow._threads import torch_threads
from theory.flow._toy_density import toy_entropy, toy_log_density
from theory.flow._train import TrainResult, step_gap, train_block, train_flow

__all__ = [
    "Block",
    "BlockDiagnostics",
    "BlockGain",
    "Circle",
    "Empirical",
    "EvalState",
    "FlowConfig",
    "Gaussian",
    "GaussianMixture",
    "GridMass",
    "JKOFlow",
    "Potential",
    "Segment",
    "StepRefinement",
    "Toy2D",
    "TrainResult",
    "VelocityField",
    "affine_block_loss",
    "as_potential",
    "authors_residual",
    "batch_jacobian",
    "block_gain",
    "block_loss_on_points",
    "discrete_logdet",
    "divergence",
    "exact_residual",
    "finite_n_kl_bound",
    "flow_kl",
    "gamma_schedule",
    "gaussian_fit",
    "grid_mass",
    "importance_mass",
    "integrate",
    "jacobian_asymmetry",
    "jko_trajectory",
    "kde_score",
    "kl_from_q_samples",
    "kl_k3",
    "make_block",
    "max_jacobian_norm",
    "nll_refinement",
    "optimal_block_loss",
    "ou_smooth",
    "quadratic_potential",
    "refinement_tolerance",
    "report_steps",
    "ring_mixture",
    "std_normal_log_prob",
    "step_gap",
    "to_numpy",
    "torch_threads",
    "toy_entropy",
    "toy_log_density",
    "train_block",
    "train_flow",
    "w2_emd",
    "w2_null_band",
    "w2_sq_debiased",
    "zero_block",
]
