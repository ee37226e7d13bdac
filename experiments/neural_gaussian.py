"""The paper's model on Gaussian data: a trained JKO flow against the closed-form JKO trajectory.

Claims C12, C8, C9 on the real (neural) model (docs/theory.md §1, §5.2-§5.3;
docs/numerics.md §6.7).

Data sets (:func:`dataset`): in 2-D, ρ_0 = N((3,3), I) (``shift``, the authors' Assumption-1
run) and ρ_0 = N(0, [[7,5],[5,7]]) (``corr``, JKO-iFlow's Gaussian config); in d = 10 and
d = 30 (``gauss10``, ``gauss30``), ρ_0 = N(m, Σ) with |m| = 3 in a seeded random direction and
Σ = U diag(λ) Uᵀ, λ geometric in [0.3, 6], U a seeded Haar rotation (fixed by the data set's
name, so the law is a deterministic function of the config). For each, a flow of N blocks with
constant γ is trained block by block (float32; every reported number float64; per-block
checkpoints through the runner, :func:`experiments._api.checkpoint_path`). Per block n: mean
and covariance of the pushed held-out points against the exact JKO trajectory
(theory.gaussian.jko_step iterated) — entry-wise z-scores in 2-D, relative errors
|m̂_n − m*_n|/√tr Σ*_n and ‖Σ̂_n − Σ*_n‖_F/‖Σ*_n‖_F against their Monte Carlo floor in every d —
and W2 (not squared) of the Gaussian fit to the exact iterate beside the W2 of the fit of n_eval
exact samples (its null floor); KL(ρ_n‖q) by the exact change of variables (naive and k3
estimators) against the closed form, and KL(ρ_n‖ρ*_n) from the trained to the exact iterate
(log ρ_n by the change of variables, no fitted quantity; ≥ 0, tested in d > 2); the loss
terms against their exact optimum (C12: 7 = 5 + 2 + 0 for block 1 of the shifted run); the
residual ε_n through the network's inverse (exact score
by the Jacobian chain, the block's own inverse as map; the authors' KDE + OT estimator only in
2-D, where a kernel score means something) and the bound of docs/theory.md T2+T1 with
ε = max_k ε_k (C8 per block). Final KL(P‖q̂) two ways (C9): forward (data through F, k3) and
backward (generated points with their backward density). Density cross-checks (C9,
docs/numerics.md §6.8): the integrated log-det against slogdet of the discrete block map,
``JKOFlow.log_prob`` against the density of ``JKOFlow.sample`` at generated points, and the mass
of q̂ by importance sampling. The quick profile uses the correlated 2-D data set, whose blocks
change volume, and the 10-D set, with two blocks each. Full profile: about 10 minutes on one
core (130-160 s per data set; a block's training cost does not depend on d).

Cases: one per data set (key = its name: the training run and every evaluation of that flow);
the reduction collects them under ``datasets`` in the order of ``config.datasets``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

import numpy as np
import torch
from matplotlib.ticker import MaxNLocator
from scipy.special import digamma

from experiments._api import Check, checkpoint_path, ratio_check
from experiments._cases import Case, run_cases
from experiments._density_rows import entropy_row, refinement_row
from experiments._plotting import BOUND_STYLE, fmt, legend_outside, new_figure, save
from theory import bounds, gaussian
from theory.flow import (
    FlowConfig,
    Gaussian,
    block_loss_on_points,
    discrete_logdet,
    flow_kl,
    gaussian_fit,
    importance_mass,
    jko_trajectory,
    kl_from_q_samples,
    kl_k3,
    nll_refinement,
    std_normal_log_prob,
    to_numpy,
    train_flow,
)
from theory.spd import symmetrize

CLAIMS = ("C8", "C9", "C12")
TITLE = ("Neural JKO flow on Gaussian data (d = 2, 10, 30) vs the closed-form JKO trajectory "
         "(C8, C9, C12)")
#: Every training run and evaluation sample is seeded from ``config.seed``.
STOCHASTIC = True

#: The 2-D data sets: name -> (mean, covariance).
DATASETS = {"shift": ([3.0, 3.0], [[1.0, 0.0], [0.0, 1.0]]),
            "corr": ([0.0, 0.0], [[7.0, 5.0], [5.0, 7.0]])}
#: The high-dimensional data sets: name -> (d, |m|, (λ_min, λ_max), seed of m and the rotation).
HIGH_D = {"gauss10": (10, 3.0, (0.3, 6.0), 10), "gauss30": (30, 3.0, (0.3, 6.0), 30)}
#: Figure names of the datasets.
PLAIN = {"shift": "shifted Gaussian N((3,3), I)",
         "corr": "correlated Gaussian N(0, [[7,5],[5,7]])",
         **{k: f"rotated Gaussian, d = {v[0]}" for k, v in HIGH_D.items()}}
#: One colour per data set in the summary panels.
COLOURS = {"shift": "C0", "corr": "C1", "gauss10": "C2", "gauss30": "C3"}
#: Figure names of the loss terms.
TERMS = {"v_term": "potential term V", "w_term": "transport term W", "div_term": "log-det term",
         "loss": "total loss"}


def dataset(name: str) -> tuple[np.ndarray, np.ndarray]:
    """``(m, Σ)`` of data set ``name``: (d,) mean and (d, d) covariance, float64.

    For a :data:`HIGH_D` set (d, r, (a, b), s): ``rng = default_rng(s)``; m = r·g/|g| with
    g = ``rng.standard_normal(d)``, then Σ = symmetrize(U diag(λ) Uᵀ) with λ_i = a(b/a)^{i/(d-1)}
    (geometric, i = 0..d-1) and U Haar-random from the same ``rng``
    (:func:`theory.gaussian.spd_with_eigs`).

    Raises:
        ValueError: naming ``name`` if it is not a data set.
    """
    if name in DATASETS:
        m, c = DATASETS[name]
        return np.array(m, dtype=np.float64), np.array(c, dtype=np.float64)
    if name not in HIGH_D:
        raise ValueError(f"name must be one of {sorted(DATASETS) + sorted(HIGH_D)}, got {name!r}")
    d, r, (lo, hi), seed = HIGH_D[name]
    rng = np.random.default_rng(seed)
    g = rng.standard_normal(d)
    cov = symmetrize(gaussian.spd_with_eigs(rng, np.geomspace(lo, hi, d)))
    return r * g / np.linalg.norm(g), cov


#: Five blocks of constant γ = 0.5, 800 iterations of batch 400 each.
FLOW = FlowConfig(n_blocks=5, gamma=0.5, iters=800, batch=400, n_train=20000, eval_steps=6)


@dataclass(frozen=True)
class Config:
    """Run sizes (see quick/full); ``flow.seed`` and ``flow.device`` follow ``seed``/``device``.

    ``flow.d`` is set per data set (:func:`dataset`); the rest of ``flow`` is shared.
    """

    flow: FlowConfig = field(default_factory=lambda: FLOW)
    datasets: tuple[str, ...] = ("shift", "corr", "gauss10", "gauss30")
    n_eval: int = 8000
    n_residual: int = 2000
    n_kl: int = 20000
    seed: int = 0
    device: str = "cpu"

    def __post_init__(self) -> None:
        object.__setattr__(self, "flow", replace(self.flow, seed=self.seed, device=self.device))
        known = (*DATASETS, *HIGH_D)
        bad = [n for n in self.datasets if n not in known]
        if bad or not self.datasets:
            raise ValueError(f"datasets must be a non-empty tuple of {known}, got "
                             f"{self.datasets!r}")

    n_check: int = 200
    check_steps: int = 24
    n_null: int = 8

    @classmethod
    def quick(cls) -> Config:
        # the correlated data set: its blocks change volume (log-det ≈ -0.5 per block), so the
        # density rows (log_prob vs sample, normalisation) can see a sign error in a log-det;
        # the 10-D set exercises d > 2 (no KDE estimator, relative moment rows)
        return cls(flow=replace(FLOW, n_blocks=2, iters=120, batch=256, n_train=4000),
                   datasets=("corr", "gauss10"), n_eval=2000, n_residual=500, n_kl=4000)

    @classmethod
    def full(cls) -> Config:
        return cls()


def _moments(x: np.ndarray, mean: np.ndarray, cov: np.ndarray) -> tuple[float, float, float]:
    """Errors of the Gaussian fit of points x (n, d) against N(mean, cov).

    Returns ``(|m̂ − m|/√tr Σ, ‖Σ̂ − Σ‖_F/‖Σ‖_F, W2(N(m̂, Σ̂), N(m, Σ)))`` (dimensionless,
    dimensionless, length: W2 not squared).
    """
    m, c = gaussian_fit(x)
    return (float(np.linalg.norm(m - mean) / np.sqrt(np.trace(cov))),
            float(np.linalg.norm(c - cov) / np.linalg.norm(cov)), gaussian.w2(m, c, mean, cov))


def _moment_floor(mean: np.ndarray, cov: np.ndarray, n: int, reps: int,
                  rng: np.random.Generator) -> dict:
    r"""Monte Carlo floor of :func:`_moments` and of KL(N(m̂, Σ̂)‖N(m, Σ)) for n exact samples.

    Closed forms (RMS over samples): |m̂ − m|/√tr Σ has RMS 1/√n; ‖Σ̂ − Σ‖_F/‖Σ‖_F has RMS
    √((‖Σ‖_F² + (tr Σ)²)/n)/‖Σ‖_F (Var Σ̂_ij = (Σ_ij² + Σ_iiΣ_jj)/n). The mean of
    KL(N(m̂, Σ̂)‖N(m, Σ)) (nats) is exact and depends on d and n only: with
    (n−1)Σ̂ ~ Wishart(Σ, n−1) (``np.cov``, ddof 1), E tr(Σ⁻¹Σ̂) = d,
    E (m̂−m)ᵀΣ⁻¹(m̂−m) = d/n and E log det(Σ⁻¹Σ̂) = Σ_{i=1}^d ψ((n−i)/2) + d log(2/(n−1)), so it
    is d/(2n) − ½[Σ_i ψ((n−i)/2) + d log(2/(n−1))] ≈ d(d+3)/(4n). The W2 (not squared) of
    the fit has no simple exact form: mean and sd over ``reps`` fits of n exact samples.
    """
    d = mean.shape[0]
    fro, tr = float(np.linalg.norm(cov)), float(np.trace(cov))
    e_logdet = float(np.sum(digamma((n - np.arange(1, d + 1)) / 2.0)) + d * np.log(2 / (n - 1)))
    w2 = [gaussian.w2(*gaussian_fit(rng.multivariate_normal(mean, cov, size=n)), mean, cov)
          for _ in range(reps)]
    return {"rel_mean_rms": float(1.0 / np.sqrt(n)),
            "rel_cov_rms": float(np.sqrt((fro**2 + tr**2) / n) / fro),
            "w2_mean": float(np.mean(w2)), "w2_sd": float(np.std(w2, ddof=1)),
            "kl_fit_mean": d / (2 * n) - 0.5 * e_logdet}


def _kl_to_exact(lp: np.ndarray, y: np.ndarray, m: np.ndarray, c: np.ndarray) -> dict:
    r"""KL(ρ_n‖ρ*_n) in nats from log ρ_n at samples y of ρ_n, with ρ*_n = N(m, c) exact.

    h = log ρ_n(y) − log ρ*_n(y); the plain mean of h (can be < 0 by sampling; a value below
    −3 SE means log ρ_n is wrong: KL ≥ 0) and the k3 estimator (each term ≥ 0, lower variance;
    :func:`theory.flow.kl_k3`), each with its standard error. The gap to the closed form splits
    exactly as KL(ρ_n‖q) − KL(ρ*_n‖q) = KL(ρ_n‖ρ*_n) + E_{ρ_n}[log ρ*_n − log q]
    − E_{ρ*_n}[log ρ*_n − log q] (the last two terms depend on the moments only).
    """
    diff = y - m
    log_ref = (-0.5 * np.einsum("ni,ij,nj->n", diff, np.linalg.inv(c), diff)
               - 0.5 * np.linalg.slogdet(2 * np.pi * c)[1])
    h = lp - log_ref
    k3, k3_se = kl_k3(lp, log_ref)
    return {"plain": float(h.mean()), "plain_se": float(h.std(ddof=1) / np.sqrt(h.size)),
            "k3": k3, "k3_se": k3_se}


def _one(name: str, cfg: Config) -> dict:
    mean, cov = dataset(name)
    d = mean.shape[0]
    fc = replace(cfg.flow, d=d)
    dev = fc.device
    data = Gaussian(mean, cov)
    # the authors' estimator needs a kernel density estimate: meaningful in 2-D only
    tr = train_flow(fc, data, n_eval=cfg.n_eval, n_residual=cfg.n_residual, authors=d == 2,
                    checkpoint=checkpoint_path(name))
    ref = jko_trajectory(mean, cov, fc.gamma_list())
    # per-block Gaussian fit of the pushed points (re-push the eval set; float64)
    flow = tr.flow.evaluation_copy()
    x0 = torch.as_tensor(data.sample(cfg.n_eval, np.random.default_rng(cfg.seed + 1)),
                         device=dev)
    fit_m, fit_c, w2_fit, rel_m, rel_c, floors, kl_fit, kl_ex = [], [], [], [], [], [], [], []
    rng_null = np.random.default_rng(cfg.seed + 6)
    x = x0
    lp = to_numpy(data.log_prob(x0))  # log ρ_n at the pushed points, by the change of variables
    for k, blk in enumerate(flow.blocks):
        x, ell = blk(x, steps=fc.eval_steps)
        lp = lp - to_numpy(ell)
        xn = to_numpy(x)
        m, c = gaussian_fit(xn)
        ms, cs = np.asarray(ref["means"][k + 1]), np.asarray(ref["covs"][k + 1])
        fit_m.append(m)
        fit_c.append(c)
        em, ec, w2 = _moments(xn, ms, cs)
        rel_m.append(em)
        rel_c.append(ec)
        w2_fit.append(w2)
        floors.append(_moment_floor(ms, cs, cfg.n_eval, cfg.n_null, rng_null))
        kl_fit.append(gaussian.kl(m, c, ms, cs))
        kl_ex.append(_kl_to_exact(lp, xn, ms, cs))
    # final generation error two ways (C9)
    xk = torch.as_tensor(data.sample(cfg.n_kl, np.random.default_rng(cfg.seed + 2)), device=dev)
    fwd = flow_kl(flow, data, xk, steps=fc.eval_steps)
    xg, lq, _ = flow.sample(cfg.n_kl, generator=torch.Generator().manual_seed(cfg.seed + 3),
                            steps=fc.eval_steps)
    bwd = kl_from_q_samples(to_numpy(data.log_prob(xg)), to_numpy(lq))
    dens = _density_checks(flow, data, x0, xg, lq, cfg)
    # block-1 loss terms of the exact JKO map on the same held-out points (common random
    # numbers: the MC noise of the comparison cancels to first order)
    t1 = gaussian.jko_map(mean, cov, gamma=fc.gamma_list()[0])
    xn = to_numpy(x0)
    crn = block_loss_on_points(xn, t1(xn), gamma=fc.gamma_list()[0],
                               div=-float(np.linalg.slogdet(t1.matrix)[1]))
    diag = [d.as_dict() for d in tr.diagnostics]
    # step convergence of the reported density (docs/numerics.md §6.10): eval_steps vs 4x
    refinement = nll_refinement(flow, x0, steps=fc.eval_steps,
                                log_p=to_numpy(data.log_prob(x0))).as_dict()
    eps = np.array([d.eps_exact for d in tr.diagnostics])
    w0 = gaussian.w2(mean, cov)
    n = np.arange(1, fc.n_blocks + 1)
    kl_bound = bounds.kl_after_n(n, fc.gamma, 1.0, w0, np.maximum.accumulate(eps))
    return {"d": d, "mean0": mean, "cov0": cov, "gammas": fc.gamma_list(), "diagnostics": diag,
            "refinement": refinement, "block_steps": [int(b.steps) for b in flow.blocks],
            "ref": ref, "fit_means": fit_m, "fit_covs": fit_c, "w2_fit_vs_exact": w2_fit,
            "rel_mean_err": rel_m, "rel_cov_err": rel_c,
            "rel_mean_err_mc": [f["rel_mean_rms"] for f in floors],
            "rel_cov_err_mc": [f["rel_cov_rms"] for f in floors],
            "w2_fit_null": [f["w2_mean"] for f in floors],
            "w2_fit_null_sd": [f["w2_sd"] for f in floors],
            "kl_to_exact": [k["k3"] for k in kl_ex], "kl_to_exact_se": [k["k3_se"] for k in kl_ex],
            "kl_to_exact_plain": [k["plain"] for k in kl_ex],
            "kl_to_exact_plain_se": [k["plain_se"] for k in kl_ex],
            "kl_fit_to_exact": kl_fit, "kl_fit_to_exact_null": [f["kl_fit_mean"] for f in floors],
            "kl_fwd": fwd[0], "kl_fwd_se": fwd[1], "kl_bwd": bwd[0], "kl_bwd_se": bwd[1],
            "kl_exact_final": ref["kl"][-1], "kl_bound": kl_bound, "w0": w0,
            "loss1_exact_same_points": crn, "n_eval": cfg.n_eval,
            "history": tr.history, **dens}


def _is_scale(d: int) -> float:
    """Scale s of the importance proposal N(m_0, s²Σ_0): s = 1 + 0.5·√(2/d) (1.5 in 2-D).

    For q̂ ≈ N(m_0, Σ_0) the importance weights have E_r[(q̂/r)²] = (s²/√(2s²−1))^d: 1.45 in
    2-D, 2.7 in 10-D, 3.6 in 30-D with this s (a fixed s = 1.5 would give 253 in 30-D).
    """
    return 1.0 + 0.5 * float(np.sqrt(2.0 / d))


def _density_checks(flow, data, x0: torch.Tensor, xg: torch.Tensor, lq_bwd: torch.Tensor,
                    cfg: Config) -> dict:
    """Cross-checks of the flow's densities (docs/numerics.md §6.8).

    (a) per block, the integrated log-det ℓ against slogdet of the autograd Jacobian of the
    discrete RK4 map (at ``check_steps``, where RK4 truncation is below round-off, and at
    ``eval_steps``); (b) ``log_prob`` (forward route) at the generated points against the density
    returned by ``sample`` (backward route); (c) the mass of q̂ by importance sampling from
    N(m_0, s²Σ_0), s = :func:`_is_scale`; (d) KL(P‖q̂) on the forward points with the log-det from
    slogdet (a log-det that shares no code with the divergence integral).
    """
    fc = cfg.flow
    dev = x0.device
    x = x0[:cfg.n_check]
    gap_fine, gap_eval, ell_abs = [], [], []
    for blk in flow.blocks:
        ell_f, sl_f = discrete_logdet(blk, x, steps=cfg.check_steps)
        ell_e, sl_e = discrete_logdet(blk, x, steps=fc.eval_steps)
        gap_fine.append(float(np.max(np.abs(ell_f - sl_f))))
        gap_eval.append(float(np.max(np.abs(ell_e - sl_e))))
        ell_abs.append(float(np.mean(np.abs(ell_e))))
        x, _ = blk(x, steps=fc.eval_steps, logdet=False)
    lp_fwd = flow.log_prob(xg, steps=fc.eval_steps)
    two_routes = float((lp_fwd - lq_bwd).abs().max())
    # the same two routes with check_steps RK4 steps: their gap is the discrete inversion error,
    # O(h⁴) (a sign error in either density is O(1) at every step count)
    xg_f, lq_f, _ = flow.sample(cfg.n_check, steps=cfg.check_steps,
                                generator=torch.Generator().manual_seed(cfg.seed + 5))
    two_routes_fine = float((flow.log_prob(xg_f, steps=cfg.check_steps) - lq_f).abs().max())
    rng = np.random.default_rng(cfg.seed + 4)
    mean = np.asarray(data.mean, dtype=np.float64)
    scale = _is_scale(mean.shape[0])
    cov = scale**2 * np.asarray(data.cov, dtype=np.float64)
    xr = rng.multivariate_normal(mean, cov, size=cfg.n_kl)
    diff = xr - mean
    log_r = (-0.5 * np.einsum("ni,ij,nj->n", diff, np.linalg.inv(cov), diff)
             - 0.5 * np.linalg.slogdet(2 * np.pi * cov)[1])
    mass, mass_se = importance_mass(to_numpy(flow.log_prob(xr, steps=fc.eval_steps)), log_r)
    # KL(P‖q̂) with the log-det of F from slogdet of the discrete block maps
    xs = torch.as_tensor(data.sample(cfg.n_check * 5, np.random.default_rng(cfg.seed + 2)),
                         device=dev)
    z, ell_rk = flow(xs, steps=fc.eval_steps)
    sl_sum = np.zeros(xs.shape[0])
    y = xs
    for blk in flow.blocks:
        sl_sum += discrete_logdet(blk, y, steps=fc.eval_steps)[1]
        y, _ = blk(y, steps=fc.eval_steps, logdet=False)
    lp = to_numpy(data.log_prob(xs))
    h_sl = lp - (to_numpy(std_normal_log_prob(z)) + sl_sum)
    h_rk = lp - to_numpy(std_normal_log_prob(z) + ell_rk)
    return {"logdet_vs_slogdet_fine": gap_fine, "logdet_vs_slogdet_eval": gap_eval,
            "logdet_mean_abs": ell_abs, "check_steps": cfg.check_steps,
            "eval_steps": fc.eval_steps, "n_check": cfg.n_check,
            "log_prob_vs_sample_max_fine": two_routes_fine,
            "log_prob_vs_sample_max": two_routes, "mass_is": mass, "mass_is_se": mass_se,
            "mass_is_scale": scale,
            "kl_naive_slogdet": float(h_sl.mean()), "kl_naive_rk4": float(h_rk.mean()),
            "kl_naive_slogdet_se": float(h_sl.std(ddof=1) / np.sqrt(h_sl.size))}


def cases(config: Config) -> list[Case]:
    """One case per data set (a training run and its evaluation); cost: Adam steps × batch."""
    fc = config.flow
    cost = sum(fc.iters_of(k) for k in range(fc.n_blocks)) * fc.batch
    return [Case(name, {"dataset": name}, cost) for name in config.datasets]


def run_case(config: Config, case: Case) -> dict:
    """Data set ``case.params["dataset"]``; ``wall_s`` is its wall time (s; the only timing)."""
    t0 = time.perf_counter()
    out = _one(case.params["dataset"], config)
    out["wall_s"] = time.perf_counter() - t0
    return out


def reduce(config: Config, results: dict) -> dict:
    """The data sets' results under ``datasets``, in the order of ``config.datasets``."""
    return {"datasets": {name: results[name] for name in config.datasets}}


