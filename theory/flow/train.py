r"""Block-wise training of a JKO flow, with per-block diagnostics and checkpoints (theory.md §1, §6).

Block n minimises, over samples x of :math:`\rho_{n-1}` (the training set pushed through blocks
1..n-1), the JKO-iFlow loss

.. math::
    L_n = \underbrace{\mathbb E\,V(T(x))}_{\text{V-term}}
        \;\underbrace{-\,\mathbb E\log\det\nabla T(x)}_{\text{div-term}}
        + \underbrace{\mathbb E|T(x)-x|^2/(2\gamma_n)}_{\text{W-term}},

whose population minimiser is the JKO step (claims C12, C13). After each block, float64
diagnostics are computed on held-out points: loss terms, movement E|T(x)-x|², inversion error,
and, when ρ_0 has a known density, KL(ρ_n‖q) by the k3 estimator and the exact Assumption-1
residual ε_n (score chained through the blocks), plus optionally the authors' estimator.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from theory.flow.block import Block
from theory.flow.data import std_normal_log_prob
from theory.flow.diagnostics import kl_k3
from theory.flow.flow import FlowConfig, JKOFlow, make_block
from theory.flow.residual import authors_residual, exact_residual, grad_quadratic
from theory.io import atomic_path
from theory.progress import progress
from theory.validate import check_positive_scalar

__all__ = ["EvalState", "TrainResult", "quadratic_potential", "train_block", "train_flow"]

Potential = Callable[[torch.Tensor], torch.Tensor]


def quadratic_potential(y: torch.Tensor) -> torch.Tensor:
    """V(y) = |y|²/2 per row (target N(0, I))."""
    return 0.5 * (y * y).sum(dim=1)


def _progress(it, desc: str, show: bool):
    return progress(it, desc) if show else it


def train_block(block: Block, x_train: torch.Tensor, *, gamma: float, iters: int, batch: int,
                lr: float, lr_min_frac: float = 0.05, grad_clip: float = 1.0,
                potential: Potential = quadratic_potential,
                generator: torch.Generator | None = None,
                callback: Callable[[int, Block], None] | None = None,
                callback_at: tuple[int, ...] = (), log_every: int = 10,
                desc: str = "block", show_progress: bool = False) -> list[dict]:
    """Train one block by Adam (cosine decay) on minibatches of ``x_train`` (rows ~ ρ_{n-1}).

    ``callback(it, block)`` is called before iteration ``it`` for each ``it`` in ``callback_at``
    (``it == iters`` means after training). Returns the loss history (every ``log_every`` iters):
    dicts with ``it``, ``loss``, ``v``, ``div``, ``w`` (minibatch values in the training dtype).
    """
    gamma = check_positive_scalar(gamma, "gamma")
    if x_train.ndim != 2 or x_train.shape[0] < 1:
        raise ValueError(f"x_train must have shape (n, d), got {tuple(x_train.shape)}")
    if not isinstance(iters, int) or iters < 0:
        raise ValueError(f"iters must be an integer >= 0, got {iters!r}")
    opt = torch.optim.Adam(block.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(iters, 1),
                                                       eta_min=lr * lr_min_frac)
    n = x_train.shape[0]
    hist: list[dict] = []
    todo = set(callback_at)
    for it in _progress(range(iters), desc, show_progress):
        if callback is not None and it in todo:
            callback(it, block)
        idx = torch.randint(n, (min(batch, n),), generator=generator).to(x_train.device)
        x = x_train[idx]
        y, ell = block(x, create_graph=True)
        v = potential(y).mean()
        div = -ell.mean()
        w = ((y - x) ** 2).sum(dim=1).mean() / (2.0 * gamma)
        loss = v + div + w
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(block.parameters(), grad_clip)
        opt.step()
        sched.step()
        if it % log_every == 0 or it == iters - 1:
            hist.append({"it": it, "loss": loss.item(), "v": v.item(), "div": div.item(),
                         "w": w.item()})
    if callback is not None and iters in todo:
        callback(iters, block)
    return hist


@dataclass
class EvalState:
    """Float64 held-out points of ρ_n with the quantities carried through the blocks.

    Attributes:
        x ((n, d)): points of ρ_n. logp ((n,) or None): log ρ_n(x) (known-density data).
        xr ((m, d)), score ((m, d) or None): the residual subset and ∇log ρ_n there.
    """

    x: torch.Tensor
    logp: torch.Tensor | None
    xr: torch.Tensor
    score: torch.Tensor | None

    @classmethod
    def start(cls, x0: np.ndarray, density, n_residual: int, device: str = "cpu") -> EvalState:
        """Initial state from ρ_0 samples and (optional) its density object."""
        x = torch.as_tensor(x0, dtype=torch.float64, device=device)
        xr = x[:n_residual].clone()
        logp = score = None
        if density is not None:
            logp = density.log_prob(x).detach()
            xg = xr.clone().requires_grad_(True)
            with torch.enable_grad():
                score = torch.autograd.grad(density.log_prob(xg).sum(), xg)[0].detach()
        return cls(x, logp, xr, score)

    def advance(self, block: Block, gamma: float, *, steps: int, authors: bool = False,
                kde_h: float = 0.1, potential: Potential = quadratic_potential,
                grad_potential: Callable = grad_quadratic) -> dict:
        """Push through a float64 block; return that block's diagnostics (float64)."""
        x = self.x
        y, ell = block(x, steps=steps)
        back, _ = block.inverse(y, steps=steps, logdet=False)
        move = ((y - x) ** 2).sum(1)
        diag = {"gamma": gamma, "v_term": float(potential(y).mean()),
                "div_term": float(-ell.mean()), "w_term": float(move.mean() / (2.0 * gamma)),
                "movement": float(move.mean()),
                "inv_err": float(((back - x) ** 2).sum(1).mean().sqrt())}
        diag["loss"] = diag["v_term"] + diag["div_term"] + diag["w_term"]
        half = max(1, steps // 2)
        _, ell_half = block(x[:500], steps=half)
        diag["logdet_step_err"] = float((ell[:500] - ell_half).abs().max())
        if self.logp is not None:
            self.logp = self.logp - ell
            lq = std_normal_log_prob(y).numpy()
            diag["kl"], diag["kl_se"] = kl_k3(self.logp.numpy(), lq)
            h = self.logp.numpy() - lq
            diag["kl_naive"], diag["kl_naive_se"] = float(h.mean()), float(h.std() / np.sqrt(h.size))
            res = exact_residual(lambda z: block(z, steps=steps, create_graph=True), self.xr,
                                 self.score, gamma=gamma, grad_potential=grad_potential)
            diag["eps_exact"], diag["eps_sq_exact"] = res.eps, res.eps_sq
            yr, self.score = res.y, res.score
        else:
            yr, _ = block(self.xr, steps=steps, logdet=False)
        if authors:
            a = authors_residual(yr.numpy(), self.xr.numpy(), gamma=gamma, h=kde_h)
            diag["eps_sq_authors"], diag["eps_sq_authors_quirk"] = a["eps_sq"], a["eps_sq_quirk"]
            if self.score is not None:  # exact score + EMD map: isolates the KDE error
                diag["eps_sq_hybrid"] = authors_residual(
                    yr.numpy(), self.xr.numpy(), gamma=gamma, score=self.score.numpy())["eps_sq"]
        self.x, self.xr = y.detach(), yr.detach()
        return diag


@dataclass
class TrainResult:
    """A trained flow, its per-block diagnostics, loss histories and training wall times (s)."""

    flow: JKOFlow
    diagnostics: list[dict] = field(default_factory=list)
    history: list[list[dict]] = field(default_factory=list)
    train_times: list[float] = field(default_factory=list)
    final_state: EvalState | None = None


def _fingerprint(cfg: FlowConfig, extra: dict) -> str:
    return json.dumps({"cfg": dataclasses.asdict(cfg), **extra}, sort_keys=True, default=str)


def train_flow(cfg: FlowConfig, data, *, n_eval: int = 4000, n_residual: int = 2000,
               authors: bool = False, kde_h: float = 0.1, potential: Potential = quadratic_potential,
               checkpoint: str | Path | None = None, show_progress: bool = True) -> TrainResult:
    """Train ``cfg.n_blocks`` blocks one at a time on samples of ``data`` (seeded, resumable).

    Args:
        cfg: the flow configuration.
        data: a law from :mod:`theory.flow.data` (``sample``; ``log_prob`` if ``has_density``).
        n_eval: held-out ρ_0 points for the diagnostics; n_residual: the residual subset.
        authors: also compute the authors' residual estimator (KDE h = ``kde_h``, n = n_residual).
        potential: V of the target e^{-V} for training (KL/residual numbers assume V = |x|²/2).
        checkpoint: file written after each block; if it exists with the same config, training
            resumes after its last block (the result is identical to an uninterrupted run).
        show_progress: tqdm bars.

    Returns:
        TrainResult with the float-``cfg.dtype`` flow and float64 diagnostics per block.
    """
    rng = np.random.default_rng(cfg.seed)
    dt, dev = cfg.torch_dtype, cfg.device
    x_train = torch.as_tensor(data.sample(cfg.n_train, rng), dtype=dt, device=dev)
    x_eval = data.sample(n_eval, np.random.default_rng(cfg.seed + 1))
    dens = data if getattr(data, "has_density", False) else None
    state = EvalState.start(x_eval, dens, min(n_residual, n_eval), dev)
    gammas = cfg.gamma_list()
    fp = _fingerprint(cfg, {"n_eval": n_eval, "n_residual": n_residual, "authors": authors,
                            "data": repr(data)[:2000]})
    flow = JKOFlow()
    res = TrainResult(flow)
    saved = None
    if checkpoint is not None and Path(checkpoint).exists():
        saved = torch.load(checkpoint, weights_only=False)
        if saved.get("fingerprint") != fp:
            saved = None
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        block = make_block(cfg).to(dtype=dt, device=dev)
    for k, gam in enumerate(gammas):
        if k > 0:
            block = copy.deepcopy(block) if cfg.warm_start else make_block(cfg).to(dt, dev)
        t0 = time.perf_counter()
        if saved is not None and k < saved["n_done"]:
            block.load_state_dict(saved["blocks"][k])
            hist = saved["history"][k]
        else:
            gen = torch.Generator().manual_seed(cfg.seed * 7919 + k)
            hist = train_block(block, x_train, gamma=gam, iters=cfg.iters, batch=cfg.batch,
                               lr=cfg.lr, lr_min_frac=cfg.lr_min_frac, grad_clip=cfg.grad_clip,
                               potential=potential, generator=gen, desc=f"block {k + 1}",
                               show_progress=show_progress)
        train_time = time.perf_counter() - t0
        flow.append(block, gam)
        with torch.no_grad():
            x_train, _ = block(x_train, logdet=False)
        b64 = copy.deepcopy(block).to(torch.float64)
        diag = state.advance(b64, gam, steps=cfg.eval_steps, authors=authors, kde_h=kde_h,
                             potential=potential)
        diag["block"] = k + 1
        res.train_times.append(train_time)
        res.diagnostics.append(diag)
        res.history.append(hist)
        if checkpoint is not None:
            with atomic_path(checkpoint) as tmp:
                torch.save({"fingerprint": fp, "n_done": k + 1, "history": res.history,
                            "diagnostics": res.diagnostics,
                            "blocks": [b.state_dict() for b in flow.blocks]}, tmp)
    res.final_state = state
    return res
