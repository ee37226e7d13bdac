r"""The JKO flow: N invertible ODE blocks, exact densities both ways (docs/theory.md §1; C8, C9).

Forward (data -> noise): :math:`F = T_N\circ\cdots\circ T_1`, :math:`\rho_n = (T_n)_\#\rho_{n-1}`.
Generated law: :math:`\hat q_0 = (F^{-1})_\#q`, q = N(0, I). Exact densities:

.. math::
    \log\hat q_0(x) = \log q(F(x)) + \log\det\nabla F(x),\qquad
    \log\rho_N(F(x)) = \log\rho_0(x) - \log\det\nabla F(x),

and for generated points :math:`x = F^{-1}(z)`,
:math:`\log\hat q_0(x) = \log q(z) - \log\det\nabla F^{-1}(z)` (backward integration).
Hence :math:`\mathrm{KL}(P\|\hat q_0) = \mathrm{KL}(\rho_N\|q)` (C9).
"""

from __future__ import annotations

import copy
import numbers
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from numpy.typing import ArrayLike
from torch import nn

from theory.flow._block import ACTIVATIONS, Block, VelocityField, check_points
from theory.flow._data import std_normal_log_prob
from theory.flow._ode import DIVERGENCES
from theory.validate import check_choice, check_int, check_nonneg_scalar, check_positive_scalar

__all__ = ["ACCEPT", "SCHEDULES", "FlowConfig", "JKOFlow", "gamma_schedule", "make_block",
           "report_steps"]

SCHEDULES = ("constant", "geometric")
ACCEPT = ("retrain", "reject", "off")  # per-block acceptance policies (FlowConfig.accept)


def gamma_schedule(kind: str, n_blocks: int, gamma: float, ratio: float = 1.4,
                   gammas: tuple[float, ...] | None = None) -> tuple[float, ...]:
    r"""Step sizes :math:`\gamma_1..\gamma_N` of a constant, geometric or given schedule.

    Constant γ, geometric :math:`\gamma r^{n-1}` (JKO-iFlow 2-D: 0.25·1.4^{n-1}, 8 blocks), or
    the user-given ``gammas`` (``kind="given"``).

    Raises:
        ValueError: for an unknown kind, n_blocks < 1, non-positive γ or ratio, or a ``gammas``
            of the wrong length.
    """
    n_blocks = check_int(n_blocks, "n_blocks", minimum=1)
    if kind == "given":
        if not isinstance(gammas, (tuple, list)) or len(gammas) != n_blocks:
            raise ValueError(f"gammas must have length n_blocks={n_blocks}, got {gammas!r}")
        return tuple(check_positive_scalar(g, "gammas") for g in gammas)
    gamma = check_positive_scalar(gamma, "gamma")
    if kind == "constant":
        return (gamma,) * n_blocks
    if kind == "geometric":
        ratio = check_positive_scalar(ratio, "ratio")
        return tuple(gamma * ratio**k for k in range(n_blocks))
    raise ValueError(f"kind must be one of {SCHEDULES + ('given',)}, got {kind!r}")


