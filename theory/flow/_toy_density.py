r"""Exact log-densities and entropies of the procedural 2-D toys (:class:`~theory.flow.Toy2D`).

Each toy is a noise-free law on curves, on squares or on small boxes, convolved with
:math:`N(0,\sigma^2 I)` (σ = ``noise``, in data units), so its density is an integral against the
Gaussian :math:`\varphi_\sigma(y) = e^{-|y|^2/2\sigma^2}/(2\pi\sigma^2)`:

- checkerboard: uniform on 8 squares of side 1.5 (mass 1/8 each): a product of normal CDF
  differences per square, closed form;
- moons: :math:`t\sim U(0,\pi)` on each of two half circles (probability 1/2 each), scaled by
  2: :math:`p(x) = \frac{1}{2\pi}\sum_b\int_0^\pi\varphi_\sigma(x-m_b(t))\,dt` by composite
  Gauss-Legendre quadrature (128 panels × 8 nodes per branch, fixed);
- rose: :math:`\theta\sim U(0,2\pi)`, :math:`r = 3\cos2\theta`:
  :math:`p(x)=\frac1{2\pi}\int_0^{2\pi}\varphi_\sigma(x-c(\theta))\,d\theta` by the trapezoid
  rule on 8192 nodes, fixed (spectrally accurate for a periodic integrand);
- circles (sklearn's ``make_circles(factor=0.5)`` scaled by 3, as in FFJORD; drawn i.i.d.):
  radius R ∈ {3, 1.5} with probability 1/2 each, uniform angle:
  :math:`p(x)=\frac12\sum_R\frac1{2\pi}\int_0^{2\pi}\varphi_\sigma(x-R(\cos\theta,\sin\theta))
  \,d\theta` by the trapezoid rule on :math:`\lceil 20\pi R/\sigma\rceil` nodes per circle
  (spacing 2πR/m <= σ/10; 786 + 393 nodes at the default σ = 0.24, 9425 + 4713 at σ = 0.02);
- swissroll (FFJORD's: sklearn's ``make_swiss_roll`` coordinates 0 and 2, divided by 5):
  :math:`t = 1.5\pi(1+2U)`, :math:`c(t) = (t\cos t, t\sin t)/5`:
  :math:`p(x)=\frac1{3\pi}\int_{1.5\pi}^{4.5\pi}\varphi_\sigma(x-c(t))\,dt`; curve length
  17.87;
- 2spirals (FFJORD's): :math:`n=3\pi\sqrt U` (density :math:`p(n) = 2n/(3\pi)^2` on
  [0, 3π]); arm 1 is :math:`(c(n)+J)/3` with :math:`c(n)=(-n\cos n, n\sin n)` and the jitter
  :math:`J\sim U[0,\frac12]^2`, arm 2 its negation, probability 1/2 each. Given n the noise-free
  point is uniform on a box :math:`[a_1,b_1]\times[a_2,b_2]` of side 1/6
  (arm 1: :math:`a = c(n)/3`, :math:`b = a+1/6`; arm 2: :math:`a=-c(n)/3-1/6`,
  :math:`b=-c(n)/3`), so
  :math:`p(x)=\frac12\sum_{\rm arms}\int_0^{3\pi}p(n)\prod_{j=1,2}
  \frac{\Phi((x_j-a_j)/\sigma)-\Phi((x_j-b_j)/\sigma)}{b_j-a_j}\,dn`, each CDF difference taken
  in log space, mirrored to the lower tail (stable in both tails); box centre curve length 15.38
  per arm;
- pinwheel (OUR curve version, in the spirit of FFJORD's but NOT FFJORD's generator, whose law
  is a non-injective map of a Gaussian; its entropy is therefore not FFJORD's): arm k ∈ {0..4}
  with probability 1/5, :math:`s\sim N(1, 0.3^2)`,
  :math:`c_k(s) = 2s(\cos(2\pi k/5+\tfrac14e^s), \sin(2\pi k/5+\tfrac14e^s))`:
  :math:`p(x)=\frac15\sum_k\int N(s;1,0.3^2)\,\varphi_\sigma(x-c_k(s))\,ds` on
  s ∈ [1 − 8·0.3, 1 + 8·0.3], the quadrature weights renormalised to sum to 1 per arm (the
  normal mass outside, 2Φ(−8) = 1.2e-15, is dropped); curve length 41.61 per arm.

Swissroll, 2spirals and pinwheel use composite 8-node Gauss-Legendre with panels of equal arc
length along the curve, :math:`\lceil L/(\sigma/2)\rceil` panels for a curve of length L (from a
table of 2^16 chords): the largest gap between the nodes of a panel is 0.1834 of its length, so
the node spacing along the curve is <= 0.092σ < σ/10 at every σ. Nodes: swissroll 1432 at the
default σ = 0.2 (14304 at σ = 0.02); 2spirals 2 × 2464 at σ = 0.1 (2 × 12304 at 0.02); pinwheel
5 × 3336 at σ = 0.2 (5 × 33296 at 0.02). The 2spirals sum over nodes skips, per point, the nodes
whose Gaussian upper bound lies more than 50 nats below a computed term (a relative error
< 1e-17). The fixed moons and rose nodes are coarser than σ/10: their largest spacings along the
curve, 0.0090 and 0.0046, are σ/2.2 and σ/4.3 at σ = 0.02 (σ/5.6 and σ/10.9 at the default
0.05); doubling them still moves log p at draws by < 1e-10 at σ = 0.02 and by < 1e-14 at 0.05.

σ below :data:`MIN_NOISE` = 0.02 raises ``ValueError``.
Entropies :math:`H(p) = -\mathbb E\log p(X)` come by Monte Carlo over the toy's own sampler, with
a standard error, so that a held-out NLL becomes a KL: KL(p‖q̂) = NLL − H (nats).
Claims: the density-validity rows of the neural experiments (docs/numerics.md §6.10).
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import log_ndtr, logsumexp

__all__ = ["toy_entropy", "toy_log_density"]

#: Smallest noise σ the quadratures resolve (see the module docstring for the node spacings).
MIN_NOISE = 0.02
_GL_PANELS, _GL_NODES, _ROSE_NODES = 128, 8, 8192
#: Circles, swissroll, 2spirals, pinwheel: trapezoid step <= _STEP_ARC·σ along the circle;
#: Gauss-Legendre panels of arc length <= _PANEL_ARC·σ from a table of _ARC_TABLE chords; nodes
#: more than _PRUNE nats below a computed term skipped (2spirals); _CHUNK points × nodes a pass.
_STEP_ARC, _PANEL_ARC, _ARC_TABLE, _PRUNE, _CHUNK = 0.1, 0.5, 2**16, 50.0, 2**18
_NAMES = ("moons", "checkerboard", "rose", "circles", "swissroll", "2spirals", "pinwheel")
_PIN_MEAN, _PIN_STD, _PIN_TAIL = 1.0, 0.3, 8.0  # pinwheel s ~ N(1, 0.3²) on 1 ± 8·0.3
_SPIRAL_BOX = 0.5 / 3.0  # side of the 2spirals jitter box


def _gauss_legendre(a: float, b: float) -> tuple[NDArray, NDArray]:
    """Composite Gauss-Legendre nodes and weights on [a, b] (``_GL_PANELS`` equal panels)."""
    return _gauss_legendre_edges(np.linspace(a, b, _GL_PANELS + 1))


def _gauss_legendre_edges(edges: NDArray) -> tuple[NDArray, NDArray]:
    """Composite Gauss-Legendre nodes and weights (``_GL_NODES`` per panel) on sorted ``edges``."""
    g, w = np.polynomial.legendre.leggauss(_GL_NODES)
    half = 0.5 * np.diff(edges)
    mid = 0.5 * (edges[:-1] + edges[1:])
    return (mid[:, None] + half[:, None] * g).ravel(), (half[:, None] * w).ravel()


def _arc_gauss_legendre(curve, a: float, b: float, sigma: float) -> tuple[NDArray, NDArray]:
    """Composite Gauss-Legendre in t on [a, b] with panels of equal arc length <= _PANEL_ARC·σ.

    ``curve(t)`` maps (m,) parameters to (m, 2) points; its length L comes from a table of
    ``_ARC_TABLE`` chords and the panel count is ⌈L/(_PANEL_ARC·σ)⌉.
    """
    t = np.linspace(a, b, _ARC_TABLE + 1)
    arc = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(curve(t), axis=0).T))])
    panels = math.ceil(arc[-1] / (_PANEL_ARC * sigma))
    return _gauss_legendre_edges(np.interp(np.linspace(0.0, arc[-1], panels + 1), arc, t))


def _logsumexp_rows(t: NDArray) -> NDArray:
    """Row-wise log Σ_j exp(t_ij) of a finite (c, K) array, overwritten.

    The algorithm of ``scipy.special.logsumexp`` in SciPy 1.17, reproduced to the bit for finite
    real input, without its extra passes (about 10× faster): the m tied maxima a of a row are
    taken out of the sum, s = Σ_rest exp(t − a) / m, and the result is log1p(s) + log m + a.
    """
    a = t.max(axis=1, keepdims=True)
    top = t == a
    m = top.sum(axis=1, keepdims=True, dtype=t.dtype)
    np.putmask(t, top, -np.inf)
    t -= a
    np.exp(t, out=t)
    s = t.sum(axis=1, keepdims=True)
    s = np.where(s == 0, s, s / m)
    return (np.log1p(s) + np.log(m) + a)[:, 0]


def _curve_log_density(x: NDArray, nodes: NDArray, log_w: NDArray, sigma: float) -> NDArray:
    """Log of Σ_j w_j φ_σ(x − c_j) for curve points c_j (K, 2) with weights w_j (sum 1).

    About ``_CHUNK`` point-node pairs per pass, each row the same floating-point operations as
    ``scipy.special.logsumexp`` (SciPy 1.17) over all nodes, so the moons and rose are
    bit-identical to their first implementation (which called it on 2048 rows at a time).
    """
    out = np.empty(x.shape[0])
    log_norm = -math.log(2.0 * math.pi * sigma**2)
    cx, cy = np.ascontiguousarray(nodes[:, 0]), np.ascontiguousarray(nodes[:, 1])
    step = max(1, _CHUNK // nodes.shape[0])
    for i in range(0, x.shape[0], step):
        xi = x[i:i + step]
        dx, dy = xi[:, 0, None] - cx, xi[:, 1, None] - cy
        t = log_w - (dx * dx + dy * dy) / (2.0 * sigma**2)
        out[i:i + step] = _logsumexp_rows(t) + log_norm
    return out


def _log_cdf_diff(hi: NDArray, lo: NDArray) -> NDArray:
    """log(Φ(hi) − Φ(lo)) for hi > lo, elementwise, stable in both tails.

    Where hi + lo > 0 it uses Φ(hi) − Φ(lo) = Φ(−lo) − Φ(−hi), so both arguments lie in the
    lower tail; then log Φ(h) + log(1 − Φ(l)/Φ(h)) by ``log_ndtr`` and ``expm1``.
    """
    flip = hi + lo > 0.0
    h, lo_ = np.where(flip, -lo, hi), np.where(flip, -hi, lo)
    lh = log_ndtr(h)
    return lh + np.log(-np.expm1(log_ndtr(lo_) - lh))


def _box_log_density(x: NDArray, corners: NDArray, width: float, log_w: NDArray,
                     sigma: float) -> NDArray:
    r"""Log of :math:`\sum_k w_k\prod_{j=1,2}P(a_{kj}\le x_j+\sigma Z\le a_{kj}+h)/h` (sum w = 1).

    Boxes with lower corners a_k (K, 2) and side h = ``width``: the density at x of the mixture
    of uniform laws on the boxes, convolved with N(0, σ²I). Per point, a node k is skipped when the
    upper bound :math:`\log w_k - (d_1^2+d_2^2)/2\sigma^2` of its term (d_j: distance of x_j to
    the box, since P <= Φ(−d_j/σ) <= e^{−d_j²/2σ²}) is more than ``_PRUNE`` (50) nats below the
    exact term of the node with the largest bound: the skipped mass is < K e^{−50} relative.
    """
    out = np.empty(x.shape[0])
    ax, ay = np.ascontiguousarray(corners[:, 0]), np.ascontiguousarray(corners[:, 1])
    half, scale = 0.5 * width, 0.5 / sigma**2

    def term(xr: NDArray, k: NDArray) -> NDArray:
        ux, uy = (xr[:, 0] - ax[k]) / sigma, (xr[:, 1] - ay[k]) / sigma
        return (log_w[k] + _log_cdf_diff(ux, ux - width / sigma)
                + _log_cdf_diff(uy, uy - width / sigma))

    step = max(1, _CHUNK // corners.shape[0])
    for i in range(0, x.shape[0], step):
        xi = x[i:i + step]
        dx = np.maximum(np.abs(xi[:, 0, None] - (ax + half)) - half, 0.0)
        dy = np.maximum(np.abs(xi[:, 1, None] - (ay + half)) - half, 0.0)
        bound = log_w - (dx * dx + dy * dy) * scale
        lead = term(xi, bound.argmax(axis=1))
        rows, k = np.nonzero(bound >= (lead - _PRUNE)[:, None])  # row-major: rows sorted
        vals = term(xi[rows], k)
        counts = np.bincount(rows, minlength=xi.shape[0])  # >= 1: the argmax is kept
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        m = np.maximum.reduceat(vals, starts)
        out[i:i + step] = m + np.log(np.add.reduceat(np.exp(vals - np.repeat(m, counts)), starts))
    return out - 2.0 * math.log(width)


def _moons_nodes() -> tuple[NDArray, NDArray]:
    t, w = _gauss_legendre(0.0, math.pi)
    up = np.stack([np.cos(t), np.sin(t)], 1)
    down = np.stack([1.0 - np.cos(t), 0.5 - np.sin(t)], 1)
    pts = 2.0 * (np.concatenate([up, down]) - np.array([0.5, 0.25]))
    ww = np.concatenate([w, w]) / (2.0 * math.pi)  # each branch: (1/2)(1/π) dt
    return pts, np.log(ww)


def _rose_nodes() -> tuple[NDArray, NDArray]:
    th = 2.0 * math.pi * np.arange(_ROSE_NODES) / _ROSE_NODES
    r = 3.0 * np.cos(2.0 * th)
    return np.stack([r * np.cos(th), r * np.sin(th)], 1), np.full(_ROSE_NODES,
                                                                   -math.log(_ROSE_NODES))


def _swissroll_curve(t: NDArray) -> NDArray:
    """c(t) = (t cos t, t sin t)/5, (m,) -> (m, 2)."""
    return np.stack([t * np.cos(t), t * np.sin(t)], 1) / 5.0


def _spiral_curve(n: NDArray) -> NDArray:
    """c(n)/3 = (−n cos n, n sin n)/3, (m,) -> (m, 2): lower corner of arm 1's jitter box."""
    return np.stack([-n * np.cos(n), n * np.sin(n)], 1) / 3.0