def run(config: Config) -> dict:
    """Every data set of ``config``; ``wall_s`` is each one's wall time (s; the only timing)."""
    return run_cases(config, cases, run_case, reduce)


def plot(results: dict, path) -> None:
    ds = results["datasets"]
    fig, axes = new_figure(len(ds) + 1, 3, height=3.6)
    shown: list[set[str]] = [set(), set(), set()]  # legend entries already drawn, per column
    for row, (key, r) in enumerate(ds.items()):
        _plot_dataset(axes[row], key, r)
        for col, ax in enumerate(axes[row]):
            labels = set(ax.get_legend_handles_labels()[1])
            if not labels <= shown[col]:  # a legend only where it says something new
                _legend_below(ax)
                shown[col] |= labels
    _plot_summary(axes[-1], ds)
    for ax in axes.flat:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    save(fig, path)


def _legend_below(ax, **kw) -> None:
    """The axes' legend under the axes (outside the data), one column."""
    legend_outside(ax, where="below", ncol=1, **kw)


def _plot_dataset(axes, key: str, r: dict) -> None:
    """One row of panels for data set ``key``: KL per block, loss terms, residual ε_n."""
    name = PLAIN.get(key, key)
    diag = r["diagnostics"]
    n = np.arange(1, len(diag) + 1)
    ax = axes[0]
    ax.semilogy(np.arange(len(r["ref"]["kl"])), r["ref"]["kl"], "-", color="gray", lw=2,
                label="exact JKO trajectory (closed form)")
    kl = np.array([d["kl_naive"] for d in diag])
    se = np.array([d["kl_naive_se"] for d in diag])
    ax.errorbar(n, kl, yerr=2 * se, fmt="o", label="trained flow (plain mean, ±2 SE)")
    ax.semilogy(n, [d["kl"] for d in diag], "x", label="trained flow (k3 estimator)")
    ax.semilogy(n, r["kl_bound"], label="guaranteed bound (C8),\nε = largest ε_k so far",
                **BOUND_STYLE)
    ax.set(xlabel="block n", ylabel="KL(ρ_n‖q) (nats)",
           title=f"{name}:\nKL to N(0, I) per block")
    ax = axes[1]
    for k1, k2, c in (("v_term", "v", "C0"), ("w_term", "w", "C1"), ("div_term", "div", "C2"),
                      ("loss", "total", "C3")):
        ax.plot(n, [d[k1] for d in diag], "o", color=c, label=f"{TERMS[k1]} (trained)")
        ax.plot(n, [lo[k2] for lo in r["ref"]["loss"]], "-", color=c, alpha=0.6)
    ax.plot([], [], "-", color="gray", alpha=0.6, label="lines: exact optimum of each term")
    ax.set(xlabel="block n", ylabel="loss term (nats)",
           title=f"{name}:\nloss terms vs their exact optimum")
    ax = axes[2]
    ax.semilogy(n, [d["eps_exact"] for d in diag], "o-", ms=4,
                label="through the network's inverse\n(exact score, its inverse as map)")
    if "eps_sq_authors" in diag[0]:
        ax.semilogy(n, np.sqrt([d["eps_sq_authors"] for d in diag]), "s--",
                    label="authors' estimate\n(kernel score h = 0.1, OT matching)")
    if "eps_sq_hybrid" in diag[0]:  # open markers: visible where it meets the first curve
        ax.semilogy(n, np.sqrt([d["eps_sq_hybrid"] for d in diag]), "d-.", mfc="none", ms=8,
                    label="exact score + OT matching")
    ax.set(xlabel="block n", ylabel="residual ε_n (not squared)",
           title="residual ε_n per block\nKL(data‖generated), nats:\n"
                 f"forward {fmt(r['kl_fwd'])} ± {fmt(r['kl_fwd_se'], 2)},\n"
                 f"backward {fmt(r['kl_bwd'])} ± {fmt(r['kl_bwd_se'], 2)}")


