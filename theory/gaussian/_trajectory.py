r"""Whole exact and inexact JKO trajectories of Gaussians, with W2 and KL to the target per step.

Claims C2-C5, C7, C15, C18, C19 (docs/theory.md §5.2, docs/numerics.md §1.5, §2.2).

- :func:`standard_trajectory`: target N(0, I). All Σ_n share Σ_0's eigenvectors, so N steps cost
  *one* eigendecomposition plus O(N d) scalar work (d = 1000, N = 100 in a fraction of a second).
  The deviations σ_n − 1 of the eigen-standard-deviations are propagated by the exact recursion
  :math:`\sigma'-1 = (\sigma-1)/(1+\gamma(1+1/\sigma'))` (docs/numerics.md §1.5), so W2 and KL
  stay accurate *relative to themselves* arbitrarily close to the target (no 1e-8 floor).
- :func:`general_trajectory`: any Gaussian target N(b, C) (and β, P), one exact step per step;
  accuracy is limited to ~1e-15 absolute in the covariance.
- :func:`inexact_trajectory`: inexact steps with prescribed residuals ε_k
  (:func:`theory.gaussian.inexact_step`).

The last two share one loop (:func:`iterate_steps`), also used by
:func:`theory.gaussian.build_affine_flow` and :func:`theory.flow._reference.jko_trajectory`; their
results offer ``w2_to_target()`` and ``kl_to_target()`` (arrays of length N+1).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from theory.gaussian._inexact import KINDS, _StepProblem, perturbed_step
from theory.gaussian._metrics import _delta_minus_log1p, kl, w2
from theory.gaussian._residual import residual_at
from theory.gaussian._step import _shrink, exact_step
from theory.gaussian._target import gaussian_target, mean_cov
from theory.spd import spectrum, symmetrize
from theory.validate import as_nonneg_array, as_positive_array, as_vector, check_choice, check_int

__all__ = [
    "GaussianPath",
    "InexactTrajectory",
    "StandardTrajectory",
    "general_trajectory",
    "inexact_trajectory",
    "iterate_steps",
    "standard_trajectory",
]

Array = NDArray[np.float64]
StepFn = Callable[[int, Array, Array], tuple[Array, Array]]


def _per_step(x: float | ArrayLike, n_steps: int, name: str, *, positive: bool) -> Array:
    """``x`` (a scalar or an (n_steps,) array) as an (n_steps,) array, finite and > 0 / >= 0."""
    n = check_int(n_steps, "n_steps", minimum=0)
    a = as_positive_array(x, name) if positive else as_nonneg_array(x, name)
    a = np.full(n, float(a)) if a.ndim == 0 else a
    if a.shape != (n,):
        raise ValueError(f"{name} must be a scalar or have length n_steps={n}, got {a.shape}")
    return a


#: Rows whose largest entry lies in [2^-450, 2^450] are summed as they are (their squares stay
#: normal floats); others are first divided by a power of two (exact) so that W2 ~ 1e-300
#: (e.g. after a step with γ = 1e300) does not underflow to 0 through its square.
_ROW_SAFE_LOG2 = 450


def _row_norms(a: Array, b: Array) -> Array:
    r"""Row-wise :math:`\sqrt{\sum_i a_i^2 + \sum_i b_i^2}` without under- or overflow of squares.

    Args:
        a ((N, d) array): first part (the means, or their increments).
        b ((N, d) array): second part (the deviations σ − 1, or their increments).

    Returns:
        (N,) array: the norms; bit-identical to the plain formula for rows inside the window
        :data:`_ROW_SAFE_LOG2`.
    """
    amax = np.maximum(np.abs(a).max(axis=1, initial=0.0), np.abs(b).max(axis=1, initial=0.0))
    e = np.frexp(amax)[1]
    k = np.where((amax > 0.0) & (np.abs(e) > _ROW_SAFE_LOG2), e, 0)[:, None]
    a, b = np.ldexp(a, -k), np.ldexp(b, -k)
    return np.ldexp(np.sqrt(np.sum(a**2, axis=1) + np.sum(b**2, axis=1)), k[:, 0])


def iterate_steps(mean0: Array, cov0: Array, n_steps: int, step: StepFn) -> tuple[Array, Array]:
    """The trajectory loop: ``(m_{k+1}, Σ_{k+1}) = step(k, m_k, Σ_k)`` for k = 0..N-1.

    Args:
        mean0 ((d,) array): mean of ρ_0, stored as given.
        cov0 ((d, d) array): covariance of ρ_0, stored as given.
        n_steps (int): N.
        step (callable): ``step(k, mean, cov) -> (mean, cov)``, the law after step k+1.

    Returns:
        ((N+1, d) array, (N+1, d, d) array): means and covariances of ρ_0..ρ_N.
    """
    d = mean0.shape[0]
    means, covs = np.empty((n_steps + 1, d)), np.empty((n_steps + 1, d, d))
    means[0], covs[0] = mean0, cov0
    for k in range(n_steps):
        means[k + 1], covs[k + 1] = step(k, means[k], covs[k])
    return means, covs


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
        r"""W2(ρ_n, q) for n = 0..N: :math:`\sqrt{|m_n|^2 + \sum_i(\sigma_{n,i}-1)^2}`."""
        return _row_norms(self.means, self.dev)

    def w2_steps(self) -> Array:
        r"""W2(ρ_{n-1}, ρ_n) for n = 1..N: :math:`\|\Sigma^{1/2}-\Sigma'^{1/2}\|_F` (commuting)."""
        return _row_norms(np.diff(self.means, axis=0), np.diff(self.dev, axis=0))

    def w2_to_target(self) -> Array:
        """W2(ρ_n, q) for n = 0..N, shape (N+1,) (the same array as :meth:`w2`)."""
        return self.w2()

    def kl_to_target(self) -> Array:
        """KL(ρ_n ‖ q) in nats for n = 0..N, shape (N+1,) (the same array as :meth:`kl`)."""
        return self.kl()

    def kl(self) -> Array:
        r"""KL(ρ_n ‖ q) in nats for n = 0..N (``inf`` where ρ_n is singular).

        :math:`\tfrac12\sum_i(\delta_i-\log(1+\delta_i)) + \tfrac12|m_n|^2` with
        :math:`\delta_i = \sigma_i^2 - 1 = e_i(2+e_i)`.
        """
        delta = self.dev * (2.0 + self.dev)
        terms = _delta_minus_log1p(delta.ravel()).reshape(delta.shape)
        return 0.5 * np.sum(terms, axis=1) + 0.5 * np.sum(self.means**2, axis=1)


def standard_trajectory(
    mean: ArrayLike, cov: ArrayLike, *, gamma: float | ArrayLike, n_steps: int
) -> StandardTrajectory:
    r"""N exact JKO steps of KL(·‖N(0, I)) from N(mean, cov) with one eigendecomposition.

    Claims C2, C5, C7 (docs/theory.md §5.2). Per eigen-direction
    :math:`\sigma' = (\sigma + \sqrt{\sigma^2+4\gamma(1+\gamma)})/(2(1+\gamma))`,
    :math:`m' = m/(1+\gamma)`. ``cov`` may be singular (σ = 0 ↦ √(γ/(1+γ))).

    Args:
        mean ((d,) array): mean of ρ_0.
        cov ((d, d) PSD array): covariance of ρ_0 (singular allowed).
        gamma (float or (n_steps,) array): step size(s) γ_k > 0.
        n_steps (int): N.

    Returns:
        StandardTrajectory: W2 and KL to q per step from :meth:`~StandardTrajectory.w2_to_target`
        and :meth:`~StandardTrajectory.kl_to_target`.

    Example:
        >>> tr = standard_trajectory([3.0, 0.0], [[4.0, 0.0], [0.0, 1.0]], gamma=1.0, n_steps=2)
        >>> tr.w2_to_target().round(6).tolist()
        [3.162278, 1.544012, 0.760637]
    """
    s = spectrum(cov, "cov")
    m0 = as_vector(mean, "mean", s.d)
    g = _per_step(gamma, n_steps, "gamma", positive=True)
    n = g.shape[0]
    sig = np.empty((n + 1, s.d))
    dev = np.empty((n + 1, s.d))
    sig[0] = np.sqrt(s.w)
    dev[0] = sig[0] - 1.0
    scale = np.concatenate([[1.0], np.cumprod(1.0 / (1.0 + g))])
    for k in range(n):
        gk = g[k]
        # σ' = (σ + sqrt(σ² + 4γ(1+γ)))/(2(1+γ)) = a + sqrt(a² + γ/(1+γ)), a = σ/(2(1+γ)):
        # no overflow for huge γ (4γ(1+γ) would overflow beyond γ ~ 1e154).
        f, c = _shrink(float(gk), np.ones(1))
        a = sig[k] * (0.5 * f[0])
        sig[k + 1] = a + np.sqrt(a * a + c[0])
        dev[k + 1] = dev[k] / (1.0 + gk * (1.0 + 1.0 / sig[k + 1]))
    return StandardTrajectory(gammas=g, u=s.u, means=scale[:, None] * m0[None, :], sigma=sig,
                              dev=dev)


class _PathToTarget:
    """W2 and KL of each law ρ_n of a path to its target (mixin of the path dataclasses)."""

    means: Array
    covs: Array
    target_mean: Array | None
    target_cov: Array | None

    @property
    def n_steps(self) -> int:
        """Number of steps N."""
        return int(self.means.shape[0]) - 1

    def w2_to_target(self) -> Array:
        """W2(ρ_n, q) (not squared) for n = 0..N, shape (N+1,) (:func:`theory.gaussian.w2`)."""
        return np.array([w2(m, c, self.target_mean, self.target_cov)
                         for m, c in zip(self.means, self.covs, strict=True)])

    def kl_to_target(self) -> Array:
        """KL(ρ_n ‖ q) in nats for n = 0..N, shape (N+1,) (:func:`theory.gaussian.kl`)."""
        return np.array([kl(m, c, self.target_mean, self.target_cov)
                         for m, c in zip(self.means, self.covs, strict=True)])


@dataclass(frozen=True)
class GaussianPath(_PathToTarget):
    """A sequence of Gaussian laws ρ_0..ρ_N toward the target q = N(b, C) (claims C2, C5, C7).

    Attributes:
        means ((N+1, d) array), covs ((N+1, d, d) array): ρ_0..ρ_N.
        gammas ((N,) array): step sizes γ_1..γ_N.
        target_mean ((d,) array or None), target_cov ((d, d) array or None): q as given
            (None: 0 and I).
    """

    means: Array
    covs: Array
    gammas: Array
    target_mean: Array | None = None
    target_cov: Array | None = None


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
    """N exact JKO steps (:func:`theory.gaussian.jko_step`) toward any Gaussian target.

    Claims C2, C5, C7, C15, C18 (docs/theory.md §5.2). Arguments as in
    :func:`theory.gaussian.jko_step`, with ``gamma`` a scalar or one step size per step.

    Returns:
        GaussianPath: ρ_0..ρ_N; W2 and KL to q per step from
        :meth:`~GaussianPath.w2_to_target` / :meth:`~GaussianPath.kl_to_target`.

    Example:
        >>> path = general_trajectory([2.0, 0.0], np.eye(2), gamma=1.0, n_steps=2,
        ...                           target_mean=[0.0, 1.0], target_cov=[[2.0, 0.0], [0.0, 0.5]])
        >>> path.w2_to_target().shape, bool(np.all(np.diff(path.kl_to_target()) < 0))
        ((3,), True)
    """
    m, s = mean_cov(mean, cov)
    g = _per_step(gamma, n_steps, "gamma", positive=True)
    tg = gaussian_target(s.d, target_mean=target_mean, target_cov=target_cov, beta=beta,
                         interaction=interaction)
    means, covs = iterate_steps(m, s.apply(lambda w: w), g.size,
                          lambda k, mk, ck: exact_step(mk, spectrum(ck, "cov"), float(g[k]), tg))
    return GaussianPath(means=means, covs=covs, gammas=g, target_mean=_as_given(target_mean),
                        target_cov=_as_given(target_cov))


def _as_given(x: ArrayLike | None) -> Array | None:
    """A float64 copy of a validated target argument (``None`` stays ``None``)."""
    return None if x is None else np.array(x, dtype=np.float64)


@dataclass(frozen=True)
class InexactTrajectory(_PathToTarget):
    r"""A trajectory of inexact JKO steps (claims C3-C6, C19).

    Attributes:
        means ((N+1, d) array), covs ((N+1, d, d) array): ρ_0 .. ρ_N.
        exact_means ((N, d) array), exact_covs ((N, d, d) array): the exact step from ρ_n
            (n = 0..N-1), i.e. the unperturbed reference of step n+1.
        gammas ((N,) array): step sizes γ_1..γ_N.
        eps_requested ((N,) array): the prescribed residuals.
        eps_achieved ((N,) array): ``foc_residual`` of each step as taken (use these in bounds).
        kind (str): the perturbation kind.
        target_mean ((d,) array or None), target_cov ((d, d) array or None): q as given
            (None: 0 and I).
    """

    means: Array
    covs: Array
    exact_means: Array
    exact_covs: Array
    gammas: Array
    eps_requested: Array
    eps_achieved: Array
    kind: str
    target_mean: Array | None = None
    target_cov: Array | None = None


def inexact_trajectory(
    mean: ArrayLike,
    cov: ArrayLike,
    *,
    gamma: float | ArrayLike,
    eps: float | ArrayLike,
    n_steps: int,
    kind: str = "mean",
    seed: int = 0,
    target_mean: ArrayLike | None = None,
    target_cov: ArrayLike | None = None,
) -> InexactTrajectory:
    r"""N inexact JKO steps of KL(·‖N(b, C)) with per-step residuals ε_k (docs/numerics.md §2.2).

    Claims C3, C4, C5, C19. Step k applies :func:`theory.gaussian.inexact_step` with (γ_k, ε_k);
    the random kinds draw from ``np.random.default_rng(seed)`` (same seed ⇒ same trajectory).
    For ``kind="mean"`` the direction is the fixed slowest eigenvector of Q, signed away from the
    target each step.

    Args:
        mean ((d,) array): mean of ρ_0.
        cov ((d, d) PSD array): covariance of ρ_0 (singular allowed).
        gamma (float or (N,) array > 0): step sizes.
        eps (float or (N,) array >= 0): prescribed residuals.
        n_steps (int >= 0): N.
        kind (str): one of :data:`theory.gaussian.INEXACT_KINDS`.
        seed (int): seed of the perturbation randomness.
        target_mean ((d,) array or None): mean b of the target q (default 0).
        target_cov ((d, d) SPD array or None): covariance C of q (default I).

    Returns:
        InexactTrajectory: W2 and KL to q per step from ``w2_to_target()`` / ``kl_to_target()``.

    Raises:
        ValueError: bad ``n_steps``, ``gamma``, ``eps`` (negative / non-finite / wrong length) or
            any argument :func:`theory.gaussian.inexact_step` rejects.

    Example:
        >>> tr = inexact_trajectory([1.0, 0.0], np.eye(2), gamma=1.0, eps=0.01, n_steps=3,
        ...                         target_cov=[[2.0, 0.0], [0.0, 0.5]])
        >>> tr.eps_achieved.round(12).tolist(), tr.kl_to_target().shape
        ([0.01, 0.01, 0.01], (4,))
    """
    g = _per_step(gamma, n_steps, "gamma", positive=True)
    e = _per_step(eps, n_steps, "eps", positive=False)
    check_choice(kind, "kind", KINDS)
    m0, s = mean_cov(mean, cov)
    tg = gaussian_target(s.d, target_mean=target_mean, target_cov=target_cov)
    rng = np.random.default_rng(seed)
    n = g.size
    ex_m, ex_c, achieved = np.empty((n, s.d)), np.empty((n, s.d, s.d)), np.empty(n)

    def step(k: int, mk: Array, ck: Array) -> tuple[Array, Array]:
        pb = _StepProblem.build(mk, spectrum(ck, "cov"), ck, float(g[k]), tg)
        ex_m[k], ex_c[k] = pb.m_star, pb.s_star
        new = perturbed_step(pb, float(e[k]), kind, rng, None)
        achieved[k] = residual_at(mk, ck, new[0], new[1], pb.gamma, tg)
        return new

    means, covs = iterate_steps(m0, s.apply(lambda w: w), n, step)
    return InexactTrajectory(
        means=means, covs=covs, exact_means=ex_m, exact_covs=ex_c, gammas=g, eps_requested=e,
        eps_achieved=achieved, kind=kind, target_mean=_as_given(target_mean),
        target_cov=_as_given(target_cov))
