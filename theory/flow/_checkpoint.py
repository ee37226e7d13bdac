"""Checkpoints of block-wise training: written atomically after each block, resumed if they match.

A checkpoint holds a fingerprint of everything that determines the result (the
:class:`~theory.flow.FlowConfig`, evaluation sizes, the data law, the potential), the number of
finished blocks, their weights, loss histories and diagnostics. Resuming from it gives a result
identical to an uninterrupted run; a checkpoint with another fingerprint is ignored.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import torch

from theory.flow._model import FlowConfig, JKOFlow
from theory.io import atomic_path

__all__ = ["fingerprint", "load_checkpoint", "save_checkpoint"]


def fingerprint(cfg: FlowConfig, extra: dict[str, Any]) -> str:
    """A JSON string identifying a training run: the config fields plus ``extra`` settings."""
    return json.dumps({"cfg": dataclasses.asdict(cfg), **extra}, sort_keys=True, default=str)


def load_checkpoint(path: str | Path | None, fp: str) -> dict[str, Any] | None:
    """The saved state at ``path`` if it exists and has fingerprint ``fp``, else ``None``."""
    if path is None or not Path(path).exists():
        return None
    saved = torch.load(path, weights_only=False)
    return saved if saved.get("fingerprint") == fp else None


def save_checkpoint(path: str | Path, fp: str, flow: JKOFlow, history: list[list[dict]],
                    diagnostics: list[dict]) -> None:
    """Write the trained blocks (weights), histories and diagnostics atomically to ``path``."""
    with atomic_path(path) as tmp:
        torch.save({"fingerprint": fp, "n_done": len(flow), "history": history,
                    "diagnostics": diagnostics,
                    "blocks": [b.state_dict() for b in flow.blocks]}, tmp)