def _plot_summary(axes, ds: dict) -> None:
    """All data sets together: relative moment errors, KL vs closed form, W2 of the fit.

    Colour = data set (legend of the first panel); marker/line style = quantity (legend of
    each panel, in black).
    """
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    keys = [k for k, r in ds.items() if "rel_cov_err" in r]  # results older than the key: none
    for key in keys:
        r, c = ds[key], COLOURS.get(key)
        n = np.arange(1, len(r["diagnostics"]) + 1)
        ax = axes[0]
        ax.semilogy(n, r["rel_cov_err"], "o-", color=c)
        ax.semilogy(n, r["rel_mean_err"], "s--", color=c)
        ax.semilogy(n, r["rel_cov_err_mc"], ":", color=c, alpha=0.8)
        ax = axes[1]
        kl_ex = np.asarray(r["ref"]["kl"])
        ax.semilogy(np.arange(kl_ex.size), kl_ex, "-", color=c, alpha=0.6)
        ests = [_kl_best(d) for d in r["diagnostics"]]
        ax.errorbar(n, [e[0] for e in ests], yerr=[2 * e[1] for e in ests], fmt="o", color=c,
                    ms=4)
        ax.semilogy(n, np.maximum(r["kl_to_exact"], 1e-6), "x:", color=c, ms=6)
        ax = axes[2]
        ax.semilogy(n, r["w2_fit_vs_exact"], "o-", color=c)
        lo = np.asarray(r["w2_fit_null"]) - 2 * np.asarray(r["w2_fit_null_sd"])
        hi = np.asarray(r["w2_fit_null"]) + 2 * np.asarray(r["w2_fit_null_sd"])
        ax.fill_between(n, np.maximum(lo, 1e-12), hi, color=c, alpha=0.2)

    def key_line(marker, line, label, **kw):
        return Line2D([], [], marker=marker, linestyle=line, color="k", label=label, **kw)

    colours = [Patch(color=COLOURS.get(k), label=PLAIN.get(k, k)) for k in keys]
    axes[0].set(xlabel="block n", ylabel="relative error (dimensionless)",
                title="all data sets: moments of the pushed\npoints vs the closed-form JKO "
                      "iterate")
    _legend_below(axes[0], handles=colours + [
        key_line("o", "-", "‖Σ̂_n−Σ*_n‖_F/‖Σ*_n‖_F"), key_line("s", "--", "|m̂_n−m*_n|/√tr Σ*_n"),
        key_line("", ":", "covariance error of n exact samples (RMS)")])
    axes[1].set(xlabel="block n", ylabel="KL (nats)",
                title="all data sets: KL to q per block, trained\nvs exact, and trained to exact")
    _legend_below(axes[1], handles=[
        key_line("", "-", "exact JKO trajectory", alpha=0.6),
        key_line("o", "", "trained flow (±2 SE)"),
        key_line("x", ":", "KL(ρ_n‖ρ*_n): trained vs exact iterate (k3)")])
    axes[2].set(xlabel="block n", ylabel="W2 (not squared)",
                title="all data sets: W2 of the Gaussian fit to\nthe exact ρ_n, and its "
                      "Monte Carlo floor")
    _legend_below(axes[2], handles=[
        key_line("o", "-", "trained flow"),
        Patch(color="k", alpha=0.2, label="fits of n exact samples (mean ± 2 sd)")])


