r"""Direct minimisation of the JKO objective over non-product maps in d = 2 (validates P2).

docs/theory.md P2, docs/numerics.md §7.2. For block n of a 2-D :class:`SeparableJKO` the product
minimiser :math:`\rho_n = (T_n)_\#\rho_{n-1}` must beat every other measure. We search the family

.. math::
    T_c = T_n + \nabla\psi_c,\qquad \psi_c(y) = b\cdot y + \tfrac12 y^\top A y
    + e^{-|y|^2/(2s^2)}\sum_{2\le a+b\le 4} c_{ab}\,y_1^a y_2^b,

(17 coefficients; the cross terms couple the rotated coordinates, so the family holds non-product
measures), which are OT maps while ∇T_c is positive definite. On the tensor quadrature of ρ_{n-1}
(the product of the two 1-D node weights, y = R u) the objective, up to the constant entropy of
ρ_{n-1}, is

.. math::
    J(c) = \sum_{jk} w_j w_k\Big[\frac{|T_c(y)-y|^2}{2\gamma_n} + \frac{|T_c(y)|^2}{2}
    - \log\det\nabla T_c(y)\Big],

the JKO-iFlow block loss. BFGS from a random non-zero c must return to c ≈ 0 with
:math:`J(c^*) \ge J(0)` up to the discretisation error, and :math:`\nabla J(0) \approx 0`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy import optimize

from theory.separable._reference import SeparableJKO
from theory.validate import check_int, check_positive_scalar

__all__ = ["DirectCheck", "direct_minimisation"]

_POWERS = [(a, t - a) for t in range(2, 5) for a in range(t + 1)]  # 12 monomials
N_COEF = 2 + 3 + len(_POWERS)


@dataclass(frozen=True)
class DirectCheck:
    """Result of :func:`direct_minimisation` (objective values in nats).

    Attributes:
        j0: J(0), the product minimiser.
        j_start: J(c_0) at the random start.
        j_min: J(c*) after BFGS.
        grad0_norm: ‖∇J(0)‖ (0 for the exact minimiser; the discretisation's size otherwise).
        grad_start_norm: ‖∇J(c_0)‖, the scale to compare it with.
        c_start_norm, c_min_norm: ‖c_0‖ and ‖c*‖.
        displacement_start: RMS of ∇ψ_{c_0} over ρ_{n-1} (how far the start moves the points).
        n_points: quadrature points.
        converged: BFGS reported success.
    """

    j0: float
    j_start: float
    j_min: float
    grad0_norm: float
    grad_start_norm: float
    c_start_norm: float
    c_min_norm: float
    displacement_start: float
    n_points: int
    converged: bool

    @property
    def gain(self) -> float:
        """J(c*) − J(0): ≥ 0 if the product is the minimiser (≈ −discretisation otherwise)."""
        return self.j_min - self.j0


def _psi(y: torch.Tensor, c: torch.Tensor, s: float) -> torch.Tensor:
    b, a = c[:2], c[2:5]
    quad = 0.5 * (a[0] * y[:, 0] ** 2 + 2 * a[1] * y[:, 0] * y[:, 1] + a[2] * y[:, 1] ** 2)
    env = torch.exp(-(y * y).sum(1) / (2 * s * s))
    poly = sum(c[5 + k] * y[:, 0] ** p * y[:, 1] ** q for k, (p, q) in enumerate(_POWERS))
    return y @ b + quad + env * poly


def direct_minimisation(ref: SeparableJKO, n: int, *, seed: int = 0, start_scale: float = 0.05,
                        envelope: float = 2.0, max_iter: int = 400) -> DirectCheck:
    """Minimise the block-n JKO objective over T_n + ∇ψ_c from a random c_0 (module docstring).

    Args:
        ref: a 2-D reference (its grid sets the quadrature: n_nodes² points; use ≤ 300 nodes).
        n: the block, 1 ≤ n ≤ N.
        seed: seeds the random start.
        start_scale: ‖c_0‖ before the start is rescaled to displacement RMS ``start_scale``.
        envelope: the Gaussian envelope width s of the non-polynomial terms.
        max_iter: BFGS iteration cap.

    Returns:
        DirectCheck.

    Raises:
        ValueError: naming the argument if ``ref`` is not a 2-D SeparableJKO, n is out of range,
            seed or max_iter is not an integer ≥ 0, or start_scale / envelope is not a
            finite positive number.
    """
    if not isinstance(ref, SeparableJKO):
        raise ValueError(f"ref must be a SeparableJKO (separable_jko(...)), got {ref!r}")
    if ref.d != 2:
        raise ValueError(f"ref must be 2-D, got d = {ref.d}")
    n = check_int(n, "n", minimum=1)
    if n > ref.n_blocks:
        raise ValueError(f"n must be at most N = {ref.n_blocks}, got {n}")
    start_scale = check_positive_scalar(start_scale, "start_scale")
    s = check_positive_scalar(envelope, "envelope")
    seed = check_int(seed, "seed", minimum=0)
    max_iter = check_int(max_iter, "max_iter", minimum=0)
    gam = float(ref.gammas[n - 1])
    rot = ref.data.rotation
    u1, u2 = np.meshgrid(ref.nodes[n - 1, 0], ref.nodes[n - 1, 1], indexing="ij")
    t1, t2 = np.meshgrid(ref.nodes[n, 0], ref.nodes[n, 1], indexing="ij")
    wts = np.outer(ref.grids[0].w, ref.grids[1].w).ravel()
    u = np.stack([u1.ravel(), u2.ravel()], 1)
    x = u @ rot.T
    tx = np.stack([t1.ravel(), t2.ravel()], 1) @ rot.T
    _, dt = zip(*(a.transport_to(b, ref.nodes[n - 1, i]) for i, (a, b)
                  in enumerate(zip(ref.splines[n - 1], ref.splines[n], strict=True))), strict=True)
    d1, d2 = np.meshgrid(dt[0], dt[1], indexing="ij")
    diag = np.stack([d1.ravel(), d2.ravel()], 1)
    jac0 = np.einsum("ia,na,ja->nij", rot, diag, rot)  # R diag(T_i') Rᵀ
    X = torch.as_tensor(x)
    TX, J0, W = torch.as_tensor(tx), torch.as_tensor(jac0), torch.as_tensor(wts)

    def objective(c_np: np.ndarray) -> tuple[float, np.ndarray]:
        c = torch.as_tensor(c_np, dtype=torch.float64).requires_grad_(True)
        y = X.clone().requires_grad_(True)
        g = torch.autograd.grad(_psi(y, c, s).sum(), y, create_graph=True)[0]
        h = torch.stack([torch.autograd.grad(g[:, i].sum(), y, create_graph=True)[0]
                         for i in range(2)], 1)
        t = TX + g
        jac = J0 + h
        det = jac[:, 0, 0] * jac[:, 1, 1] - jac[:, 0, 1] * jac[:, 1, 0]
        if bool((det <= 0).any()) or bool((jac[:, 0, 0] <= 0).any()):
            return 1e10, np.zeros_like(c_np)
        f = (W * (((t - X) ** 2).sum(1) / (2 * gam) + 0.5 * (t * t).sum(1)
                  - torch.log(det))).sum()
        (gc,) = torch.autograd.grad(f, c)
        return float(f.detach()), gc.detach().numpy().copy()

    def displacement(c_np: np.ndarray) -> float:
        c = torch.as_tensor(c_np, dtype=torch.float64)
        y = X.clone().requires_grad_(True)
        g = torch.autograd.grad(_psi(y, c, s).sum(), y)[0]
        return float(torch.sqrt((W * (g * g).sum(1)).sum()))

    rng = np.random.default_rng(seed)
    c0 = rng.standard_normal(N_COEF)
    c0 *= start_scale / displacement(c0)
    j0, g0 = objective(np.zeros(N_COEF))
    for _ in range(30):  # a start outside the family (det ∇T_c ≤ 0 somewhere) is shrunk
        js, gs = objective(c0)
        if js < 1e10:
            break
        c0 *= 0.5
    else:
        raise ValueError("start_scale too large: no start inside the family of OT maps")
    opt = optimize.minimize(objective, c0, jac=True, method="BFGS",
                            options={"maxiter": max_iter, "gtol": 1e-12})
    return DirectCheck(j0=j0, j_start=js, j_min=float(opt.fun),
                       grad0_norm=float(np.linalg.norm(g0)),
                       grad_start_norm=float(np.linalg.norm(gs)),
                       c_start_norm=float(np.linalg.norm(c0)),
                       c_min_norm=float(np.linalg.norm(opt.x)),
                       displacement_start=displacement(c0), n_points=int(wts.size),
                       converged=bool(opt.success))
