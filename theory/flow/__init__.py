"""The paper's model: a torch JKO flow network (JKO-iFlow style) with exact densities.

Modules: :mod:`~theory.flow.ode` (RK4 with log-det), :mod:`~theory.flow.block` (one ODE block),
:mod:`~theory.flow.flow` (the stack, densities both ways), :mod:`~theory.flow.train` (block-wise
training, diagnostics, checkpoints), :mod:`~theory.flow.data` (laws), :mod:`~theory.flow.diagnostics`
(KL estimators, sample W2), :mod:`~theory.flow.residual` (Assumption-1 residual, exact and the
authors' estimator), :mod:`~theory.flow.reference` (Gaussian closed forms for the model).
Claims C8-C13 on the real model. Training may be float32; every reported number is float64.
"""

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
from theory.flow.diagnostics import gaussian_fit, kl_from_q_samples, kl_k3, w2_emd, w2_null_band
from theory.flow.flow import FlowConfig, JKOFlow, gamma_schedule, make_block
from theory.flow.ode import divergence, integrate
from theory.flow.residual import authors_residual, exact_residual, kde_score
from theory.flow.train import EvalState, TrainResult, quadratic_potential, train_block, train_flow

__all__ = [
                              "Block",
                              "Circle",
                              "EvalState",
                              "FlowConfig",
                              "Gaussian",
                              "GaussianMixture",
                              "JKOFlow",
                              "Segment",
                              "Toy2D",
                              "TrainResult",
                              "VelocityField",
                              "authors_residual",
                              "divergence",
                              "exact_residual",
                              "gamma_schedule",
                              "gaussian_fit",
                              "integrate",
                              "kde_score",
                              "kl_from_q_samples",
                              "kl_k3",
                              "make_block",
                              "ou_smooth",
                              "quadratic_potential",
                              "ring_mixture",
                              "std_normal_log_prob",
                              "train_block",
                              "train_flow",
                              "w2_emd",
                              "w2_null_band",
]