#: Model-error allowance of the per-block KL against the closed-form JKO trajectory, relative to
#: the exact KL: the trained blocks are not the exact JKO maps (full profile: the largest
#: deviation is 11% of KL at KL = 0.014, 3 SE there; quick: 2.5% at KL = 1.8).
KL_MODEL_RTOL = 0.05
#: Standard errors allowed for a Monte Carlo estimate against an exact value.
N_SE = 3.0
#: Standard errors allowed for moments of the pushed points against the closed form (max over
#: blocks and entries: 4 SE keeps the family-wise false-failure rate small).
MOMENT_Z = 4.0
#: |ℓ − log|det ∇T_S|| is the RK4 truncation of the log-det quadrature, O(h⁴): per block it must
#: fall from the evaluation steps S_e to S = check_steps at least like (S_e/S)⁴ (times
#: ORDER_SAFETY), or be below this round-off floor (float64 2x2 slogdet and sums ~1e-12; 1e-8
#: nats). Measured (full, shifted Gaussian, block 1): 2.5e-5 at S_e = 6, 9.4e-8 at S = 24, a
#: ratio of 265 ≈ 4⁴; wrong RK4 weights give first-order or no decay (docs/numerics.md §6.8).
LOGDET_FINE_ATOL = 1e-8
#: Allowed excess over the exact fourth-order decay (S_e/S)⁴ (pre-asymptotic constants).
ORDER_SAFETY = 4.0
#: log q̂ forward (log_prob) vs backward (sample) at the generated points, and the KL with the
#: slogdet log-det vs the RK4 log-det, at eval_steps = 6: RK4 truncation of the log-det per block
#: ~2e-8 and inversion error ~1e-9 (docs/numerics.md §6.4), measured max over 4000 generated
#: points 4e-7 (quick); 1e-5 nats (a sign error in a log-det moves it by ~1 nat).
ROUTES_ATOL = 1e-5
#: A Monte Carlo equality whose 4-SE threshold exceeds this fraction of the value has no power.
LOW_POWER_REL = 0.25
#: A bound whose ratio measured/bound is below this is >10x loose: reported as vacuous.
VACUOUS_RATIO = 0.1
#: d > 2: multiples of the Monte Carlo floor (RMS of the same error for n_eval exact samples)
#: allowed for the relative mean and covariance errors of the pushed points. The errors are
#: norms over d or d(d+1)/2 entries of nearly Gaussian noise, so under exact sampling they
#: concentrate near their RMS (a chi variable with many degrees of freedom; the simulated W2 of
#: the fit has sd 3-7% of its mean): 2 RMS is not reached by sampling alone.
MOMENT_FLOOR_K = 2.0
#: d > 2: training-error allowance of ‖Σ̂_n − Σ*_n‖_F/‖Σ*_n‖_F and of |m̂_n − m*_n|/√tr Σ*_n
#: (the blocks are trained, not exact). Measured (full profile, 5 blocks of 800 iterations,
#: n_eval = 8000) training parts √(error² − floor²): covariance ≤ 0.05 (d = 30, block 5: 0.080
#: against a floor of 0.062), mean ≤ 0.014 (d = 10); about 1.5-2x that. A wrong step size or a
#: skipped block moves the covariance by O(γ) relative (tens of percent).
REL_COV_MODEL = 0.08
REL_MEAN_MODEL = 0.03


