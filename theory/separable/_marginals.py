r"""One-dimensional data laws for separable references: quantiles, exact log-densities, moments.

docs/theory.md P2. A rotated product :math:`\rho_0 = R_\#(\mu_1\otimes\cdots\otimes\mu_d)` is built
from these marginals (:class:`~theory.separable.RotatedProduct`). Each marginal has

- ``quantile(s, sc=None)``: the quantile function on masses s (``sc`` = 1 − s, tail-accurate),
  so that the 1-D JKO solver can start from its nodes;
- ``log_pdf(x)`` (numpy, float64) and ``log_prob(x)`` (torch, differentiable): the exact
  log-density in nats, used as the density of ρ_0 by the neural flow;
- ``m2``: the second moment (finite for every law here, as Assumption A0 needs).

Three shapes serve the issue's non-Gaussian cases: :func:`mixture` (bimodal or skewed two-part
Gaussian mixtures) and :class:`StudentT1D` (polynomial tails, ν > 2 for a finite second moment).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from numpy.typing import ArrayLike, NDArray
from scipy import special, stats

from theory.oned import GaussianMixture1D
from theory.validate import check_finite_scalar, check_positive_scalar

__all__ = ["Mixture1D", "StudentT1D", "mixture"]

Array = NDArray[np.float64]
_LOG_SQ2PI = 0.5 * math.log(2.0 * math.pi)


@dataclass(frozen=True)
class Mixture1D:
    r"""The 1-D Gaussian mixture :math:`\sum_k p_k\mathcal N(m_k,\sigma_k^2)` with a torch density.

    Attributes:
        law: the :class:`~theory.oned.GaussianMixture1D` (quantiles by bisection on the CDF).
        name: a label for reports.
    """

    law: GaussianMixture1D
    name: str = "mixture"

    def __post_init__(self) -> None:
        """Validate (``ValueError`` naming ``law`` unless it is a GaussianMixture1D)."""
        if not isinstance(self.law, GaussianMixture1D):
            raise ValueError(f"law must be a GaussianMixture1D (use mixture(...)), "
                             f"got {self.law!r}")

    def quantile(self, s: ArrayLike, sc: ArrayLike | None = None) -> Array:
        """Quantiles at masses s (``sc`` = 1 − s for the upper tail)."""
        return self.law.quantile(s, sc)

    def log_pdf(self, x: ArrayLike) -> Array:
        """Exact log-density (nats), float64, by a log-sum-exp over components."""
        x = np.asarray(x, dtype=np.float64)
        z = (x[..., None] - self.law.means) / self.law.sds
        parts = np.log(self.law.weights) - 0.5 * z * z - np.log(self.law.sds) - _LOG_SQ2PI
        return special.logsumexp(parts, axis=-1)

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """Exact log-density of a tensor (any shape), differentiable."""
        m = torch.as_tensor(self.law.means, dtype=x.dtype, device=x.device)
        s = torch.as_tensor(self.law.sds, dtype=x.dtype, device=x.device)
        lw = torch.as_tensor(np.log(self.law.weights), dtype=x.dtype, device=x.device)
        z = (x[..., None] - m) / s
        return torch.logsumexp(lw - 0.5 * z * z - torch.log(s) - _LOG_SQ2PI, dim=-1)

    @property
    def m2(self) -> float:
        """Second moment E x²."""
        return float(self.law.m2)


def mixture(weights: ArrayLike, means: ArrayLike, sds: ArrayLike, name: str = "mixture"
            ) -> Mixture1D:
    """A :class:`Mixture1D` from weights, means and standard deviations (validated)."""
    return Mixture1D(GaussianMixture1D.make(weights, means, sds), name)


@dataclass(frozen=True)
class StudentT1D:
    r"""Student's t law with ν > 2 degrees of freedom, location ``loc`` and scale ``scale``.

    Density :math:`\frac{\Gamma((\nu+1)/2)}{\Gamma(\nu/2)\sqrt{\nu\pi}\,s}
    (1+z^2/\nu)^{-(\nu+1)/2}`, z = (x − loc)/s; tails decay like :math:`|x|^{-\nu-1}`, second
    moment :math:`loc^2 + s^2\nu/(\nu-2)`.
    """

    nu: float
    loc: float = 0.0
    scale: float = 1.0
    name: str = "student_t"

    def __post_init__(self) -> None:
        """Validate (``ValueError`` naming a bad field; ν must exceed 2)."""
        nu = check_positive_scalar(self.nu, "nu")
        if nu <= 2.0:
            raise ValueError(f"nu must be > 2 (finite second moment), got {nu}")
        check_finite_scalar(self.loc, "loc")
        check_positive_scalar(self.scale, "scale")

    def quantile(self, s: ArrayLike, sc: ArrayLike | None = None) -> Array:
        """Quantiles at masses s (lower half from s, upper half from ``sc`` = 1 − s).

        Raises:
            ValueError: naming ``s`` (or ``sc``) if not finite in [0, 1] (``sc`` also of the
                shape of ``s``).
        """
        s = np.asarray(s, dtype=np.float64)
        comp = 1.0 - s if sc is None else np.asarray(sc, dtype=np.float64)
        if comp.shape != s.shape:
            raise ValueError(f"sc must have the shape of s {s.shape}, got {comp.shape}")
        if not (np.all((s >= 0) & (s <= 1)) and np.all((comp >= 0) & (comp <= 1))):
            raise ValueError("s (and sc) must lie in [0, 1] (finite)")
        z = np.where(s <= 0.5, stats.t.ppf(s, self.nu), stats.t.isf(comp, self.nu))
        return self.loc + self.scale * z

    def _const(self) -> float:
        nu = self.nu
        return (math.lgamma((nu + 1) / 2) - math.lgamma(nu / 2) - 0.5 * math.log(nu * math.pi)
                - math.log(self.scale))

    def log_pdf(self, x: ArrayLike) -> Array:
        """Exact log-density (nats), float64."""
        z = (np.asarray(x, dtype=np.float64) - self.loc) / self.scale
        return self._const() - 0.5 * (self.nu + 1) * np.log1p(z * z / self.nu)

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """Exact log-density of a tensor (any shape), differentiable."""
        z = (x - self.loc) / self.scale
        return self._const() - 0.5 * (self.nu + 1) * torch.log1p(z * z / self.nu)

    @property
    def m2(self) -> float:
        """Second moment E x²."""
        return self.loc**2 + self.scale**2 * self.nu / (self.nu - 2.0)
