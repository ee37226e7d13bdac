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
from dataclasses import dataclass
from pathlib import Path

import torch
from numpy.typing import ArrayLike
from torch import nn

from theory.flow._block import Block, VelocityField
from theory.flow._data import std_normal_log_prob
from theory.validate import check_choice, check_int, check_nonneg_scalar, check_positive_scalar

__all__ = ["SCHEDULES", "FlowConfig", "JKOFlow", "gamma_schedule", "make_block"]

SCHEDULES = ("constant", "geometric")


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
        if gammas is None or len(gammas) != n_blocks:
            raise ValueError(f"gammas must have length n_blocks={n_blocks}, got {gammas!r}")
        return tuple(check_positive_scalar(g, "gammas") for g in gammas)
    gamma = check_positive_scalar(gamma, "gamma")
    if kind == "constant":
        return (gamma,) * n_blocks
    if kind == "geometric":
        ratio = check_positive_scalar(ratio, "ratio")
        return tuple(gamma * ratio**k for k in range(n_blocks))
    raise ValueError(f"kind must be one of {SCHEDULES + ('given',)}, got {kind!r}")


@dataclass(frozen=True)
class FlowConfig:
    """Architecture and training settings of a JKO flow (all JSON-able).

    It drives :func:`~theory.flow.train_flow` and :func:`~theory.flow.train_block`; experiment
    configurations hold one as their ``flow`` field.

    Attributes:
        d: dimension.
        n_blocks: number of blocks N.
        schedule: ``"constant"`` or ``"geometric"`` (see :func:`gamma_schedule`).
        gamma: γ_1 (the constant step, or the first of a geometric schedule).
        ratio: geometric ratio r of γ_n = γ r^{n-1}.
        gammas: explicit step sizes (overrides ``schedule``), or ``None``.
        hidden: hidden widths of the velocity MLP (:class:`VelocityField`).
        activation: ``"softplus"``, ``"tanh"`` or ``"silu"``.
        softplus_beta: slope β of the softplus (JKO-iFlow: 20).
        time_dependent: feed t to the MLP.
        steps: RK4 steps per block in training.
        eval_steps: RK4 steps for reported numbers.
        div: divergence, ``"exact"`` (carried through the MLP, one backward in training),
            ``"autograd"`` (d autograd passes, the oracle) or ``"hutchinson"``.
        iters: Adam iterations per block.
        block_iters: per-block iteration counts (length ``n_blocks``), overriding ``iters``; or
            ``None``.
        batch: minibatch size.
        lr: initial learning rate.
        lr_min_frac: the cosine decay ends at ``lr * lr_min_frac``.
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
        seed: seeds the training data, block initialisation and minibatches.
        device: torch device.
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
        """Validate the fields (``ValueError`` naming a bad one)."""
        for name in ("d", "n_blocks", "steps", "eval_steps", "iters", "batch", "n_train"):
            v = check_int(getattr(self, name), name, minimum=0 if name == "iters" else 1)
            object.__setattr__(self, name, v)
        check_choice(self.dtype, "dtype", ("float32", "float64"))
        check_nonneg_scalar(self.warm_scale, "warm_scale")
        for name in ("lr", "grad_clip", "lr_min_frac", "softplus_beta", "lr_decay"):
            check_positive_scalar(getattr(self, name), name)
        self.gamma_list()  # validates the schedule
        if self.block_iters is not None:
            its = tuple(check_int(i, "block_iters", minimum=0) for i in self.block_iters)
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
        """Add a trained block with its step size."""
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
            ValueError: if ``path`` is not a saved flow.
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
        """``x`` as an (n, d) tensor of the parameters' dtype and device.

        Raises:
            ValueError: naming ``name`` for a wrong shape or non-numeric input.
        """
        dtype, device = self._param_like()
        try:
            t = torch.as_tensor(x).to(dtype=dtype, device=device)
        except (TypeError, ValueError, RuntimeError):
            raise ValueError(f"{name} must be an (n, d) array or tensor of numbers") from None
        d = self.d
        if t.ndim != 2 or (d is not None and t.shape[1] != d):
            raise ValueError(f"{name} must have shape (n, {d}), got {tuple(t.shape)}")
        return t

    def forward(self, x: torch.Tensor, *, upto: int | None = None, steps: int | None = None,
                method: str = "rk4") -> tuple[torch.Tensor, torch.Tensor]:
        r"""Return :math:`F_n(x)` and :math:`\log\det\nabla F_n(x)` (first ``upto`` blocks)."""
        n = len(self) if upto is None else upto
        if not 0 <= n <= len(self):
            raise ValueError(f"upto must be in [0, {len(self)}], got {upto!r}")
        ell = torch.zeros(x.shape[0], dtype=x.dtype, device=x.device)
        for blk in list(self.blocks)[:n]:
            x, l_k = blk(x, steps=steps, method=method)
            ell = ell + l_k
        return x, ell

    def inverse(self, z: torch.Tensor, *, start: int | None = None, steps: int | None = None,
                method: str = "rk4") -> tuple[torch.Tensor, torch.Tensor]:
        r"""Return :math:`S(z) = S_1\circ\cdots\circ S_n(z)` (backward integration), its log-det.

        ``start = n`` inverts blocks n..1 (default all); ``steps``/``method`` choose the reverse
        integrator (fewer steps or ``"euler"`` inject inversion errors, C11).
        """
        n = len(self) if start is None else start
        if not 0 <= n <= len(self):
            raise ValueError(f"start must be in [0, {len(self)}], got {start!r}")
        ell = torch.zeros(z.shape[0], dtype=z.dtype, device=z.device)
        for blk in reversed(list(self.blocks)[:n]):
            z, l_k = blk.inverse(z, steps=steps, method=method)
            ell = ell + l_k
        return z, ell

    def log_prob(self, x: ArrayLike | torch.Tensor, *, steps: int | None = None) -> torch.Tensor:
        r"""Generated density :math:`\log\hat q_0(x) = \log q(F(x)) + \log\det\nabla F(x)`.

        Args:
            x ((n, d) tensor or array): points; cast to the parameters' dtype and device.
            steps: RK4 steps per block (``None``: each block's own).

        Returns:
            (n,) tensor of the parameters' dtype, in nats.

        Raises:
            ValueError: naming ``x`` if it is not (n, d).
        """
        x = self._as_input(x, "x")
        z, ell = self(x, steps=steps)
        return std_normal_log_prob(z) + ell

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
            ValueError: for ``n < 1`` or an empty flow (no blocks: nothing to invert).
        """
        n = check_int(n, "n", minimum=1)
        if len(self) == 0:
            raise ValueError("sample needs a flow with at least one block; this JKOFlow is empty")
        p_dtype, p_device = self._param_like()
        d = self.d
        z = torch.randn(n, d, generator=generator, dtype=dtype or torch.float64)
        z = z.to(dtype=p_dtype, device=p_device)
        x, ell_inv = self.inverse(z, steps=steps, method=method)
        return x, std_normal_log_prob(z) - ell_inv, z