def _pinwheel_curve(s: NDArray, k: int) -> NDArray:
    """c_k(s) = 2s(cos(2πk/5 + e^s/4), sin(2πk/5 + e^s/4)), (m,) -> (m, 2)."""
    a = 2.0 * math.pi * k / 5.0 + 0.25 * np.exp(s)
    return 2.0 * s[:, None] * np.stack([np.cos(a), np.sin(a)], 1)


def _toy_arms(name: str, sigma: float) -> list[tuple[NDArray, NDArray]]:
    """Quadrature points (K, 2) and log-weights (K,) per arm (curve or circle) of a newer toy.

    For circles, swissroll, 2spirals (points: lower corners of the jitter boxes) and pinwheel;
    the weights of all arms together sum to 1.
    """
    if name == "circles":
        arms = []
        for radius in (3.0, 1.5):
            m = math.ceil(2.0 * math.pi * radius / (_STEP_ARC * sigma))
            th = 2.0 * math.pi * np.arange(m) / m
            arms.append((radius * np.stack([np.cos(th), np.sin(th)], 1),
                         np.full(m, -math.log(2.0 * m))))
        return arms
    if name == "swissroll":
        t, w = _arc_gauss_legendre(_swissroll_curve, 1.5 * math.pi, 4.5 * math.pi, sigma)
        return [(_swissroll_curve(t), np.log(w / (3.0 * math.pi)))]
    if name == "2spirals":
        n, w = _arc_gauss_legendre(_spiral_curve, 0.0, 3.0 * math.pi, sigma)
        a = _spiral_curve(n)
        log_w = np.log(0.5 * w * 2.0 * n / (3.0 * math.pi) ** 2)
        return [(a, log_w), (-a - _SPIRAL_BOX, log_w)]
    lo, hi = _PIN_MEAN - _PIN_TAIL * _PIN_STD, _PIN_MEAN + _PIN_TAIL * _PIN_STD
    s, w = _arc_gauss_legendre(lambda u: _pinwheel_curve(u, 0), lo, hi, sigma)
    w = w * np.exp(-0.5 * ((s - _PIN_MEAN) / _PIN_STD) ** 2)
    log_w = np.log(w / w.sum() / 5.0)
    return [(_pinwheel_curve(s, k), log_w) for k in range(5)]


