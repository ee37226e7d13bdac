r"""The Gaussian target of a JKO step as one internal value: q = N(b, C), β, P.

Claims C1-C7, C10, C14, C15, C18, C19 (docs/theory.md §5). Every solver in
:mod:`theory.gaussian` minimises the quadratic-family functional of docs/numerics.md §0,

.. math::
    G(\rho) = \int V\,d\rho + \beta\int\rho\log\rho + \tfrac12\iint W(x-y)\,d\rho\,d\rho,
    \qquad V(x) = \tfrac12 (x-b)^\top Q (x-b),\quad W(z) = \tfrac12 z^\top P z,

with :math:`Q = C^{-1}`. The public functions take the keywords ``target_mean``, ``target_cov``,
``beta`` and ``interaction``; :func:`gaussian_target` validates them once into the private
:class:`_GaussianTarget` that the internal functions share.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from theory.spd import Spectrum, spectrum
from theory.validate import as_matrix, as_vector, check_nonneg_scalar

__all__ = ["convexity_modulus"]

Array = NDArray[np.float64]


@dataclass(frozen=True)
class _GaussianTarget:
    """Validated target ``N(b, C)`` with entropy weight β and interaction matrix P.

    Attributes:
        b ((d,) array): target mean.
        q ((d, d) array): precision ``Q = C^{-1}``.
        q_spec (Spectrum): eigen-decomposition of Q (eigenvalues in *descending* order, those of
            C ascending).
        identity_cov (bool): ``target_cov`` was ``None`` (C = I).
        standard (bool): the target is N(0, I) (both ``target_mean`` and ``target_cov`` None).
        beta (float >= 0): entropy weight β.
        p ((d, d) array or None): interaction matrix P (``None``: no interaction).
    """

    b: Array
    q: Array
    q_spec: Spectrum
    identity_cov: bool
    standard: bool
    beta: float = 1.0
    p: Array | None = None

    @property
    def d(self) -> int:
        """Dimension."""
        return int(self.b.shape[0])

    @property
    def lam(self) -> float:
        """Convexity modulus λ = λ_min(Q) = 1/λ_max(C) of KL(·‖q) (per unit of W2²)."""
        return float(self.q_spec.w.min())

    def slowest_first(self) -> Spectrum:
        """Eigen-decomposition of Q with *ascending* eigenvalues (column 0: slowest direction)."""
        if self.identity_cov:
            return Spectrum(np.ones(self.d), np.eye(self.d), 0.0)
        return Spectrum(self.q_spec.w[::-1], self.q_spec.u[:, ::-1], 0.0)


def _interaction(d: int, interaction: ArrayLike | None) -> Array | None:
    if interaction is None:
        return None
    spectrum(interaction, "interaction", d=d)  # validates PSD
    return as_matrix(interaction, "interaction", d)


def _inverse_eigs(w: Array) -> Array:
    """``1/w`` for the positive eigenvalues of ``target_cov``; named error if it overflows."""
    with np.errstate(over="ignore", divide="ignore"):
        inv = 1.0 / w
    if not np.all(np.isfinite(inv)):
        raise ValueError(f"target_cov has an eigenvalue {w.min():.3e} too small to invert in "
                         "float64 (the precision Q = C^-1 would overflow)")
    return inv


def gaussian_target(
    d: int,
    *,
    target_mean: ArrayLike | None = None,
    target_cov: ArrayLike | None = None,
    beta: float = 1.0,
    interaction: ArrayLike | None = None,
) -> _GaussianTarget:
    """Validate the public target keywords into a :class:`_GaussianTarget` of dimension ``d``.

    Raises:
        ValueError: naming the argument, for a bad shape, a non-finite, non-symmetric or singular
            ``target_cov``, ``beta < 0`` or a non-PSD ``interaction``.
    """
    beta = check_nonneg_scalar(beta, "beta")
    p = _interaction(d, interaction)
    b = np.zeros(d) if target_mean is None else as_vector(target_mean, "target_mean", d)
    if target_cov is None:
        eye = np.eye(d)
        return _GaussianTarget(b, eye, Spectrum(np.ones(d), eye, 0.0), identity_cov=True,
                               standard=target_mean is None, beta=beta, p=p)
    c = spectrum(target_cov, "target_cov", d=d)
    c.require_definite("target_cov")
    q_spec = Spectrum(_inverse_eigs(c.w), c.u, 0.0)
    return _GaussianTarget(b, q_spec.apply(lambda w: w), q_spec, identity_cov=False,
                           standard=False, beta=beta, p=p)


def mean_cov(mean: ArrayLike, cov: ArrayLike, mname: str = "mean",
             cname: str = "cov") -> tuple[Array, Spectrum]:
    """Validate a Gaussian's mean and PSD covariance; return the mean and the spectrum.

    A numerically singular covariance is singular data (claim C10): its round-off eigenvalues
    are exactly 0; a definite one keeps all its eigenvalues, however ill-conditioned
    (:func:`theory.spd.spectrum`).
    """
    s = spectrum(cov, cname)
    return as_vector(mean, mname, s.d), s


def convexity_modulus(target_cov: ArrayLike | None = None, d: int | None = None) -> float:
    r"""Convexity modulus :math:`\lambda = 1/\lambda_{\max}(C)` of KL(·‖N(b, C)).

    Claims C2-C6, C19 (docs/theory.md §5.1): λ = λ_min(Q), per unit of W2².

    Args:
        target_cov ((d, d) array or None): target covariance ``C`` (``None``: identity, λ = 1).
        d (int, optional): dimension check.

    Returns:
        float: λ (per unit of W2², the modulus of λ-convexity along generalized geodesics).

    Example:
        >>> convexity_modulus([[4.0, 0.0], [0.0, 0.5]])
        0.25
    """
    if target_cov is None:
        return 1.0
    c = spectrum(target_cov, "target_cov", d=d)
    c.require_definite("target_cov")
    return float(_inverse_eigs(c.w[-1:])[0])