def _kl_best(d: dict) -> tuple[float, float, str]:
    """The per-block KL estimate (k3 or plain mean) with the smaller standard error."""
    if d["kl_se"] <= d["kl_naive_se"]:
        return d["kl"], d["kl_se"], "k3"
    return d["kl_naive"], d["kl_naive_se"], "plain"


def _moment_z(r: dict) -> tuple[float, str]:
    """Largest |fit − closed form| / SE over blocks, mean and covariance entries."""
    n = r.get("n_eval", Config.full().n_eval)  # results older than the key: full profile
    worst, where = 0.0, ""
    for k in range(len(r["fit_means"])):
        m, c = np.asarray(r["fit_means"][k]), np.asarray(r["fit_covs"][k])
        ms, cs = np.asarray(r["ref"]["means"][k + 1]), np.asarray(r["ref"]["covs"][k + 1])
        sd = np.diag(cs)
        zm = float(np.max(np.abs(m - ms) / np.sqrt(sd / n)))
        zc = float(np.max(np.abs(c - cs) / np.sqrt((np.outer(sd, sd) + cs**2) / n)))
        for z, what in ((zm, "mean"), (zc, "covariance")):
            if z > worst:
                worst, where = z, f"block {k + 1} {what}"
    return worst, where


def checks(results: dict) -> list[Check]:
    out = []
    for name, r in results["datasets"].items():
        diag = r["diagnostics"]
        nb = len(diag)
        kl_exact = np.asarray(r["ref"]["kl"][1:])
        # C8 per block: T2+T1 bound with ε = max ε_k (residual through the network's inverse)
        kl_hi = np.array([d["kl_naive"] + 3 * d["kl_naive_se"] for d in diag])
        c8 = float(np.max(kl_hi / np.asarray(r["kl_bound"])))
        c8_detail = ("KL = plain change-of-variables estimate + 3 SE; ε̂ is the residual "
                     "through the network's inverse (equals the Assumption-1 residual only if "
                     "the block is an OT map)")
        if c8 < VACUOUS_RATIO:
            out.append(Check(
                "C8", "KL(ρ_n‖q) ≤ [(1+γ)^{-(n-1)}W_0 + ε(1+γ)]²/(2γ(2+γ)), ε = max_{k≤n} ε̂_k",
                f"neural flow, {name}, {nb} blocks, γ={r['gammas'][0]}", c8, 1.0, bool(c8 <= 1),
                f"datasets.{name}.kl_bound", "info",
                f"vacuous: ratio {c8:.3g} < {VACUOUS_RATIO} (bound >10x the measured KL), not "
                f"evidence; {c8_detail}"))
        else:
            out.append(ratio_check(
                "C8", "KL(ρ_n‖q) ≤ [(1+γ)^{-(n-1)}W_0 + ε(1+γ)]²/(2γ(2+γ)), ε = max_{k≤n} ε̂_k",
                f"neural flow, {name}, {nb} blocks, γ={r['gammas'][0]}", c8,
                f"datasets.{name}.kl_bound", detail=c8_detail))
        # per-block KL against the closed-form JKO trajectory
        if r.get("d", 2) > 2:
            out.append(_kl_split_check(name, r))
        else:
            ests = [_kl_best(d) for d in diag]
            val = np.array([e[0] for e in ests])
            se_b = np.array([e[1] for e in ests])
            tol = N_SE * se_b + KL_MODEL_RTOL * kl_exact
            dev = np.abs(val - kl_exact)
            zs = (val - kl_exact) / se_b
            out.append(ratio_check(
                "C12", "per-block KL(ρ_n‖q) of the trained flow = closed-form JKO KL(ρ*_n‖q), "
                f"|KL_net − KL*| / ({N_SE:g} SE + {KL_MODEL_RTOL:g}·KL*) ≤ 1",
                f"neural flow, {name}, blocks 1..{nb}", float(np.max(dev / tol)),
                f"datasets.{name}.diagnostics", slack=0.0,
                detail="z-scores (KL_net − KL*)/SE per block: "
                       + ", ".join(f"{z:+.1f} ({e[2]})" for z, e in zip(zs, ests, strict=True))
                       + f"; KL* {', '.join(f'{k:.3g}' for k in kl_exact)}; SE of the estimator "
                       "with the smaller SE (k3 or plain mean); model-error allowance "
                       f"{KL_MODEL_RTOL:g}·KL* (the blocks are trained, not exact)"))
        if r.get("d", 2) > 2:
            out.append(_rel_moment_check(name, r))
        else:
            zmax, where = _moment_z(r)
            out.append(Check(
                "C12", "mean and covariance of the pushed held-out points = closed-form JKO "
                f"trajectory, within {MOMENT_Z:g} SE",
                f"neural flow, {name}, blocks 1..{nb}, n={r.get('n_eval', Config.full().n_eval)}",
                zmax, MOMENT_Z,
                bool(zmax <= MOMENT_Z), f"datasets.{name}.fit_means", "equality",
                f"largest |fit − exact|/SE at {where}; SE of a Gaussian sample mean √(Σ_ii/n) and "
                "covariance √((Σ_iiΣ_jj+Σ_ij²)/n) at the exact Σ; no model-error allowance"))
        zf = (r["kl_fwd"] - r["kl_exact_final"]) / r["kl_fwd_se"]
        devf = abs(r["kl_fwd"] - r["kl_exact_final"])
        tolf = N_SE * r["kl_fwd_se"] + KL_MODEL_RTOL * r["kl_exact_final"]
        se = float(np.hypot(r["kl_fwd_se"], r["kl_bwd_se"]))
        routes = abs(r["kl_fwd"] - r["kl_bwd"]) <= 4 * se and \
            r.get("log_prob_vs_sample_max_fine", 0.0) <= ROUTES_ATOL
        out.append(Check(
            "C12", "finding: final KL(P‖q̂) (fresh data, k3) vs closed-form JKO KL(ρ*_N‖q); the "
            "estimator routes agree, so a gap is training error",
            f"neural flow, {name}, {nb} blocks", float(zf), N_SE, bool(routes),
            f"datasets.{name}.kl_fwd", "info",
            f"z-score {zf:+.1f}: {r['kl_fwd']:.4f}±{r['kl_fwd_se']:.4f} vs exact "
            f"{r['kl_exact_final']:.4f} ({100 * (r['kl_fwd'] / r['kl_exact_final'] - 1):+.0f}%), "
            f"{'within' if devf <= tolf else 'OUTSIDE'} {N_SE:g} SE + {KL_MODEL_RTOL:g}·KL*; a "
            "gap beyond the SE is the training error of the blocks (the trained flow is not the "
            "exact JKO scheme), not an estimator error: the row FAILs only if the forward and "
            "backward estimates disagree"))
        se = float(np.hypot(r["kl_fwd_se"], r["kl_bwd_se"]))
        diff = abs(r["kl_fwd"] - r["kl_bwd"])
        power = 4 * se / r["kl_fwd"]
        text = (f"fwd {r['kl_fwd']:.4f}±{r['kl_fwd_se']:.4f}, bwd {r['kl_bwd']:.4f}±"
                f"{r['kl_bwd_se']:.4f}, exact JKO {r['kl_exact_final']:.4f}; threshold 4 combined "
                f"SE = {100 * power:.0f}% of KL (independent samples; both log-dets come from the "
                "RK4 divergence integral, forward and backward: the independent log-det is the "
                "slogdet row)")
        if power > LOW_POWER_REL:
            text = (f"no power: 4 combined SE exceed {100 * LOW_POWER_REL:.0f}% of KL (the "
                    "q̂-sample estimator is heavy-tailed at large KL), reported only; the "
                    "two-route and slogdet rows carry the evidence; " + text)
        out.append(Check(
            "C9", "KL(P‖q̂) forward (k3 on data) = backward (generated points, backward density)",
            f"neural flow, {name}", diff, 4 * se, bool(diff <= 4 * se),
            f"datasets.{name}.kl_fwd", "info" if power > LOW_POWER_REL else "equality", text))
        if "logdet_vs_slogdet_fine" not in r:
            continue
        fine = np.asarray(r["logdet_vs_slogdet_fine"])
        coarse = np.asarray(r["logdet_vs_slogdet_eval"])
        s_e, s_f = r["eval_steps"], r["check_steps"]
        thr = np.maximum(LOGDET_FINE_ATOL, ORDER_SAFETY * coarse * (s_e / s_f) ** 4)
        worst = float(np.max(fine / thr))
        out.append(Check(
            "C9", "log-det of each block: RK4 integral of the exact divergence → "
            "log|det ∇T_S| of the discrete S-step map (autograd Jacobian, slogdet) at RK4's "
            "fourth order",
            f"neural flow, {name}, {nb} blocks, S = {s_e} and {s_f}, 200 held-out points/block",
            worst, 1.0, bool(worst <= 1.0), f"datasets.{name}.logdet_vs_slogdet_fine", "ratio",
            f"max over blocks of gap(S={s_f}) / max({LOGDET_FINE_ATOL:g}, "
            f"{ORDER_SAFETY:g}·gap(S={s_e})·({s_e}/{s_f})⁴); gaps at S={s_e}: "
            f"{', '.join(f'{v:.1e}' for v in coarse)}, at S={s_f}: "
            f"{', '.join(f'{v:.1e}' for v in fine)} nats; mean |log-det| per block "
            f"{', '.join(f'{v:.3f}' for v in r['logdet_mean_abs'])}"))
        dk = abs(r["kl_naive_slogdet"] - r["kl_naive_rk4"])
        out.append(Check(
            "C9", "KL(P‖q̂) with the log-det from slogdet of the discrete block maps (no "
            "divergence code) = with the RK4 log-det, same data points",
            f"neural flow, {name}, 1000 data points", dk, ROUTES_ATOL, bool(dk <= ROUTES_ATOL),
            f"datasets.{name}.kl_naive_slogdet", "equality",
            f"plain-mean KL {r['kl_naive_slogdet']:.5f}±{r['kl_naive_slogdet_se']:.5f} (slogdet) "
            f"vs {r['kl_naive_rk4']:.5f} (RK4); threshold = RK4 truncation at the evaluation "
            "steps (common points: the sampling error cancels)"))
        lr = r["log_prob_vs_sample_max_fine"]
        out.append(Check(
            "C9", "log q̂(x) two routes at generated points x = F⁻¹(z): JKOFlow.log_prob (forward "
            "log-det) = density returned by JKOFlow.sample (backward log-det)",
            f"neural flow, {name}, {nb} blocks, S = {r['check_steps']} RK4 steps", lr,
            ROUTES_ATOL, bool(lr <= ROUTES_ATOL),
            f"datasets.{name}.log_prob_vs_sample_max_fine", "equality",
            f"max |difference| over {r['n_check']} generated points, nats (at the "
            f"evaluation steps: {r['log_prob_vs_sample_max']:.1e}, the discrete inversion error "
            "O(h⁴)); mean |log-det| per block "
            f"{', '.join(f'{v:.3f}' for v in r['logdet_mean_abs'])} (a sign error in either "
            "density shifts it by twice that)"))
        dm = abs(r["mass_is"] - 1.0)
        s_is = r.get("mass_is_scale", 1.5)
        out.append(Check(
            "C9", f"∫ q̂ = 1: mass of JKOFlow.log_prob by importance sampling from "
            f"N(m₀, {s_is:.3g}²Σ₀)",
            f"neural flow, {name}, {nb} blocks", dm, 4 * r["mass_is_se"],
            bool(dm <= 4 * r["mass_is_se"]), f"datasets.{name}.mass_is", "equality",
            f"mass {r['mass_is']:.4f}±{r['mass_is_se']:.4f}; threshold 4 SE"))
        where = f"neural flow, {name}, {nb} blocks, held-out data"
        out.append(refinement_row(where, r["refinement"], f"datasets.{name}.refinement.error"))
        out.append(entropy_row(where, r["refinement"], f"datasets.{name}.refinement.kl"))
    return out


