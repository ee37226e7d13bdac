r"""The paper's model on real 64-d data: scikit-learn's 8×8 digits, held-out NLL per block.

Claims C9 (exact densities of the generated law) and C11 (inversion) on the real model in
d = 64 (docs/theory.md L1, R7; docs/numerics.md §6.4, §6.8, §6.9).

**Data.** ``sklearn.datasets.load_digits()``: 1797 images of 8×8 pixels with values in
{0, ..., 16}; a fixed train/test split by ``seed`` (1500/297). Pixels are dequantised,
:math:`x = (p + u)/17`, :math:`u\sim U(0,1)^{64}`, so x lies in the dequantised space
:math:`[0,1)^{64}` (a fresh u for every training row, one fixed u for the test set). The ML
Gaussian of the dequantised training law has the exact moments (over the images and u)
:math:`\mu = (\bar p + 1/2)/17`, :math:`\Sigma = \mathrm{Cov}(p)/17^2 + I/(12\cdot17^2)` (no ridge
needed: the dequantisation adds 1/(12·17²) to every variance). The flow sees the affinely scaled
:math:`z = (x-\mu)W`: by default the ZCA whitening :math:`W = \Sigma^{-1/2}` (so the 0-block model
is the ML Gaussian and the blocks learn the non-Gaussian rest), or ``whiten=False``,
:math:`W = I/s` with one global standard deviation :math:`s^2 = \mathrm{tr}\,\Sigma/64`.

**Densities.** The flow F (N blocks) is trained on z; its generated density in z-space is
:math:`\log\hat q_z(z) = \log\mathcal N(F(z);0,I) + \log\det\nabla F(z)` (the exact change of
variables, the RK4 log-det in float64). The affine change of variables :math:`z = (x-\mu)W` has
Jacobian determinant det W, so in the dequantised space

.. math::
    \log\hat q_x(x) = \log\hat q_z\big((x-\mu)W\big) + \log|\det W|,

:math:`\log|\det W| = -\tfrac12\log\det\Sigma` (whitening) or :math:`64\log(1/s)` (scalar). So
NLL_x = NLL_z − log|det W| (nats per image) and bits/dim = NLL_x/(64 ln 2), both in
:math:`[0,1)^{64}` (negative values are possible: the space has volume 1). The pixel-scale space
:math:`y = 17x\in[0,17)^{64}` has :math:`\log p_y = \log p_x - 64\log 17`, hence discrete-pixel
bits/dim = bits/dim(:math:`[0,1)^{64}`) + log₂17; by Jensen this bounds the model's discrete
bits/dim of the 17-level pixels from above (the unit of the literature's 8×8-digits numbers).

**Per block** k = 0..N (k = 0: the scaled data before any block, the NLL of N(0, I) in
z-space): held-out (test) and training NLL of the k-block model
:math:`\hat q^{(k)} = (F_k^{-1})_\#\mathcal N(0,I)` with standard errors over images, against the
ML Gaussian N(μ, Σ) (test and train NLL). Also: the round trip :math:`|F^{-1}(F(z)) - z|` on
test points (the network's own backward integration; at S and S/2 RK4 steps), the two routes to
log q̂ at generated points (forward ``log_prob``, backward ``sample``) at S and ``check_steps``
steps, and generated digits :math:`\mu + F^{-1}(z)W^{-1}` clipped to [0, 1].

Cases: one (``digits``), the single training run with its evaluation (a trained flow cannot
leave its case); the reduction returns its results.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple

import numpy as np
import torch
from matplotlib.ticker import MaxNLocator
from numpy.typing import NDArray

from experiments._api import Check, checkpoint_path
from experiments._cases import Case, run_cases
from experiments._density_rows import refinement_row
from experiments._plotting import fmt, legend_outside, new_figure, save
from theory.flow import FlowConfig, nll_refinement, std_normal_log_prob, to_numpy, train_flow

CLAIMS = ("C9", "C11")
TITLE = ("Neural JKO flow on scikit-learn's 8×8 digits (d = 64): held-out NLL per block, "
         "bits/dim, Gaussian baseline, inversion, generated digits")
#: The train/test split, the dequantisation noise and the training run follow ``config.seed``.
STOCHASTIC = True

#: Pixel levels of the digits (values 0..16).
LEVELS = 17
#: Dimension (8×8 pixels).
D = 64

#: Full profile: 8 blocks, constant γ = 0.5, 2×128 softplus MLP, 150 Adam iterations of batch 256
#: per block, 100000 training rows (≈ 67 dequantised copies per image: with 20 copies the later
#: blocks memorise the dequantisation noise, docs/numerics.md §6.9).
FLOW = FlowConfig(d=D, n_blocks=8, schedule="constant", gamma=0.5, hidden=(128, 128),
                  iters=150, batch=256, lr=2e-3, n_train=100_000, steps=3, eval_steps=6)


@dataclass(frozen=True)
class Config:
    """Run sizes (see quick/full); ``flow.seed`` and ``flow.device`` follow ``seed``/``device``.

    ``n_train_images`` images of the 1797 are the training split (the rest the test split);
    ``n_eval``: training-law points for :func:`~theory.flow.train_flow`'s per-block
    diagnostics; ``n_routes``: generated points of the two-route density check, at
    ``flow.eval_steps`` and ``check_steps`` RK4 steps; ``n_show``: digits per image grid.
    """

    flow: FlowConfig = field(default_factory=lambda: FLOW)
    n_train_images: int = 1500
    n_eval: int = 1000
    n_routes: int = 200
    check_steps: int = 24
    n_show: int = 36
    whiten: bool = True
    seed: int = 0
    device: str = "cpu"

    def __post_init__(self) -> None:
        if not 2 <= self.n_train_images <= 1795:  # ≥ 2 images per split for the SEs
            raise ValueError(f"n_train_images must be in [2, 1795], got {self.n_train_images}")
        if self.check_steps <= self.flow.eval_steps:
            raise ValueError(f"check_steps must exceed flow.eval_steps={self.flow.eval_steps}, "
                             f"got {self.check_steps}")
        if self.flow.d != D:
            raise ValueError(f"flow.d must be {D}, got {self.flow.d}")
        object.__setattr__(self, "flow", replace(self.flow, seed=self.seed, device=self.device))

    @classmethod
    def quick(cls) -> Config:
        return cls(flow=replace(FLOW, n_blocks=3, iters=100, batch=128, n_train=20_000),
                   n_eval=300, n_routes=100)

    @classmethod
    def full(cls) -> Config:
        return cls()


def load_pixels() -> NDArray[np.float64]:
    """The 1797 digits as a (1797, 64) float64 array of pixel values in {0, ..., 16}."""
    from sklearn.datasets import load_digits  # heavy import, only when run

    return np.asarray(load_digits().data, dtype=np.float64)


def split(pixels: NDArray[np.float64], n_train: int,
          seed: int) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """A fixed random train/test split of the rows (a permutation seeded by ``seed``)."""
    perm = np.random.default_rng(seed).permutation(pixels.shape[0])
    return pixels[perm[:n_train]], pixels[perm[n_train:]]


def dequantised_moments(pixels: NDArray[np.float64]) -> tuple[NDArray, NDArray]:
    r"""Exact mean and covariance of :math:`x = (p + u)/17` over the rows p and u ~ U(0,1)^64.

    :math:`\mu = (\bar p + 1/2)/17`, :math:`\Sigma = \mathrm{Cov}(p)/17^2 + I/(12\cdot17^2)` (the
    maximum-likelihood Gaussian of the dequantised empirical law; Cov with divisor n).
    """
    mu = (pixels.mean(0) + 0.5) / LEVELS
    cov = np.cov(pixels.T, bias=True) / LEVELS**2 + np.eye(pixels.shape[1]) / (12 * LEVELS**2)
    return mu, cov


def affine_scaling(cov: NDArray, whiten: bool) -> tuple[NDArray, float]:
    r"""The matrix W of the scaling :math:`z = (x-\mu)W` and :math:`\log|\det W|`.

    ``whiten=False``: :math:`W = I/s`, s the global standard deviation, :math:`s^2 = \mathrm{tr}\,
    \Sigma/64`, :math:`\log|\det W| = -64\log s`. ``whiten=True``: :math:`W = \Sigma^{-1/2}`
    (symmetric, ZCA), :math:`\log|\det W| = -\tfrac12\log\det\Sigma`, so that z has mean 0 and
    covariance I under the training law and N(0, I) in z-space is the ML Gaussian in x-space.
    """
    if not whiten:
        s = math.sqrt(float(np.trace(cov)) / cov.shape[0])
        return np.eye(cov.shape[0]) / s, -cov.shape[0] * math.log(s)
    lam, vec = np.linalg.eigh(cov)
    return (vec / np.sqrt(lam)) @ vec.T, -0.5 * float(np.log(lam).sum())


@dataclass(frozen=True, eq=False)
class Digits:
    r"""The training law: a training image drawn uniformly, dequantised afresh, scaled.

    ``sample(n, rng)`` returns :math:`z = ((p + u)/17 - \mu)W`, shape (n, 64), float64, with p
    drawn with replacement from ``pixels`` and a fresh u ~ U(0,1)^64 per row
    (:func:`affine_scaling` gives W).
    """

    pixels: NDArray[np.float64]
    mu: NDArray[np.float64]
    w: NDArray[np.float64]
    has_density: bool = field(default=False, init=False)
    d = D

    def sample(self, n: int, rng: np.random.Generator) -> NDArray[np.float64]:
        if not (isinstance(n, (int, np.integer)) and n >= 1):
            raise ValueError(f"n must be a positive int, got {n!r}")
        p = self.pixels[rng.integers(0, self.pixels.shape[0], int(n))]
        return self.scale((p + rng.random(p.shape)) / LEVELS)

    def scale(self, x: NDArray[np.float64]) -> NDArray[np.float64]:
        """z = (x − μ)W for rows x of the dequantised space [0, 1)^64."""
        return (x - self.mu) @ self.w

    def unscale(self, z: NDArray[np.float64]) -> NDArray[np.float64]:
        """x = μ + zW⁻¹ in the dequantised space (not clipped)."""
        return self.mu + np.linalg.solve(self.w.T, z.T).T

    def __repr__(self) -> str:  # short: train_flow fingerprints repr(data)
        h = np.round(self.pixels.sum(0)).astype(int)
        return (f"Digits(n={self.pixels.shape[0]}, tr_w={np.trace(self.w):.12g}, "
                f"pixel_sums={h.tolist()})")


def gaussian_nll(x: NDArray, mean: NDArray, cov: NDArray) -> NDArray[np.float64]:
    """−log N(x; mean, cov) per row of x (nats), by a Cholesky factor."""
    chol = np.linalg.cholesky(cov)
    r = np.linalg.solve(chol, (x - mean).T)
    d = x.shape[1]
    return 0.5 * (r**2).sum(0) + np.log(np.diag(chol)).sum() + 0.5 * d * math.log(2 * math.pi)


def _mean_se(v: NDArray) -> tuple[float, float]:
    return float(v.mean()), float(v.std(ddof=1) / math.sqrt(v.size))


def _nll_per_block(flow, z: torch.Tensor, steps: int, log_det_w: float) -> NDArray[np.float64]:
    """(N+1, n) NLL_x = NLL_z − log|det W| in nats per image of the k-block models, k = 0..N."""
    out = []
    for k in range(len(flow) + 1):
        zk, ell = flow(z, upto=k, steps=steps)
        out.append(to_numpy(-(std_normal_log_prob(zk) + ell)) - log_det_w)
    return np.array(out)


def _summaries(nll: NDArray) -> dict[str, list[float]]:
    """Means, SEs and SEs of the block-to-block paired differences of an (N+1, n) NLL table."""
    ms = [_mean_se(row) for row in nll]
    return {"mean": [m for m, _ in ms], "se": [s for _, s in ms],
            "diff_se": [_mean_se(nll[k + 1] - nll[k])[1] for k in range(nll.shape[0] - 1)]}


def bits_per_dim(nll_nats: float | NDArray) -> Any:
    """bits/dim in [0,1)^64 of an NLL in nats per image: NLL/(64 ln 2)."""
    return np.asarray(nll_nats) / (D * math.log(2))


#: bits/dim in [0,17)^64 (discrete-pixel scale) minus bits/dim in [0,1)^64.
LOG2_LEVELS = math.log2(LEVELS)


class Prepared(NamedTuple):
    """The data of a run: training law, Gaussian baseline and the fixed evaluation points.

    Attributes:
        law: the training law (:class:`Digits`), with μ and W.
        cov ((64, 64)): Σ of the ML Gaussian N(μ, Σ) (:func:`dequantised_moments`).
        log_det_w: log|det W| (nats): NLL_x = NLL_z − log|det W|.
        x_train ((n_train_images, 64)), x_test ((1797 − n_train_images, 64)): the training and
            test images, each dequantised once (a fixed draw), in [0, 1)^64.
    """

    law: Digits
    cov: NDArray[np.float64]
    log_det_w: float
    x_train: NDArray[np.float64]
    x_test: NDArray[np.float64]


def prepare(cfg: Config) -> Prepared:
    """Split by ``cfg.seed``, fit μ, Σ and W on the training split, dequantise both splits once."""
    train_px, test_px = split(load_pixels(), cfg.n_train_images, cfg.seed)
    mu, cov = dequantised_moments(train_px)
    w, log_det_w = affine_scaling(cov, cfg.whiten)
    rng = np.random.default_rng(cfg.seed + 11)
    x_test = (test_px + rng.random(test_px.shape)) / LEVELS
    x_train = (train_px + rng.random(train_px.shape)) / LEVELS
    return Prepared(Digits(train_px, mu, w), cov, log_det_w, x_train, x_test)


def cases(config: Config) -> list[Case]:
    """One case: the single training run and its evaluation (the flow is not returned)."""
    return [Case("digits")]


def run_case(cfg: Config, case: Case) -> dict:
    """Train the flow on the digits, then every number of the results dict."""
    fc = cfg.flow
    steps = fc.eval_steps
    law, cov, log_det_w, x_train, x_test = prepare(cfg)
    mu = law.mu
    tr = train_flow(fc, law, n_eval=cfg.n_eval, n_residual=1, checkpoint=checkpoint_path("digits"))
    flow = tr.flow.evaluation_copy()
    rng = np.random.default_rng(cfg.seed + 12)
    z_test = torch.as_tensor(law.scale(x_test), device=fc.device)
    z_train = torch.as_tensor(law.scale(x_train), device=fc.device)
    with torch.no_grad():
        nll_test = _nll_per_block(flow, z_test, steps, log_det_w)
        nll_train = _nll_per_block(flow, z_train, steps, log_det_w)
        g_test = gaussian_nll(x_test, mu, cov)
        g_train = gaussian_nll(x_train, mu, cov)
        # round trip F^{-1}(F(z)) on the test points, at S and S/2 steps (RK4 order)
        inv = {}
        for st in (steps, max(1, steps // 2)):
            zf, _ = flow(z_test, steps=st)
            back, _ = flow.inverse(zf, steps=st)
            err = to_numpy((back - z_test).norm(dim=1))
            err_px = LEVELS * np.linalg.norm(law.unscale(to_numpy(back)) - x_test, axis=1)
            inv[st] = (float(np.sqrt((err**2).mean())), float(err.max()),
                       float(np.sqrt((err_px**2).mean())))
        scale = float(z_test.pow(2).sum(1).mean().sqrt())
        # two routes to log q̂ at generated points, at S and at check_steps
        routes = {}
        for st in (steps, cfg.check_steps):
            gen = torch.Generator().manual_seed(cfg.seed + 13)
            zg, lq_bwd, _ = flow.sample(cfg.n_routes, generator=gen, steps=st)
            lq_fwd = flow.log_prob(zg, steps=st)
            routes[st] = float((lq_fwd - lq_bwd).abs().max())
        gen = torch.Generator().manual_seed(cfg.seed + 17)
        zs, _, _ = flow.sample(cfg.n_show, generator=gen, steps=steps)
    # step convergence of the test NLL (whitened units: the offset log_det_w cancels)
    refinement = nll_refinement(flow, z_test, steps=steps).as_dict()
    g_samples = rng.multivariate_normal(mu, cov, cfg.n_show)
    test_sum, train_sum = _summaries(nll_test), _summaries(nll_train)
    gap = g_test - nll_test[-1]
    return {
        "n_train_images": int(x_train.shape[0]), "n_test_images": int(x_test.shape[0]),
        "whiten": cfg.whiten, "log_det_w": log_det_w, "gammas": list(flow.gammas),
        "diagnostics": [d.as_dict() for d in tr.diagnostics], "train_times": tr.train_times,
        "nll_test": test_sum, "nll_train": train_sum,
        "bpd_test": bits_per_dim(test_sum["mean"]).tolist(),
        "bpd_train": bits_per_dim(train_sum["mean"]).tolist(),
        "nll_k0_test": nll_test[0].tolist(),
        "gauss_nll_test": _mean_se(g_test), "gauss_nll_train": _mean_se(g_train),
        "gauss_bpd_test": float(bits_per_dim(g_test.mean())),
        "gauss_minus_flow": _mean_se(gap),
        "best_block": int(np.argmin(test_sum["mean"])),
        "log2_levels": LOG2_LEVELS,
        "inv_rms": inv[steps][0], "inv_max": inv[steps][1], "inv_rms_pixels": inv[steps][2],
        "inv_rms_half": inv[max(1, steps // 2)][0], "inv_max_half": inv[max(1, steps // 2)][1],
        "data_rms": scale, "eval_steps": steps, "check_steps": cfg.check_steps,
        "refinement": refinement, "block_steps": [int(b.steps) for b in flow.blocks],
        "routes_max": routes[steps], "routes_max_fine": routes[cfg.check_steps],
        "n_routes": cfg.n_routes,
        # images for the figure only: clipped to [0, 1], 4 decimals
        "generated": np.round(np.clip(law.unscale(to_numpy(zs)), 0.0, 1.0), 4),
        "test_images": np.round(np.clip(x_test[:cfg.n_show], 0.0, 1.0), 4),
        "gaussian_samples": np.round(np.clip(g_samples, 0.0, 1.0), 4),
    }


def reduce(config: Config, results: dict) -> dict:
    """The ``digits`` case's results."""
    return results["digits"]


