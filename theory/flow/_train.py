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

import contextlib
import copy
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from theory.flow._acceptance import block_gain, zero_block
from theory.flow._block import Block, check_points
from theory.flow._checkpoint import fingerprint, load_checkpoint, save_checkpoint
from theory.flow._convert import to_numpy
from theory.flow._data import Empirical
from theory.flow._evaluate import BlockDiagnostics, EvalState
from theory.flow._model import FlowConfig, JKOFlow, make_block, report_steps
from theory.flow._potential import Potential, as_potential, quadratic_potential
from theory.progress import progress
from theory.validate import check_int, check_positive_scalar

__all__ = ["TrainResult", "step_gap", "train_block", "train_flow"]


def _progress(it: Iterable, desc: str, show: bool) -> Iterable:
    return progress(it, desc) if show else it


def step_gap(block: Block, x: torch.Tensor, potential: Potential, steps: int) -> float:
    r"""Mean one-block log-density change between ``steps`` and ``2 * steps`` RK4 steps, nats.

    :math:`\frac1m\sum_i|\delta_i|`, :math:`\delta_i = [\ell(x_i) - V(T x_i)]_{S}
    - [\ell(x_i) - V(T x_i)]_{2S}`: the change of block n's contribution
    :math:`\log q(Tx) + \log\det\nabla T(x)` to the log-density of the data point x (V =
    -log q + const). RK4 is 4th order, so this is about 16/15 of the error at S steps.
    """
    with torch.no_grad():
        y1, l1 = block(x, steps=steps)
        y2, l2 = block(x, steps=2 * steps)
        return float((l1 - potential(y1) - l2 + potential(y2)).abs().mean())


def _control_steps(block: Block, x: torch.Tensor, cfg: FlowConfig, potential: Potential,
                   it: int, events: list[dict]) -> None:
    """Double ``block.steps`` while :func:`step_gap` exceeds ``cfg.step_tol`` (<= max_steps)."""
    while True:
        gap = step_gap(block, x, potential, block.steps)
        if not np.isfinite(gap):
            raise ValueError(f"training diverged: the step check gives {gap} at iteration {it}")
        if gap <= cfg.step_tol or block.steps >= cfg.max_steps:
            events.append({"it": it, "steps": int(block.steps), "gap": gap,
                           "ok": bool(gap <= cfg.step_tol)})
            return
        block.steps = min(2 * block.steps, cfg.max_steps)


