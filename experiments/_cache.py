"""The case cache: finished cases on disk, so an interrupted sweep recomputes only what is missing.

A finished case's value is pickled to

    results/.cases/<profile>/<experiment>[.seed<N>]/<case key>.<fingerprint>.pkl

where the fingerprint (:func:`case_fingerprint`) digests everything the value depends on: the
experiment, the case (key and params), the whole ``Config`` (seed included), the thread count and
the source fingerprint of the code (``experiments/<name>.py`` and ``theory/``, comments and
docstrings excluded). A file whose fingerprint differs is never read, so a code or config change
cannot leak an old value into a new record. Files are written atomically by the process that
collects results (the client), so a killed worker or a crash never leaves a half-written one; an
unreadable file counts as missing. The runner deletes an experiment's folder once its record is
written. The folder is git-ignored.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import pickle
import shutil
from pathlib import Path
from typing import Any

from experiments import _io
from experiments._cases import Case
from theory.io import atomic_path

__all__ = ["CaseCache", "case_fingerprint"]


def case_fingerprint(experiment: str, case: Case, config: Any, threads: int,
                     source: dict[str, str]) -> str:
    """SHA-256 (hex, 16 characters) of what the value of ``case`` depends on (module docstring)."""
    payload = {
        "experiment": experiment,
        "case": case.key,
        "params": case.param_json(),
        "config": _io.to_jsonable(dataclasses.asdict(config)),
        "threads": int(threads),
        "source": source,
    }
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class CaseCache:
    """The cached case values of one record (one experiment, profile and seed)."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)

    def _path(self, key: str, fingerprint: str) -> Path:
        return self.folder / f"{key}.{fingerprint}.pkl"

    def load(self, key: str, fingerprint: str) -> tuple[bool, Any]:
        """``(True, value)`` if the case is cached under this fingerprint, else ``(False, None)``.

        A file that cannot be unpickled (truncated by a full disk, say) counts as missing.
        """
        path = self._path(key, fingerprint)
        if not path.is_file():
            return False, None
        try:
            with open(path, "rb") as f:
                return True, pickle.load(f)
        except Exception:  # noqa: BLE001 -- any unreadable file is recomputed
            return False, None

    def store(self, key: str, fingerprint: str, value: Any) -> None:
        """Pickle ``value`` atomically (the previous file, if any, stays until the move)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        with atomic_path(self._path(key, fingerprint)) as tmp, open(tmp, "wb") as f:
            pickle.dump(value, f, protocol=pickle.HIGHEST_PROTOCOL)

    def clear(self) -> None:
        """Delete this record's folder (after its results file is written)."""
        shutil.rmtree(self.folder, ignore_errors=True)
