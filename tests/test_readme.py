"""Every ```python block of README.md runs: one test per block, in a fresh namespace.

Blocks run in order of appearance, each with the repository root as working directory and
matplotlib's non-interactive Agg backend. A README without python blocks gives one skipped test.
"""

import re
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
_FENCE = re.compile(r"^(?P<indent>[ \t]*)```python[ \t]*\n(?P<code>.*?)^(?P=indent)```[ \t]*$",
                    re.MULTILINE | re.DOTALL)


def python_blocks(text: str) -> list[str]:
    """The ```python fenced blocks of a markdown text, dedented (fences inside lists)."""
    return [textwrap.dedent(m["code"]) for m in _FENCE.finditer(text)]


def _block_id(i: int, code: str) -> str:
    first = next((ln.strip() for ln in code.splitlines() if ln.strip()), "")
    return f"{i}: {first[:40]}"


def run_block(code: str, name: str) -> dict:
    """Execute ``code`` in a fresh namespace (as a script named ``name``); return the namespace."""
    namespace = {"__name__": "__main__"}
    exec(compile(code, name, "exec"), namespace)
    return namespace


BLOCKS = python_blocks(README.read_text(encoding="utf-8"))
PARAMS = [pytest.param(code, id=_block_id(i, code)) for i, code in enumerate(BLOCKS)] or [
    pytest.param(None, marks=pytest.mark.skip(reason="README.md has no ```python blocks"),
                 id="no-python-blocks")]


@pytest.mark.parametrize("code", PARAMS)
def test_readme_block_runs(code, monkeypatch):
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setattr(sys, "argv", ["README.md"])
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    try:
        run_block(code, "README.md")
    finally:
        plt.close("all")


def test_extraction_and_failure_are_seen():
    """The extractor finds python blocks only (also indented ones), and a raising block raises."""
    text = ("intro\n```python\nx = 1\n```\n```bash\nls\n```\n- item\n\n  ```python\n"
            "  y = 2\n  ```\nend\n")
    blocks = python_blocks(text)
    assert blocks == ["x = 1\n", "y = 2\n"]
    assert run_block(blocks[1], "b")["y"] == 2
    with pytest.raises(ZeroDivisionError):
        run_block("1 / 0", "bad")
