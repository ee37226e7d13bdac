r"""Whole exact JKO trajectories of Gaussians.

Claims C2, C5, C7, C15, C18 (theory.md §5.2, numerics.md §1.5).

- :func:`standard_trajectory`: target N(0, I). All Σ_n share Σ_0's eigenvectors, so N steps cost
  *one* eigendecomposition plus O(N d) scalar work (d = 1000, N = 100 in a fraction of a second).
  The deviations σ_n − 1 of the eigen-standard-deviations are propagated by the exact recursion
  :math:`\sigma'-1 = (\sigma-1)/(1+\gamma(1+1/\sigma'))` (numerics.md §1.5), so W2 and KL stay
  accurate *relative to themselves* arbitrarily close to the target (no 1e-8 floor).
- :func:`general_trajectory`: any Gaussian target N(b, C) (and β, P), one :func:`jko_step` per
  step; accuracy is limited to ~1e-15 absolute in the covariance.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from theory.gaussian import _closed_form as gaussian
from theory.gaussian._closed_form import _delta_minus_log1p
from theory.spd import spectrum, symmetrize
from theory.validate import as_vector

__all__ = ["GaussianPath", "StandardTrajectory", "general_trajectory", "standard_trajectory"]

Array = NDArray[np.float64]


def _gammas(gamma: float | ArrayLike, n_steps: int) -> Array:
    if int(n_steps) != n_steps or n_steps < 0:
        raise ValueError(f"n_steps must be a non-negative integer, got {n_steps!r}")
    g = np.asarray(gamma, dtype=np.float64)
    g = np.full(int(n_steps), float(g)) if g.ndim == 0 else g
    if g.shape != (int(n_steps),):
        raise ValueError(f"gamma must be a scalar or have length n_steps={n_steps}, got {g.shape}")
    if not np.all(np.isfinite(g)) or np.any(g <= 0):
        raise ValueError(f"gamma must be finite and > 0, got {gamma!r}")
    return g


@dataclass(frozen=True)
class StandardTrajectory:
    r"""Exact JKO trajectory toward q = N(0, I), in Σ_0's eigenbasis.

    Attributes:
        gammas ((N,) array): step sizes γ_1..γ_N.
        u ((d, d) array): eigenvectors of Σ_0 (shared by all Σ_n).
        means ((N+1, d) array): m_n = m_0 Π_{k≤n} 1/(1+γ_k).
        sigma ((N+1, d) array): eigen-standard-deviations σ_{n,i} of Σ_n.
        dev ((N+1, d) array): σ_{n,i} − 1, propagated without cancellation.
    """

    gammas: Array
    u: Array
    means: Array
    sigma: Array
    dev: Array

    @property
    def n_steps(self) -> int:
        """Number of steps N."""
        return int(self.gammas.shape[0])

    def cov(self, n: int) -> Array:
        """Covariance Σ_n as a (d, d) matrix (costs O(d³); the trajectory itself does not)."""
        return symmetrize((self.u * self.sigma[n] ** 2) @ self.u.T)

    def w2(self) -> Array:
        r"""W2(ρ_n, q) for n = 0..N (commuting form :math:`\sqrt{|m_n|^2 + \sum_i(\sigma_{n,i}-1)^2}`)."""
        return np.sqrt(np.sum(self.means**2, axis=1) + np.sum(self.dev**2, axis=1))

    def w2_steps(self) -> Array:
        r"""W2(ρ_{n-1}, ρ_n) for n = 1..N (commuting covariances: :math:`\|\Sigma^{1/2}-\Sigma'^{1/2}\|_F`)."""
        dm = np.diff(self.means, axis=0)
        ds = np.diff(self.dev, axis=0)
        return np.sqrt(np.sum(dm**2, axis=1) + np.sum(ds**2, axis=1))

    def kl(self) -> Array:
        r"""KL(ρ_n ‖ q) in nats for n = 0..N: :math:`\tfrac12\sum_i(\delta_i-\log(1+\delta_i)) + \tfrac12|m_n|^2`,
        :math:`\delta_i = \sigma_i^2 - 1 = e_i(2+e_i)` (``inf`` where ρ_n is singular)."""
        delta = self.dev * (2.0 + self.dev)
        terms = _delta_minus_log1p(delta.ravel()).reshape(delta.shape)
        return 0.5 * np.sum(terms, axis=1) + 0.5 * np.sum(self.means**2, axis=1)


def standard_trajectory(
    mean: ArrayLike, cov: ArrayLike, *, gamma: float | ArrayLike, n_steps: int
) -> StandardTrajectory:
    r"""N exact JKO steps of KL(·‖N(0, I)) from N(mean, cov) with one eigendecomposition.

    Per eigen-direction: :math:`\sigma' = (\sigma + \sqrt{\sigma^2+4\gamma(1+\gamma)})/(2(1+\gamma))`,
    :math:`m' = m/(1+\gamma)` (theory.md §5.2). ``cov`` may be singular (σ = 0 ↦ √(γ/(1+γ))).

    Args:
        mean ((d,) array), cov ((d, d) PSD array): ρ_0.
        gamma (float or (n_steps,) array): step size(s) γ_k > 0.
        n_steps (int): N.

    Returns:
        StandardTrajectory
    """
    s = spectrum(cov, "cov")
    m0 = as_vector(mean, "mean", s.d)
    g = _gammas(gamma, n_steps)
    n = g.shape[0]
    sig = np.empty((n + 1, s.d))
    dev = np.empty((n + 1, s.d))
    sig[0] = np.sqrt(s.w)
    dev[0] = sig[0] - 1.0
    scale = np.concatenate([[1.0], np.cumprod(1.0 / (1.0 + g))])
    for k in range(n):
        gk = g[k]
        sk = sig[k]
        sig[k + 1] = (sk + np.sqrt(sk * sk + 4.0 * gk * (1.0 + gk))) / (2.0 * (1.0 + gk))
        dev[k + 1] = dev[k] / (1.0 + gk * (1.0 + 1.0 / sig[k + 1]))
    return StandardTrajectory(gammas=g, u=s.u, means=scale[:, None] * m0[None, :], sigma=sig,
                              dev=dev)


@dataclass(frozen=True)
class GaussianPath:
    """A sequence of Gaussian laws ρ_0..ρ_N (means (N+1, d), covs (N+1, d, d))."""

    means: Array
    covs: Array
    gammas: Array


def general_trajectory(
    mean: ArrayLike,
    cov: ArrayLike,
    *,
    gamma: float | ArrayLike,
    n_steps: int,
    target_mean: ArrayLike | None = None,
    target_cov: ArrayLike | None = None,
    beta: float = 1.0,
    interaction: ArrayLike | None = None,
) -> GaussianPath:
    """N exact JKO steps (:func:`theory.gaussian.jko_step`) toward any Gaussian target."""
    s = spectrum(cov, "cov")
    m = as_vector(mean, "mean", s.d)
    g = _gammas(gamma, n_steps)
    means = np.empty((g.size + 1, s.d))
    covs = np.empty((g.size + 1, s.d, s.d))
    means[0], covs[0] = m, s.apply(lambda w: w)
    for k in range(g.size):
        means[k + 1], covs[k + 1] = gaussian.jko_step(
            means[k], covs[k], gamma=g[k], target_mean=target_mean, target_cov=target_cov,
            beta=beta, interaction=interaction)
    return GaussianPath(means=means, covs=covs, gammas=g)