def _int_field(value, name: str, minimum: int) -> int:
    """``value`` as an int >= ``minimum``; an int type is required (not a bool, not a float)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an int, got {value!r}")
    return check_int(value, name, minimum=minimum)


def _tuple_field(value, name: str) -> tuple:
    """``value`` (a tuple or list) as a tuple."""
    if not isinstance(value, (tuple, list)):
        raise ValueError(f"{name} must be a tuple (or None), got {value!r}")
    return tuple(value)


def _hidden_field(value) -> tuple[int, ...]:
    """``hidden`` as a non-empty tuple of positive ints (one int: one hidden layer)."""
    if isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_)):
        value = (value,)
    if not isinstance(value, (tuple, list)) or len(value) == 0:
        raise ValueError(f"hidden must be a positive int or a non-empty tuple of positive ints, "
                         f"got {value!r}")
    return tuple(_int_field(h, "hidden", 1) for h in value)


def _device_field(value) -> str:
    """``device`` as a string naming a torch device available here (cpu, cuda[:i], mps)."""
    if isinstance(value, torch.device):
        value = str(value)
    try:
        dev = torch.device(value) if isinstance(value, str) else None
    except (TypeError, RuntimeError, ValueError):
        dev = None
    if dev is None:
        raise ValueError(f"device must be a torch device string such as 'cpu' or 'cuda', "
                         f"got {value!r}")
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device={value!r}: CUDA is not available in this torch build or "
                             f"on this machine; use device='cpu'")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(f"device={value!r}: only {torch.cuda.device_count()} CUDA devices")
    elif dev.type == "mps":
        if not torch.backends.mps.is_available():
            raise ValueError(f"device={value!r}: MPS is not available on this machine")
    elif dev.type != "cpu":
        raise ValueError(f"device must be 'cpu', 'cuda[:i]' or 'mps', got {value!r}")
    return str(value)


@dataclass(frozen=True)
class FlowConfig:
    r"""Architecture and training settings of a JKO flow (all JSON-able).

    It drives :func:`~theory.flow.train_flow` and :func:`~theory.flow.train_block`; experiment
    configurations hold one as their ``flow`` field.

    Attributes:
        d: dimension.
        n_blocks: number of blocks N.
        schedule: ``"constant"`` or ``"geometric"`` (see :func:`gamma_schedule`).
        gamma: γ_1 (the constant step, or the first of a geometric schedule).
        ratio: geometric ratio r of γ_n = γ r^{n-1}.
        gammas: explicit step sizes (overrides ``schedule``), or ``None``.
        hidden: hidden widths of the velocity MLP (:class:`VelocityField`), a non-empty tuple of
            positive ints (one int ``w`` is stored as ``(w,)``).
        activation: ``"softplus"``, ``"tanh"`` or ``"silu"``.
        softplus_beta: slope β of the softplus (JKO-iFlow: 20).
        time_dependent: feed t to the MLP.
        steps: RK4 steps per block at the start of training (each block's count can grow, see
            ``step_tol``).
        eval_steps: RK4 steps for reported numbers: block n is evaluated with
            ``max(eval_steps, block.steps)`` (:func:`report_steps`), the default of
            :meth:`JKOFlow.log_prob` too.
        step_tol: step-size control in training (docs/numerics.md §6.10), in nats: every
            ``step_check_every`` iterations, and after the last, the block's one-block
            log-density change :math:`\frac1m\sum_i|\delta_i|` between S and 2S steps on the
            minibatch (:math:`\delta_i = [\ell-V(T x_i)]_S - [\ell-V(T x_i)]_{2S}`) is measured,
            and S is doubled while it exceeds ``step_tol`` (up to ``max_steps``). This keeps the
            field from exploiting a coarse quadrature of :math:`\int\nabla\cdot v\,dt`.
        step_check_every: iterations between two step checks (0 turns the control off: the
            block keeps ``steps``, as JKO-iFlow does).
        max_steps: the largest step count the control may choose.
        accept: per-block acceptance (docs/numerics.md §6.11, :func:`~theory.flow.block_gain`):
            block n's held-out JKO objective must beat the identity's by > ``accept_se`` SE
            (at twice its reporting count). ``"retrain"``: retrain a failing block once from
            the identity, then replace it by the identity (v ≡ 0); ``"reject"``: replace it
            at once; ``"off"``: keep every block (JKO-iFlow).
        accept_se: the acceptance threshold in SEs (> 0).
        div: divergence, ``"exact"`` (carried through the MLP, one backward in training),
            ``"autograd"`` (d autograd passes, the oracle) or ``"hutchinson"``.
        iters: Adam iterations per block.
        block_iters: per-block iteration counts (length ``n_blocks``), overriding ``iters``; or
            ``None``.
        batch: minibatch size.
        lr: initial learning rate.
        lr_min_frac: the cosine decay ends at ``lr * lr_min_frac`` (in (0, 1]).
        lr_decay: block n starts at ``lr * lr_decay**(n-1)`` (1 = the same for every block;
            below 1 the late blocks, whose step is small and whose loss gain is below the
            minibatch noise, take smaller Adam steps: docs/numerics.md §6.6).
        grad_clip: gradient-norm clipping threshold.
        n_train: size of the (fixed) training set pushed through the blocks.
        warm_start: initialise block n from block n-1.
        warm_scale: with ``warm_start``, the copied output layer is multiplied by this factor
            (1: block n starts as block n-1's map; 0: it keeps block n-1's hidden features but
            starts as the identity map), docs/numerics.md §6.6.
        dtype: training dtype (``"float32"`` or ``"float64"``); evaluation is float64.
        seed: seeds the training data, block initialisation and minibatches (an int in
            [0, 2**32)).
        device: torch device string (``"cpu"``, ``"cuda[:i]"`` or ``"mps"``), which must be
            available here.

    Raises:
        ValueError: at construction, naming the first bad field (see :meth:`__post_init__`).
    """

    d: int = 2
    n_blocks: int = 4
    schedule: str = "constant"
    gamma: float = 0.5
    ratio: float = 1.4
    gammas: tuple[float, ...] | None = None
    hidden: tuple[int, ...] = (64, 64)
    activation: str = "softplus"
    softplus_beta: float = 20.0
    time_dependent: bool = True
    steps: int = 3
    eval_steps: int = 6
    step_tol: float = 0.0025
    step_check_every: int = 50
    max_steps: int = 48
    accept: str = "retrain"
    accept_se: float = 2.0
    div: str = "exact"
    iters: int = 500
    block_iters: tuple[int, ...] | None = None
    batch: int = 500
    lr: float = 2e-3
    lr_min_frac: float = 0.05
    lr_decay: float = 1.0
    grad_clip: float = 1.0
    n_train: int = 20000
    warm_start: bool = True
    warm_scale: float = 1.0
    dtype: str = "float32"
    seed: int = 0
    device: str = "cpu"

    def __post_init__(self) -> None:
        """Validate every field (``ValueError`` naming a bad one); normalise the tuples.

        Ints must be ints (not bools, not floats), bools actual bools, floats finite numbers in
        range, strings in their allowed set; ``hidden`` may be one positive int (one hidden
        layer) or a non-empty tuple of them; ``device`` must be a torch device available here
        (``"cuda"`` without CUDA raises); ``seed`` is in [0, 2**32).
        """
        for name in ("d", "n_blocks", "steps", "eval_steps", "iters", "batch", "n_train",
                     "step_check_every", "max_steps"):
            object.__setattr__(self, name, _int_field(getattr(self, name), name,
                                                      0 if name in ("iters", "step_check_every")
                                                      else 1))
        if self.max_steps < self.steps:
            raise ValueError(f"max_steps must be >= steps={self.steps}, got {self.max_steps!r}")
        seed = _int_field(self.seed, "seed", 0)
        if seed >= 2**32:
            raise ValueError(f"seed must be an int in [0, 2**32), got {seed!r}")
        object.__setattr__(self, "seed", seed)
        for name in ("time_dependent", "warm_start"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be a bool, got {getattr(self, name)!r}")
        check_choice(self.schedule, "schedule", SCHEDULES)
        check_choice(self.activation, "activation", ACTIVATIONS)
        check_choice(self.div, "div", DIVERGENCES)
        check_choice(self.accept, "accept", ACCEPT)
        check_choice(self.dtype, "dtype", ("float32", "float64"))
        for name in ("gamma", "ratio", "lr", "grad_clip", "lr_min_frac", "softplus_beta",
                     "lr_decay", "warm_scale", "step_tol", "accept_se"):
            v = getattr(self, name)
            if not isinstance(v, numbers.Real):
                raise ValueError(f"{name} must be a finite number, got {v!r}")
            (check_nonneg_scalar if name == "warm_scale" else check_positive_scalar)(v, name)
        if self.lr_min_frac > 1.0:
            raise ValueError(f"lr_min_frac must be in (0, 1], got {self.lr_min_frac!r}")
        object.__setattr__(self, "hidden", _hidden_field(self.hidden))
        object.__setattr__(self, "device", _device_field(self.device))
        if self.gammas is not None:
            object.__setattr__(self, "gammas", _tuple_field(self.gammas, "gammas"))
        self.gamma_list()  # validates the given step sizes
        if self.block_iters is not None:
            its = tuple(_int_field(i, "block_iters", 0)
                        for i in _tuple_field(self.block_iters, "block_iters"))
            if len(its) != self.n_blocks:
                raise ValueError(f"block_iters must have length n_blocks={self.n_blocks}, "
                                 f"got {len(its)}")
            object.__setattr__(self, "block_iters", its)

    def gamma_list(self) -> tuple[float, ...]:
        """The step sizes γ_1..γ_N."""
        kind = "given" if self.gammas is not None else self.schedule
        return gamma_schedule(kind, self.n_blocks, self.gamma, self.ratio, self.gammas)

    def iters_of(self, k: int) -> int:
        """Adam iterations of block ``k + 1`` (k counted from 0)."""
        return self.iters if self.block_iters is None else self.block_iters[k]

    def block_lr(self, k: int) -> float:
        """Initial learning rate of block ``k + 1`` (k counted from 0): ``lr * lr_decay**k``."""
        return self.lr * self.lr_decay ** check_int(k, "k", minimum=0)

    @property
    def torch_dtype(self) -> torch.dtype:
        """Training dtype as a torch dtype."""
        return torch.float32 if self.dtype == "float32" else torch.float64


def make_block(cfg: FlowConfig) -> Block:
    """A fresh block (identity at start: zero last layer) with the config's architecture."""
    field = VelocityField(cfg.d, tuple(cfg.hidden), cfg.activation, cfg.time_dependent,
                          softplus_beta=cfg.softplus_beta)
    return Block(field, steps=cfg.steps, div=cfg.div)


