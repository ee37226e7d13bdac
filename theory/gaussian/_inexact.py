r"""Inexact Gaussian JKO steps whose Assumption-1 residual is a prescribed ε.

Claims C3, C4, C5, C6, C8, C19 (docs/theory.md A1, P1, T1, T2;
docs/numerics.md §2.1-§2.3).

The exact step :math:`\rho_n=\mathcal N(m,\Sigma)\mapsto\rho_*=\mathcal N(m_*,S_*)` of
:func:`theory.gaussian.jko_step` has residual 0. The residual of any Gaussian candidate
:math:`\mathcal N(\mu,S)` (:func:`theory.gaussian.foc_residual`, on :math:`\rho_{n+1}`) is

.. math::
    \xi(y) = c + C(y-\mu),\qquad c = Q(\mu-b) + (\mu-m)/\gamma,\qquad
    C = Q + P - \beta S^{-1} + (I-B)/\gamma,\qquad \varepsilon^2 = |c|^2 + \mathrm{tr}(CSC^\top),

with :math:`B` the OT matrix from :math:`S` to :math:`\Sigma`. ``c`` depends on the mean only and
``C`` on the covariance only, and :math:`E_{\rho_{n+1}}[C(y-\mu)] = 0`, so the two parts are
orthogonal in :math:`L^2(\rho_{n+1})`: a mean perturbation and a covariance perturbation add in
quadrature. The perturbation kinds (``KINDS``, one small function each in ``_KINDS``):

- ``"mean"``: :math:`\mu = m_* + \varepsilon(I/\gamma+Q)^{-1}u`, :math:`S=S_*`, hence
  :math:`c = \varepsilon u` exactly, ``C = 0``. Default ``u``: the eigenvector of Q with the
  smallest eigenvalue λ = λ_min(Q) (the slowest direction), signed to push *away* from the target
  mean. This is the worst case: along it the mean error obeys
  :math:`e_{n+1} = (e_n + \gamma\varepsilon)/(1+\gamma\lambda)`, so C3 holds with equality and the
  stationary KL equals :math:`\varepsilon^2/(2\lambda)` (C19).
- ``"mean_random"``: the same with ``u`` uniform on the unit sphere (from ``rng``).
- ``"map"``: :math:`S_t = A_tΣ_0A_t`, :math:`A_t = A_0 + tE`, ``E = I``, ``t > 0``, mean
  :math:`m_*`; ``t`` is found by :mod:`theory.gaussian._inexact_map` (bracket by doubling,
  :math:`A_t` kept PD). For non-singular Σ: :math:`(A_0, Σ_0) = (A_*, Σ)` with :math:`A_*` the
  exact step's OT matrix, i.e. the step *map* is perturbed. For singular Σ (no map exists):
  :math:`(A_0, Σ_0) = (I, S_*)`, i.e. the exact output is post-composed with ``I + tE``.
- ``"map_random"``: the same with ``E`` a random SPD matrix and a random sign of ``t``.
- ``"mixed"``: :math:`\varepsilon^2 = (\varepsilon\cos\theta)^2 + (\varepsilon\sin\theta)^2`,
  θ ~ U(0, π/2), the cos part on the mean (random ``u``), the sin part on the map (random ``E``,
  sign).

Accuracy: the achieved residual (as computed by ``foc_residual``) equals ε to 1e-10 relative as
long as ε is well above the residual's round-off floor :math:`\approx u_{mach}\,s`, with ``s`` the
size of the terms that cancel in ξ (:func:`residual_scale`); near the floor the error is
≈ 10·u_mach·s absolute. Requests ε ≤ 1e-12·s are below anything the residual can resolve
(the floor is ≈ 1e-16·s to 1e-15·s) and return the exact step.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from theory.gaussian._inexact_map import POLISH_RTOL, map_problem, solve_map
from theory.gaussian._random import random_spd
from theory.gaussian._residual import residual_at, scale_at
from theory.gaussian._step import exact_step
from theory.gaussian._target import _GaussianTarget, gaussian_target, mean_cov
from theory.spd import Spectrum
from theory.validate import (
    as_matrix,
    as_vector,
    check_choice,
    check_nonneg_scalar,
    check_positive_scalar,
)

__all__ = ["KINDS", "inexact_step"]

Array = NDArray[np.float64]

#: Requests ε <= _ZERO_REL * residual_scale are treated as ε = 0 (see module docstring).
_ZERO_REL = 1e-12


@dataclass(frozen=True)
class _StepProblem:
    """One validated step: data N(m, Σ), step size γ, target, and the exact step N(m_*, S_*)."""

    m: Array
    sig: Array
    s: Spectrum
    gamma: float
    tg: _GaussianTarget
    m_star: Array
    s_star: Array

    @classmethod
    def build(cls, m: Array, s: Spectrum, sig: Array, gamma: float,
              tg: _GaussianTarget) -> _StepProblem:
        """Validated data and target -> the problem with its exact step."""
        m_star, s_star = exact_step(m, s, gamma, tg)
        return cls(m, sig, s, gamma, tg, m_star, s_star)

    def residual(self, new_mean: Array, new_cov: Array) -> float:
        """``foc_residual`` of the candidate N(new_mean, new_cov)."""
        return residual_at(self.m, self.sig, new_mean, new_cov, self.gamma, self.tg)


# ----------------------------------------------------------------------------------------------
# The kinds: how ε splits between mean and map, and the perturbation directions
# ----------------------------------------------------------------------------------------------


def _all_mean(eps: float, gen: np.random.Generator) -> tuple[float, float]:
    return eps, 0.0


def _all_map(eps: float, gen: np.random.Generator) -> tuple[float, float]:
    return 0.0, eps


def _mixed_split(eps: float, gen: np.random.Generator) -> tuple[float, float]:
    theta = gen.uniform(0.0, 0.5 * np.pi)
    return eps * math.cos(theta), eps * math.sin(theta)


def _identity_map(d: int, gen: np.random.Generator) -> tuple[Array, float]:
    return np.eye(d), 1.0


def _random_map(d: int, gen: np.random.Generator) -> tuple[Array, float]:
    return random_spd(gen, d), (1.0 if gen.random() < 0.5 else -1.0)


def _slowest_away(pb: _StepProblem, gen: np.random.Generator) -> Array:
    u = pb.tg.slowest_first().u[:, 0].copy()  # slowest direction: smallest eigenvalue of Q
    if float(u @ (pb.m_star - pb.tg.b)) < 0.0:
        u = -u  # push away from the target
    return u


def _random_unit(pb: _StepProblem, gen: np.random.Generator) -> Array:
    return _unit(gen.standard_normal(pb.m.shape[0]), "direction", pb.m.shape[0])


@dataclass(frozen=True)
class _Kind:
    """A perturbation kind: ε split (mean, map), map direction (E, sign), mean direction u."""

    split: Callable[[float, np.random.Generator], tuple[float, float]]
    map_dir: Callable[[int, np.random.Generator], tuple[Array, float]]
    mean_dir: Callable[[_StepProblem, np.random.Generator], Array]


_KINDS = {
    "mean": _Kind(_all_mean, _identity_map, _slowest_away),
    "mean_random": _Kind(_all_mean, _identity_map, _random_unit),
    "map": _Kind(_all_map, _identity_map, _random_unit),
    "map_random": _Kind(_all_map, _random_map, _random_unit),
    "mixed": _Kind(_mixed_split, _random_map, _random_unit),
}
KINDS = tuple(_KINDS)


def _unit(v: ArrayLike, name: str, d: int) -> Array:
    u = as_vector(v, name, d)
    nrm = float(np.linalg.norm(u))
    if not nrm > 0.0:
        raise ValueError(f"{name} must be a non-zero vector")
    return u / nrm


# ----------------------------------------------------------------------------------------------
# The step
# ----------------------------------------------------------------------------------------------


def _mean_shift(pb: _StepProblem, eps_mean: float, u: Array) -> Array:
    """``μ = m_* + ε (I/γ + Q)^{-1} u``, so that the mean part of ξ is ``c = ε u`` exactly."""
    qs = pb.tg.slowest_first()
    return pb.m_star + eps_mean * (qs.u @ ((qs.u.T @ u) / (1.0 / pb.gamma + qs.w)))


def perturbed_step(pb: _StepProblem, eps: float, kind: str, gen: np.random.Generator,
                   direction: ArrayLike | None) -> tuple[Array, Array]:
    """:func:`inexact_step` on a validated problem (draws from ``gen`` as documented there)."""
    if eps <= _ZERO_REL * scale_at(pb.m, pb.sig, pb.m_star, pb.s_star, pb.gamma, pb.tg):
        return pb.m_star, pb.s_star
    spec = _KINDS[kind]
    d = pb.m.shape[0]
    eps_mean, eps_map = spec.split(eps, gen)
    new_cov = pb.s_star
    if eps_map > 0.0:
        e_mat, sign = spec.map_dir(d, gen)
        mp = map_problem(pb.m, pb.sig, pb.m_star, pb.s_star, e_mat, pb.gamma, pb.tg)
        new_cov = mp.cov_at(solve_map(mp, eps_map, sign))
    new_mean = pb.m_star
    if eps_mean > 0.0:
        u = (_unit(direction, "direction", d) if direction is not None
             else spec.mean_dir(pb, gen))
        new_mean = _mean_shift(pb, eps_mean, u)
    return _polish(pb, new_mean, new_cov, eps, eps_mean)


def inexact_step(
    mean: ArrayLike,
    cov: ArrayLike,
    *,
    gamma: float,
    eps: float,
    kind: str = "mean",
    rng: np.random.Generator | int | None = None,
    direction: ArrayLike | None = None,
    target_mean: ArrayLike | None = None,
    target_cov: ArrayLike | None = None,
    beta: float = 1.0,
    interaction: ArrayLike | None = None,
) -> tuple[Array, Array]:
    r"""One inexact JKO step from :math:`\mathcal N(m,\Sigma)` with Assumption-1 residual ε.

    Claims C3-C6, C19 (docs/numerics.md §2.2). See the module docstring for the kinds and
    formulas; the result satisfies ``foc_residual(mean, cov, *result, gamma=gamma, ...) == eps``
    to 1e-10 relative (above the round-off floor, see :func:`residual_scale`).

    Args:
        mean ((d,) array): mean of ρ_n.
        cov ((d, d) PSD array): covariance of ρ_n (singular allowed for every kind).
        gamma (float > 0): step size γ.
        eps (float >= 0): the residual ε (units of a Wasserstein gradient, length / time).
        kind (str): one of :data:`KINDS`.
        rng (Generator, int or None): randomness of the ``*_random`` and ``"mixed"`` kinds
            (``None``: ``default_rng(0)``); drawn in the order θ (mixed), E, sign, u.
        direction ((d,) array or None): overrides the unit vector ``u`` of the mean kinds
            (normalised; the sign is kept).
        target_mean ((d,) array or None): b (default 0), as in :func:`theory.gaussian.jko_step`.
        target_cov ((d, d) SPD array or None): C (default I).
        beta (float >= 0): entropy weight β.
        interaction ((d, d) PSD array or None): P.

    Returns:
        ((d,) array, (d, d) array): mean and covariance of ρ_{n+1} (covariance PD).

    Raises:
        ValueError: ``eps`` negative or not finite, unknown ``kind``, bad ``direction``, or any
            argument :func:`theory.gaussian.jko_step` rejects.

    Example:
        >>> from theory.gaussian import foc_residual
        >>> m, c = inexact_step([3.0, 3.0], [[1.0, 0.0], [0.0, 1.0]], gamma=0.5, eps=0.1)
        >>> round(foc_residual([3.0, 3.0], np.eye(2), m, c, gamma=0.5), 12)
        0.1
    """
    eps = check_nonneg_scalar(eps, "eps")
    check_choice(kind, "kind", KINDS)
    m, s = mean_cov(mean, cov)
    gamma = check_positive_scalar(gamma, "gamma")
    tg = gaussian_target(s.d, target_mean=target_mean, target_cov=target_cov, beta=beta,
                         interaction=interaction)
    pb = _StepProblem.build(m, s, as_matrix(cov, "cov", s.d), gamma, tg)
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(
        0 if rng is None else rng)
    return perturbed_step(pb, eps, kind, gen, direction)


def _polish(pb: _StepProblem, new_mean: Array, new_cov: Array, eps: float,
            eps_mean: float) -> tuple[Array, Array]:
    """Rescale the mean shift (Newton on its length ``a``) so that the total residual is ε.

    The mean part of ξ is ``a·eps_mean·u`` and adds in quadrature to the covariance part, so
    r(a)² = a²·eps_mean² + r_cov² and ``r'(a) = a·eps_mean²/r(a)``; Newton
    with this analytic slope needs no difference quotient (a secant on a step of size ~1e-10
    divides round-off by round-off and can jump far off). The best point evaluated is returned,
    so the achieved residual is within ``max(POLISH_RTOL·ε, evaluation error)`` of ε
    (docs/numerics.md §2.6). A pure map step (no mean shift) is returned as is.
    """
    shift = new_mean - pb.m_star
    if not np.any(shift):
        return new_mean, new_cov
    best_a, best_f = 1.0, pb.residual(new_mean, new_cov) - eps
    a, f = best_a, best_f
    for _ in range(6):
        if abs(f) <= POLISH_RTOL * eps:
            break
        a = a - f * (f + eps) / (a * eps_mean * eps_mean)
        f = pb.residual(pb.m_star + a * shift, new_cov) - eps
        if abs(f) < abs(best_f):
            best_a, best_f = a, f
    return (new_mean if best_a == 1.0 else pb.m_star + best_a * shift), new_cov
