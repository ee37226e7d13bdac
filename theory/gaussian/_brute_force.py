r"""An independent oracle of the Gaussian JKO step: BFGS on the JKO objective over Gaussians.

Claim C1 (docs/theory.md §5.2, docs/numerics.md §1.2-§1.4). Over Gaussians
:math:`\mathcal N(m', LL^\top)` (L lower triangular with positive diagonal, stored as its log)
minimise

.. math::
    J(m', L) = \tfrac12(m'-b)^\top Q(m'-b) + \tfrac12\mathrm{tr}\big((Q+P)LL^\top\big)
               - \beta\log\det L
               + \frac{W_2^2(\mathcal N(m', LL^\top), \mathcal N(m, \Sigma))}{2\gamma}

(the step objective up to constants) with scipy's BFGS and finite-difference gradients, where
W2 is POT's ``ot.gaussian.bures_wasserstein_distance`` and ``Q = inv(C)`` by ``np.linalg.inv``:
nothing of the closed form it checks (:func:`theory.gaussian.jko_step`) is used. Accuracy:
~1e-8 in (m', Σ') (docs/numerics.md §1.4); the data covariance must be positive definite.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.optimize import minimize

from theory.validate import as_matrix, as_vector, check_nonneg_scalar, check_positive_scalar

__all__ = ["BruteForceStep", "JkoObjective", "jko_step_brute_force"]

Array = NDArray[np.float64]


def _raw(x: ArrayLike, name: str, d: int) -> Array:
    """``x`` as float64 exactly as given (validated by ``as_matrix``, not symmetrized by it)."""
    as_matrix(x, name, d)
    return np.asarray(x, dtype=np.float64)


@dataclass(frozen=True)
class JkoObjective:
    """The JKO objective J as a function of ``theta = (m', lower triangle of L with log diag)``.

    Attributes:
        mean ((d,) array), cov ((d, d) SPD array): the data law N(m, Σ).
        gamma (float > 0): step size γ.
        b ((d,) array): target mean.
        q ((d, d) array): target precision ``inv(C)``.
        p ((d, d) array): interaction matrix P (zeros for none).
        beta (float >= 0): entropy weight β.
    """

    mean: Array
    cov: Array
    gamma: float
    b: Array
    q: Array
    p: Array
    beta: float

    @property
    def d(self) -> int:
        """Dimension."""
        return int(self.mean.shape[0])

    def __call__(self, theta: Array) -> float:
        """J at the parameter vector ``theta`` (shape (d + d(d+1)/2,))."""
        import ot  # POT: the independent W2

        d = self.d
        m1 = theta[:d]
        lmat = np.zeros((d, d))
        lmat[np.tril_indices(d)] = theta[d:]
        diag = np.diag_indices(d)
        logdiag = lmat[diag].copy()
        lmat[diag] = np.exp(logdiag)
        s1 = lmat @ lmat.T
        e = m1 - self.b
        g = 0.5 * e @ self.q @ e + 0.5 * np.trace((self.q + self.p) @ s1) - self.beta * np.sum(
            logdiag)
        w2 = float(ot.gaussian.bures_wasserstein_distance(m1, self.mean, s1, self.cov))
        return float(g + w2 * w2 / (2.0 * self.gamma))

    def theta_of(self, mean: Array, cov: Array) -> Array:
        """Parameters of N(mean, cov) (Cholesky factor, log of its diagonal)."""
        lmat = np.linalg.cholesky(cov)
        lmat[np.diag_indices(len(mean))] = np.log(np.diag(lmat))
        return np.concatenate([mean, lmat[np.tril_indices(len(mean))]])

    def law_of(self, theta: Array) -> tuple[Array, Array]:
        """Mean and covariance ``(m', LLᵀ)`` of the parameters ``theta``."""
        d = self.d
        lmat = np.zeros((d, d))
        lmat[np.tril_indices(d)] = theta[d:]
        lmat[np.diag_indices(d)] = np.exp(lmat[np.diag_indices(d)])
        return theta[:d], lmat @ lmat.T

    def at(self, mean: Array, cov: Array) -> float:
        """J at N(mean, cov) (through :meth:`theta_of`, like the minimiser's own values)."""
        return self(self.theta_of(mean, cov))


@dataclass(frozen=True)
class BruteForceStep:
    """Result of :func:`jko_step_brute_force`.

    Attributes:
        mean ((d,) array), cov ((d, d) array): the minimiser N(m', Σ').
        value (float): J at the minimiser.
        objective (JkoObjective): J itself (e.g. ``objective.at(m, S)`` for another candidate).
    """

    mean: Array
    cov: Array
    value: float
    objective: JkoObjective


def jko_step_brute_force(
    mean: ArrayLike,
    cov: ArrayLike,
    *,
    gamma: float,
    target_mean: ArrayLike | None = None,
    target_cov: ArrayLike | None = None,
    beta: float = 1.0,
    interaction: ArrayLike | None = None,
    gtol: float = 1e-11,
    maxiter: int = 20000,
    polish_rounds: int = 0,
) -> BruteForceStep:
    """The JKO step by direct minimisation (an oracle independent of :func:`jko_step`).

    Claim C1. BFGS from the data law (not from the answer); each of ``polish_rounds`` further
    rounds runs Nelder-Mead (xatol 1e-12, fatol 1e-15) then BFGS again from the last point.

    Args:
        mean ((d,) array): mean of the data law ρ_n.
        cov ((d, d) SPD array): covariance of ρ_n.
        gamma (float > 0): step size γ.
        target_mean ((d,) array or None): b (default 0).
        target_cov ((d, d) SPD array or None): C (default I); Q = ``np.linalg.inv(C)``.
        beta (float >= 0): entropy weight β.
        interaction ((d, d) PSD array or None): P.
        gtol (float): BFGS gradient tolerance.
        maxiter (int): BFGS iteration cap.
        polish_rounds (int >= 0): extra Nelder-Mead + BFGS rounds.

    Returns:
        BruteForceStep: the minimiser, J there and J itself.

    Example:
        >>> r = jko_step_brute_force([3.0], [[1.0]], gamma=0.5)
        >>> round(float(r.mean[0]), 6), round(float(r.cov[0, 0]), 6)
        (2.0, 1.0)
    """
    m = as_vector(mean, "mean")
    d = m.shape[0]
    obj = JkoObjective(
        mean=m, cov=_raw(cov, "cov", d), gamma=check_positive_scalar(gamma, "gamma"),
        b=np.zeros(d) if target_mean is None else as_vector(target_mean, "target_mean", d),
        q=np.eye(d) if target_cov is None else np.linalg.inv(_raw(target_cov, "target_cov", d)),
        p=np.zeros((d, d)) if interaction is None else _raw(interaction, "interaction", d),
        beta=check_nonneg_scalar(beta, "beta"))
    bfgs = {"gtol": gtol, "maxiter": maxiter}
    res = minimize(obj, obj.theta_of(obj.mean, obj.cov), method="BFGS", options=bfgs)
    for _ in range(polish_rounds):
        x = minimize(obj, res.x, method="Nelder-Mead",
                     options={"xatol": 1e-12, "fatol": 1e-15, "maxiter": 20000}).x
        res = minimize(obj, x, method="BFGS", options=bfgs)
    new_mean, new_cov = obj.law_of(res.x)
    return BruteForceStep(mean=new_mean, cov=new_cov, value=float(res.fun), objective=obj)