def report_steps(block: Block, config: FlowConfig | None) -> int:
    """RK4 steps for block's reported numbers: ``max(config.eval_steps, block.steps)``.

    ``block.steps`` is the count the training's step control validated (FlowConfig.step_tol);
    without a config, the block's own count.
    """
    own = int(block.steps)
    return own if config is None else max(int(config.eval_steps), own)


class JKOFlow(nn.Module):
    """A stack of :class:`Block` s with step sizes; blocks are appended as they are trained.

    Attributes:
        blocks: the blocks T_1..T_N (an ``nn.ModuleList``).
        gammas: their step sizes γ_1..γ_N (and any pre-set for blocks still to come).
        config: the :class:`FlowConfig` whose :func:`make_block` builds the blocks (set by
            :func:`~theory.flow.train_flow`; ``None`` for a hand-built flow). :meth:`save`
            needs it.

    Dtype and device: :meth:`forward` and :meth:`inverse` take tensors of the parameters' dtype
    and device; :meth:`log_prob` and :meth:`sample` also take numpy input and cast it to them,
    so a float32-trained flow is evaluated in float32 (use :meth:`evaluation_copy` for float64
    numbers).
    """

    def __init__(self, gammas: tuple[float, ...] = (), *,
                 config: FlowConfig | None = None) -> None:
        """An empty flow; ``gammas`` may pre-set the step sizes of blocks appended later."""
        super().__init__()
        if config is not None and not isinstance(config, FlowConfig):
            raise ValueError(f"config must be a FlowConfig or None, got {type(config).__name__}")
        self.blocks = nn.ModuleList()
        self.gammas: list[float] = [check_positive_scalar(g, "gammas") for g in gammas]
        self.config = config

    def append(self, block: Block, gamma: float) -> None:
        """Add a trained block with its step size (``ValueError`` for a non-module block)."""
        if not isinstance(block, nn.Module):
            raise ValueError(f"block must be a torch Module (a Block), got {type(block).__name__}")
        self.blocks.append(block)
        if len(self.gammas) < len(self.blocks):
            self.gammas.append(check_positive_scalar(gamma, "gamma"))

    def __len__(self) -> int:
        """Number of blocks."""
        return len(self.blocks)

    @property
    def d(self) -> int | None:
        """Dimension: the first block's field's ``d``, else ``config.d``, else ``None``."""
        if len(self) and getattr(self.blocks[0].field, "d", None) is not None:
            return int(self.blocks[0].field.d)
        return self.config.d if self.config is not None else None

    def evaluation_copy(self) -> JKOFlow:
        """A float64 deep copy for reported numbers (C: every reported number in float64)."""
        return copy.deepcopy(self).to(torch.float64)

    def save(self, path: str | Path) -> None:
        """Write the flow to ``path`` atomically: config, step sizes, weights, dtype.

        :meth:`load` rebuilds it exactly (bit-identical outputs on the same device). The file
        holds plain data only (read with ``torch.load(weights_only=True)``).

        Raises:
            ValueError: if :attr:`config` is ``None`` or does not describe the blocks.
        """
        from theory.flow._checkpoint import save_flow  # _checkpoint imports this module

        save_flow(self, path)

    @classmethod
    def load(cls, path: str | Path, *, device: str | None = None) -> JKOFlow:
        """The flow saved at ``path`` by :meth:`save` (on ``device``, default the config's).

        Raises:
            ValueError: naming ``path`` if it does not exist or is not a saved flow (any other
                file: text, truncated, a training checkpoint, another torch file), or if the
                saved (or the given) device is not available here.
        """
        from theory.flow._checkpoint import load_flow  # _checkpoint imports this module

        return load_flow(path, device=device)

    def _param_like(self) -> tuple[torch.dtype, torch.device]:
        """Dtype and device of the parameters (an empty flow: its config's, else float64/CPU)."""
        p = next(self.parameters(), None)
        if p is not None:
            return p.dtype, p.device
        if self.config is not None:
            return self.config.torch_dtype, torch.device(self.config.device)
        return torch.float64, torch.device("cpu")

    def _as_input(self, x: ArrayLike | torch.Tensor, name: str) -> torch.Tensor:
        """``x`` as a finite (n, d) tensor (n >= 1) of the parameters' dtype and device.

        Raises:
            ValueError: naming ``name`` for a wrong shape, no rows, NaN/inf or non-numeric input.
        """
        dtype, device = self._param_like()
        try:
            t = torch.as_tensor(x).to(dtype=dtype, device=device)
        except (TypeError, ValueError, RuntimeError):
            raise ValueError(f"{name} must be an (n, d) array or tensor of numbers") from None
        check_points(t, name, self.d)
        return t

    def _steps(self, block: Block, steps: int | None) -> int:
        """``steps`` if given, else the block's reporting count (:func:`report_steps`)."""
        return report_steps(block, self.config) if steps is None else steps

    def forward(self, x: torch.Tensor, *, upto: int | None = None, steps: int | None = None,
                method: str = "rk4") -> tuple[torch.Tensor, torch.Tensor]:
        r"""Return :math:`F_n(x)` and :math:`\log\det\nabla F_n(x)` (first ``upto`` blocks).

        ``steps=None`` integrates each block with its reporting count (:func:`report_steps`).

        Raises:
            ValueError: naming ``x`` unless it is a finite (n, d) tensor with n >= 1, or
                ``upto`` unless it is an int in [0, len(self)].
        """
        check_points(x, "x", self.d)
        n = len(self) if upto is None else check_int(upto, "upto", minimum=0)
        if n > len(self):
            raise ValueError(f"upto must be in [0, {len(self)}], got {upto!r}")
        ell = torch.zeros(x.shape[0], dtype=x.dtype, device=x.device)
        for blk in list(self.blocks)[:n]:
            x, l_k = blk(x, steps=self._steps(blk, steps), method=method)
            ell = ell + l_k
        return x, ell

    def inverse(self, z: torch.Tensor, *, start: int | None = None, steps: int | None = None,
                method: str = "rk4") -> tuple[torch.Tensor, torch.Tensor]:
        r"""Return :math:`S(z) = S_1\circ\cdots\circ S_n(z)` (backward integration), its log-det.

        ``start = n`` inverts blocks n..1 (default all); ``steps``/``method`` choose the reverse
        integrator (fewer steps or ``"euler"`` inject inversion errors, C11; ``steps=None``:
        each block's reporting count, :func:`report_steps`).

        Raises:
            ValueError: naming ``z`` unless it is a finite (n, d) tensor with n >= 1, or
                ``start`` unless it is an int in [0, len(self)].
        """
        check_points(z, "z", self.d)
        n = len(self) if start is None else check_int(start, "start", minimum=0)
        if n > len(self):
            raise ValueError(f"start must be in [0, {len(self)}], got {start!r}")
        ell = torch.zeros(z.shape[0], dtype=z.dtype, device=z.device)
        for blk in reversed(list(self.blocks)[:n]):
            z, l_k = blk.inverse(z, steps=self._steps(blk, steps), method=method)
            ell = ell + l_k
        return z, ell

    def log_prob(self, x: ArrayLike | torch.Tensor, *, steps: int | None = None) -> torch.Tensor:
        r"""Generated density :math:`\log\hat q_0(x) = \log q(F(x)) + \log\det\nabla F(x)`.

        Args:
            x ((n, d) tensor or array): points; cast to the parameters' dtype and device.
            steps: RK4 steps per block (``None``: each block's reporting count
                :func:`report_steps`, ``max(config.eval_steps, block.steps)``, whose
                refinement error the training's step control and the experiments measure;
                never the bare training count of an uncontrolled run).

        Returns:
            (n,) tensor of the parameters' dtype, in nats.

        Raises:
            ValueError: naming ``x`` if it is not a finite (n, d) array with n >= 1, or if the
                flow maps some of its rows to non-finite values (instead of a NaN density).
        """
        x = self._as_input(x, "x")
        z, ell = self(x, steps=steps)
        ok = torch.isfinite(z).all(dim=1) & torch.isfinite(ell)
        if bool(ok.all()):
            out = std_normal_log_prob(z) + ell
            ok = torch.isfinite(out)
            if bool(ok.all()):
                return out
        raise ValueError(f"x: the flow gives a non-finite log-density at {int((~ok).sum())} of "
                         f"{x.shape[0]} rows (points out of the flow's range, or a diverged flow)")

    def sample(self, n: int, *, generator: torch.Generator | None = None,
               dtype: torch.dtype | None = None, steps: int | None = None,
               method: str = "rk4") -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        r"""Generate ``x = F^{-1}(z)``, z ~ N(0, I).

        z is drawn on the CPU in ``dtype`` (default float64, so a float32 flow and its
        :meth:`evaluation_copy` see the same z up to rounding), then cast to the parameters'
        dtype and device.

        Returns:
            ``(x, log q̂_0(x) by backward integration, z)``, tensors of the parameters' dtype.

        Raises:
            ValueError: for ``n < 1``, an empty flow (no blocks: nothing to invert), a
                ``generator`` that is not a CPU ``torch.Generator``, a ``dtype`` that is not a
                floating torch dtype, or if the inverse gives non-finite points (a diverged flow).
        """
        n = check_int(n, "n", minimum=1)
        if len(self) == 0:
            raise ValueError("sample needs a flow with at least one block; this JKOFlow is empty")
        if generator is not None and (not isinstance(generator, torch.Generator)
                                      or generator.device.type != "cpu"):
            raise ValueError(f"generator must be a CPU torch.Generator or None, got {generator!r}")
        if dtype is not None and not (isinstance(dtype, torch.dtype) and dtype.is_floating_point):
            raise ValueError(f"dtype must be a floating torch dtype or None, got {dtype!r}")
        p_dtype, p_device = self._param_like()
        d = self.d
        z = torch.randn(n, d, generator=generator, dtype=dtype or torch.float64)
        z = z.to(dtype=p_dtype, device=p_device)
        x, ell_inv = self.inverse(z, steps=steps, method=method)
        if not bool(torch.isfinite(x).all() and torch.isfinite(ell_inv).all()):
            raise ValueError("sample: the flow's inverse gives non-finite points or densities "
                             "(the flow diverged)")
        return x, std_normal_log_prob(z) - ell_inv, z