def run(config: Config) -> dict:
    return run_cases(config, cases, run_case, reduce)


def _mosaic(imgs: NDArray, cols: int = 6) -> NDArray:
    """Tile (n, 64) images into one array of 8×8 tiles with 1-pixel gaps."""
    n = imgs.shape[0]
    rows = -(-n // cols)
    out = np.full((rows * 9 + 1, cols * 9 + 1), np.nan)
    for i in range(n):
        r, c = divmod(i, cols)
        out[1 + 9 * r:9 + 9 * r, 1 + 9 * c:9 + 9 * c] = imgs[i].reshape(8, 8)
    return out


def plot(results: dict, path) -> None:
    fig, axes = new_figure(2, 3, height=3.6)
    for ax, key, title in ((axes[0, 0], "generated", "generated by the flow, μ + F⁻¹(z)W⁻¹"),
                           (axes[0, 1], "test_images", "held-out test digits (dequantised)"),
                           (axes[0, 2], "gaussian_samples", "ML Gaussian baseline samples")):
        ax.imshow(_mosaic(np.asarray(results[key])), cmap="gray_r", vmin=0, vmax=1)
        ax.set_title(title)
        ax.axis("off")  # an image panel: no axes, no labels
    te, trn = results["nll_test"], results["nll_train"]
    nb = len(te["mean"]) - 1
    k = np.arange(nb + 1)
    ax = axes[1, 0]
    bpd, bse = np.asarray(results["bpd_test"]), bits_per_dim(np.asarray(te["se"]))
    gm, gse = results["gauss_nll_test"]
    gb = float(bits_per_dim(gm))
    ax.axhspan(gb - 2 * bits_per_dim(gse), gb + 2 * bits_per_dim(gse), color="C3", alpha=0.15)
    ax.axhline(gb, color="C3", ls="--", label="ML Gaussian, test (±2 SE band)")
    ax.errorbar(k, bpd, yerr=2 * bse, fmt="o-", color="C0", label="flow, test (±2 SE, unpaired)")
    gap, gap_se = results["gauss_minus_flow"]
    ax.set(xlabel="block k (k = 0: N(0, I) in z-space)",
           ylabel="held-out NLL (bits/dim in [0,1)⁶⁴)",
           title=f"held-out NLL: {fmt(bpd[-1])} bits/dim after {nb} blocks\n"
                 f"({fmt(bpd[-1] + results['log2_levels'])} on the pixel scale, "
                 f"+log₂{LEVELS})")
    legend_outside(ax, where="below", ncol=1,
                   title=f"Gaussian − flow: {fmt(gap)} ± {fmt(gap_se, 2)} nats/image (paired)",
                   title_fontsize=7.5)
    ax = axes[1, 1]
    ax.plot(k, te["mean"], "o-", color="C0", label=f"flow, test ({results['n_test_images']} "
            "images)")
    ax.plot(k, trn["mean"], "s-", color="C1", label=f"flow, train ({results['n_train_images']} "
            "images)")
    ax.axhline(gm, color="C3", ls="--", label="ML Gaussian, test")
    ax.axhline(results["gauss_nll_train"][0], color="C3", ls=":", label="ML Gaussian, train")
    ax.set(xlabel="block k", ylabel="NLL (nats/image in [0,1)⁶⁴)",
           title="train vs test NLL\n(the gap is overfitting)")
    legend_outside(ax, where="below", ncol=2)
    ax = axes[1, 2]
    diag = results["diagnostics"]
    kb = np.arange(1, nb + 1)
    ax.semilogy(kb, np.sqrt([d["movement"] for d in diag]), "^-", color="C2",
                label="RMS displacement of block k,\n√E|T_k(z) − z|²")
    ax.semilogy(kb, [d["inv_err"] for d in diag], "o-", color="C4",
                label="inversion error of block k,\nRMS |S_k(T_k z) − z|")
    ax.axhline(results["inv_rms"], color="gray", ls=":",
               label="inversion error of the whole flow")
    ax.set(xlabel="block k", ylabel="RMS distance (whitened z units)",
           title=f"transport and inversion per block\n(data scale RMS|z| = "
                 f"{fmt(results['data_rms'])})")
    legend_outside(ax, where="below", ncol=1,
                   title=f"log q̂ by its two routes: max gap {fmt(results['routes_max'], 2)} nats",
                   title_fontsize=7.5)
    for ax in axes[1]:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    save(fig, path)


#: Standard errors (over test images, paired) by which a claimed NLL improvement must exceed 0.
N_SE = 3.0
#: Blocks whose held-out NLL must each improve on the previous one by N_SE paired SEs: the first
#: ``min(EARLY_BLOCKS, N)`` (later blocks may overfit the 1500 training images; reported only).
EARLY_BLOCKS = 3
#: Round-off floor of the two routes to log q̂ in float64: log-dets of ~100 nats summed over
#: blocks, ~1e-13 relative; 1e-8 nats.
ROUTES_ATOL = 1e-8
#: Allowed excess over RK4's fourth-order decay of the route gap from S_e to S = check_steps
#: (pre-asymptotic constants), as in neural_gaussian.
ORDER_SAFETY = 4.0
#: Inversion error relative to the data scale, RMS|F⁻¹(F(z)) − z| / RMS|z| (whitened z: ≈ 8):
#: the forward and backward RK4 errors cancel at leading order (docs/numerics.md §6.4: 1.1e-9 for
#: a 2-D block at S = 6); measured on the digits flow 3.9e-7 (full) and 6e-8 (quick) at S = 6
#: (docs/numerics.md §6.9). 1e-4 is > 100x that (an Euler inverse gives 8e-3).
INV_REL_TOL = 1e-4
#: The round trip must also shrink from S/2 to S steps by at least 2⁴/ORDER_SAFETY (RK4's fourth
#: order; measured ≈ 2⁵ = 32 on both profiles: the round trip cancels the leading term), unless
#: it is at the float64 floor INV_FLOOR_REL (relative). An Euler or mis-weighted inverse decays
#: at first order (ratio ≈ 2).
INV_FLOOR_REL = 1e-12


def _z(diff: float, se: float) -> float:
    """diff/se, with 0/0 = 0 and ±diff/0 = ±inf (an untrained flow has identical NLLs)."""
    if se > 0:
        return diff / se
    return 0.0 if diff == 0 else math.copysign(math.inf, diff)


def checks(results: dict) -> list[Check]:
    te = results["nll_test"]
    nb = len(te["mean"]) - 1
    grid = (f"8×8 digits, d=64, {results['n_train_images']}/{results['n_test_images']} "
            f"train/test images, {nb} blocks γ={results['gammas'][0]:g}")
    gm, gse = results["gauss_nll_test"]
    gap, gap_se = results["gauss_minus_flow"]
    z_gap = _z(gap, gap_se)
    bpd = results["bpd_test"]
    out = [Check(
        "C9", "exact held-out density of the trained flow beats the best Gaussian: "
        "NLL(q̂_N) < NLL(ML Gaussian) by more than 3 paired SE over test images",
        grid, float(z_gap), N_SE, bool(z_gap > N_SE), "gauss_minus_flow", "info",
        f"measured = (NLL_Gauss − NLL_flow)/SE = {gap:.2f}/{gap_se:.2f} nats; flow "
        f"{te['mean'][-1]:.2f}±{te['se'][-1]:.2f} nats = {bpd[-1]:.4f} bits/dim in [0,1)^64 "
        f"({bpd[-1] + results['log2_levels']:.3f} at pixel scale), Gaussian {gm:.2f}±{gse:.2f} "
        f"= {results['gauss_bpd_test']:.4f}; best block {results['best_block']} "
        f"({bpd[results['best_block']]:.4f}); train NLL {results['nll_train']['mean'][-1]:.2f}; "
        "row FAILs if the margin is ≤ 3 SE")]
    kk = min(EARLY_BLOCKS, nb)
    dz = [_z(te["mean"][k] - te["mean"][k + 1], te["diff_se"][k]) for k in range(kk)]
    out.append(Check(
        "C9", f"held-out NLL decreases over the first {kk} blocks: NLL_k < NLL_(k−1) by more "
        "than 3 paired SE each",
        grid, float(min(dz)), N_SE, bool(min(dz) > N_SE), "nll_test.mean", "info",
        "measured = min_k (NLL_(k−1) − NLL_k)/SE; z per block "
        + ", ".join(f"{z:.1f}" for z in dz) + "; test NLL per block "
        + ", ".join(f"{v:.2f}" for v in te["mean"]) + " nats (k = 0: N(0,I) on the scaled "
        "data); row FAILs if any early block does not improve"))
    s_e, s_f = results["eval_steps"], results["check_steps"]
    coarse, fine = results["routes_max"], results["routes_max_fine"]
    thr = max(ROUTES_ATOL, ORDER_SAFETY * coarse * (s_e / s_f) ** 4)
    out.append(Check(
        "C9", "log q̂(x) two routes at generated points x = F⁻¹(z): forward log_prob = density "
        "from backward sample, converging at RK4's fourth order",
        f"{grid}, {results['n_routes']} generated points, S = {s_e} and {s_f}", fine / thr, 1.0,
        bool(fine <= thr), "routes_max_fine", "ratio",
        f"gap(S={s_f}) / max({ROUTES_ATOL:g}, {ORDER_SAFETY:g}·gap(S={s_e})·({s_e}/{s_f})⁴); "
        f"max |difference| {coarse:.2e} nats at S={s_e}, {fine:.2e} at S={s_f} (a sign error in "
        "either log-det, or a wrong RK4 weight, does not decay)"))
    rel = results["inv_rms"] / results["data_rms"]
    decay = results["inv_rms_half"] / max(results["inv_rms"], 1e-300)
    order_ok = decay >= 2**4 / ORDER_SAFETY or rel <= INV_FLOOR_REL
    out.append(Check(
        "C11", "inversion error of the whole flow on test points: RMS|F⁻¹(F(z)) − z| / RMS|z| "
        f"≤ {INV_REL_TOL:g} (network's own backward RK4), shrinking at RK4's order from S/2 to S",
        f"{grid}, S = {s_e} RK4 steps", float(rel), INV_REL_TOL,
        bool(rel <= INV_REL_TOL and order_ok), "inv_rms", "equality",
        f"RMS {results['inv_rms']:.2e}, max {results['inv_max']:.2e} z units (RMS|z| = "
        f"{results['data_rms']:.2f}), RMS {results['inv_rms_pixels']:.2e} pixel levels in x; at "
        f"S={max(1, s_e // 2)}: RMS {results['inv_rms_half']:.2e}, max "
        f"{results['inv_max_half']:.2e}; decay ratio {decay:.1f} (must be ≥ "
        f"{2**4 / ORDER_SAFETY:g} = 2⁴/{ORDER_SAFETY:g} unless at the floor {INV_FLOOR_REL:g})"))
    out.append(refinement_row(f"{grid}, test images", results["refinement"],
                              "refinement.error"))
    return out
