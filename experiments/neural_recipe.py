r"""One recipe beyond 2-D: Gaussians in d = 2, 10, 30 and the 8×8 digits (d = 64).

Claim C9 on the real model (docs/numerics.md §6.10–§6.11): the recommended training,
:func:`recipe` (JKO-iFlow's schedule, 8 blocks, γ_n = 0.25·1.4^{n-1}, and the library's
defaults for everything else: step control in training, per-block acceptance on held-out data),
is run unchanged on every data set; :mod:`experiments.neural_toy2d` runs the same recipe on the
2-D sets. Per data set: the held-out NLL of the n-block model on fresh test points at S, 2S and
4S RK4 steps per block (:func:`~theory.flow.nll_refinement`), the blocks the training accepted,
and the wall time.

- Gaussians: the data sets of :mod:`experiments.neural_gaussian` (``corr``: N(0, [[7,5],[5,7]]);
  ``gauss10``, ``gauss30``: |m| = 3, spectrum geometric in [0.3, 6], a seeded rotation). Their
  entropy is closed form, :math:`H = \tfrac d2\log(2\pi e) + \tfrac12\log\det\Sigma`, and the
  same-sample KL̂ = mean[log p − log q̂] uses the exact log p.
- Digits: the dequantised, whitened digits of :mod:`experiments.neural_digits` (its split, its
  ML-Gaussian whitening); 300 of the 1500 training images are held out as *validation images*
  for the acceptance test (``train_flow(held_out=...)``), so that a block that memorises the
  training images is rejected; the NLL is reported in nats per image in [0, 1)^64 on the 297
  test images, beside the ML Gaussian's. Its entropy is unknown (no KL).

Cases: one per data set (the training run and its evaluation).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace

import numpy as np
import torch
from matplotlib.ticker import MaxNLocator

from experiments._api import Check, checkpoint_path
from experiments._cases import Case, run_cases
from experiments._density_rows import entropy_row, monotone_row, refinement_row
from experiments._plotting import BOUND_STYLE, legend_outside, new_figure, save
from experiments.neural_digits import (
    LEVELS,
    Digits,
    affine_scaling,
    dequantised_moments,
    gaussian_nll,
    load_pixels,
    split,
)
from experiments.neural_gaussian import dataset as gaussian_dataset
from theory.flow import FlowConfig, Gaussian, nll_refinement, to_numpy, train_flow

CLAIMS = ("C9",)
TITLE = ("One training recipe on Gaussians (d = 2, 10, 30) and 8×8 digits: step-converged "
         "held-out NLL, accepted blocks")
#: Every training run and evaluation sample is seeded from ``config.seed``.
STOCHASTIC = True

#: Figure names of the data sets.
PLAIN = {"corr": "Gaussian N(0, [[7,5],[5,7]]), d = 2", "gauss10": "rotated Gaussian, d = 10",
         "gauss30": "rotated Gaussian, d = 30", "digits": "8×8 digits, d = 64"}


def recipe(d: int) -> FlowConfig:
    """The one recipe: ``FlowConfig(d=d, n_blocks=8, schedule="geometric", gamma=0.25,
    ratio=1.4)``, every other field the library's default (the same as
    :data:`experiments.neural_toy2d.FLOW` in d = 2).
    """
    return FlowConfig(d=d, n_blocks=8, schedule="geometric", gamma=0.25, ratio=1.4)


@dataclass(frozen=True)
class Config:
    """Run sizes; ``flow`` holds the recipe's non-dimension fields (d is set per data set).

    ``n_test``: fresh test points per Gaussian; ``n_eval``: held-out points of the training
    law for the diagnostics and the acceptance test (Gaussians); ``n_val_images``: validation
    images of the digits (held out of the 1500 training images).
    """

    flow: FlowConfig = field(default_factory=lambda: recipe(2))
    datasets: tuple[str, ...] = ("corr", "gauss10", "gauss30", "digits")
    n_eval: int = 4000
    n_test: int = 8000
    n_train_images: int = 1500
    n_val_images: int = 300
    seed: int = 0
    device: str = "cpu"

    def __post_init__(self) -> None:
        object.__setattr__(self, "flow", replace(self.flow, seed=self.seed, device=self.device))
        known = (*PLAIN,)
        bad = [n for n in self.datasets if n not in known]
        if bad or not self.datasets:
            raise ValueError(f"datasets must be a non-empty tuple of {known}, got "
                             f"{self.datasets!r}")
        if not 2 <= self.n_val_images <= self.n_train_images - 2:
            raise ValueError(f"n_val_images must be in [2, n_train_images - 2], got "
                             f"{self.n_val_images}")

    @classmethod
    def quick(cls) -> Config:
        return cls(flow=replace(recipe(2), n_blocks=3, iters=40, batch=128, n_train=3000),
                   datasets=("gauss10", "digits"), n_eval=500, n_test=1000)

    @classmethod
    def full(cls) -> Config:
        return cls()


def _gaussian(name: str, cfg: Config, fc: FlowConfig) -> dict:
    m, c = gaussian_dataset(name)
    law = Gaussian(m, c)
    t0 = time.perf_counter()
    tr = train_flow(fc, law, n_eval=cfg.n_eval, n_residual=10, checkpoint=checkpoint_path(name))
    wall = time.perf_counter() - t0
    x = law.sample(cfg.n_test, np.random.default_rng(cfg.seed + 7))
    log_p = to_numpy(law.log_prob(torch.as_tensor(x)))
    d = m.shape[0]
    h = 0.5 * d * math.log(2 * math.pi * math.e) + 0.5 * float(np.linalg.slogdet(c)[1])
    return {"d": d, "refinement": nll_refinement(tr.flow, x, log_p=log_p).as_dict(),
            "entropy": h, "entropy_se": 0.0, "entropy_kind": "closed form",
            "acceptance": tr.acceptance, "accepted_blocks": tr.accepted_blocks,
            "train_s": float(sum(tr.train_times)), "wall_s": wall,
            "block_steps": [int(b.steps) for b in tr.flow.blocks]}


def _digits(cfg: Config, fc: FlowConfig) -> dict:
    train_px, test_px = split(load_pixels(), cfg.n_train_images, cfg.seed)
    fit_px, val_px = train_px[cfg.n_val_images:], train_px[:cfg.n_val_images]
    mu, cov = dequantised_moments(fit_px)
    w, log_det_w = affine_scaling(cov, True)
    law = Digits(fit_px, mu, w)
    rng = np.random.default_rng(cfg.seed + 11)
    x_val = (val_px + rng.random(val_px.shape)) / LEVELS
    x_test = (test_px + rng.random(test_px.shape)) / LEVELS
    t0 = time.perf_counter()
    tr = train_flow(fc, law, held_out=law.scale(x_val), n_residual=1,
                    checkpoint=checkpoint_path("digits"))
    wall = time.perf_counter() - t0
    ref = nll_refinement(tr.flow, law.scale(x_test)).as_dict()
    # nats per image in [0, 1)^64: NLL_x = NLL_z − log|det W| (the SEs are unchanged)
    ref["nll"] = (np.asarray(ref["nll"]) - log_det_w).tolist()
    ref["nll0"] -= log_det_w
    if ref["richardson"]:
        ref["richardson"] = [None if r is None else r - log_det_w for r in ref["richardson"]]
    g = gaussian_nll(x_test, mu, cov)
    return {"d": int(mu.shape[0]), "refinement": ref, "log_det_w": log_det_w,
            "gaussian_nll": float(g.mean()), "gaussian_nll_se": float(g.std(ddof=1)
                                                                     / math.sqrt(g.size)),
            "n_fit_images": int(fit_px.shape[0]), "n_val_images": int(val_px.shape[0]),
            "n_test_images": int(test_px.shape[0]),
            "acceptance": tr.acceptance, "accepted_blocks": tr.accepted_blocks,
            "train_s": float(sum(tr.train_times)), "wall_s": wall,
            "block_steps": [int(b.steps) for b in tr.flow.blocks]}


def _cost(name: str, cfg: Config) -> float:
    return cfg.flow.n_blocks * cfg.flow.iters * cfg.flow.batch * (2.0 if name == "digits" else 1.0)


def cases(config: Config) -> list[Case]:
    """One case per data set."""
    return [Case(n, {"dataset": n}, _cost(n, config)) for n in config.datasets]


def run_case(config: Config, case: Case) -> dict:
    name = case.params["dataset"]
    if name == "digits":
        return _digits(config, replace(config.flow, d=64))
    return _gaussian(name, config, replace(config.flow, d=gaussian_dataset(name)[0].shape[0]))


def reduce(config: Config, results: dict) -> dict:
    return {"datasets": {n: results[n] for n in config.datasets}}


def run(config: Config) -> dict:
    return run_cases(config, cases, run_case, reduce)


def plot(results: dict, path) -> None:
    ds = results["datasets"]
    fig, axes = new_figure(len(ds), 2, height=3.2 * len(ds))
    axes = np.atleast_2d(axes)
    for row, (name, r) in zip(axes, ds.items(), strict=True):
        ref = r["refinement"]
        nll = np.asarray(ref["nll"])
        se = np.asarray(ref["nll_se"])
        n = np.arange(1, nll.shape[1] + 1)
        k = ref["factors"][-1] // ref["factors"][0]
        ax = row[0]
        ax.errorbar(n, nll[0], yerr=2 * se[0], fmt="o-", label="at S (reporting count)")
        ax.errorbar(n, nll[-1], yerr=2 * se[-1], fmt="s--", color="C3", label=f"at {k}S")
        if "entropy" in r:
            ax.axhline(r["entropy"], **BOUND_STYLE, label="entropy H(p) (closed form)")
        else:
            ax.axhline(r["gaussian_nll"], color="gray", ls=":", label="ML Gaussian (test)")
        ids = [a["block"] for a in r["acceptance"] if a.get("identity")]
        if ids:
            ax.plot(ids, nll[-1][np.array(ids) - 1], "kx", ms=9, label="identity (rejected)")
        unit = "nats per image in [0,1)^64" if name == "digits" else "nats"
        ax.set(xlabel="block n", ylabel=f"held-out NLL ({unit})",
               title=f"{PLAIN[name]}: test NLL per block (±2 SE)\naccepted blocks "
                     f"{r['accepted_blocks']}, trained in {r['train_s']:.0f} s")
        legend_outside(ax, where="right", ncol=1)
        ax = row[1]
        ax.semilogy(n, np.maximum(ref["error"], 1e-12), "o-", color="C4",
                    label=f"|NLL_n(S) − NLL_n({k}S)|")
        ax.semilogy(n, ref["tolerance"], **BOUND_STYLE, label="tolerance max(0.02, SE)")
        ax.set(xlabel="block n", ylabel="refinement error (nats)",
               title=f"step convergence, S = {sorted(set(ref['base_steps']))}")
        legend_outside(ax, where="right", ncol=1)
        for a in row:
            a.xaxis.set_major_locator(MaxNLocator(integer=True))
    save(fig, path)


def checks(results: dict) -> list[Check]:
    out = []
    for name, r in results["datasets"].items():
        nb = len(r["refinement"]["base_steps"])
        where = f"{PLAIN[name]}, {nb} blocks, the one recipe, fresh test points"
        out.append(refinement_row(where, r["refinement"], f"datasets.{name}.refinement.error"))
        if "entropy" in r:
            out.append(entropy_row(where, r["refinement"], f"datasets.{name}.refinement.kl"))
        out.append(monotone_row(where, r["refinement"], r["acceptance"],
                                f"datasets.{name}.refinement.nll"))
        if name == "digits":
            nll, se = r["refinement"]["nll"][-1][-1], r["refinement"]["nll_se"][-1][-1]
            g = r["gaussian_nll"]
            out.append(Check(
                "C9", "measured: held-out NLL of the recipe's flow on the digits against the ML "
                "Gaussian (the 0-block model)", where, nll - g, 0.0, True,
                f"datasets.{name}.refinement.nll", "info",
                f"test NLL {nll:.2f} ± {se:.2f} nats per image (4S) vs ML Gaussian {g:.2f}; "
                f"{r['n_fit_images']} training, {r['n_val_images']} validation (acceptance), "
                f"{r['n_test_images']} test images; no exact entropy, so no KL"))
    return out
