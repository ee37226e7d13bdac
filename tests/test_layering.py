"""Architecture rules of theory/ (one-way layering: experiments use theory, never back).

(a) nothing under theory/ imports experiments (parsed with ``ast``, nothing is imported);
(b) every public ``__all__`` of theory is sorted (isort style, as ruff's RUF022: CONSTANTS, then
    Classes, then functions) and every name in it resolves;
(c) no module of theory/ exceeds 500 lines;
(d) ``import theory`` is cheap (no torch, no scipy) and its submodules load on attribute access.
"""

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

THEORY = Path(__file__).resolve().parent.parent / "theory"
FILES = sorted(THEORY.rglob("*.py"))
MAX_LINES = 500
PUBLIC = ["theory", "theory.gaussian", "theory.oned", "theory.flow", "theory.bounds",
          "theory.rates", "theory.separable", "theory.spd", "theory.validate", "theory.io",
          "theory.progress"]


def _imported_modules(source: str) -> set[str]:
    """Absolute module names imported by ``source`` (``import a.b``, ``from a.b import c``)."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def _imports_experiments(source: str) -> bool:
    return any(n == "experiments" or n.startswith("experiments.")
               for n in _imported_modules(source))


def test_import_detector_sees_every_form():
    """The detector itself: it must catch every way of importing the package (and no other)."""
    for src in ("import experiments", "import experiments._io as io",
                "from experiments import _runner", "from experiments._api import Check",
                "def f():\n    import experiments.kl_guarantee\n"):
        assert _imports_experiments(src), src
    for src in ("import experimentsx", "from theory import io", "x = 'experiments'"):
        assert not _imports_experiments(src), src


def test_theory_never_imports_experiments():
    offenders = [str(f.relative_to(THEORY.parent)) for f in FILES
                 if _imports_experiments(f.read_text(encoding="utf-8"))]
    assert FILES and not offenders, f"theory/ must not import experiments: {offenders}"


def _isort_key(name: str) -> tuple[int, str]:
    kind = 0 if name.isupper() else 1 if name[:1].isupper() else 2
    return kind, name


@pytest.mark.parametrize("modname", PUBLIC)
def test_all_is_sorted_unique_and_resolves(modname):
    mod = importlib.import_module(modname)
    names = list(mod.__all__)
    assert names == sorted(names, key=_isort_key), f"{modname}.__all__ is not sorted"
    assert len(set(names)) == len(names), f"{modname}.__all__ has duplicates"
    missing = [n for n in names if not hasattr(mod, n)]
    assert not missing, f"{modname}.__all__ names that do not resolve: {missing}"


def test_modules_are_short():
    long = {str(f.relative_to(THEORY.parent)): n for f in FILES
            if (n := len(f.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert not long, f"modules over {MAX_LINES} lines (split them): {long}"


def test_import_theory_is_lazy():
    """In a fresh interpreter: ``import theory`` loads neither torch nor scipy; attributes work."""
    code = ("import sys, theory\n"
            "assert 'torch' not in sys.modules and 'scipy' not in sys.modules\n"
            "assert theory.bounds.w2_contraction_factor(1.0, 1.0) == 0.5\n"
            "assert 'torch' not in sys.modules\n"
            "assert callable(theory.gaussian.jko_step)\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=THEORY.parent, capture_output=True,
                         text=True, check=False)
    assert out.returncode == 0, out.stderr
    import theory

    for name in ("gaussian", "oned", "flow"):
        assert getattr(theory, name) is importlib.import_module(f"theory.{name}")