def _rel_moment_check(name: str, r: dict) -> Check:
    """d > 2: relative mean and covariance errors per block within their MC floor + allowance."""
    nb = len(r["diagnostics"])
    worst, where, parts = 0.0, "", []
    for what, err, mc, model in (("covariance", r["rel_cov_err"], r["rel_cov_err_mc"],
                                  REL_COV_MODEL),
                                 ("mean", r["rel_mean_err"], r["rel_mean_err_mc"],
                                  REL_MEAN_MODEL)):
        tol = MOMENT_FLOOR_K * np.asarray(mc) + model
        ratio = np.asarray(err) / tol
        k = int(np.argmax(ratio))
        if ratio[k] > worst:
            worst, where = float(ratio[k]), f"block {k + 1} {what}"
        parts.append(f"{what} {', '.join(f'{e:.3f}' for e in err)} (MC floor RMS "
                     f"{', '.join(f'{m:.3f}' for m in mc)})")
    return Check(
        "C12", "moments of the pushed held-out points = closed-form JKO trajectory: "
        f"‖Σ̂_n−Σ*_n‖_F/‖Σ*_n‖_F ≤ {MOMENT_FLOOR_K:g}·MC + {REL_COV_MODEL:g}, "
        f"|m̂_n−m*_n|/√tr Σ*_n ≤ {MOMENT_FLOOR_K:g}·MC + {REL_MEAN_MODEL:g}",
        f"neural flow, {name}, d={r['d']}, blocks 1..{nb}, n={r['n_eval']}", worst, 1.0,
        bool(worst <= 1.0), f"datasets.{name}.rel_cov_err", "ratio",
        f"largest error/tolerance at {where}; relative errors per block: {'; '.join(parts)}; "
        f"MC = RMS of the same error for n exact samples (mean 1/√n, covariance "
        "√((‖Σ‖_F²+(tr Σ)²)/n)/‖Σ‖_F); the allowance is the training error of the blocks; W2 of "
        f"the fit {', '.join(f'{w:.3f}' for w in r['w2_fit_vs_exact'])} vs its floor "
        f"{', '.join(f'{w:.3f}' for w in r['w2_fit_null'])}")


