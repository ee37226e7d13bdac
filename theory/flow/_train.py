r"""Block-wise training of a JKO flow (docs/theory.md §1, §6; claims C12, C13).

Block n minimises, over samples x of :math:`\rho_{n-1}` (the training set pushed through blocks
1..n-1), the JKO-iFlow loss

.. math::
    L_n = \underbrace{\mathbb E\,V(T(x))}_{\text{V-term}}
        \;\underbrace{-\,\mathbb E\log\det\nabla T(x)}_{\text{div-term}}
        + \underbrace{\mathbb E|T(x)-x|^2/(2\gamma_n)}_{\text{W-term}},

whose population minimiser is the JKO step. :func:`train_block` trains one block,
:func:`train_flow` the whole stack with float64 diagnostics after each block
(:class:`~theory.flow.BlockDiagnostics`) and optional checkpoints.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from theory.flow._block import Block
from theory.flow._checkpoint import fingerprint, load_checkpoint, save_checkpoint
from theory.flow._evaluate import BlockDiagnostics, EvalState
from theory.flow._model import FlowConfig, JKOFlow, make_block
from theory.flow._potential import Potential, as_potential, quadratic_potential
from theory.progress import progress
from theory.validate import check_positive_scalar

__all__ = ["TrainResult", "train_block", "train_flow"]


def _progress(it: Iterable, desc: str, show: bool) -> Iterable:
    return progress(it, desc) if show else it


def train_block(block: Block, x_train: torch.Tensor, cfg: FlowConfig, *, gamma: float,
                generator: torch.Generator | None = None,
                potential: Potential = quadratic_potential,
                callback: Callable[[int, Block], None] | None = None,
                callback_at: tuple[int, ...] = (), log_every: int = 10, desc: str = "block",
                show_progress: bool = False) -> list[dict]:
    """Train one block by Adam with cosine decay on minibatches of ``x_train`` (rows ~ ρ_{n-1}).

    The optimiser settings come from ``cfg``: ``iters`` iterations of minibatch ``batch`` at
    learning rate ``lr`` decaying to ``lr * lr_min_frac``, gradient norm clipped at ``grad_clip``.

    Args:
        block: the block to train (in place).
        x_train ((n, d) tensor): training points in the training dtype.
        cfg: the flow configuration (optimiser settings as above).
        gamma: the block's step size γ_n (W-term weight 1/(2γ_n)).
        generator: torch generator for the minibatch indices (seeded runs).
        potential: the target's V (V-term).
        callback: ``callback(it, block)`` is called before iteration ``it`` for each ``it`` in
            ``callback_at`` (``it == cfg.iters`` means after training).
        callback_at: iteration counts at which to call ``callback``.
        log_every: history stride (the last iteration is always logged).
        desc: progress-bar label.
        show_progress: draw the progress bar.

    Returns:
        The loss history: dicts with ``it``, ``loss``, ``v``, ``div``, ``w`` (minibatch values in
        the training dtype, nats).

    Raises:
        ValueError: for ``gamma <= 0`` or a non-2-D / empty ``x_train``.
    """
    gamma = check_positive_scalar(gamma, "gamma")
    if x_train.ndim != 2 or x_train.shape[0] < 1:
        raise ValueError(f"x_train must have shape (n, d), got {tuple(x_train.shape)}")
    iters, batch = cfg.iters, cfg.batch
    opt = torch.optim.Adam(block.parameters(), lr=cfg.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(iters, 1),
                                                       eta_min=cfg.lr * cfg.lr_min_frac)
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
        torch.nn.utils.clip_grad_norm_(block.parameters(), cfg.grad_clip)
        opt.step()
        sched.step()
        if it % log_every == 0 or it == iters - 1:
            hist.append({"it": it, "loss": loss.item(), "v": v.item(), "div": div.item(),
                         "w": w.item()})
    if callback is not None and iters in todo:
        callback(iters, block)
    return hist


@dataclass
class TrainResult:
    """A trained flow, its per-block diagnostics, loss histories and training wall times.

    Attributes:
        flow: the trained flow in the training dtype.
        diagnostics: one :class:`BlockDiagnostics` per block (float64).
        history: per block, the loss history of :func:`train_block`.
        train_times: per block, training wall time in seconds.
        final_state: the held-out points pushed through all blocks.
    """

    flow: JKOFlow
    diagnostics: list[BlockDiagnostics] = field(default_factory=list)
    history: list[list[dict]] = field(default_factory=list)
    train_times: list[float] = field(default_factory=list)
    final_state: EvalState | None = None


def _next_block(cfg: FlowConfig, prev: Block | None) -> Block:
    """Block 1 from seed ``cfg.seed``; later: a copy of the previous one (warm start) or new."""
    dt, dev = cfg.torch_dtype, cfg.device
    if prev is None:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(cfg.seed)
            return make_block(cfg).to(dtype=dt, device=dev)
    return copy.deepcopy(prev) if cfg.warm_start else make_block(cfg).to(dt, dev)


def train_flow(cfg: FlowConfig, data, *, n_eval: int = 4000, n_residual: int = 2000,
               authors: bool = False, kde_h: float = 0.1,
               potential: Potential = quadratic_potential,
               checkpoint: str | Path | None = None, show_progress: bool = True) -> TrainResult:
    """Train ``cfg.n_blocks`` blocks one at a time on samples of ``data`` (seeded, resumable).

    Args:
        cfg: the flow configuration.
        data: a law from :mod:`theory.flow._data` (``sample``; ``log_prob`` if ``has_density``).
        n_eval: held-out ρ_0 points for the diagnostics.
        n_residual: the residual subset (the first ``n_residual`` held-out points).
        authors: also compute the authors' residual estimator (KDE h = ``kde_h``, n = n_residual).
        kde_h: KDE bandwidth (a variance) of the authors' estimator.
        potential: V of the target e^{-V} (training and ∇V in the residual; the KL numbers are
            against N(0, I), i.e. assume the default V = |x|²/2).
        checkpoint: file written after each block; if it exists with the same settings, training
            resumes after its last block (the result is identical to an uninterrupted run).
        show_progress: tqdm bars.

    Returns:
        TrainResult with the float-``cfg.dtype`` flow and float64 diagnostics per block.
    """
    potential = as_potential(potential)
    rng = np.random.default_rng(cfg.seed)
    x_train = torch.as_tensor(data.sample(cfg.n_train, rng), dtype=cfg.torch_dtype,
                              device=cfg.device)
    x_eval = data.sample(n_eval, np.random.default_rng(cfg.seed + 1))
    dens = data if getattr(data, "has_density", False) else None
    state = EvalState.start(x_eval, dens, min(n_residual, n_eval), cfg.device)
    fp = fingerprint(cfg, {"n_eval": n_eval, "n_residual": n_residual, "authors": authors,
                           "data": repr(data)[:2000], "potential": potential.name})
    saved = load_checkpoint(checkpoint, fp)
    res = TrainResult(JKOFlow())
    block = None
    for k, gam in enumerate(cfg.gamma_list()):
        block = _next_block(cfg, block)
        t0 = time.perf_counter()
        if saved is not None and k < saved["n_done"]:
            block.load_state_dict(saved["blocks"][k])
            hist = saved["history"][k]
        else:
            gen = torch.Generator().manual_seed(cfg.seed * 7919 + k)
            hist = train_block(block, x_train, cfg, gamma=gam, generator=gen, potential=potential,
                               desc=f"block {k + 1}", show_progress=show_progress)
        res.train_times.append(time.perf_counter() - t0)
        res.flow.append(block, gam)
        with torch.no_grad():
            x_train, _ = block(x_train, logdet=False)
        b64 = copy.deepcopy(block).to(torch.float64)
        res.diagnostics.append(state.advance(b64, gam, index=k + 1, steps=cfg.eval_steps,
                                             authors=authors, kde_h=kde_h, potential=potential))
        res.history.append(hist)
        if checkpoint is not None:
            save_checkpoint(checkpoint, fp, res.flow, res.history,
                            [d.as_dict() for d in res.diagnostics])
    res.final_state = state
    return res
