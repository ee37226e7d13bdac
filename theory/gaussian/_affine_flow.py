r"""An exact Gaussian JKO *flow model*: affine blocks, the composed map and the generated law.

Claims C8, C9, C10, C11 (docs/theory.md §1 "JKO flow model", L1, T4, R6, R7;
docs/numerics.md §2.5).

Block n is the Brenier map of one (exact or inexact) Gaussian step ρ_{n−1} → ρ_n,
:math:`T_n(x) = m_n + A_n(x - m_{n-1})` with :math:`A_n` the OT matrix from Σ_{n−1} to Σ_n. The
forward map is :math:`F = T_N\circ\cdots\circ T_1` and generation pushes the target back,
:math:`\hat q = (F^{-1})_\# q`, which is Gaussian, so KL(P‖q̂) is computed *from q̂ itself* and can
be compared with KL(ρ_N‖q) (claim C9: equal for invertible blocks).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from theory.gaussian._affine import AffineMap
from theory.gaussian._metrics import kl, ot_map
from theory.gaussian._step import jko_step
from theory.gaussian._target import gaussian_target
from theory.gaussian._trajectory import iterate_steps
from theory.spd import spectrum
from theory.validate import as_positive_array, as_vector

__all__ = ["AffineFlow", "build_affine_flow"]

Array = NDArray[np.float64]
#: ``step(mean, cov, n) -> (new_mean, new_cov)``: the law after block n (1-based).
StepFn = Callable[[Array, Array, int], tuple[Array, Array]]


@dataclass(frozen=True)
class AffineFlow:
    """N affine blocks and the Gaussian marginals they produce.

    Attributes:
        blocks (list[AffineMap]): T_1..T_N.
        means ((N+1, d) array), covs ((N+1, d, d) array): ρ_0..ρ_N.
        target_mean ((d,) array), target_cov ((d, d) array): q.
    """

    blocks: list[AffineMap]
    means: Array
    covs: Array
    target_mean: Array
    target_cov: Array

    @property
    def n_blocks(self) -> int:
        """N."""
        return len(self.blocks)

    def forward_map(self) -> AffineMap:
        """The composed flow F = T_N ∘ … ∘ T_1 (data → noise)."""
        f = AffineMap.identity(self.means.shape[1])
        for t in self.blocks:
            f = f.then(t)
        return f

    def generated_law(self) -> tuple[Array, Array]:
        """Mean and covariance of q̂ = (F^{-1})_# q (the model's generated distribution)."""
        return self.forward_map().inverse().push(self.target_mean, self.target_cov)

    def kl_generated(self) -> float:
        """KL(ρ_0 ‖ q̂) in nats, computed from q̂'s own mean and covariance (C9, left side)."""
        m, c = self.generated_law()
        return kl(self.means[0], self.covs[0], m, c)

    def kl_forward(self) -> float:
        """KL(ρ_N ‖ q) in nats (C9, right side)."""
        return kl(self.means[-1], self.covs[-1], self.target_mean, self.target_cov)


def build_affine_flow(
    mean: ArrayLike,
    cov: ArrayLike,
    *,
    gammas: ArrayLike,
    step: StepFn | None = None,
    target_mean: ArrayLike | None = None,
    target_cov: ArrayLike | None = None,
) -> AffineFlow:
    """Build the affine JKO flow from ρ_0 = N(mean, cov) (``cov`` must be positive definite).

    Args:
        mean ((d,) array): mean of the data law P = ρ_0.
        cov ((d, d) SPD array): covariance of P.
        gammas ((N,) array): step sizes.
        step (callable, optional): ``step(mean, cov, n)`` returning the law after block n (for
            inexact steps); default: the exact :func:`theory.gaussian.jko_step` with
            ``gammas[n-1]``.
        target_mean ((d,) array or None): b of q = N(b, C) (default 0).
        target_cov ((d, d) SPD array or None): C (default I).

    Raises:
        ValueError: if ``cov`` is singular (no invertible flow from data without density: smooth
            it first with :func:`theory.gaussian.ou_marginal`, claim C10), or naming the
            argument for bad shapes or values (``gammas`` must be a 1-D array of finite
            numbers > 0, ``target_cov`` SPD).
    """
    s = spectrum(cov, "cov")
    s.require_definite("cov")
    d = s.d
    m = as_vector(mean, "mean", d)
    g = as_positive_array(np.atleast_1d(gammas), "gammas")
    if g.ndim != 1:
        raise ValueError(f"gammas must be a scalar or a 1-D array, got shape {g.shape}")
    tg = gaussian_target(d, target_mean=target_mean, target_cov=target_cov)
    b = tg.b
    c = np.eye(d) if target_cov is None else np.asarray(target_cov, dtype=np.float64)
    if step is None:
        def step(mu: Array, sig: Array, n: int) -> tuple[Array, Array]:
            return jko_step(mu, sig, gamma=g[n - 1], target_mean=target_mean,
                            target_cov=target_cov)
    means, covs = iterate_steps(m, s.apply(lambda w: w), g.size,
                          lambda k, mu, sig: step(mu, sig, k + 1))
    blocks = [AffineMap.from_centered(ot_map(covs[n - 1], covs[n]), means[n - 1], means[n])
              for n in range(1, g.size + 1)]
    return AffineFlow(blocks=blocks, means=means, covs=covs, target_mean=b, target_cov=c)