def _kl_split_check(name: str, r: dict) -> Check:
    """d > 2: per-block KL vs closed form (a finding), and KL(ρ_n‖ρ*_n) ≥ 0 (a test).

    KL(ρ_n‖q) − KL(ρ*_n‖q) = KL(ρ_n‖ρ*_n) + (a term of the moments only), ρ*_n the exact JKO
    iterate. KL(ρ_n‖ρ*_n) ≥ 0, so its plain-mean estimate (log ρ_n by the change of variables,
    no fitted quantity) below −N_SE standard errors is a density error: the row FAILs then.
    The gap to the closed form is reported: the training error dominates it in high d.
    """
    diag = r["diagnostics"]
    nb = len(diag)
    kl_exact = np.asarray(r["ref"]["kl"][1:])
    val = np.array([_kl_best(d)[0] for d in diag])
    plain, plain_se = np.asarray(r["kl_to_exact_plain"]), np.asarray(r["kl_to_exact_plain_se"])
    z_neg = float(np.max(-plain / plain_se))
    rel = ", ".join(f"{100 * (v / k - 1):+.0f}%" for v, k in zip(val, kl_exact, strict=True))
    to_ex = ", ".join(f"{v:.3g}±{e:.2g}" for v, e in
                      zip(r["kl_to_exact"], r["kl_to_exact_se"], strict=True))
    fit = ", ".join(f"{v:.3g}" for v in r["kl_fit_to_exact"])
    null = ", ".join(f"{v:.3g}" for v in r["kl_fit_to_exact_null"])
    return Check(
        "C12", "finding: per-block KL(ρ_n‖q) of the trained flow vs closed-form JKO KL(ρ*_n‖q), "
        f"with KL(ρ_n‖ρ*_n) ≥ 0 (plain-mean estimate > −{N_SE:g} SE)",
        f"neural flow, {name}, d={r['d']}, blocks 1..{nb}, n={r['n_eval']}", z_neg, N_SE,
        bool(z_neg <= N_SE), f"datasets.{name}.kl_to_exact", "info",
        f"measured: max over blocks of −KL̂(ρ_n‖ρ*_n)/SE (plain mean; FAIL above {N_SE:g}); "
        f"KL_net − KL* per block {rel} (KL* {', '.join(f'{k:.3g}' for k in kl_exact)}); "
        f"KL(ρ_n‖ρ*_n) (k3) {to_ex} nats, of which the moments KL(N(m̂_n,Σ̂_n)‖ρ*_n) {fit} "
        f"(sampling alone: {null}): the training error of the blocks dominates the gap to the "
        "closed form, so it is reported, not tested; the moments are tested in the next row")
