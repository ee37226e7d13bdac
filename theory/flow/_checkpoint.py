"""Persistence: training checkpoints (resumed if they match) and saved flows (``JKOFlow.save``).

A training checkpoint holds a content fingerprint of everything that determines the result (a
sha256 over the :class:`~theory.flow.FlowConfig`, the settings, and the bytes, dtype and shape of
the actual training and held-out arrays), the number of finished blocks, their weights, loss
histories, diagnostics, step counts (the training's step control may have raised them) and
per-block acceptance records.
Resuming from it gives a result identical to an uninterrupted run, for
any data (a law or a user's array). A file at the checkpoint path that is not a checkpoint with
the run's fingerprint (another run's checkpoint, a saved flow, an unreadable file) is refused
with a ``ValueError``, never overwritten.

Both files are written atomically (:func:`theory.io.atomic_path`) and hold plain data only
(tensors, lists, dicts, str, numbers), so they are read with ``torch.load(weights_only=True)``:
loading runs no pickled code.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from theory.flow._convert import to_numpy
from theory.flow._model import FlowConfig, JKOFlow, make_block
from theory.flow._ode import DIVERGENCES
from theory.io import atomic_path
from theory.validate import check_choice, check_int

__all__ = ["config_from_dict", "config_to_dict", "fingerprint", "load_checkpoint", "load_flow",
           "save_checkpoint", "save_flow"]

#: Format tags of the two kinds of file.
CHECKPOINT_FORMAT = "theory.flow.checkpoint/4"
FLOW_FORMAT = "theory.flow.JKOFlow/1"


def config_to_dict(cfg: FlowConfig) -> dict[str, Any]:
    """The config as a plain dict (tuples become lists); :func:`config_from_dict` inverts it."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(cfg).items()}


def config_from_dict(d: Mapping[str, Any]) -> FlowConfig:
    """``FlowConfig(**d)`` with lists turned back into tuples.

    Raises:
        ValueError: naming the fields ``FlowConfig`` does not have, or a bad value.
    """
    known = {f.name for f in dataclasses.fields(FlowConfig)}
    unknown = sorted(set(d) - known)
    if unknown:
        raise ValueError(f"config has fields FlowConfig does not know: {unknown}")
    return FlowConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})


def fingerprint(cfg: FlowConfig, extra: Mapping[str, Any],
                arrays: Mapping[str, Any] | None = None) -> str:
    """sha256 (hex) identifying a training run: config, ``extra`` settings and data arrays.

    Args:
        cfg: the flow configuration (all fields).
        extra: JSON-able settings (sizes, flags, the potential's name).
        arrays: named arrays or tensors (the training and held-out samples); each contributes
            its name, dtype, shape and raw bytes (C order), so two runs share a fingerprint only
            if they see bit-identical data.
    """
    h = hashlib.sha256()
    h.update(json.dumps({"cfg": dataclasses.asdict(cfg), **extra}, sort_keys=True,
                        default=str).encode())
    for name, a in sorted((arrays or {}).items()):
        a = np.ascontiguousarray(to_numpy(a, dtype=None))
        h.update(json.dumps([name, a.dtype.str, list(a.shape)]).encode())
        h.update(a.tobytes())
    return h.hexdigest()


def _plain(v: Any) -> Any:
    """``v`` with numpy scalars and tuples made plain Python (for ``weights_only`` loading)."""
    if isinstance(v, Mapping):
        return {str(k): _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if isinstance(v, np.generic):
        return v.item()
    return v


def _cpu_state(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The module's state dict as detached CPU tensors (a plain dict)."""
    return {k: v.detach().cpu() for k, v in module.state_dict().items()}


def _read(path: str | Path, what: str) -> Any:
    """``torch.load(weights_only=True)`` onto the CPU; ``ValueError`` naming ``path`` otherwise.

    Any failure to unpickle (a text file, a truncated file, a file with pickled objects) or to
    read (a folder) is reported as ``"{what} {path} is not a readable ..."``.
    """
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise ValueError(f"{what} {path} does not exist") from None
    except Exception as e:  # the unpickler raises KeyError, UnicodeDecodeError, EOFError, ...
        raise ValueError(f"{what} {path} is not a readable torch file of plain data "
                         f"({type(e).__name__}: {e})") from None


def load_checkpoint(path: str | Path | None, fp: str) -> dict[str, Any] | None:
    """The saved state at ``path`` if it exists and has fingerprint ``fp``; ``None`` if no file.

    Raises:
        ValueError: naming ``checkpoint`` and ``path`` if a file is there but is not a
            checkpoint of this run: unreadable, not a :func:`save_checkpoint` file (a saved
            JKOFlow, any other file), or a checkpoint with another fingerprint (another
            config, settings or data). Such a file is never overwritten.
    """
    if path is None:
        return None
    if not isinstance(path, (str, Path)):
        raise ValueError(f"checkpoint must be a path (str or Path) or None, got {path!r}")
    if not Path(path).exists():
        return None
    saved = _read(path, "checkpoint")
    if not isinstance(saved, dict) or saved.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"checkpoint {path} is not a train_flow checkpoint (format "
                         f"{CHECKPOINT_FORMAT!r}); refusing to overwrite it: move it or pass "
                         f"another checkpoint path")
    if saved.get("fingerprint") != fp:
        raise ValueError(f"checkpoint {path} belongs to another run (its fingerprint of the "
                         f"config, settings and data differs); refusing to overwrite it: "
                         f"delete it or pass another checkpoint path")
    return saved


def save_checkpoint(path: str | Path, fp: str, flow: JKOFlow, history: list[list[dict]],
                    diagnostics: list[dict], step_checks: list[list[dict]] | None = None,
                    acceptance: list[dict] | None = None) -> None:
    """Write blocks, step counts, histories, diagnostics, step checks, acceptance to ``path``.

    Atomic (:func:`theory.io.atomic_path`).
    """
    checks = [[] for _ in flow.blocks] if step_checks is None else step_checks
    payload = {"format": CHECKPOINT_FORMAT, "fingerprint": fp, "n_done": len(flow),
               "history": _plain(history), "diagnostics": _plain(diagnostics),
               "step_checks": _plain(checks),
               "acceptance": _plain(acceptance or []),
               "blocks": [_cpu_state(b) for b in flow.blocks],
               "steps": [int(b.steps) for b in flow.blocks]}
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)


