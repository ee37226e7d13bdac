"""The paper's model: a torch JKO flow network (JKO-iFlow style) with exact densities.

Claims C8-C13 on the real model. Training may be float32; every reported number is float64.
Public names are re-exported from these modules:

- :mod:`~theory.flow.ode` (RK4 with log-det), :mod:`~theory.flow.block` (one ODE block),
  :mod:`~theory.flow.flow` (the stack, densities both ways, :class:`FlowConfig`);
- block-wise training (``_train``: :func:`train_block`, :func:`train_flow`), per-block float64
  diagnostics (``_evaluate``: :class:`BlockDiagnostics`, :class:`EvalState`) and resumable
  checkpoints (``_checkpoint``);
- the target potential V with its gradient (``_potential``: :class:`Potential`,
  :data:`quadratic_potential`), per-row Jacobians (``_jacobian``: :func:`max_jacobian_norm`) and
  the scoped torch thread count (``_threads``: :func:`torch_threads`);
- :mod:`~theory.flow.data` (laws), :mod:`~theory.flow.diagnostics` (KL estimators, sample W2),
  :mod:`~theory.flow.residual` (Assumption-1 residual, exact and the authors' estimator),
  :mod:`~theory.flow.reference` (Gaussian closed forms for the model).
"""

from theory.flow._evaluate import BlockDiagnostics, EvalState
from theory.flow._jacobian import batch_jacobian, max_jacobian_norm
from theory.flow._potential import Potential, as_potential, quadratic_potential
from theory.flow._threads import torch_threads
from theory.flow._train import TrainResult, train_block, train_flow
from theory.flow.block import Block, VelocityField
from theory.flow.data import (
    Circle,
    Gaussian,
    GaussianMixture,
    Segment,
    Toy2D,
    ou_smooth,
    ring_mixture,
    std_normal_log_prob,
)
from theory.flow.diagnostics import (
    flow_kl,
    gaussian_fit,
    kl_from_q_samples,
    kl_k3,
    w2_emd,
    w2_null_band,
    w2_sq_debiased,
)
from theory.flow.flow import FlowConfig, JKOFlow, gamma_schedule, make_block
from theory.flow.ode import divergence, integrate
from theory.flow.residual import authors_residual, exact_residual, kde_score

__all__ = [
    "Block",
    "BlockDiagnostics",
    "Circle",
    "EvalState",
    "FlowConfig",
    "Gaussian",
    "GaussianMixture",
    "JKOFlow",
    "Potential",
    "Segment",
    "Toy2D",
    "TrainResult",
    "VelocityField",
    "as_potential",
    "authors_residual",
    "batch_jacobian",
    "divergence",
    "exact_residual",
    "flow_kl",
    "gamma_schedule",
    "gaussian_fit",
    "integrate",
    "kde_score",
    "kl_from_q_samples",
    "kl_k3",
    "make_block",
    "max_jacobian_norm",
    "ou_smooth",
    "quadratic_potential",
    "ring_mixture",
    "std_normal_log_prob",
    "torch_threads",
    "train_block",
    "train_flow",
    "w2_emd",
    "w2_null_band",
    "w2_sq_debiased",
]
