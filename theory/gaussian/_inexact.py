r"""Inexact Gaussian JKO steps whose Assumption-1 residual is a prescribed ε.

Claims C3, C4, C5, C6, C8, C19 (theory.md §2 Assumption 1, §3 P1/T1/T2; numerics.md §2.1-§2.3).

The exact step :math:`\rho_n=\mathcal N(m,\Sigma)\mapsto\rho_*=\mathcal N(m_*,S_*)` of
:func:`theory.gaussian.jko_step` has residual 0. The residual of any Gaussian candidate
:math:`\mathcal N(\mu,S)` (:func:`theory.gaussian.foc_residual`, evaluated on :math:`\rho_{n+1}`) is

.. math::
    \xi(y) = c + C(y-\mu),\qquad c = Q(\mu-b) + (\mu-m)/\gamma,\qquad
    C = Q + P - \beta S^{-1} + (I-B)/\gamma,\qquad \varepsilon^2 = |c|^2 + \mathrm{tr}(CSC^\top),

with :math:`B` the OT matrix from :math:`S` to :math:`\Sigma`. ``c`` depends on the mean only and
``C`` on the covariance only, and :math:`E_{\rho_{n+1}}[C(y-\mu)] = 0`, so the two parts are
orthogonal in :math:`L^2(\rho_{n+1})`: a mean perturbation and a covariance perturbation add in
quadrature. The perturbation kinds (``KINDS``):

- ``"mean"``: :math:`\mu = m_* + \varepsilon(I/\gamma+Q)^{-1}u`, :math:`S=S_*`, hence
  :math:`c = \varepsilon u` exactly, ``C = 0``. Default ``u``: the eigenvector of Q with the
  smallest eigenvalue λ = λ_min(Q) (the slowest direction), signed to push *away* from the target
  mean. This is the worst case: along it the mean error obeys
  :math:`e_{n+1} = (e_n + \gamma\varepsilon)/(1+\gamma\lambda)`, so C3 holds with equality and the
  stationary KL equals :math:`\varepsilon^2/(2\lambda)` (C19).
- ``"mean_random"``: the same with ``u`` uniform on the unit sphere (from ``rng``).
- ``"map"``: :math:`S_t = A_tΣ_0A_t`, :math:`A_t = A_0 + tE`, ``E = I``, ``t > 0``, mean
  :math:`m_*`; ``t`` is found by :func:`scipy.optimize.brentq` (bracket by doubling, :math:`A_t`
  kept PD). For non-singular Σ: :math:`(A_0, Σ_0) = (A_*, Σ)` with :math:`A_*` the exact step's
  OT matrix, i.e. the step *map* is perturbed. For singular Σ (no map exists):
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
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.optimize import brentq

from theory.gaussian import _closed_form as gaussian
from theory.spd import spectrum, symmetrize
from theory.validate import as_matrix, as_vector, check_positive_scalar

__all__ = [
    "KINDS",
    "InexactTrajectory",
    "inexact_step",
    "inexact_trajectory",
    "residual_floor",
    "residual_scale",
]

Array = NDArray[np.float64]

KINDS = ("mean", "mean_random", "map", "map_random", "mixed")

#: Requests ε <= _ZERO_REL * residual_scale are treated as ε = 0 (see module docstring).
_ZERO_REL = 1e-12
#: Polishing stops when |achieved - ε| <= _POLISH_RTOL * ε.
_POLISH_RTOL = 1e-13


# ----------------------------------------------------------------------------------------------
# Helpers
# ----------------------------------------------------------------------------------------------


def _check_eps(eps: float) -> float:
    try:
        e = float(eps)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"eps must be a finite number >= 0, got {eps!r}") from exc
    if not math.isfinite(e) or e < 0.0:
        raise ValueError(f"eps must be a finite number >= 0, got {eps!r}")
    return e


def _q_matrix(d: int, target_cov: ArrayLike | None) -> tuple[Array, Array, Array]:
    """Return (Q, eigenvalues of Q ascending, eigenvectors) for the target N(b, C), Q = C^{-1}."""
    if target_cov is None:
        return np.eye(d), np.ones(d), np.eye(d)
    c = spectrum(target_cov, "target_cov", d=d)
    c.require_definite("target_cov")
    qw = (1.0 / c.w)[::-1]  # ascending eigenvalues of Q
    qu = c.u[:, ::-1]
    return symmetrize((qu * qw) @ qu.T), qw, qu


def residual_scale(
    mean: ArrayLike,
    cov: ArrayLike,
    new_mean: ArrayLike,
    new_cov: ArrayLike,
    *,
    gamma: float,
    target_mean: ArrayLike | None = None,
    target_cov: ArrayLike | None = None,
    beta: float = 1.0,
    interaction: ArrayLike | None = None,
) -> float:
    r"""Size ``s`` of the terms that cancel in the residual ξ (its round-off floor is ~u_mach·s).

    .. math::
        s = |Q(\mu-b)| + |\mu-m|/\gamma + \sqrt{\mathrm{tr}((Q+P)S(Q+P))}
            + \frac{\sqrt{\mathrm{tr}S} + \sqrt{\mathrm{tr}\Sigma}}{\gamma}
            + \beta\sqrt{\mathrm{tr}S^{-1}},

    i.e. the :math:`L^2(\rho')` norms of :math:`Q(\mu-b)`, :math:`(\mu-m)/\gamma`,
    :math:`(Q+P)(y-\mu)`, :math:`(y-\mu)/\gamma`, :math:`B(y-\mu)/\gamma` and
    :math:`\beta S^{-1}(y-\mu)`. Same units as ε (length / time).
    """
    m = as_vector(mean, "mean")
    d = m.shape[0]
    sig = as_matrix(cov, "cov", d)
    mu = as_vector(new_mean, "new_mean", d)
    s_spec = spectrum(new_cov, "new_cov", d=d)
    s_spec.require_definite("new_cov")
    gamma = check_positive_scalar(gamma, "gamma")
    b = np.zeros(d) if target_mean is None else as_vector(target_mean, "target_mean", d)
    q, _, _ = _q_matrix(d, target_cov)
    qp = q if interaction is None else q + as_matrix(interaction, "interaction", d)
    s_mat = s_spec.apply(lambda w: w)
    return float(
        np.linalg.norm(q @ (mu - b)) + np.linalg.norm(mu - m) / gamma
        + math.sqrt(max(float(np.trace(qp @ s_mat @ qp)), 0.0))
        + (math.sqrt(float(np.sum(s_spec.w))) + math.sqrt(max(float(np.trace(sig)), 0.0))) / gamma
        + float(beta) * math.sqrt(float(np.sum(1.0 / s_spec.w)))
    )


def residual_floor(
    mean: ArrayLike,
    cov: ArrayLike,
    *,
    gamma: float,
    target_mean: ArrayLike | None = None,
    target_cov: ArrayLike | None = None,
    beta: float = 1.0,
    interaction: ArrayLike | None = None,
) -> float:
    r"""Round-off floor of the residual near the exact step: ``max(ε(exact step), u_mach·s)``.

    ε(exact step) is ``foc_residual`` of the computed exact step (0 in exact arithmetic; it
    measures how well float64 resolves the residual for this conditioning) and ``s`` is
    :func:`residual_scale` there. A prescribed ε is met to ≈ 1e-10·ε + 10·floor (absolute).
    """
    kw = dict(gamma=gamma, target_mean=target_mean, target_cov=target_cov, beta=beta,
              interaction=interaction)
    m_star, s_star = gaussian.jko_step(mean, cov, **kw)
    r0 = gaussian.foc_residual(mean, cov, m_star, s_star, **kw)
    return max(r0, float(np.finfo(np.float64).eps) * residual_scale(mean, cov, m_star, s_star,
                                                                     **kw))


def _unit(v: ArrayLike, name: str, d: int) -> Array:
    u = as_vector(v, name, d)
    nrm = float(np.linalg.norm(u))
    if not nrm > 0.0:
        raise ValueError(f"{name} must be a non-zero vector")
    return u / nrm


def _random_spd(rng: np.random.Generator, d: int) -> Array:
    """Random SPD matrix, unit Frobenius norm, condition number typically ≲ 10²."""
    g = rng.standard_normal((d, d))
    e = g @ g.T / d + 0.05 * np.eye(d)
    return symmetrize(e / np.linalg.norm(e))


# ----------------------------------------------------------------------------------------------
# Map perturbation: solve r(t) = eps for the covariance part
# ----------------------------------------------------------------------------------------------


@dataclass
class _MapProblem:
    """Covariance family ``S_t = (A0 + tE) Σ0 (A0 + tE)`` and its residual (linear part)."""

    mean: Array
    cov: Array
    exact_mean: Array
    a0: Array
    sig0: Array
    e: Array
    kw: dict
    t_limit: float  # A0 + tE is PD for t > t_limit (< 0)
    scale: float  # residual_scale at the exact step

    def cov_at(self, t: float) -> Array:
        a = self.a0 + t * self.e
        return symmetrize(a @ self.sig0 @ a)

    def residual(self, t: float) -> float:
        """foc_residual at ``S_t``; ``inf`` where ``S_t`` is numerically singular (r -> inf there)."""
        try:
            return gaussian.foc_residual(self.mean, self.cov, self.exact_mean, self.cov_at(t),
                                         **self.kw)
        except ValueError:
            if t < 0.0:
                return math.inf
            raise


def _map_problem(mean: Array, cov: Array, exact_mean: Array, exact_cov: Array, e: Array,
                 kw: dict) -> _MapProblem:
    s = spectrum(cov, "cov")
    if s.is_singular:
        a0, sig0 = np.eye(s.d), exact_cov
    else:
        a0, sig0 = gaussian.ot_map(cov, exact_cov), cov
    # A0 + tE PD  <=>  t > -mu_min, mu_min = smallest eigenvalue of E^{-1/2} A0 E^{-1/2}.
    eh = spectrum(e, "E").inv_sqrt("E")
    mu_min = float(spectrum(symmetrize(eh @ a0 @ eh), "A0").w[0])
    scale = residual_scale(mean, cov, exact_mean, exact_cov, **kw)
    return _MapProblem(mean, cov, exact_mean, a0, sig0, e, kw, -mu_min, scale)


def _secant(f, t0: float, tol: float, t_limit: float) -> None:
    """Secant iterations from ``t0`` until ``|f| <= tol`` (fast path of :func:`_solve_map`).

    Stops early if the iterates leave the domain (sign change of t, PD limit) or stall; the
    caller picks the best point evaluated, so no value is returned.
    """
    t1 = 1.05 * t0
    f0, f1 = f(t0), f(t1)
    for _ in range(12):
        if abs(f1) <= tol or not (math.isfinite(f0) and math.isfinite(f1)) or f1 == f0:
            return
        t2 = t1 - f1 * (t1 - t0) / (f1 - f0)
        if t2 * t0 <= 0.0 or t2 <= t_limit:  # changed sign or left the PD domain
            return
        t0, f0, t1, f1 = t1, f1, t2, f(t2)


def _solve_map(pb: _MapProblem, eps: float, sign: float) -> float:
    """Return ``t`` (sign ``sign``) with ``residual(t) = eps`` (to ~1e-13 relative or the floor).

    Secant from the linearised guess; if that does not reach the tolerance, bracket by doubling
    (keeping ``A0 + tE`` PD) and :func:`scipy.optimize.brentq`. The point with the smallest
    ``|residual - eps|`` among all evaluations is returned.
    """
    r0 = pb.residual(0.0)
    if r0 >= eps:
        return 0.0  # request at the round-off floor of the residual
    seen: dict[float, float] = {}

    def f(t: float) -> float:
        v = min(pb.residual(t), 1e300) - eps
        seen[t] = v
        return v

    # r0 (the residual of the reconstructed exact step) adds in quadrature, it is not noise;
    # the evaluation noise of r is ~ u_mach * residual_scale.
    tol = max(_POLISH_RTOL * eps, 16.0 * np.finfo(float).eps * pb.scale)
    h = 1e-6 * (1.0 + abs(pb.t_limit)) * sign
    if sign < 0:
        h = max(h, 0.5 * pb.t_limit)
    slope = max(abs(pb.residual(h) - r0) / abs(h), 1e-300)  # r(t) ≈ r'(0)|t|
    t_guess = sign * min(eps / slope, 1e300)
    _secant(f, t_guess, tol, pb.t_limit)
    best = min(seen, key=lambda t: abs(seen[t]))
    if abs(seen[best]) <= tol:
        return best
    t_lo, t_hi = 0.0, t_guess
    for k in range(400):
        if sign < 0:
            t_hi = max(t_hi, pb.t_limit * (1.0 - 2.0 ** -(k + 1)))
        if f(t_hi) > 0.0:
            break
        t_lo, t_hi = t_hi, 2.0 * t_hi
    else:  # pragma: no cover - r(t) -> inf at the PD boundary / at infinity
        raise RuntimeError(f"could not bracket the map perturbation for eps={eps!r}")
    _, info = brentq(f, t_lo, t_hi, xtol=1e-300, rtol=4 * np.finfo(float).eps, maxiter=300,
                     full_output=True)
    if not info.converged:  # pragma: no cover
        raise RuntimeError(f"brentq did not converge for eps={eps!r}: {info.flag}")
    return min(seen, key=lambda t: abs(seen[t]))


# ----------------------------------------------------------------------------------------------
# Public API
# ----------------------------------------------------------------------------------------------


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
    r"""One inexact JKO step from :math:`\mathcal N(m,\Sigma)` with Assumption-1 residual exactly ε.

    Claims C3-C6, C19 (numerics.md §2.2). See the module docstring for the kinds and formulas;
    the result satisfies ``foc_residual(mean, cov, *result, gamma=gamma, ...) == eps`` to 1e-10
    relative (above the round-off floor, see :func:`residual_scale`).

    Args:
        mean ((d,) array): mean of ρ_n.
        cov ((d, d) PSD array): covariance of ρ_n (singular allowed for every kind).
        gamma (float > 0): step size γ.
        eps (float >= 0): the residual ε (units of a Wasserstein gradient, length / time).
        kind (str): one of :data:`KINDS`.
        rng (Generator, int or None): randomness of the ``*_random`` and ``"mixed"`` kinds
            (``None``: ``default_rng(0)``).
        direction ((d,) array or None): overrides the unit vector ``u`` of the mean kinds
            (normalised; the sign is kept).
        target_mean, target_cov, beta, interaction: as in :func:`theory.gaussian.jko_step`.

    Returns:
        ((d,) array, (d, d) array): mean and covariance of ρ_{n+1} (covariance PD).

    Raises:
        ValueError: ``eps`` negative or not finite, unknown ``kind``, bad ``direction``, or any
            argument :func:`theory.gaussian.jko_step` rejects.

    Example:
        >>> m, c = inexact_step([3.0, 3.0], [[1.0, 0.0], [0.0, 1.0]], gamma=0.5, eps=0.1)
        >>> round(gaussian.foc_residual([3.0, 3.0], np.eye(2), m, c, gamma=0.5), 12)
        0.1
    """
    eps = _check_eps(eps)
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    kw = dict(gamma=gamma, target_mean=target_mean, target_cov=target_cov, beta=beta,
              interaction=interaction)
    m_star, s_star = gaussian.jko_step(mean, cov, **kw)
    m = as_vector(mean, "mean")
    d = m.shape[0]
    sig = as_matrix(cov, "cov", d)
    gamma = float(gamma)
    if eps <= _ZERO_REL * residual_scale(m, sig, m_star, s_star, **kw):
        return m_star, s_star
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(
        0 if rng is None else rng)
    b = np.zeros(d) if target_mean is None else as_vector(target_mean, "target_mean", d)
    _, qw, qu = _q_matrix(d, target_cov)

    if kind == "mixed":
        theta = gen.uniform(0.0, 0.5 * np.pi)
        eps_mean, eps_map = eps * math.cos(theta), eps * math.sin(theta)
    elif kind in ("mean", "mean_random"):
        eps_mean, eps_map = eps, 0.0
    else:
        eps_mean, eps_map = 0.0, eps

    new_cov = s_star
    if eps_map > 0.0:
        if kind == "map":
            e_mat, sign = np.eye(d), 1.0
        else:
            e_mat, sign = _random_spd(gen, d), (1.0 if gen.random() < 0.5 else -1.0)
        pb = _map_problem(m, sig, m_star, s_star, e_mat, kw)
        new_cov = pb.cov_at(_solve_map(pb, eps_map, sign))

    new_mean = m_star
    if eps_mean > 0.0:
        if direction is not None:
            u = _unit(direction, "direction", d)
        elif kind == "mean":
            u = qu[:, 0].copy()  # slowest direction: smallest eigenvalue of Q
            if float(u @ (m_star - b)) < 0.0:
                u = -u  # push away from the target
        else:
            u = _unit(gen.standard_normal(d), "direction", d)
        # mu - m_* = eps (I/γ + Q)^{-1} u  =>  c = (Q + I/γ)(mu - m_*) = eps u.
        new_mean = m_star + eps_mean * (qu @ ((qu.T @ u) / (1.0 / gamma + qw)))
    return _polish(m, sig, m_star, new_mean, new_cov, eps, kw)


def _polish(m: Array, sig: Array, m_star: Array, new_mean: Array, new_cov: Array, eps: float,
            kw: dict) -> tuple[Array, Array]:
    """Rescale the mean shift (secant on its length) so that the total residual is ε.

    The two parts add in quadrature, so this only removes the round-off of the covariance
    part's root; a pure map step (no mean shift) is returned as is.
    """
    shift = new_mean - m_star
    if not np.any(shift):
        return new_mean, new_cov
    f = lambda a: gaussian.foc_residual(m, sig, m_star + a * shift, new_cov, **kw) - eps
    a0, f0 = 1.0, f(1.0)
    if abs(f0) <= _POLISH_RTOL * eps:
        return new_mean, new_cov
    a1 = 1.0 - f0 / eps  # r(a) ≈ a * eps for the mean-dominated case
    for _ in range(4):
        f1 = f(a1)
        if abs(f1) <= _POLISH_RTOL * eps or f1 == f0:
            break
        a0, a1, f0 = a1, a1 - f1 * (a1 - a0) / (f1 - f0), f1
    return m_star + a1 * shift, new_cov


@dataclass(frozen=True)
class InexactTrajectory:
    r"""A trajectory of inexact JKO steps (claims C3-C6, C19).

    Attributes:
        means ((N+1, d) array), covs ((N+1, d, d) array): ρ_0 .. ρ_N.
        exact_means ((N, d) array), exact_covs ((N, d, d) array): the exact step from ρ_n
            (n = 0..N-1), i.e. the unperturbed reference of step n+1.
        gammas ((N,) array): step sizes γ_1..γ_N.
        eps_requested ((N,) array): the prescribed residuals.
        eps_achieved ((N,) array): ``foc_residual`` of each step as taken (use these in bounds).
        kind (str): the perturbation kind.
    """

    means: Array
    covs: Array
    exact_means: Array
    exact_covs: Array
    gammas: Array
    eps_requested: Array
    eps_achieved: Array
    kind: str

    @property
    def n_steps(self) -> int:
        """Number of steps N."""
        return int(self.gammas.shape[0])


def _per_step(x: float | ArrayLike, n: int, name: str) -> Array:
    try:
        a = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a number or an array of numbers, got {x!r}") from exc
    a = np.full(n, float(a)) if a.ndim == 0 else a
    if a.shape != (n,):
        raise ValueError(f"{name} must be a scalar or have length n_steps={n}, got {a.shape}")
    return a


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
    r"""N inexact JKO steps of KL(·‖N(b, C)) with per-step residuals ε_k (numerics.md §2.2).

    Claims C3, C4, C5, C19. Step k applies :func:`inexact_step` with (γ_k, ε_k); the random kinds
    draw from ``np.random.default_rng(seed)`` (same seed ⇒ same trajectory). For ``kind="mean"``
    the direction is the fixed slowest eigenvector of Q, signed away from the target each step.

    Args:
        mean ((d,) array), cov ((d, d) PSD array): ρ_0 (singular allowed).
        gamma (float or (N,) array > 0): step sizes.
        eps (float or (N,) array >= 0): prescribed residuals.
        n_steps (int >= 0): N.
        kind (str): one of :data:`KINDS`.
        seed (int): seed of the perturbation randomness.
        target_mean ((d,) array or None), target_cov ((d, d) SPD array or None): the target q.

    Returns:
        InexactTrajectory

    Raises:
        ValueError: bad ``n_steps``, ``gamma``, ``eps`` (negative / non-finite / wrong length) or
            any argument :func:`inexact_step` rejects.
    """
    if isinstance(n_steps, bool) or int(n_steps) != n_steps or n_steps < 0:
        raise ValueError(f"n_steps must be a non-negative integer, got {n_steps!r}")
    n = int(n_steps)
    g = _per_step(gamma, n, "gamma")
    if not np.all(np.isfinite(g)) or np.any(g <= 0):
        raise ValueError(f"gamma must be finite and > 0, got {gamma!r}")
    e = _per_step(eps, n, "eps")
    if not np.all(np.isfinite(e)) or np.any(e < 0):
        raise ValueError(f"eps must be finite and >= 0, got {eps!r}")
    s = spectrum(cov, "cov")
    m0 = as_vector(mean, "mean", s.d)
    d = s.d
    rng = np.random.default_rng(seed)
    means, covs = np.empty((n + 1, d)), np.empty((n + 1, d, d))
    ex_m, ex_c = np.empty((n, d)), np.empty((n, d, d))
    achieved = np.empty(n)
    means[0], covs[0] = m0, s.apply(lambda w: w)
    tkw = dict(target_mean=target_mean, target_cov=target_cov)
    for k in range(n):
        ex_m[k], ex_c[k] = gaussian.jko_step(means[k], covs[k], gamma=g[k], **tkw)
        means[k + 1], covs[k + 1] = inexact_step(means[k], covs[k], gamma=g[k], eps=e[k],
                                                 kind=kind, rng=rng, **tkw)
        achieved[k] = gaussian.foc_residual(means[k], covs[k], means[k + 1], covs[k + 1],
                                            gamma=g[k], **tkw)
    return InexactTrajectory(means=means, covs=covs, exact_means=ex_m, exact_covs=ex_c,
                             gammas=g, eps_requested=e, eps_achieved=achieved, kind=kind)