def train_block(block: Block, x_train: torch.Tensor, cfg: FlowConfig, *, gamma: float,
                generator: torch.Generator | None = None,
                potential: Potential = quadratic_potential,
                callback: Callable[[int, Block], None] | None = None,
                callback_at: tuple[int, ...] = (), log_every: int = 10, desc: str = "block",
                show_progress: bool = False, lr: float | None = None,
                iters: int | None = None, step_log: list[dict] | None = None) -> list[dict]:
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
        lr: initial learning rate (default ``cfg.lr``; :func:`train_flow` passes
            ``cfg.block_lr(k)``).
        iters: Adam iterations (default ``cfg.iters``; :func:`train_flow` passes
            ``cfg.iters_of(k)``).
        step_log: a list that receives the step checks (see below), or ``None``.

    Step control (``cfg.step_check_every > 0``): every ``step_check_every`` iterations, and after
    the last, :func:`step_gap` on the current minibatch decides whether ``block.steps`` doubles
    (see :class:`~theory.flow.FlowConfig` ``step_tol``); the block leaves with a step count whose
    gap was within tolerance at the last check (or ``max_steps``). A warm-started block starts
    from its predecessor's count.

    Returns:
        The loss history: dicts with ``it``, ``loss``, ``v``, ``div``, ``w`` (minibatch values in
        the training dtype, nats) and ``steps`` (the block's step count at that iteration). The
        step checks ``{"it", "steps", "gap", "ok"}`` are appended to ``step_log`` if given.

    Raises:
        ValueError: for ``gamma <= 0``, a ``cfg`` that is not a FlowConfig, an ``x_train`` that
            is not a finite (n, d) tensor with n >= 1, and if the loss becomes
            non-finite (training diverged; the block ``desc`` and iteration are named).
    """
    gamma = check_positive_scalar(gamma, "gamma")
    if not isinstance(cfg, FlowConfig):
        raise ValueError(f"cfg must be a FlowConfig, got {type(cfg).__name__}")
    check_points(x_train, "x_train", getattr(block.field, "d", None))
    iters = cfg.iters if iters is None else check_int(iters, "iters", minimum=0)
    batch = cfg.batch
    lr = cfg.lr if lr is None else check_positive_scalar(lr, "lr")
    opt = torch.optim.Adam(block.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(iters, 1),
                                                       eta_min=lr * cfg.lr_min_frac)
    n = x_train.shape[0]
    hist: list[dict] = []
    checks: list[dict] = [] if step_log is None else step_log
    every = cfg.step_check_every
    todo = set(callback_at)
    x = None
    for it in _progress(range(iters), desc, show_progress):
        if callback is not None and it in todo:
            callback(it, block)
        idx = torch.randint(n, (min(batch, n),), generator=generator).to(x_train.device)
        x = x_train[idx]
        if every and it > 0 and it % every == 0:
            _control_steps(block, x, cfg, potential, it, checks)
        y, ell = block(x, create_graph=True)
        v = potential(y).mean()
        div = -ell.mean()
        w = ((y - x) ** 2).sum(dim=1).mean() / (2.0 * gamma)
        loss = v + div + w
        if not torch.isfinite(loss):
            raise ValueError(f"{desc}: training diverged: the loss is {loss.item()} at iteration "
                             f"{it}; rescale the data or lower cfg.lr")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(block.parameters(), cfg.grad_clip)
        opt.step()
        sched.step()
        if it % log_every == 0 or it == iters - 1:
            hist.append({"it": it, "loss": loss.item(), "v": v.item(), "div": div.item(),
                         "w": w.item(), "steps": int(block.steps)})
    if every and x is not None:
        _control_steps(block, x, cfg, potential, iters, checks)
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
        step_checks: per block, the training's step checks (:func:`train_block` ``step_log``:
            iteration, step count, gap in nats, within tolerance); empty lists with the control
            off.
        acceptance: per block, its held-out gain over the identity map
            (:meth:`BlockGain.as_dict <theory.flow.BlockGain.as_dict>`: gain ± SE at 2S and S
            steps, NLL change, accepted, attempts, replaced by the identity); empty with
            ``cfg.accept == "off"``.
    """

    flow: JKOFlow
    diagnostics: list[BlockDiagnostics] = field(default_factory=list)
    history: list[list[dict]] = field(default_factory=list)
    train_times: list[float] = field(default_factory=list)
    final_state: EvalState | None = None
    step_checks: list[list[dict]] = field(default_factory=list)
    acceptance: list[dict] = field(default_factory=list)

    @property
    def accepted_blocks(self) -> list[int]:
        """Blocks (numbered from 1) that are not the identity: all of them with acceptance off."""
        if not self.acceptance:
            return list(range(1, len(self.flow) + 1))
        return [a["block"] for a in self.acceptance if not a["identity"]]


def _restart_block(cfg: FlowConfig, prev: Block | None, k: int) -> Block:
    """A retraining start for block k: ``prev``'s features at the identity map (or a fresh one)."""
    if prev is None:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(_block_seed(cfg, k))
            block = make_block(cfg).to(dtype=cfg.torch_dtype, device=cfg.device)
    else:
        block = copy.deepcopy(prev)
    steps = block.steps
    zero_block(block).steps = steps
    return block


def _next_block(cfg: FlowConfig, prev: Block | None) -> Block:
    """Block 1 from seed ``cfg.seed``; later: a copy of the previous one (warm start) or new.

    A warm-started copy has its output layer scaled by ``cfg.warm_scale`` (0: the previous
    block's hidden features, started at the identity map).
    """
    dt, dev = cfg.torch_dtype, cfg.device
    if prev is None:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(cfg.seed)
            return make_block(cfg).to(dtype=dt, device=dev)
    if not cfg.warm_start:
        return make_block(cfg).to(dtype=dt, device=dev)
    block = copy.deepcopy(prev)
    if cfg.warm_scale != 1.0:
        last = [m for m in block.field.modules() if isinstance(m, torch.nn.Linear)][-1]
        with torch.no_grad():
            last.weight.mul_(cfg.warm_scale)
            last.bias.mul_(cfg.warm_scale)
    return block


def _block_seed(cfg: FlowConfig, k: int) -> int:
    """Seed of block k's global torch RNG (fresh blocks without warm start, Hutchinson probes)."""
    return int(np.random.SeedSequence([cfg.seed, k, 1]).generate_state(1)[0])


@contextlib.contextmanager
def _seeded_global_rng(cfg: FlowConfig, k: int) -> Iterator[None]:
    """Fork the global torch RNG (CPU, and the CUDA device in use) and seed it for block k.

    Whatever block k draws from the global generator then depends only on (cfg.seed, k), so a
    run resumed from a checkpoint trains its remaining blocks exactly as an uninterrupted run.
    """
    dev, seed = torch.device(cfg.device), _block_seed(cfg, k)
    cuda = [dev.index if dev.index is not None else torch.cuda.current_device()] \
        if dev.type == "cuda" else []
    with torch.random.fork_rng(devices=cuda):
        torch.random.default_generator.manual_seed(seed)
        for i in cuda:
            with torch.cuda.device(i):
                torch.cuda.manual_seed(seed)
        yield


def _checked_samples(x, what: str, d: int) -> np.ndarray:
    """``x`` as an (n, d) ndarray (its own dtype); ``ValueError`` for a bad shape or NaN/inf."""
    a = to_numpy(x, dtype=None)
    if a.ndim != 2:
        raise ValueError(f"data must give (n, d) samples, got {what} samples of shape {a.shape}")
    if a.shape[1] != d:
        raise ValueError(f"data has d={a.shape[1]} columns but cfg.d={d}")
    bad = int((~np.isfinite(a).all(axis=1)).sum())
    if bad:
        raise ValueError(f"data contains NaN or inf in {bad} of {a.shape[0]} {what} rows")
    return a


#: Default held-out rows of a user's array of m rows: ``min(N_EVAL, m // 5)`` (20%, so arrays
#: of >= 5 * N_EVAL rows hold out exactly N_EVAL), at least :data:`MIN_EVAL`.
N_EVAL = 4000
#: Default held-out draws of a law (free to draw): the per-block acceptance test must resolve
#: the late blocks' gains of a few 1e-3 nats, whose per-point SD is ~0.1 nats (§6.11).
N_EVAL_LAW = 20000
#: Fewest held-out rows: the diagnostics' standard errors need two points.
MIN_EVAL = 2


def _training_data(cfg: FlowConfig, data, n_eval: int | None,
                   held_out=None) -> tuple[np.ndarray, np.ndarray, Any, int]:
    """``(x_train, x_eval, law, n_eval)``: samples of a law, or a disjoint split of an array.

    A given ``held_out`` array is the evaluation set; then nothing is held out of ``data``.
    """
    if held_out is not None:
        if n_eval is not None:
            raise ValueError("pass n_eval or held_out, not both (held_out fixes n_eval)")
        x_eval = _checked_samples(held_out, "held-out", cfg.d)
        if x_eval.shape[0] < MIN_EVAL:
            raise ValueError(f"held_out must have at least {MIN_EVAL} rows, got "
                             f"{x_eval.shape[0]}")
        n_eval = x_eval.shape[0]
    if isinstance(data, (list, tuple)) or hasattr(data, "__array__") \
            or not hasattr(data, "sample"):  # arrays, tensors, data frames: a user's samples
        try:
            data = Empirical(data, seed=cfg.seed)
        except ValueError as e:
            raise ValueError(f"data: {e}") from None
    if isinstance(data, Empirical):
        if data.d != cfg.d:
            raise ValueError(f"data has d={data.d} columns but cfg.d={cfg.d}")
        if held_out is not None:
            x_train = data.samples[np.random.default_rng(data.seed).permutation(data.n)]
            return (_checked_samples(x_train[:cfg.n_train], "training", cfg.d), x_eval, data,
                    n_eval)
        if n_eval is None:
            n_eval = max(MIN_EVAL, min(N_EVAL, data.n // 5))
            if data.n < n_eval + 1:
                raise ValueError(f"data has {data.n} rows: too few to hold out n_eval={n_eval} "
                                 f"rows for the diagnostics and train on at least one (needs "
                                 f">= {n_eval + 1} rows)")
        x_eval, x_train = data.split(n_eval)
        x_train = x_train[:cfg.n_train]
    else:
        n_eval = N_EVAL_LAW if n_eval is None else n_eval
        x_train = data.sample(cfg.n_train, np.random.default_rng(cfg.seed))
        if held_out is None:
            x_eval = data.sample(n_eval, np.random.default_rng(cfg.seed + 1))
    return (_checked_samples(x_train, "training", cfg.d),
            _checked_samples(x_eval, "held-out", cfg.d), data, n_eval)


def _training_tensor(x: np.ndarray, cfg: FlowConfig) -> torch.Tensor:
    """``x`` in the training dtype and device; ``ValueError`` if the cast overflows."""
    t = torch.as_tensor(x, dtype=cfg.torch_dtype, device=cfg.device)
    bad = int((~torch.isfinite(t).all(dim=1)).sum())
    if bad:
        raise ValueError(f"data overflows {cfg.dtype}: {bad} training rows are not finite after "
                         f"the cast (max |x| = {float(np.abs(x).max()):.3g}); rescale the data")
    return t


def _train_accepted(block: Block, warm: Block | None, x_train: torch.Tensor,
                    x_held: torch.Tensor, cfg: FlowConfig, k: int, gam: float,
                    potential: Potential, show_progress: bool
                    ) -> tuple[Block, list[dict], list[dict], dict | None]:
    """Train block k, test it on the held-out points of ρ_{k} (``cfg.accept``), retrain/reject.

    Returns ``(block, history, step checks, acceptance record or None)``; after a retrain the
    history and step checks hold both attempts (each entry then carries ``attempt``). A block
    rejected after its attempts comes back as the identity (:func:`zero_block`).
    """
    attempts = 2 if cfg.accept == "retrain" else 1
    hist_all, checks_all = [], []
    gain = None
    for attempt in range(1, attempts + 1):
        if attempt > 1:
            block = _restart_block(cfg, warm, k)
        gen = torch.Generator().manual_seed(cfg.seed * 7919 + k + 100003 * (attempt - 1))
        checks: list[dict] = []
        hist = train_block(block, x_train, cfg, gamma=gam, generator=gen, potential=potential,
                           desc=f"block {k + 1}" + (f" (retrain {attempt})" if attempt > 1
                                                    else ""),
                           lr=cfg.block_lr(k), iters=cfg.iters_of(k),
                           show_progress=show_progress, step_log=checks)
        hist_all += [{**h, "attempt": attempt} for h in hist]
        checks_all += [{**c, "attempt": attempt} for c in checks]
        if cfg.accept == "off":
            return block, hist, checks, None
        b64 = copy.deepcopy(block).to(torch.float64)
        gain = block_gain(b64, x_held, gamma=gam, potential=potential,
                          steps=report_steps(block, cfg), index=k + 1,
                          threshold=cfg.accept_se, attempts=attempt)
        if gain.accepted:
            return (block, hist, checks, gain.as_dict()) if attempt == 1 else \
                (block, hist_all, checks_all, gain.as_dict())
    zero_block(block)
    return block, hist_all, checks_all, {**gain.as_dict(), "identity": True}


def train_flow(cfg: FlowConfig, data, *, n_eval: int | None = None, held_out=None,
               n_residual: int = 2000,
               authors: bool = False, kde_h: float = 0.1,
               potential: Potential = quadratic_potential,
               checkpoint: str | Path | None = None, show_progress: bool = True) -> TrainResult:
    """Train ``cfg.n_blocks`` blocks one at a time on samples of ``data`` (seeded, resumable).

    Data: a law draws ``cfg.n_train`` training points (seed ``cfg.seed``) and ``n_eval``
    independent held-out points (seed ``cfg.seed + 1``; default 20000, :data:`N_EVAL_LAW`). A
    user's own (m, d) array or tensor is wrapped in :class:`~theory.flow.Empirical` (seed
    ``cfg.seed``; pass an ``Empirical`` to choose the seed): its rows are shuffled, the first
    ``n_eval`` are held out for the diagnostics and never trained on, and the training set is the
    remaining m - n_eval rows, at most ``cfg.n_train`` of them (``n_train`` is a cap here, not a
    size). The default ``n_eval`` for an array is ``max(2, min(4000, m // 5))``: 20% of the rows
    (rounded down), capped at 4000 (so exactly 4000, as before, for m >= 20000), at least 2. Data
    without a density gets no KL or residual diagnostics.

    Args:
        cfg: the flow configuration.
        data: a law from :mod:`theory.flow._data` (``sample``; ``log_prob`` if ``has_density``),
            or an (m, d) numpy array / torch tensor of samples (m >= n_eval + 1; m >= 3 for the
            default ``n_eval``).
        n_eval: held-out ρ_0 points for the diagnostics (int >= 2, or ``None``: the default
            above).
        held_out ((m, d) array or None): the user's own held-out points of ρ_0 for the
            diagnostics and the per-block acceptance test (``cfg.accept``), e.g. other images
            than the training rows' when the rows are augmented copies; then no row of
            ``data`` is held out and ``n_eval`` must be ``None``. With a law that has a
            density, the diagnostics evaluate its density at these points.
        n_residual: the residual subset (the first ``n_residual`` held-out points).
        authors: also compute the authors' residual estimator (KDE h = ``kde_h``, n = n_residual).
        kde_h: KDE bandwidth (a variance) of the authors' estimator.
        potential: V of the target e^{-V} (training and ∇V in the residual; the KL numbers are
            against N(0, I), i.e. assume the default V = |x|²/2).
        checkpoint: file written after each block; if it exists with the same fingerprint (a
            sha256 of the config, these settings and the bytes of the training and held-out
            arrays), training resumes after its last block (the result is identical to an
            uninterrupted run). Any other file there (another run's checkpoint, a saved
            JKOFlow, an unreadable file) raises ``ValueError`` before training and is left as
            it is.
        show_progress: tqdm bars.

    Returns:
        TrainResult with the float-``cfg.dtype`` flow (``flow.config`` is ``cfg``) and float64
        diagnostics per block.

    Raises:
        ValueError: for a ``cfg`` that is not a FlowConfig, bad ``n_eval`` / ``n_residual`` /
            ``authors`` / ``kde_h``; data that is not (m, cfg.d), has fewer than
            ``n_eval + 1`` rows (arrays), contains NaN or inf (any law; the row count is given)
            or overflows the training dtype; a ``checkpoint`` path holding a file that is not
            this run's checkpoint (the path is named); and if training diverges (a block's
            parameters or logged loss become non-finite; the block and iteration are named)
            instead of continuing with NaN parameters.
    """
    if not isinstance(cfg, FlowConfig):
        raise ValueError(f"cfg must be a FlowConfig, got {type(cfg).__name__}")
    potential = as_potential(potential)
    if n_eval is not None:
        n_eval = check_int(n_eval, "n_eval", minimum=MIN_EVAL)
    n_residual = check_int(n_residual, "n_residual", minimum=1)
    if not isinstance(authors, bool):
        raise ValueError(f"authors must be a bool, got {authors!r}")
    check_positive_scalar(kde_h, "kde_h")
    x_np, x_eval, data, n_eval = _training_data(cfg, data, n_eval, held_out)
    x_train = _training_tensor(x_np, cfg)
    dens = data if getattr(data, "has_density", False) else None
    state = EvalState.start(x_eval, dens, min(n_residual, n_eval), cfg.device)
    fp = fingerprint(cfg, {"n_eval": n_eval, "n_residual": n_residual, "authors": authors,
                           "kde_h": kde_h, "potential": potential.name},
                     {"train": x_np, "eval": x_eval})
    saved = load_checkpoint(checkpoint, fp)
    res = TrainResult(JKOFlow(config=cfg))
    warm = None  # the last block that is not the identity: the next block's warm start
    for k, gam in enumerate(cfg.gamma_list()):
        t0 = time.perf_counter()
        with _seeded_global_rng(cfg, k):
            block = _next_block(cfg, warm)
            if saved is not None and k < saved["n_done"]:
                block.load_state_dict(saved["blocks"][k])
                block.steps = int(saved["steps"][k])
                hist, checks = saved["history"][k], saved["step_checks"][k]
                gain = saved["acceptance"][k] if saved["acceptance"] else None
            else:
                block, hist, checks, gain = _train_accepted(
                    block, warm, x_train, state.x, cfg, k, gam, potential, show_progress)
        res.train_times.append(time.perf_counter() - t0)
        res.flow.append(block, gam)
        if gain is None or not gain["identity"]:
            warm = block
            with torch.no_grad():
                x_train, _ = block(x_train, logdet=False)
        b64 = copy.deepcopy(block).to(torch.float64)
        res.diagnostics.append(state.advance(b64, gam, index=k + 1,
                                             steps=report_steps(block, cfg),
                                             authors=authors, kde_h=kde_h, potential=potential))
        res.history.append(hist)
        res.step_checks.append(checks)
        if gain is not None:
            res.acceptance.append(gain)
        if checkpoint is not None:
            save_checkpoint(checkpoint, fp, res.flow, res.history,
                            [d.as_dict() for d in res.diagnostics], res.step_checks,
                            res.acceptance)
    res.final_state = state
    return res