def _checker_log_density(x: NDArray, sigma: float) -> NDArray:
    """Closed form: (1/8) Σ_squares Π_dims P(a <= x_i + σZ <= b) / area, area = 1.5²."""
    squares = []
    for k in (-2, -1, 0, 1):
        shift = k % 2
        for lo2 in (0.0 + shift, -2.0 + shift):
            squares.append((1.5 * k, 1.5 * (k + 1), 1.5 * lo2, 1.5 * (lo2 + 1)))
    # each factor log P(a <= x_i + σZ <= b) by the tail-stable log CDF difference
    terms = [_log_cdf_diff((b1 - x[:, 0]) / sigma, (a1 - x[:, 0]) / sigma)
             + _log_cdf_diff((b2 - x[:, 1]) / sigma, (a2 - x[:, 1]) / sigma)
             for a1, b1, a2, b2 in squares]
    return logsumexp(np.stack(terms), axis=0) - math.log(8.0 * 1.5**2)


def toy_log_density(name: str, noise: float, x: ArrayLike) -> NDArray[np.float64]:
    r"""Log p(x) in nats of the toy ``name`` with noise σ = ``noise`` (see the module docstring).

    Args:
        name: ``"moons"``, ``"checkerboard"``, ``"rose"``, ``"circles"``, ``"swissroll"``,
            ``"2spirals"`` or ``"pinwheel"``.
        noise: σ >= :data:`MIN_NOISE` (0.02), std of the isotropic Gaussian noise (data units).
        x ((n, 2) array): points.

    Returns:
        (n,) float64 log-densities.

    Raises:
        ValueError: for an unknown name, σ below 0.02 (the quadrature would not resolve it), or
            an ``x`` that is not a finite (n, 2) array.
    """
    if not isinstance(name, str) or name not in _NAMES:
        raise ValueError(f"name must be one of {', '.join(map(repr, _NAMES))}, got {name!r}")
    if not (isinstance(noise, (int, float)) and math.isfinite(noise)) or noise < MIN_NOISE:
        raise ValueError(f"noise must be a number >= {MIN_NOISE} for the exact density "
                         f"(quadrature resolution), got {noise!r}")
    a = np.asarray(x, dtype=np.float64)
    if a.ndim != 2 or a.shape[1] != 2 or not np.isfinite(a).all():
        raise ValueError(f"x must be a finite (n, 2) array, got shape {a.shape}")
    sigma = float(noise)
    if name == "checkerboard":
        return _checker_log_density(a, sigma)
    if name in ("moons", "rose"):
        nodes, log_w = _moons_nodes() if name == "moons" else _rose_nodes()
        return _curve_log_density(a, nodes, log_w, sigma)
    arms = _toy_arms(name, sigma)
    pts, log_w = np.concatenate([p for p, _ in arms]), np.concatenate([w for _, w in arms])
    if name == "2spirals":
        return _box_log_density(a, pts, _SPIRAL_BOX, log_w, sigma)
    return _curve_log_density(a, pts, log_w, sigma)


def toy_entropy(name: str, noise: float, sample, n: int,
                rng: np.random.Generator) -> tuple[float, float]:
    r"""Monte Carlo entropy :math:`H = -\frac1n\sum\log p(X_i)` of a toy, and its SE (nats).

    ``sample(n, rng)`` is the toy's own sampler (:meth:`~theory.flow.Toy2D.sample`).
    """
    lp = toy_log_density(name, noise, sample(n, rng))
    return float(-lp.mean()), float(lp.std(ddof=1) / math.sqrt(lp.size))
