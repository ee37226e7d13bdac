r"""The Assumption-1 residual ε of a block: through the network's inverse, and the authors' way.

docs/theory.md A1 and §4.2, docs/numerics.md §6.5. For a block :math:`T` from
:math:`\rho_{n-1}` to :math:`\rho_n = T_\#\rho_{n-1}` and :math:`G = \mathrm{KL}(\cdot\|e^{-V})`,
the Wasserstein gradient of the step objective at :math:`\rho_n`, evaluated at :math:`y = T(x)`, is

.. math::
    \xi(y) = \nabla\log\rho_n(y) + \nabla V(y) + \frac{y - T^{-1}(y)}{\gamma},\qquad
    \varepsilon^2 = \mathbb E_{x\sim\rho_{n-1}}|\xi(T x)|^2 .

**Residual through the network's inverse** (known ρ_0; the function is called
``exact_residual`` for history, the score part is exact): the score is carried through blocks
by the chain rule
:math:`\nabla\log\rho_n(Tx) = J(x)^{-\top}\big(\nabla\log\rho_{n-1}(x) - \nabla_x\ell(x)\big)`,
:math:`J = \nabla T`, :math:`\ell = \log\det J`, both by autograd. Caveat: this uses the network's
own inverse :math:`T^{-1}` as the map to :math:`\rho_{n-1}`, which equals the OT map only if the
block is an OT map (always true at the optimum), so it is *not* the Assumption-1 residual of the
OT map. :attr:`ExactResidual.asym_ratio` measures the antisymmetric (non-OT) part of ∇T and
:attr:`ExactResidual.eps_sq_se` the Monte Carlo error of ε².

**Authors' estimator** (sample based):
:math:`\hat\xi(y) = \nabla V(y) + \hat s(y) - (\hat T(y)-y)/\gamma` with :math:`\hat T` the exact
discrete OT matching (POT ``ot.emd``) from ρ_n-samples to ρ_{n-1}-samples and :math:`\hat s`
the Gaussian-KDE score with bandwidth h (a *variance*: weights :math:`e^{-|y-y_j|^2/(2h)}`),
summed over all samples including the point itself.
Claim C13.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import ot
import torch
from numpy.typing import ArrayLike, NDArray

from theory.flow._block import check_points
from theory.flow._crosscheck import jacobian_asymmetry
from theory.flow._jacobian import batch_jacobian
from theory.flow._potential import Potential, as_potential, quadratic_potential
from theory.validate import as_finite_array, check_positive_scalar

__all__ = [
    "ExactResidual",
    "authors_residual",
    "emd_matching",
    "exact_residual",
    "kde_score",
]


def _cloud(x: ArrayLike, name: str, d: int | None = None) -> NDArray[np.float64]:
    """``x`` as a finite float64 (n, d) array with n >= 1 (``ValueError`` naming ``name``)."""
    a = as_finite_array(x, name)
    if a.ndim != 2 or (d is not None and a.shape[1] != d):
        raise ValueError(f"{name} must be a finite (n, {d or 'd'}) array, got shape {a.shape}")
    return a


@dataclass(frozen=True)
class ExactResidual:
    """Result of :func:`exact_residual` (tensors are detached, float64 if the inputs were).

    Attributes:
        eps: ε (not squared), the L²(ρ_n) norm of ξ.
        eps_sq: ε².
        y ((n, d)): T(x).
        score ((n, d)): ∇log ρ_n(y), to chain into the next block.
        xi ((n, d)): ξ(y).
        logdet ((n,)): log det ∇T(x).
        eps_sq_se: Monte Carlo standard error of ``eps_sq`` (sd of |ξ|² over the points / √n);
            ``None`` for a single point (no standard error).
        asym_ratio: :func:`~theory.flow._crosscheck.jacobian_asymmetry` of ∇T at the points,
            the antisymmetric (non-OT) part of the Jacobian relative to ‖∇T − I‖.
    """

    eps: float
    eps_sq: float
    y: torch.Tensor
    score: torch.Tensor
    xi: torch.Tensor
    logdet: torch.Tensor
    eps_sq_se: float | None = None
    asym_ratio: float | None = None


def exact_residual(block_fn: Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]],
                   x: torch.Tensor, score_in: torch.Tensor, *, gamma: float,
                   potential: Potential = quadratic_potential) -> ExactResidual:
    r"""Exact residual ε of one block on points ``x ~ ρ_{n-1}`` with known score there.

    Args:
        block_fn: ``x -> (T(x), log det ∇T(x))``, differentiable in x with a differentiable
            log-det (for a :class:`~theory.flow._block.Block` ``b``:
            ``lambda x: b(x, create_graph=True)``). Must act on each row independently.
        x ((n, d) tensor): samples of ρ_{n-1}.
        score_in ((n, d) tensor): :math:`\nabla\log\rho_{n-1}(x)`.
        gamma (float > 0): the block's step size.
        potential: the target's V (a :class:`~theory.flow.Potential`; its gradient
            :math:`\nabla V` enters ξ). Default V = |y|²/2, :math:`\nabla V(y) = y`.

    Returns:
        ExactResidual.

    Raises:
        ValueError: naming ``x`` / ``score_in`` unless both are finite (n, d) tensors of one
            shape with n >= 1, or naming ``gamma`` if ``gamma <= 0``.
    """
    gamma = check_positive_scalar(gamma, "gamma")
    potential = as_potential(potential)
    check_points(x, "x", None)
    check_points(score_in, "score_in", x.shape[1])
    if score_in.shape != x.shape:
        raise ValueError(f"x and score_in must both have shape (n, d), got {tuple(x.shape)} and "
                         f"{tuple(score_in.shape)}")
    x = x.detach().requires_grad_(True)
    with torch.enable_grad():
        y, ell = block_fn(x)
        jac = batch_jacobian(y, x)  # jac[n, i, j] = dy_i / dx_j
        g_ell = torch.autograd.grad(ell.sum(), x, allow_unused=True)[0] \
            if ell.requires_grad else None
    if g_ell is None:  # log-det independent of x (affine map)
        g_ell = torch.zeros_like(x)
    rhs = (score_in.detach() - g_ell).unsqueeze(-1)
    score = torch.linalg.solve(jac.transpose(1, 2), rhs).squeeze(-1)
    y = y.detach()
    xi = score + potential.gradient(y) + (y - x.detach()) / gamma
    sq = (xi * xi).sum(dim=1)
    eps_sq = float(sq.mean())
    se = float(sq.std() / np.sqrt(sq.numel())) if sq.numel() > 1 else None
    return ExactResidual(float(np.sqrt(eps_sq)), eps_sq, y, score.detach(), xi.detach(),
                         ell.detach(), eps_sq_se=se, asym_ratio=jacobian_asymmetry(jac.detach()))


def kde_score(y: ArrayLike, h: float) -> NDArray[np.float64]:
    r"""Gaussian-KDE score :math:`\hat s(y_i) = \sum_j w_{ij}(y_j-y_i)/h\,/\sum_j w_{ij}`.

    Weights :math:`w_{ij} = e^{-|y_i-y_j|^2/(2h)}`.

    ``h`` is the kernel *variance* (the authors' bandwidth). O(n²) memory: use n ≤ ~4000.

    Raises:
        ValueError: naming ``y`` unless it is a finite (n, d) array, or ``h`` unless h > 0.
    """
    y = _cloud(y, "y")
    h = check_positive_scalar(h, "h")
    diff = y[None, :, :] - y[:, None, :]
    logw = -(diff * diff).sum(-1) / (2.0 * h)
    w = np.exp(logw - logw.max(axis=1, keepdims=True))
    return (w[:, :, None] * diff).sum(1) / (h * w.sum(1)[:, None])


def emd_matching(src: ArrayLike, dst: ArrayLike) -> NDArray[np.int64]:
    """Index ``j(i)`` of the exact discrete OT plan (uniform weights, squared cost), src to dst.

    For equal sizes the plan is a permutation; read off by argmax of each row.

    Raises:
        ValueError: naming ``src`` / ``dst`` unless both are finite (n, d) arrays of one d.
    """
    src = _cloud(src, "src")
    dst = _cloud(dst, "dst", src.shape[1])
    a = np.full(src.shape[0], 1.0 / src.shape[0])
    b = np.full(dst.shape[0], 1.0 / dst.shape[0])
    plan = ot.emd(a, b, ot.dist(src, dst), numItermax=10_000_000)
    return np.argmax(plan, axis=1)


def authors_residual(y: ArrayLike, x_prev: ArrayLike, *, gamma: float, h: float = 0.1,
                     score: ArrayLike | None = None) -> dict:
    r"""The authors' sample estimate of ε² (docs/theory.md §4.2) for target N(0, I).

    Args:
        y ((n, d)): samples of ρ_n (e.g. pushed points).
        x_prev ((m, d)): samples of ρ_{n-1}.
        gamma: step size.
        h: KDE bandwidth (variance), 0.1 in the paper.
        score ((n, d) or None): use this score instead of the KDE one (hybrid diagnostic that
            isolates the matching error).

    Returns:
        dict with ``eps_sq`` (mean |ξ̂|²), ``eps_sq_quirk`` (mean of
        :math:`\sqrt{\sum_j\hat\xi_j^4}`, the quantity the authors' plotting code actually
        averages) and ``xi`` ((n, d)).

    Raises:
        ValueError: naming ``y``, ``x_prev`` or ``score`` unless they are finite (n, d) arrays
            of one d (``score`` of the shape of ``y``), or ``gamma`` / ``h`` unless > 0.
    """
    gamma = check_positive_scalar(gamma, "gamma")
    y = _cloud(y, "y")
    x_prev = _cloud(x_prev, "x_prev", y.shape[1])
    if score is None:
        s = kde_score(y, h)
    else:
        s = _cloud(score, "score", y.shape[1])
        if s.shape != y.shape:
            raise ValueError(f"score must have the shape of y {y.shape}, got {s.shape}")
    t_hat = x_prev[emd_matching(y, x_prev)]
    xi = y + s - (t_hat - y) / gamma
    return {"eps_sq": float((xi * xi).sum(1).mean()),
            "eps_sq_quirk": float(np.sqrt((xi**4).sum(1)).mean()), "xi": xi}
