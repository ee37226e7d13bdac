r"""Per-block acceptance on held-out data: does block n beat the identity map (§6.11)?

Block n is trained to minimise the JKO objective over maps T of the held-out law
:math:`\rho_{n-1}`,

.. math::
    J_n(T) = \mathbb E\,V(T x) - \mathbb E\log\det\nabla T(x) + \mathbb E|Tx - x|^2/(2\gamma_n),

and the identity map is always a candidate: :math:`J_n(\mathrm{id}) = \mathbb E\,V(x)`. Since
:math:`J_n(T) - J_n(\mathrm{id}) = \mathrm{KL}(T_\#\rho\|e^{-V}) - \mathrm{KL}(\rho\|e^{-V})
+ \mathbb E|Tx-x|^2/(2\gamma_n)`, a block with a positive gain
:math:`G_n = J_n(\mathrm{id}) - J_n(T)` lowers the KL (and the held-out NLL) by more than its
W-term. :func:`block_gain` estimates :math:`G_n` on held-out points as the mean of the paired
per-point gains

.. math::
    g_i = V(x_i) - V(Tx_i) + \log\det\nabla T(x_i) - |Tx_i - x_i|^2/(2\gamma_n)

with its standard error, at S and 2S RK4 steps (a gain that exists only at the coarse count is
an artefact of the quadrature). The block is accepted when the gain at 2S exceeds
``accept_se`` (default 2) standard errors; :func:`~theory.flow.train_flow` retrains a rejected
block once from the identity map and otherwise replaces it by the identity (a zero velocity
field: exactly :math:`T = \mathrm{id}`, :math:`\log\det\nabla T = 0`). Units: nats.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch

from theory.flow._block import Block
from theory.flow._potential import Potential
from theory.validate import check_int, check_positive_scalar

__all__ = ["BlockGain", "block_gain", "zero_block"]


@dataclass(frozen=True)
class BlockGain:
    r"""Held-out gain of block n over the identity map (nats), at S and 2S RK4 steps.

    Attributes:
        block: n (from 1).
        gamma: the block's γ_n.
        steps: S, the block's reporting count.
        gain, gain_se: mean and SE of the per-point gain :math:`g_i` at 2S steps.
        gain_coarse: the mean gain at S steps (``gain - gain_coarse`` is the quadrature's part).
        nll_change, nll_change_se: mean and SE of the per-point change of the held-out NLL,
            :math:`V(Tx_i) - V(x_i) - \log\det\nabla T(x_i) = -g_i - |Tx_i-x_i|^2/(2\gamma_n)`,
            at 2S (negative: the block lowers the NLL; V = -log q + const).
        n: held-out points.
        threshold: the acceptance threshold in SEs (``accept_se``).
        accepted: ``gain > threshold * gain_se``.
        attempts: trainings of this block (2 after a retrain).
        identity: the block was replaced by the identity map (rejected after its attempts).
    """

    block: int
    gamma: float
    steps: int
    gain: float
    gain_se: float
    gain_coarse: float
    nll_change: float
    nll_change_se: float
    n: int
    threshold: float
    accepted: bool
    attempts: int = 1
    identity: bool = False

    def as_dict(self) -> dict:
        return asdict(self)


def _per_point(block: Block, x: torch.Tensor, gamma: float, potential: Potential,
               steps: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(g_i, nll change_i) at ``steps`` RK4 steps, float64 (n,) tensors."""
    y, ell = block(x, steps=steps)
    move = ((y - x) ** 2).sum(1) / (2.0 * gamma)
    dv = potential(y) - potential(x)
    return -dv + ell - move, dv - ell


def _mean_se(v: torch.Tensor) -> tuple[float, float]:
    n = v.shape[0]
    return float(v.mean()), float(v.std(unbiased=True)) / math.sqrt(n) if n > 1 else math.inf


def block_gain(block: Block, x: torch.Tensor, *, gamma: float, potential: Potential,
               steps: int, index: int = 1, threshold: float = 2.0,
               attempts: int = 1) -> BlockGain:
    r"""The held-out gain :math:`G_n = J_n(\mathrm{id}) - J_n(T)` of ``block`` on x ~ ρ_{n-1}.

    Args:
        block: block n (evaluated as given; pass a float64 copy for reported numbers).
        x ((m, d) tensor, m >= 2): held-out points of :math:`\rho_{n-1}` in the block's dtype.
        gamma: γ_n.
        potential: the target's V.
        steps: S; the gain is computed at S and 2S.
        index: n, recorded.
        threshold: accept when ``gain > threshold * gain_se`` (``accept_se``).
        attempts: recorded.

    Raises:
        ValueError: for γ <= 0, steps < 1, threshold <= 0, fewer than 2 points, or a
            non-finite gain (a diverged block).
    """
    gamma = check_positive_scalar(gamma, "gamma")
    steps = check_int(steps, "steps", minimum=1)
    threshold = check_positive_scalar(threshold, "threshold")
    if x.ndim != 2 or x.shape[0] < 2:
        raise ValueError(f"x must be (m, d) with m >= 2 held-out points, got {tuple(x.shape)}")
    with torch.no_grad():
        g1, _ = _per_point(block, x, gamma, potential, steps)
        g2, dn = _per_point(block, x, gamma, potential, 2 * steps)
    gain, se = _mean_se(g2)
    coarse, _ = _mean_se(g1)
    dnll, dnll_se = _mean_se(dn)
    if not all(map(math.isfinite, (gain, se, coarse, dnll))):
        raise ValueError(f"block {index}: non-finite held-out gain ({gain}); the block diverged")
    return BlockGain(block=index, gamma=gamma, steps=steps, gain=gain, gain_se=se,
                     gain_coarse=coarse, nll_change=dnll, nll_change_se=dnll_se,
                     n=int(x.shape[0]), threshold=threshold, accepted=gain > threshold * se,
                     attempts=attempts)


def zero_block(block: Block) -> Block:
    """``block`` with its output layer zeroed in place: v ≡ 0, so T = id and log det ∇T = 0.

    Its step count becomes 1 (any count integrates v ≡ 0 exactly).
    """
    last = [m for m in block.field.modules() if isinstance(m, torch.nn.Linear)][-1]
    with torch.no_grad():
        last.weight.zero_()
        last.bias.zero_()
    block.steps = 1
    return block
