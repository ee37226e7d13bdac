r"""Exact JKO trajectories of rotated products toward N(0, I), in any dimension.

docs/theory.md P2. For :math:`q = \mathcal N(0, I_d)` and data
:math:`\rho_0 = R_\#(\mu_1\otimes\cdots\otimes\mu_d)` with R orthogonal, every JKO iterate is
:math:`\rho_n = R_\#(\mu_1^n\otimes\cdots\otimes\mu_d^n)` with :math:`\mu_i^n` the 1-D JKO
trajectory of :math:`\mu_i` for KL(·‖N(0, 1)) with the same steps γ_n. So

- :math:`\mathrm{KL}(\rho_n\|q) = \sum_i\mathrm{KL}(\mu_i^n\|\mathcal N(0,1))` (nats),
- :math:`W_2^2(\rho_n, q) = \sum_i W_2^2(\mu_i^n,\mathcal N(0,1))` and
  :math:`W_2^2(\rho_{n-1},\rho_n) = \sum_i W_2^2(\mu_i^{n-1},\mu_i^n)` (squared lengths),
- :math:`\log\rho_n(y) = \sum_i\log\mu_i^n(u_i)`, :math:`u = R^\top y`; score
  :math:`\nabla\log\rho_n(y) = R\,(\partial\log\mu_i^n(u_i))_i`,
- the OT map :math:`T_n(y) = R\,(T_i^n(u_i))_i` from ρ_{n-1} to ρ_n, with the monotone 1-D maps
  :math:`T_i^n` (the gradient of the convex :math:`\sum_i\phi_i(u_i)`).

The 1-D trajectories come from the Lagrangian solver (:func:`theory.oned.jko_step`, Newton to a
FOC residual ≤ ``tol``) on a tail-graded grid; densities, scores, samples and maps come from the
C² spline of each iterate's quantile map (:class:`~theory.separable.QuantileSpline`).
Identical marginals share one 1-D trajectory.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import torch
from numpy.typing import ArrayLike, NDArray

from theory.oned import (
    MassGrid,
    Potential,
    gaussian_grid,
    gaussian_quantile,
    jko_step,
    kl_to_gibbs,
    w2,
)
from theory.separable._spline import QuantileSpline, adapted_grid
from theory.validate import (
    as_finite_array,
    as_positive_array,
    check_int,
    check_positive_scalar,
)

__all__ = ["RotatedProduct", "SeparableJKO", "random_rotation", "separable_jko"]

Array = NDArray[np.float64]


def random_rotation(d: int, rng: np.random.Generator) -> Array:
    """A Haar-random rotation (orthogonal, det +1) of R^d, by QR of a Gaussian matrix.

    Raises:
        ValueError: naming ``d`` if not an integer ≥ 1, ``rng`` if not a numpy Generator.
    """
    d = check_int(d, "d", minimum=1)
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng must be a numpy.random.Generator, got {rng!r}")
    q, r = np.linalg.qr(rng.standard_normal((d, d)))
    q = q * np.sign(np.diag(r))
    if np.linalg.det(q) < 0:
        q[:, 0] = -q[:, 0]
    return q


def _check_rotation(rotation: ArrayLike, d: int) -> Array:
    r = np.asarray(rotation, dtype=np.float64)
    if r.shape != (d, d) or not np.all(np.isfinite(r)):
        raise ValueError(f"rotation must be a finite ({d}, {d}) matrix, got shape {r.shape}")
    if np.max(np.abs(r.T @ r - np.eye(d))) > 1e-10:
        raise ValueError("rotation must be orthogonal (RᵀR = I to 1e-10)")
    return r


@dataclass(frozen=True)
class RotatedProduct:
    r"""The data law :math:`R_\#(\mu_1\otimes\cdots\otimes\mu_d)` with an exact density.

    A data law for :func:`theory.flow.train_flow` (``sample``, ``log_prob``, ``has_density``).

    Attributes:
        marginals: the 1-D laws μ_i (:mod:`theory.separable._marginals`), length d.
        rotation ((d, d)): the orthogonal R; a point is y = R u with u_i ~ μ_i.
    """

    marginals: tuple
    rotation: Array
    has_density: bool = True

    def __post_init__(self) -> None:
        """Validate (``ValueError`` naming ``marginals`` or ``rotation``)."""
        ms = tuple(self.marginals)
        if not ms or not all(hasattr(m, "quantile") and hasattr(m, "log_prob") for m in ms):
            raise ValueError("marginals must be a non-empty sequence of 1-D laws with quantile "
                             "and log_prob")
        object.__setattr__(self, "marginals", ms)
        object.__setattr__(self, "rotation", _check_rotation(self.rotation, len(ms)))

    @property
    def d(self) -> int:
        """Dimension."""
        return len(self.marginals)

    def second_moment(self) -> float:
        """E|y|² = Σ_i E u_i² (rotation invariant)."""
        return float(sum(m.m2 for m in self.marginals))

    def sample(self, n: int, rng: np.random.Generator) -> Array:
        """(n, d) samples by exact inverse-CDF sampling of each coordinate, then rotation."""
        n = check_int(n, "n", minimum=1)
        u = rng.uniform(size=(n, self.d))
        cols = [m.quantile(np.clip(u[:, i], 1e-300, None), 1.0 - u[:, i])
                for i, m in enumerate(self.marginals)]
        return np.stack(cols, axis=1) @ self.rotation.T

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """Exact log-density Σ_i log μ_i((Rᵀx)_i) (nats), differentiable.

        Raises:
            ValueError: naming ``x`` if it is not an (m, d) tensor.
        """
        if not isinstance(x, torch.Tensor) or x.dim() != 2 or x.shape[1] != self.d:
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"x must be an (m, {self.d}) torch tensor, got {shape}")
        u = x @ torch.as_tensor(self.rotation, dtype=x.dtype, device=x.device)
        return sum(m.log_prob(u[:, i]) for i, m in enumerate(self.marginals))

    def log_pdf(self, x: ArrayLike) -> Array:
        """Exact log-density of an (n, d) float64 array (nats).

        Raises:
            ValueError: naming ``x`` if it is not a non-empty finite (n, d) array.
        """
        a = as_finite_array(x, "x")
        if a.ndim != 2 or a.shape[1] != self.d:
            raise ValueError(f"x must have shape (n, {self.d}), got {a.shape}")
        u = a @ self.rotation
        return sum(m.log_pdf(u[:, i]) for i, m in enumerate(self.marginals))


def _standard_normal_kl() -> object:
    """KL(·‖N(0,1)) for the 1-D solver (V = x²/2, hand-written derivatives, λ = 1)."""
    pot = Potential(lambda x: 0.5 * x * x, lambda x: x, lambda x: np.ones_like(x), lam=1.0,
                    name="x²/2")
    return kl_to_gibbs(pot)


@dataclass(frozen=True)
class SeparableJKO:
    """The exact JKO trajectory ρ_0..ρ_N of a :class:`RotatedProduct` toward N(0, I).

    Build with :func:`separable_jko`. Block indices n run from 0 (the data) to N.

    Attributes:
        data: the data law.
        gammas ((N,) array): step sizes γ_1..γ_N.
        grids: the 1-D mass grid of each coordinate (adapted to its marginal,
            :func:`~theory.separable.adapted_grid`; all of size n_nodes).
        nodes ((N+1, d, n_nodes) array): quantile nodes of μ_i^n.
        kl_marginal ((N+1, d) array): KL(μ_i^n‖N(0,1)) in nats (the solver's discrete energy).
        residuals ((N, d) array): FOC residual of each 1-D step (W2/time units).
    """

    data: RotatedProduct
    gammas: Array
    grids: tuple[MassGrid, ...]
    nodes: Array
    kl_marginal: Array
    residuals: Array

    @property
    def d(self) -> int:
        """Dimension."""
        return self.data.d

    @property
    def n_blocks(self) -> int:
        """N."""
        return int(self.gammas.size)

    @cached_property
    def splines(self) -> list[list[QuantileSpline]]:
        """splines[n][i]: the law μ_i^n as a :class:`QuantileSpline`."""
        cache: dict[bytes, QuantileSpline] = {}
        out = []
        for nodes_n in self.nodes:
            row = []
            for x, grid in zip(nodes_n, self.grids, strict=True):
                key = x.tobytes() + grid.s.tobytes()
                if key not in cache:
                    cache[key] = QuantileSpline.from_nodes(x, grid)
                row.append(cache[key])
            out.append(row)
        return out

    @property
    def kl(self) -> Array:
        """KL(ρ_n‖q) = Σ_i KL(μ_i^n‖N(0,1)), shape (N+1,), nats."""
        return self.kl_marginal.sum(axis=1)

    @cached_property
    def w2_to_q(self) -> Array:
        """W2(ρ_n, q) (not squared), shape (N+1,)."""
        refs = [g.nodes(gaussian_quantile()) for g in self.grids]
        return np.array([np.sqrt(sum(w2(x, r, g) ** 2 for x, r, g
                                     in zip(nodes_n, refs, self.grids, strict=True)))
                         for nodes_n in self.nodes])

    @cached_property
    def w2_steps(self) -> Array:
        """W2(ρ_{n-1}, ρ_n) (not squared), shape (N,)."""
        return np.array([np.sqrt(sum(w2(a, b, g) ** 2 for a, b, g
                                     in zip(p, q, self.grids, strict=True)))
                         for p, q in zip(self.nodes[:-1], self.nodes[1:], strict=True)])

    def _index(self, n: int, minimum: int = 0) -> int:
        n = check_int(n, "n", minimum=minimum)
        if n > self.n_blocks:
            raise ValueError(f"n must be at most N = {self.n_blocks}, got {n}")
        return n

    def _coords(self, y: ArrayLike, name: str = "y") -> Array:
        y = np.asarray(y, dtype=np.float64)
        if y.ndim != 2 or y.shape[1] != self.d or y.shape[0] == 0:
            raise ValueError(f"{name} must have shape (m, {self.d}) with m ≥ 1, got {y.shape}")
        if not np.all(np.isfinite(y)):
            raise ValueError(f"{name} must be finite")
        return y @ self.data.rotation

    def log_prob(self, n: int, y: ArrayLike) -> Array:
        """Return log ρ_n(y) in nats for the rows of y (m, d)."""
        n, u = self._index(n), self._coords(y)
        return sum(s.log_pdf(u[:, i]) for i, s in enumerate(self.splines[n]))

    def score(self, n: int, y: ArrayLike) -> Array:
        """∇log ρ_n(y), shape (m, d)."""
        n, u = self._index(n), self._coords(y)
        g = np.stack([s.score(u[:, i]) for i, s in enumerate(self.splines[n])], axis=1)
        return g @ self.data.rotation.T

    def sample(self, n: int, m: int, rng: np.random.Generator) -> Array:
        """Draw m samples of ρ_n, shape (m, d)."""
        n, m = self._index(n), check_int(m, "m", minimum=1)
        z = rng.standard_normal((m, self.d))
        u = np.stack([s.forward(z[:, i]) for i, s in enumerate(self.splines[n])], axis=1)
        return u @ self.data.rotation.T

    def transport(self, n: int, x: ArrayLike) -> tuple[Array, Array]:
        r"""The OT map :math:`T_n` from ρ_{n-1} to ρ_n at the rows of x, and log det ∇T_n(x).

        Args:
            n: the block, 1 ≤ n ≤ N.
            x ((m, d)): points (of ρ_{n-1}).

        Returns:
            ``(T_n(x) (m, d), log det ∇T_n(x) (m,))``.
        """
        n = self._index(n, minimum=1)
        u = self._coords(x, "x")
        cols, logdet = [], np.zeros(u.shape[0])
        for i, (a, b) in enumerate(zip(self.splines[n - 1], self.splines[n], strict=True)):
            t, dt = a.transport_to(b, u[:, i])
            cols.append(t)
            logdet += np.log(dt)
        return np.stack(cols, axis=1) @ self.data.rotation.T, logdet

    def push(self, x0: ArrayLike, n: int) -> Array:
        """T_n ∘ … ∘ T_1 (x0): points of ρ_0 carried to ρ_n by the exact maps, (m, d)."""
        n = self._index(n)
        u = self._coords(x0, "x0")
        cols = [self.splines[n][i].forward(self.splines[0][i].inverse(u[:, i]))
                for i in range(self.d)]
        return np.stack(cols, axis=1) @ self.data.rotation.T


def separable_jko(data: RotatedProduct, gammas: ArrayLike, *, n_nodes: int = 1000,
                  zmax: float = 8.0, adapt: bool = True, tol: float = 1e-10) -> SeparableJKO:
    """Run the exact JKO trajectory of ``data`` toward N(0, I) (docs/theory.md P2).

    Args:
        data: a :class:`RotatedProduct`.
        gammas: step sizes γ_1..γ_N (> 0).
        n_nodes: quantile nodes per 1-D law (error O(n_nodes⁻²), docs/numerics.md §3.1).
        zmax: each grid spans the masses Φ(±zmax).
        adapt: ``True`` (default): knots adapted to each marginal
            (:func:`~theory.separable.adapted_grid`), so that low-density gaps are resolved;
            ``False``: the tail-graded grid (uniform in z) for every coordinate.
        tol: Newton tolerance on each 1-D FOC residual (a step that stalls at the round-off
            floor below max(100·tol, 1e-8) is accepted; every residual is in ``residuals``).

    Returns:
        SeparableJKO.

    Raises:
        ValueError: naming a bad argument, or if a 1-D step does not converge.
    """
    if not isinstance(data, RotatedProduct):
        raise ValueError(f"data must be a RotatedProduct, got {type(data).__name__}")
    g = as_positive_array(np.atleast_1d(np.asarray(gammas, dtype=np.float64)), "gammas")
    if g.ndim != 1 or g.size == 0:
        raise ValueError("gammas must be a non-empty 1-D sequence of step sizes")
    n_nodes = check_int(n_nodes, "n_nodes", minimum=20)
    zmax = check_positive_scalar(zmax, "zmax")
    G = _standard_normal_kl()
    paths: dict[int, tuple[list, list, list, MassGrid]] = {}
    nodes, kls, res, grids = [], [], [], []
    for m in data.marginals:
        key = id(m)
        if key not in paths:
            grid = adapted_grid(m, n_nodes, zmax=zmax) if adapt else gaussian_grid(n_nodes, zmax)
            x = grid.nodes(m.quantile)
            xs, kl, rs = [x], [G.energy(x, grid)], []
            for gam in g:
                r = jko_step(xs[-1], grid, G, float(gam), tol=tol, warn=False)
                if not r.converged and r.residual > max(100.0 * tol, 1e-8):
                    raise ValueError(f"1-D JKO step did not converge (residual {r.residual:.2e}); "
                                     "try more nodes or a smaller zmax")
                xs.append(r.x)
                kl.append(G.energy(r.x, grid))
                rs.append(r.residual)
            paths[key] = (xs, kl, rs, grid)
        xs, kl, rs, grid = paths[key]
        grids.append(grid)
        nodes.append(xs)
        kls.append(kl)
        res.append(rs)
    return SeparableJKO(data, g, tuple(grids), np.transpose(np.array(nodes), (1, 0, 2)),
                        np.array(kls).T, np.array(res, dtype=np.float64).T.reshape(g.size, -1))
