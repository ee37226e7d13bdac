r"""Map perturbations of the exact Gaussian JKO step: solve ε(t) = ε for the covariance part.

Claims C3-C6, C19 (docs/numerics.md §2.2). The covariance family is
:math:`S_t = (A_0 + tE)\Sigma_0(A_0 + tE)`, ``t`` of a given sign, and ``t`` is found by secant
iterations from the linearised guess, falling back to bracketing by doubling and
:func:`scipy.optimize.brentq` (see :mod:`theory.gaussian._inexact` for the kinds that use it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import brentq

from theory.gaussian._metrics import ot_map
from theory.gaussian._residual import residual_at, scale_at
from theory.gaussian._residual_error import residual_error_bound_at
from theory.gaussian._target import _GaussianTarget
from theory.spd import spectrum, symmetrize

__all__: list[str] = []

Array = NDArray[np.float64]

#: Polishing stops when |achieved - ε| <= POLISH_RTOL * ε.
POLISH_RTOL = 1e-13


@dataclass
class _MapProblem:
    """Covariance family ``S_t = (A0 + tE) Σ0 (A0 + tE)`` and its residual (linear part)."""

    mean: Array
    cov: Array
    exact_mean: Array
    a0: Array
    sig0: Array
    e: Array
    gamma: float
    tg: _GaussianTarget
    t_limit: float  # A0 + tE is PD for t > t_limit (< 0)
    scale: float  # residual_scale at the exact step
    err_bound: float  # residual_error_bound at the exact step (evaluation error of the residual)

    def cov_at(self, t: float) -> Array:
        a = self.a0 + t * self.e
        return symmetrize(a @ self.sig0 @ a)

    def residual(self, t: float) -> float:
        """foc_residual at ``S_t``; ``inf`` where ``S_t`` is numerically singular (r -> inf)."""
        try:
            return residual_at(self.mean, self.cov, self.exact_mean, self.cov_at(t), self.gamma,
                               self.tg)
        except ValueError:
            if t < 0.0:
                return math.inf
            raise


def map_problem(mean: Array, cov: Array, exact_mean: Array, exact_cov: Array, e: Array,
                gamma: float, tg: _GaussianTarget) -> _MapProblem:
    """The covariance family of a map perturbation along ``e`` (see the module docstring)."""
    s = spectrum(cov, "cov")
    if s.is_singular:
        a0, sig0 = np.eye(s.d), exact_cov
    else:
        a0, sig0 = ot_map(cov, exact_cov), cov
    # A0 + tE PD  <=>  t > -mu_min, mu_min = smallest eigenvalue of E^{-1/2} A0 E^{-1/2}.
    eh = spectrum(e, "E").inv_sqrt("E")
    mu_min = float(spectrum(symmetrize(eh @ a0 @ eh), "A0").w[0])
    scale = scale_at(mean, cov, exact_mean, exact_cov, gamma, tg)
    err = residual_error_bound_at(mean, cov, exact_mean, exact_cov, gamma, tg)
    return _MapProblem(mean, cov, exact_mean, a0, sig0, e, gamma, tg, -mu_min, scale, err)


def _secant(f, t0: float, tol: float, t_limit: float) -> None:
    """Secant iterations from ``t0`` until ``|f| <= tol`` (fast path of :func:`solve_map`).

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


def solve_map(pb: _MapProblem, eps: float, sign: float) -> float:
    """Return ``t`` (sign ``sign``) with ``residual(t) = eps``, to the solver tolerance.

    The tolerance is 1e-13 relative, or half the residual's evaluation error bound
    (:func:`theory.gaussian.residual_error_bound`), whichever is larger.

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
    # the evaluation noise of r is ~ u_mach * residual_scale, and at most err_bound
    # (docs/numerics.md §2.6): stop within half of that, so the achieved ε meets it.
    tol = max(POLISH_RTOL * eps, min(16.0 * np.finfo(float).eps * pb.scale,
                                     0.5 * pb.err_bound))
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