def _dtype_name(flow: JKOFlow) -> str:
    p = next(flow.parameters(), None)
    return str(p.dtype).removeprefix("torch.") if p is not None else flow.config.dtype


def save_flow(flow: JKOFlow, path: str | Path) -> None:
    """Write ``flow`` (config, step sizes, per-block settings, weights, dtype) atomically.

    Raises:
        ValueError: if ``flow.config`` is ``None`` (nothing says how to rebuild the blocks), or a
            block's parameters do not match the architecture ``make_block(flow.config)`` builds
            (a hand-made field, or a config that is not the flow's).
    """
    cfg = flow.config
    if cfg is None:
        raise ValueError("flow.config is None: save needs the FlowConfig that rebuilds the "
                         "blocks (train_flow sets it; for a hand-built flow of make_block(cfg) "
                         "blocks set flow.config = cfg)")
    ref = {k: tuple(v.shape) for k, v in make_block(cfg).state_dict().items()}
    for k, blk in enumerate(flow.blocks):
        got = {n: tuple(v.shape) for n, v in blk.state_dict().items()}
        if got != ref:
            raise ValueError(f"flow block {k + 1} does not have the architecture of "
                             f"flow.config (parameter shapes {got} != {ref})")
    payload = {"format": FLOW_FORMAT, "config": config_to_dict(cfg), "dtype": _dtype_name(flow),
               "gammas": [float(g) for g in flow.gammas],
               "blocks": [{"steps": int(b.steps), "div": str(b.div), "state": _cpu_state(b)}
                          for b in flow.blocks]}
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)


def load_flow(path: str | Path, *, device: str | None = None) -> JKOFlow:
    """Rebuild the flow written by :func:`save_flow`: bit-identical weights, same dtype.

    Args:
        path: the file.
        device: where to put the flow (``None``: the saved config's device); the returned
            ``flow.config.device`` is set to it.

    Raises:
        ValueError: naming ``path`` if it does not exist or is not a saved flow (a text file, a
            truncated file, a training checkpoint, any other torch file, or a saved flow whose
            content is damaged); naming ``device`` if it is not available here.
    """
    payload = _read(path, "path")
    if not isinstance(payload, dict) or payload.get("format") != FLOW_FORMAT:
        raise ValueError(f"path {path} is not a saved JKOFlow (format {FLOW_FORMAT!r})")
    try:
        config = dict(payload["config"])
    except (KeyError, TypeError, ValueError) as e:
        raise ValueError(f"path {path} is a damaged saved JKOFlow (no config: {e})") from None
    if device is not None:
        config["device"] = device
    try:
        cfg = config_from_dict(config)
    except ValueError as e:
        raise ValueError(f"path {path}: the saved config is not usable here: {e}") from None
    try:
        dtype = getattr(torch, str(payload["dtype"]), None)
        if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
            raise ValueError(f"unknown saved dtype {payload['dtype']!r}")
        flow = JKOFlow(tuple(payload["gammas"]), config=cfg)
        for k, entry in enumerate(payload["blocks"]):
            blk = make_block(cfg).to(dtype=dtype)  # cast first: load_state_dict copies exactly
            blk.steps = check_int(entry["steps"], "steps", minimum=1)
            blk.div = check_choice(entry["div"], "div", DIVERGENCES)
            blk.load_state_dict(entry["state"])
            flow.append(blk.to(device=cfg.device), flow.gammas[k])
    except (KeyError, TypeError, ValueError, RuntimeError, IndexError) as e:
        raise ValueError(f"path {path} is a damaged saved JKOFlow ({type(e).__name__}: {e})"
                         ) from None
    return flow
