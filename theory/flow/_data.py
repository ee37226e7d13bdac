r"""Data laws for the neural JKO flow: samplers, with an exact log-density where one exists.

Every law has ``sample(n, rng) -> (n, d) float64 ndarray`` and ``has_density``; laws with a density
also have ``log_prob(x: torch.Tensor) -> (n,) tensor`` (differentiable, so the exact score
:math:`\nabla\log p` comes from autograd, docs/numerics.md §6.5). Claims C8-C13. Every sampler
raises ``ValueError`` naming ``n`` or ``rng`` (a ``numpy.random.Generator``), every ``log_prob``
naming ``x`` unless it is a finite (n, d) tensor with n >= 1.

- :class:`Gaussian`, :class:`GaussianMixture` (exact density);
- :func:`ring_mixture` (a 2-D mixture toy with exact density);
- :class:`Toy2D` (two moons, checkerboard, rose curve and the FFJORD toys circles, swissroll,
  2spirals, plus our own pinwheel: drawn procedurally; no torch density, but an exact numpy
  :meth:`Toy2D.log_density` by closed form or quadrature and its entropy);
- :class:`Circle`, :class:`Segment` (data without density) and :func:`ou_smooth` of a finite
  atom set, whose smoothed law :math:`\mathrm{Law}(e^{-\delta}X+\sqrt{1-e^{-2\delta}}Z)` is an
  exact Gaussian mixture (docs/numerics.md §2.5, docs/theory.md R6);
- :class:`Empirical`: a user's own (n, d) samples (no density), with a seeded held-out split
  disjoint from the training rows (:meth:`Empirical.split`, used by
  :func:`~theory.flow.train_flow`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch
from numpy.typing import ArrayLike, NDArray

from theory.flow._block import check_points
from theory.flow._convert import to_numpy
from theory.spd import spectrum
from theory.validate import (
    as_finite_array,
    as_matrix,
    as_nonneg_array,
    as_positive_array,
    as_vector,
    check_choice,
    check_int,
    check_nonneg_scalar,
    check_positive_scalar,
)

__all__ = [
    "TOYS",
    "Circle",
    "Empirical",
    "Gaussian",
    "GaussianMixture",
    "Segment",
    "Toy2D",
    "ou_smooth",
    "ring_mixture",
    "std_normal_log_prob",
]

TOYS = ("moons", "checkerboard", "rose", "circles", "swissroll", "2spirals", "pinwheel")
#: Each toy's default noise σ (``Toy2D(name).noise``); FFJORD's values for its toys.
_TOY_NOISE = {"moons": 0.05, "checkerboard": 0.05, "rose": 0.05, "circles": 0.24,
              "swissroll": 0.2, "2spirals": 0.1, "pinwheel": 0.2}


def std_normal_log_prob(z: torch.Tensor) -> torch.Tensor:
    r""":math:`\log\mathcal N(z;0,I) = -|z|^2/2 - (d/2)\log 2\pi` per row of ``z`` (n, d).

    Raises:
        ValueError: naming ``z`` unless it is a finite (n, d) tensor with n >= 1.
    """
    check_points(z, "z", None)
    d = z.shape[1]
    return -0.5 * (z * z).sum(dim=1) - 0.5 * d * math.log(2.0 * math.pi)


def _points(x, d: int) -> torch.Tensor:
    """``x`` (a tensor, or an array taken as float64) checked to be finite (n, d), n >= 1."""
    if not isinstance(x, torch.Tensor):
        try:
            x = torch.as_tensor(np.asarray(x, dtype=np.float64))
        except (TypeError, ValueError):
            raise ValueError(f"x must be an (n, {d}) tensor of numbers") from None
    check_points(x, "x", d)
    return x


def _rng(rng) -> np.random.Generator:
    """``rng`` checked to be a ``numpy.random.Generator``."""
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    return rng


@dataclass(frozen=True)
class Gaussian:
    """N(mean, cov) with an exact density (cov must be positive definite)."""

    mean: NDArray[np.float64]
    cov: NDArray[np.float64]
    has_density: bool = field(default=True, init=False)

    def __post_init__(self) -> None:
        """Validate and convert the fields (``ValueError`` naming a bad one)."""
        c = as_matrix(self.cov, "cov")
        m = as_vector(self.mean, "mean", c.shape[0])
        spectrum(c, "cov").require_definite("cov")
        object.__setattr__(self, "mean", m)
        object.__setattr__(self, "cov", c)

    @property
    def d(self) -> int:
        """Dimension."""
        return int(self.mean.shape[0])

    def sample(self, n: int, rng: np.random.Generator) -> NDArray[np.float64]:
        """Return (n, d) samples."""
        n, rng = check_int(n, "n", minimum=1), _rng(rng)
        chol = np.linalg.cholesky(self.cov)
        return self.mean + rng.standard_normal((n, self.d)) @ chol.T

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """Exact log-density at the rows of x (n, d) (float64 recommended), shape (n,).

        Raises:
            ValueError: naming ``x`` unless it is a finite (n, d) tensor or array, n >= 1.
        """
        x = _points(x, self.d)
        m = torch.as_tensor(self.mean, dtype=x.dtype, device=x.device)
        prec = torch.as_tensor(np.linalg.inv(self.cov), dtype=x.dtype, device=x.device)
        logdet = float(np.linalg.slogdet(self.cov)[1])
        r = x - m
        return (-0.5 * ((r @ prec) * r).sum(dim=1) - 0.5 * logdet
                - 0.5 * self.d * math.log(2.0 * math.pi))


@dataclass(frozen=True)
class GaussianMixture:
    r"""Mixture :math:`\sum_k w_k\mathcal N(\mu_k, s_k^2 I)` (isotropic parts; exact density)."""

    means: NDArray[np.float64]
    stds: NDArray[np.float64]
    weights: NDArray[np.float64]
    has_density: bool = field(default=True, init=False)

    def __post_init__(self) -> None:
        """Validate and convert the fields (``ValueError`` naming a bad one)."""
        mu = as_finite_array(self.means, "means")
        if mu.ndim != 2:
            raise ValueError(f"means must be a finite (K, d) array, got shape {mu.shape}")
        k = mu.shape[0]
        s, w = as_positive_array(self.stds, "stds"), as_nonneg_array(self.weights, "weights")
        for name, a in (("stds", s), ("weights", w)):
            if a.size not in (1, k) or a.ndim > 1:
                raise ValueError(f"{name} must be a scalar or have length K={k}, got shape "
                                 f"{a.shape}")
        s, w = np.broadcast_to(s.ravel(), (k,)).copy(), np.broadcast_to(w.ravel(), (k,)).copy()
        if w.sum() <= 0:
            raise ValueError("weights must be finite, >= 0, with a positive sum")
        object.__setattr__(self, "means", mu)
        object.__setattr__(self, "stds", s)
        object.__setattr__(self, "weights", w / w.sum())

    @property
    def d(self) -> int:
        """Dimension."""
        return int(self.means.shape[1])

    def second_moment(self) -> float:
        r""":math:`M_2 = \sum_k w_k(|\mu_k|^2 + d s_k^2)`."""
        return float(self.weights @ ((self.means**2).sum(1) + self.d * self.stds**2))

    def sample(self, n: int, rng: np.random.Generator) -> NDArray[np.float64]:
        """Return (n, d) samples."""
        n, rng = check_int(n, "n", minimum=1), _rng(rng)
        idx = rng.choice(len(self.weights), size=n, p=self.weights)
        return self.means[idx] + self.stds[idx, None] * rng.standard_normal((n, self.d))

    def log_prob(self, x: torch.Tensor, chunk: int = 4096) -> torch.Tensor:
        """Exact log-density at the rows of x (n, d), shape (n,): logsumexp over components.

        Components are processed ``chunk`` (int >= 1) at a time.

        Raises:
            ValueError: naming ``x`` unless it is a finite (n, d) tensor or array, n >= 1, or
                naming ``chunk``.
        """
        x = _points(x, self.d)
        chunk = check_int(chunk, "chunk", minimum=1)
        mu = torch.as_tensor(self.means, dtype=x.dtype, device=x.device)
        s2 = torch.as_tensor(self.stds**2, dtype=x.dtype, device=x.device)
        logw = torch.as_tensor(np.log(self.weights), dtype=x.dtype, device=x.device)
        parts = []
        for a in range(0, mu.shape[0], chunk):
            m, v, lw = mu[a:a + chunk], s2[a:a + chunk], logw[a:a + chunk]
            sq = (x * x).sum(1, keepdim=True) - 2.0 * x @ m.T + (m * m).sum(1)[None, :]
            sq = sq.clamp_min(0.0)
            parts.append(lw[None, :] - 0.5 * sq / v[None, :]
                         - 0.5 * self.d * torch.log(2.0 * math.pi * v)[None, :])
        return torch.logsumexp(torch.cat(parts, dim=1), dim=1)


def ring_mixture(k: int = 8, radius: float = 3.0, std: float = 0.5) -> GaussianMixture:
    """2-D mixture of ``k`` equal Gaussians (std ``std``) centred on a circle of ``radius``."""
    k = check_int(k, "k", minimum=1)
    radius = check_positive_scalar(radius, "radius")
    a = 2.0 * np.pi * np.arange(k) / k
    return GaussianMixture(radius * np.stack([np.cos(a), np.sin(a)], 1), std, np.ones(k))


@dataclass(frozen=True)
class Toy2D:
    r"""Procedural 2-D toys (one of :data:`TOYS`), each a noise-free law plus N(0, σ²I).

    The noise-free laws (formulas and quadratures in :mod:`theory.flow._toy_density`):

    - ``"moons"``: two half circles of radius 2 (probability 1/2 each, uniform angle);
    - ``"checkerboard"``: uniform on 8 squares of side 1.5 in [−3, 3]²;
    - ``"rose"``: the rose :math:`r = 3\cos 2\theta`, θ uniform;
    - ``"circles"``: FFJORD's (sklearn ``make_circles(factor=0.5)`` scaled by 3): radius 3 or 1.5
      (probability 1/2 each, i.i.d.), uniform angle (sklearn spaces the angles evenly and splits
      exactly in halves: this is the i.i.d. law they sample);
    - ``"swissroll"``: FFJORD's (sklearn ``make_swiss_roll`` coordinates 0, 2, divided by 5):
      :math:`(t\cos t, t\sin t)/5`, :math:`t = 1.5\pi(1+2U)`;
    - ``"2spirals"``: FFJORD's: :math:`n = 3\pi\sqrt U`, arm 1
      :math:`(-n\cos n + U_1/2, n\sin n + U_2/2)/3`, arm 2 its negation (probability 1/2 each,
      i.i.d.; FFJORD negates the same draws for the second half of a batch);
    - ``"pinwheel"``: OUR curve law in the spirit of FFJORD's, not FFJORD's generator (its
      entropy is not FFJORD's): arm k ∈ {0..4} uniform, :math:`s\sim N(1, 0.3^2)`, point
      :math:`2s(\cos(2\pi k/5 + e^s/4), \sin(2\pi k/5 + e^s/4))`.

    ``noise`` (σ >= 0, data units) is the std of the isotropic Gaussian added last; ``None`` (the
    default) means the toy's own default, resolved at construction so that ``Toy2D(name).noise``
    is a number: 0.05 for moons, checkerboard and rose, 0.24 for circles (FFJORD's
    0.08 × 3), 0.2 for swissroll (1.0 / 5) and pinwheel, 0.1 for 2spirals. Sampling accepts any
    σ >= 0; :meth:`log_density` and :meth:`entropy` need σ >= 0.02 (``ValueError``).

    ``has_density`` is False (no torch ``log_prob``: training computes no KL or residual for
    them), but :meth:`log_density` gives the exact density by closed form or quadrature and
    :meth:`entropy` its entropy, so that a held-out NLL becomes a KL.
    """

    name: str
    noise: float | None = None
    has_density: bool = field(default=False, init=False)

    def __post_init__(self) -> None:
        """Validate the fields and resolve ``noise=None`` (``ValueError`` naming a bad one)."""
        check_choice(self.name, "name", TOYS)
        if self.noise is None:
            object.__setattr__(self, "noise", _TOY_NOISE[self.name])
        else:
            check_nonneg_scalar(self.noise, "noise")

    d = 2

    def sample(self, n: int, rng: np.random.Generator) -> NDArray[np.float64]:
        """Return (n, 2) samples (float64) of the toy's law, noise included (see the class).

        At their default noise all toys but the pinwheel lie essentially in [−4, 4]²; the
        pinwheel's radius 2|s| exceeds 4 with probability 4e-4. The draws from ``rng`` are, in
        order: moons t, branch; checkerboard x1, x2, column; rose θ; circles radius choice,
        angle; swissroll U; 2spirals U, jitter (n, 2), arm; pinwheel arm, s; then the (n, 2)
        noise.
        """
        n, rng = check_int(n, "n", minimum=1), _rng(rng)
        if self.name == "moons":
            t = np.pi * rng.random(n)
            up = rng.random(n) < 0.5
            x = np.where(up, np.cos(t), 1.0 - np.cos(t))
            y = np.where(up, np.sin(t), 0.5 - np.sin(t))
            pts = 2.0 * (np.stack([x, y], 1) - np.array([0.5, 0.25]))
        elif self.name == "checkerboard":
            x1 = rng.random(n) * 4.0 - 2.0
            x2 = rng.random(n) - rng.integers(0, 2, n) * 2.0
            x2 = x2 + (np.floor(x1) % 2)
            pts = 1.5 * np.stack([x1, x2], 1)
        elif self.name == "rose":  # rose curve r = cos(2θ) -> four petals, scaled to radius 3
            th = 2.0 * np.pi * rng.random(n)
            r = 3.0 * np.cos(2.0 * th)
            pts = np.stack([r * np.cos(th), r * np.sin(th)], 1)
        elif self.name == "circles":  # radius 3 or 1.5 with probability 1/2, uniform angle
            r = np.where(rng.random(n) < 0.5, 3.0, 1.5)
            th = 2.0 * np.pi * rng.random(n)
            pts = r[:, None] * np.stack([np.cos(th), np.sin(th)], 1)
        elif self.name == "swissroll":
            t = 1.5 * np.pi * (1.0 + 2.0 * rng.random(n))
            pts = np.stack([t * np.cos(t), t * np.sin(t)], 1) / 5.0
        elif self.name == "2spirals":
            m = np.sqrt(rng.random(n)) * 3.0 * np.pi
            jitter = 0.5 * rng.random((n, 2))
            arm = np.where(rng.random(n) < 0.5, 1.0, -1.0)
            pts = arm[:, None] * (np.stack([-m * np.cos(m), m * np.sin(m)], 1) + jitter) / 3.0
        else:  # pinwheel: 5 arms, s ~ N(1, 0.3²), angle 2πk/5 + e^s/4, radius 2s
            k = rng.integers(0, 5, n)
            s = 1.0 + 0.3 * rng.standard_normal(n)
            a = 2.0 * np.pi * k / 5.0 + 0.25 * np.exp(s)
            pts = 2.0 * s[:, None] * np.stack([np.cos(a), np.sin(a)], 1)
        return pts + self.noise * rng.standard_normal((n, 2))

    def log_density(self, x: ArrayLike) -> NDArray[np.float64]:
        """Exact log p(x), (n, 2) numpy -> (n,), by closed form or quadrature (nats).

        Not a torch ``log_prob`` (``has_density`` stays False: no score, no KL diagnostics in
        training); it turns held-out NLLs into KLs. See :mod:`theory.flow._toy_density`.
        """
        from theory.flow._toy_density import toy_log_density

        return toy_log_density(self.name, self.noise, x)

    def entropy(self, n: int, rng: np.random.Generator) -> tuple[float, float]:
        """Monte Carlo entropy H(p) = -E log p(X) and its standard error, from ``n`` samples."""
        from theory.flow._toy_density import toy_entropy

        return toy_entropy(self.name, self.noise, self.sample, check_int(n, "n", minimum=2),
                           _rng(rng))


@dataclass(frozen=True)
class Circle:
    """Uniform law on the circle of ``radius`` in R^2 (no density: docs/theory.md R6)."""

    radius: float = 2.0
    has_density: bool = field(default=False, init=False)
    d = 2

    def __post_init__(self) -> None:
        """Validate ``radius`` (``ValueError`` unless finite and > 0)."""
        check_positive_scalar(self.radius, "radius")

    def sample(self, n: int, rng: np.random.Generator) -> NDArray[np.float64]:
        """Return (n, 2) samples."""
        a = 2.0 * np.pi * _rng(rng).random(check_int(n, "n", minimum=1))
        return self.radius * np.stack([np.cos(a), np.sin(a)], 1)

    def atoms(self, m: int) -> NDArray[np.float64]:
        """``m`` equally spaced points (a finite atom set approximating the circle)."""
        a = 2.0 * np.pi * (np.arange(check_int(m, "m", minimum=1)) + 0.5) / m
        return self.radius * np.stack([np.cos(a), np.sin(a)], 1)


@dataclass(frozen=True)
class Segment:
    """Uniform law on the segment [a, b] in R^d (no density)."""

    a: NDArray[np.float64]
    b: NDArray[np.float64]
    has_density: bool = field(default=False, init=False)

    def __post_init__(self) -> None:
        """Validate and convert the fields (``ValueError`` naming a bad one)."""
        a = as_vector(self.a, "a")
        object.__setattr__(self, "a", a)
        object.__setattr__(self, "b", as_vector(self.b, "b", a.shape[0]))

    @property
    def d(self) -> int:
        """Dimension."""
        return int(self.a.shape[0])

    def sample(self, n: int, rng: np.random.Generator) -> NDArray[np.float64]:
        """Return (n, d) samples."""
        u = _rng(rng).random((check_int(n, "n", minimum=1), 1))
        return self.a + u * (self.b - self.a)

    def atoms(self, m: int) -> NDArray[np.float64]:
        """``m`` equally spaced points of the segment."""
        u = (np.arange(check_int(m, "m", minimum=1)) + 0.5)[:, None] / m
        return self.a + u * (self.b - self.a)


@dataclass(frozen=True, eq=False)
class Empirical:
    """The empirical law of a user's samples: no density, a seeded held-out / training split.

    Args:
        samples ((m, d) array or tensor): the data rows, finite; stored as a read-only float64
            copy (a tensor is detached and moved to the CPU first).
        seed (int >= 0): seeds the row shuffle of :meth:`split`.

    Raises:
        ValueError: naming ``samples`` if it is not a numeric 2-D array with m, d >= 1, or if
            rows contain NaN or inf (the count is given); naming ``seed`` for a bad seed.
    """

    samples: NDArray[np.float64]
    seed: int = 0
    has_density: bool = field(default=False, init=False)

    def __post_init__(self) -> None:
        """Validate and copy ``samples`` (``ValueError`` naming a bad field)."""
        try:
            x = np.array(to_numpy(self.samples), dtype=np.float64, copy=True)
        except (TypeError, ValueError):
            raise ValueError(f"samples must be an (n, d) array of numbers, got "
                             f"{type(self.samples).__name__}") from None
        if x.ndim != 2 or x.shape[0] < 1 or x.shape[1] < 1:
            raise ValueError(f"samples must be an (n, d) array with n, d >= 1, got shape "
                             f"{x.shape}")
        bad = int((~np.isfinite(x).all(axis=1)).sum())
        if bad:
            raise ValueError(f"samples contains NaN or inf in {bad} of {x.shape[0]} rows")
        x.setflags(write=False)
        object.__setattr__(self, "samples", x)
        object.__setattr__(self, "seed", check_int(self.seed, "seed", minimum=0))

    def __repr__(self) -> str:
        """Shape and seed (not the rows)."""
        return f"Empirical(n={self.n}, d={self.d}, seed={self.seed})"

    @property
    def n(self) -> int:
        """Number of rows m."""
        return int(self.samples.shape[0])

    @property
    def d(self) -> int:
        """Dimension."""
        return int(self.samples.shape[1])

    def sample(self, n: int, rng: np.random.Generator) -> NDArray[np.float64]:
        """Return n rows drawn uniformly with replacement (a draw from the empirical law).

        :func:`~theory.flow.train_flow` does not call this: it uses :meth:`split`, so that its
        held-out rows are never training rows.
        """
        n, rng = check_int(n, "n", minimum=1), _rng(rng)
        return self.samples[rng.integers(0, self.n, size=n)]

    def split(self, n_eval: int) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Shuffle the rows by ``seed``; return ``(held_out, train)``, disjoint sets of rows.

        ``held_out`` is the first ``n_eval`` shuffled rows ((n_eval, d)), ``train`` all the other
        m - n_eval rows ((m - n_eval, d)); both are fresh float64 arrays.

        Raises:
            ValueError: naming ``n_eval`` if it is < 1 or leaves no training row
                (m < n_eval + 1).
        """
        n_eval = check_int(n_eval, "n_eval", minimum=1)
        if self.n < n_eval + 1:
            raise ValueError(f"n_eval={n_eval} held-out rows leave no training row: the data has "
                             f"{self.n} rows, at least n_eval + 1 = {n_eval + 1} are needed")
        rows = self.samples[np.random.default_rng(self.seed).permutation(self.n)]
        return rows[:n_eval].copy(), rows[n_eval:].copy()


def ou_smooth(atoms: ArrayLike, delta: float, weights: ArrayLike | None = None) -> GaussianMixture:
    r"""Law of :math:`e^{-\delta}X + \sqrt{1-e^{-2\delta}}Z` for X uniform on on the atoms.

    Claim C10 (docs/theory.md R6, docs/numerics.md §2.5): OU smoothing for time δ of a finite
    atom set is the exact mixture
    :math:`\sum_i w_i\,\mathcal N(e^{-\delta}x_i, (1-e^{-2\delta})I)` (weights uniform by default).

    Raises:
        ValueError: if ``delta <= 0`` or ``atoms`` is not a finite (m, d) array.
    """
    x = as_finite_array(atoms, "atoms")
    if x.ndim != 2:
        raise ValueError(f"atoms must be a finite (m, d) array, got shape {x.shape}")
    delta = check_positive_scalar(delta, "delta")
    w = np.ones(x.shape[0]) if weights is None else weights
    return GaussianMixture(math.exp(-delta) * x, math.sqrt(-math.expm1(-2.0 * delta)), w)
