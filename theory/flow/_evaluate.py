r"""Float64 per-block diagnostics of a JKO flow on held-out points (docs/theory.md §1, §2, §4.2).

After block n is trained, held-out points of :math:`\rho_{n-1}` (with their log-density and score
when :math:`\rho_0` has a known density) are pushed through a float64 copy of the block, and
:class:`BlockDiagnostics` records the loss terms, the movement, the inversion error, KL(ρ_n‖q) and
the Assumption-1 residual ε_n (through the network's inverse, exact score by the Jacobian chain;
optionally the authors' estimator).
Claims C8, C9, C11, C12, C13. KL numbers are against q = N(0, I).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import torch

from theory.flow._block import Block, check_points
from theory.flow._convert import to_numpy
from theory.flow._data import std_normal_log_prob
from theory.flow._diagnostics import kl_k3
from theory.flow._potential import Potential, quadratic_potential
from theory.flow._residual import authors_residual, exact_residual
from theory.validate import check_int, check_positive_scalar

__all__ = ["BlockDiagnostics", "EvalState"]

#: Points used to compare the log-det at S and S/2 RK4 steps (:attr:`logdet_step_err`).
N_LOGDET_CHECK = 500


@dataclass(frozen=True, kw_only=True)
class BlockDiagnostics:
    r"""Float64 diagnostics of block n on held-out points x of :math:`\rho_{n-1}`, y = T(x).

    Fields that need a known density of ρ_0 or ``authors=True`` are ``None`` when not computed.
    Units: the loss terms and KL are in nats (V = -log q + const); lengths are those of the data.

    Attributes:
        gamma: the block's step size γ_n.
        v_term: :math:`\mathbb E\,V(y)` (V-term of the block loss).
        div_term: :math:`-\mathbb E\log\det\nabla T(x)` (div-term).
        w_term: :math:`\mathbb E|y-x|^2/(2\gamma_n)` (W-term).
        movement: :math:`\mathbb E|y-x|^2` (squared length; an upper bound of
            :math:`W_2^2(\rho_{n-1},\rho_n)`).
        inv_err: RMS of :math:`|S(y)-x|` with S the backward integration (length, not squared).
        loss: ``v_term + div_term + w_term`` (claim C12: minimal at the exact JKO step).
        logdet_step_err: max over the first :data:`N_LOGDET_CHECK` points of the change of
            :math:`\log\det\nabla T` between S and S/2 RK4 steps (nats).
        kl, kl_se: KL(ρ_n‖q) in nats by the k3 estimator, and its standard error.
        kl_naive, kl_naive_se: the plain mean of :math:`\log\rho_n - \log q`, and its SE.
        eps_exact: residual ε_n (not squared) through the network's inverse: exact score by the
            Jacobian chain, the block's own inverse as transport map, not the OT map
            (docs/numerics.md §6.5; the key name is historical).
        eps_sq_exact: ε_n².
        eps_sq_exact_se: Monte Carlo standard error of ``eps_sq_exact``.
        jac_asym_ratio: antisymmetric (non-OT) part of ∇T relative to ‖∇T − I‖ at the residual
            points (:func:`~theory.flow._crosscheck.jacobian_asymmetry`; 0 for an OT map).
        eps_sq_authors: the authors' estimate of ε_n² (KDE score, EMD map; docs/theory.md §4.2).
        eps_sq_authors_quirk: the quantity the authors' plotting code averages,
            mean of :math:`\sqrt{\sum_j\hat\xi_j^4}`.
        eps_sq_hybrid: the authors' estimator with the exact score (isolates the KDE error).
        block: n, counted from 1.
    """

    gamma: float
    v_term: float
    div_term: float
    w_term: float
    movement: float
    inv_err: float
    loss: float
    logdet_step_err: float
    kl: float | None = None
    kl_se: float | None = None
    kl_naive: float | None = None
    kl_naive_se: float | None = None
    eps_exact: float | None = None
    eps_sq_exact: float | None = None
    eps_sq_exact_se: float | None = None
    jac_asym_ratio: float | None = None
    eps_sq_authors: float | None = None
    eps_sq_authors_quirk: float | None = None
    eps_sq_hybrid: float | None = None
    block: int

    def as_dict(self) -> dict[str, float | int]:
        """The computed fields as a JSON-able dict (fields that are ``None`` are left out)."""
        return {k: v for k, v in dataclasses.asdict(self).items() if v is not None}


@dataclass
class EvalState:
    """Float64 held-out points of ρ_n with the quantities carried through the blocks.

    Attributes:
        x ((n, d)): points of ρ_n.
        logp ((n,) or None): log ρ_n(x) (known-density data only).
        xr ((m, d)): the residual subset (the first m points of ρ_n).
        score ((m, d) or None): ∇log ρ_n at ``xr``.
    """

    x: torch.Tensor
    logp: torch.Tensor | None
    xr: torch.Tensor
    score: torch.Tensor | None

    @classmethod
    def start(cls, x0: np.ndarray, density, n_residual: int, device: str = "cpu") -> EvalState:
        """Initial state from ρ_0 samples x0 (n, d) and its density (``None`` if unknown).

        The residual subset is the first ``n_residual`` (int >= 1) points.

        Raises:
            ValueError: naming ``x0`` unless it is a finite (n, d) array with n >= 1, or naming
                ``n_residual``.
        """
        try:
            x = torch.as_tensor(x0, dtype=torch.float64, device=device)
        except (TypeError, ValueError, RuntimeError):
            raise ValueError("x0 must be an (n, d) array of numbers") from None
        check_points(x, "x0", None)
        xr = x[:check_int(n_residual, "n_residual", minimum=1)].clone()
        logp = score = None
        if density is not None:
            logp = density.log_prob(x).detach()
            xg = xr.clone().requires_grad_(True)
            with torch.enable_grad():
                score = torch.autograd.grad(density.log_prob(xg).sum(), xg)[0].detach()
        return cls(x, logp, xr, score)

    def advance(self, block: Block, gamma: float, *, index: int, steps: int,
                authors: bool = False, kde_h: float = 0.1,
                potential: Potential = quadratic_potential) -> BlockDiagnostics:
        """Push the state through a float64 block; return that block's diagnostics.

        Args:
            block: block n in float64.
            gamma: its step size γ_n.
            index: n (counted from 1), stored as :attr:`BlockDiagnostics.block`.
            steps: RK4 steps for the reported numbers.
            authors: also compute the authors' estimator of ε² (KDE variance ``kde_h``).
            kde_h: KDE bandwidth (a variance).
            potential: the target's V (training loss V-term, and ∇V in the residual).

        Raises:
            ValueError: naming ``gamma`` unless it is > 0, or ``steps`` unless it is an int >= 1.
        """
        gamma = check_positive_scalar(gamma, "gamma")
        steps = check_int(steps, "steps", minimum=1)
        x = self.x
        y, ell = block(x, steps=steps)
        terms = _loss_terms(block, x, y, ell, gamma=gamma, steps=steps, potential=potential)
        extra: dict[str, float] = {}
        if self.logp is not None:
            yr = self._advance_density(block, y, ell, gamma, steps, potential, extra)
        else:
            yr, _ = block(self.xr, steps=steps, logdet=False)
        if authors:
            extra.update(self._authors(yr, gamma, kde_h))
        self.x, self.xr = y.detach(), yr.detach()
        return BlockDiagnostics(**terms, **extra, block=index)

    def _advance_density(self, block: Block, y: torch.Tensor, ell: torch.Tensor, gamma: float,
                         steps: int, potential: Potential, out: dict) -> torch.Tensor:
        """KL(ρ_n‖q) and the exact ε_n into ``out``; carry log ρ and the score; return T(xr)."""
        self.logp = self.logp - ell
        lq = to_numpy(std_normal_log_prob(y))
        out["kl"], out["kl_se"] = kl_k3(to_numpy(self.logp), lq)
        h = to_numpy(self.logp) - lq
        out["kl_naive"], out["kl_naive_se"] = float(h.mean()), float(h.std() / np.sqrt(h.size))
        res = exact_residual(lambda z: block(z, steps=steps, create_graph=True), self.xr,
                             self.score, gamma=gamma, potential=potential)
        out["eps_exact"], out["eps_sq_exact"] = res.eps, res.eps_sq
        out["eps_sq_exact_se"], out["jac_asym_ratio"] = res.eps_sq_se, res.asym_ratio
        self.score = res.score
        return res.y

    def _authors(self, yr: torch.Tensor, gamma: float, kde_h: float) -> dict[str, float]:
        """The authors' ε̂² (and its plotted variant); the hybrid one when the score is known."""
        a = authors_residual(to_numpy(yr), to_numpy(self.xr), gamma=gamma, h=kde_h)
        out = {"eps_sq_authors": a["eps_sq"], "eps_sq_authors_quirk": a["eps_sq_quirk"]}
        if self.score is not None:  # exact score + EMD map: isolates the KDE error
            out["eps_sq_hybrid"] = authors_residual(
                to_numpy(yr), to_numpy(self.xr), gamma=gamma,
                score=to_numpy(self.score))["eps_sq"]
        return out


def _loss_terms(block: Block, x: torch.Tensor, y: torch.Tensor, ell: torch.Tensor, *,
                gamma: float, steps: int, potential: Potential) -> dict[str, float]:
    """Loss terms, movement, inversion error and log-det step error of y = T(x) (float64)."""
    back, _ = block.inverse(y, steps=steps, logdet=False)
    move = ((y - x) ** 2).sum(1)
    terms = {"gamma": gamma, "v_term": float(potential(y).mean()),
             "div_term": float(-ell.mean()), "w_term": float(move.mean() / (2.0 * gamma)),
             "movement": float(move.mean()),
             "inv_err": float(((back - x) ** 2).sum(1).mean().sqrt())}
    terms["loss"] = terms["v_term"] + terms["div_term"] + terms["w_term"]
    half = max(1, steps // 2)
    n = N_LOGDET_CHECK
    _, ell_half = block(x[:n], steps=half)
    terms["logdet_step_err"] = float((ell[:n] - ell_half).abs().max())
    return terms
