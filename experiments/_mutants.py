"""Mutation test of our own evidence: inject bugs into ``theory/``, see which checks fail.

``python -m experiments mutants [--only ID|EXPERIMENT ...]`` applies each mutant of
:data:`CATALOGUE` in turn, **in-process**: the mutated function replaces the original in every
module that holds a reference to it (``from X import f`` binds ``f`` in the importing module, so
each ``theory``/``experiments`` module whose namespace holds the very same object is patched), or
on its class for a method. With the mutant in place it re-runs the quick profile of the
experiments that reach the mutated code, evaluates their ``checks`` and records the rows that
FAIL (and PASS on the unmutated code). The original is restored after each mutant, also when the
experiment raises.

Which experiments reach a function is measured, not guessed: a baseline pass runs every quick
experiment once with each catalogued target wrapped by a recorder (which calls the original
unchanged). A mutant whose target no experiment reaches is reported as *not reached*.

Outcomes per mutant:

- ``killed`` -- at least one ``paper_checks.md`` row FAILs that passes on the unmutated code;
- ``pipeline`` -- an experiment raised, or its results hold NaN, or its ``checks`` raised: the
  pipeline (``checks``) reports this as a FAIL row of its own (``experiments/_runner.py``);
- ``survived`` -- every row still passes: the evidence cannot see this bug;
- ``equivalent`` -- declared equivalent in the catalogue, with its justification (it is still
  run, and reported if something kills it anyway);
- ``not reached`` -- no quick experiment calls the target.

Output: ``results/mutants.json`` (atomic) and the generated kill table ``docs/mutants.md``.
"""

from __future__ import annotations
import __future__

import contextlib
import dataclasses
import functools
import importlib
import inspect
import math
import sys
import textwrap
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from experiments import _io, _runner
from theory.progress import progress

__all__ = ["CATALOGUE", "Mutant", "applied", "holders", "lookup", "main", "render", "replacement",
           "run_catalogue"]

#: Where the generated kill table goes.
DOC = _io.ROOT / "docs/mutants.md"
#: Where the machine-readable outcome goes.
RESULT = _io.RESULTS / "mutants.json"
#: Where a run of a subset (``--only``) goes (git-ignored).
PARTIAL = _io.RESULTS / "quick" / "mutants_only.json"
#: Module prefixes searched for references to a patched function.
_PREFIXES = ("theory", "experiments")


@dataclass(frozen=True)
class Mutant:
    """One injected bug.

    Attributes:
        id: short unique name (``"bounds.w2_contraction_factor*1.01"``).
        target: ``"module:qualname"`` of the function or method to replace
            (``"theory.flow._model:JKOFlow.log_prob"``).
        what: what the bug breaks, in plain words.
        claims: the claims whose evidence it should affect.
        factor: ``kind == "scale"``: the returned value is multiplied by it.
        index: ``kind == "scale"`` on a function returning a tuple: the element scaled.
        old: ``kind == "source"``: a text occurring exactly once in the target's source ...
        new: ... and its replacement (the function is recompiled in its module's namespace).
        equivalent: non-empty: the mutant is declared equivalent (cannot change any checked
            number), with the reason.
    """

    id: str
    target: str
    what: str
    claims: tuple[str, ...]
    factor: float = 1.0
    index: int | None = None
    old: str = ""
    new: str = ""
    equivalent: str = ""

    @property
    def kind(self) -> str:
        """``"source"`` for a text edit of the target's source, else ``"scale"``."""
        return "source" if self.old else "scale"


def _scale(target: str, factor: float, what: str, claims: tuple[str, ...], *,
           index: int | None = None, id: str | None = None, equivalent: str = "") -> Mutant:
    short = target.replace("theory.", "").replace(":", ".")
    return Mutant(id or f"{short}*{factor:g}", target, what, claims, factor=factor, index=index,
                  equivalent=equivalent)


def _edit(id: str, target: str, old: str, new: str, what: str, claims: tuple[str, ...],
          equivalent: str = "") -> Mutant:
    return Mutant(id, target, what, claims, old=old, new=new, equivalent=equivalent)


_B = "theory.bounds:"
_LOOSE = ("looser bound (×1.01): a check that only tests '≤ bound' cannot see it unless "
          "sharpness is enforced")
_TIGHT = "tighter bound (×0.99): the measured quantity, when the bound is attained, exceeds it"

#: The catalogue. Bounds: looser and tighter versions of every bound function used by a check;
#: Gaussian, 1-D and neural solvers: residual scaling, recursion off-by-ones, sign flips, weights.
CATALOGUE: tuple[Mutant, ...] = (
    # --- theory.bounds: looser (×1.01) and tighter (×0.99) ---------------------------------
    _scale(_B + "w2_contraction_factor", 1.01, _LOOSE, ("C2",)),
    _scale(_B + "w2_contraction_factor", 0.99, _TIGHT, ("C2",)),
    _scale(_B + "w2_one_step", 1.01, _LOOSE, ("C3",)),
    _scale(_B + "w2_one_step", 0.99, _TIGHT, ("C3",)),
    _scale(_B + "w2_multi_step", 1.01, _LOOSE, ("C4",)),
    _scale(_B + "w2_multi_step", 0.99, _TIGHT, ("C4",)),
    _scale(_B + "gap_one_step", 1.01, _LOOSE, ("C5",)),
    _scale(_B + "gap_one_step", 0.99, _TIGHT, ("C5",)),
    _scale(_B + "kl_after_n", 1.01, _LOOSE, ("C5", "C8")),
    _scale(_B + "talagrand_w2_sq", 1.01, _LOOSE, ("C7",)),
    _scale(_B + "talagrand_w2_sq", 0.99, _TIGHT, ("C7",)),
    _scale(_B + "kl_guarantee_constant", 1.01, _LOOSE, ("C8",)),
    _scale(_B + "kl_contraction_gaussian", 1.01, _LOOSE, ("C18",)),
    _scale(_B + "kl_contraction_gaussian", 0.99, _TIGHT, ("C18",)),
    _scale(_B + "stationary_kl", 1.01, _LOOSE, ("C19",)),
    _scale(_B + "stationary_kl", 0.99, _TIGHT, ("C19",)),
    _scale(_B + "a_posteriori_kl", 0.99, _TIGHT, ("C19",)),
    _scale(_B + "evi_rhs", 0.99, "EVI right-hand side scaled down (a tighter C6 bound)", ("C6",)),
    _scale(_B + "evi_rhs", 1.01, _LOOSE, ("C6",)),
    _scale(_B + "ou_smoothing_w2", 0.99, _TIGHT, ("C10",)),
    _scale(_B + "merely_convex_gap", 0.99, _TIGHT, ("C16",)),
    _scale(_B + "local_rate_mean", 1.01, _LOOSE, ("C15",)),
    _scale(_B + "inversion_telescoping", 0.99, _TIGHT, ("C11",)),
    # --- theory.gaussian ----------------------------------------------------------------------
    _scale("theory.gaussian._residual:residual_at", 2.0,
           "Assumption-1 residual over-reported 2× everywhere (inexact steps are polished to, "
           "and reported by, the same code)", ("C3", "C4", "C5", "C6", "C19"),
           id="gaussian.residual_at*2"),
    _scale("theory.gaussian._residual:foc_residual", 2.0,
           "public foc_residual over-reports ε 2× (the builder's internal residual unchanged)",
           ("C1", "C3", "C19"), id="gaussian.foc_residual*2"),
    _edit("gaussian.inexact_trajectory.eps*2",
          "theory.gaussian._trajectory:inexact_trajectory",
          "perturbed_step(pb, float(e[k]), kind, rng, None)",
          "perturbed_step(pb, 2.0 * float(e[k]), kind, rng, None)",
          "inexact steps built with twice the prescribed ε (the achieved ε is reported honestly)",
          ("C3",)),
    _edit("gaussian.inexact_trajectory.eps*1.01",
          "theory.gaussian._trajectory:inexact_trajectory",
          "perturbed_step(pb, float(e[k]), kind, rng, None)",
          "perturbed_step(pb, 1.01 * float(e[k]), kind, rng, None)",
          "inexact steps built with ε off by 1%", ("C3",)),
    _edit("gaussian.standard_trajectory.sigma-off-by-one",
          "theory.gaussian._trajectory:standard_trajectory",
          "1.0 / sig[k + 1]", "1.0 / sig[k]",
          "σ−1 recursion of the fast trajectory uses σ_k instead of σ_{k+1}",
          ("C2", "C5", "C7", "C18")),
    _edit("gaussian.standard_trajectory.mean-lag",
          "theory.gaussian._trajectory:standard_trajectory",
          "np.concatenate([[1.0], np.cumprod(1.0 / (1.0 + g))])",
          "np.concatenate([[1.0, 1.0], np.cumprod(1.0 / (1.0 + g))[:-1]])",
          "mean of the fast trajectory lags one step (off-by-one in the cumulative product)",
          ("C2", "C5", "C7", "C18")),
    _edit("gaussian.exact_step.isotropic-branch",
          "theory.gaussian._step:exact_step",
          "a * a + tg.beta * c0[0]", "a * a + tg.beta * c0[0] * f0[0]",
          "isotropic fast branch of the exact step drops the factor (1+γq) under the root",
          ("C1", "C2", "C15")),
    _edit("gaussian.worst-direction.sign",
          "theory.gaussian._inexact:_slowest_away",
          "< 0.0", "> 0.0",
          "the 'worst-case' inexact mean shift points toward the target instead of away",
          ("C3", "C4", "C19")),
    _edit("gaussian.kl.mean-half",
          "theory.gaussian._metrics:kl",
          "0.5 * float(dm @ dm)", "float(dm @ dm)",
          "Gaussian KL: the mean term misses its factor 1/2", ("C5", "C7", "C8", "C18")),
    _edit("gaussian.w2.no-sqrt",
          "theory.gaussian._metrics:w2",
          "float(np.sqrt(v)) if k == 0 else _ldexp(math.sqrt(v), k)",
          "float(v) if k == 0 else _ldexp(v, 2 * k)",
          "Gaussian W2 returns W2² (missing square root)", ("C2", "C3", "C4", "C7")),
    # --- theory.oned --------------------------------------------------------------------------
    _scale("theory.oned._lagrangian:foc_residual", 2.0,
           "1-D FOC residual over-reported 2×", ("C3", "C4", "C19"), id="oned.foc_residual*2"),
    _scale("theory.oned._measures:w2_sq", 1.02,
           "1-D W2² with a quadrature-weight error of 2%", ("C2", "C4", "C5", "C7"),
           id="oned.w2_sq*1.02"),
    _edit("oned.jko_step.gradient-2gamma",
          "theory.oned._lagrangian:jko_step",
          "return w * (z - y) / gamma + G.gradient(z, grid)",
          "return w * (z - y) / (2.0 * gamma) + G.gradient(z, grid)",
          "1-D JKO step: the gradient of the transport term uses 2γ (a step of size 2γ, with "
          "the Hessian of the step γ)", ("C2", "C4", "C12", "C13")),
    # --- theory.flow --------------------------------------------------------------------------
    _edit("flow.rk4.logdet-weights",
          "theory.flow._ode:integrate",
          "ell = ell + (h / 6.0) * (d1 + 2.0 * d2 + 2.0 * d3 + d4)",
          "ell = ell + (h / 4.0) * (d1 + d2 + d3 + d4)",
          "RK4 weights of the log-determinant replaced by equal weights",
          ("C8", "C9", "C10")),
    _edit("flow.rk4.state-stage",
          "theory.flow._ode:integrate",
          "k3, d3 = _stage(field, x + 0.5 * h * k2", "k3, d3 = _stage(field, x + h * k2",
          "third RK4 stage of the state evaluated at a full instead of a half step",
          ("C9", "C11")),
    _edit("flow.sample.density-sign",
          "theory.flow._model:JKOFlow.sample",
          "std_normal_log_prob(z) - ell_inv", "std_normal_log_prob(z) + ell_inv",
          "sign error in the density of generated samples (backward log-det added)",
          ("C9",)),
    _edit("flow.log_prob.sign",
          "theory.flow._model:JKOFlow.log_prob",
          "std_normal_log_prob(z) + ell", "std_normal_log_prob(z) - ell",
          "sign error in the generated log-density (forward log-det subtracted)", ("C9",)),
    _edit("flow.steps1-uncontrolled",
          "theory.flow._model:FlowConfig.__post_init__",
          'object.__setattr__(self, "seed", seed)',
          'object.__setattr__(self, "seed", seed); '
          '[object.__setattr__(self, k, v) for k, v in '
          '(("steps", 1), ("eval_steps", 1), ("step_check_every", 0), ("accept", "off"))]',
          "every flow trained with 1 RK4 step per block, no step control, no acceptance test, "
          "and reported at that count (the quadrature a field can exploit)", ("C9",)),

    _edit("flow.kl_k3.half",
          "theory.flow._diagnostics:kl_k3",
          "float(terms.mean())", "float(0.5 * terms.mean())",
          "the k3 KL estimator halved", ("C8", "C9", "C10")),
    _edit("flow.w2_emd.no-sqrt",
          "theory.flow._diagnostics:w2_emd",
          "float(np.sqrt(max(", "float((max(",
          "empirical W2 returns W2² (missing square root)", ("C10",)),
    _edit("separable.score.scale",
          "theory.separable._spline:QuantileSpline.score",
          "return (-z - x2 / x1) / x1", "return 1.01 * (-z - x2 / x1) / x1",
          "score of a 1-D iterate 1% too large", ("C13", "C17")),
    _edit("separable.sample.transpose",
          "theory.separable._reference:RotatedProduct.sample",
          "np.stack(cols, axis=1) @ self.rotation.T", "np.stack(cols, axis=1) @ self.rotation",
          "rotated-product data sampled with Rᵀ instead of R", ("C17",)),
    _edit("separable.step.gamma",
          "theory.separable._reference:separable_jko",
          "jko_step(xs[-1], grid, G, float(gam),", "jko_step(xs[-1], grid, G, 1.6 * float(gam),",
          "the 1-D reference steps taken with 1.6 γ", ("C3", "C8", "C17")),
    _edit("separable.compare.map-factor",
          "theory.separable._compare:compare_flow",
          "e_map = (1.0 + 1.0 / gam) * (yr - t_exact)", "e_map = (1.0 / gam) * (yr - t_exact)",
          "map error of the ξ split missing the ∇V part (factor 1 + 1/γ → 1/γ)", ("C13",)),
)


# ----------------------------------------------------------------------------------------------
# Patching
# ----------------------------------------------------------------------------------------------


def _resolve(target: str) -> tuple[Any, str, Any]:
    """Return ``(owner, attribute, raw original)`` of ``"module:qualname"``."""
    modname, _, qual = target.partition(":")
    if not qual:
        raise ValueError(f"target must look like 'module:qualname', got {target!r}")
    owner: Any = importlib.import_module(modname)
    *path, attr = qual.split(".")
    for p in path:
        owner = getattr(owner, p)
    raw = owner.__dict__[attr] if isinstance(owner, type) else getattr(owner, attr)
    return owner, attr, raw


def _import_everything() -> None:
    """Import every experiment and every theory module, so all references can be found."""
    import pkgutil

    import theory

    _runner.discover()
    for info in pkgutil.walk_packages(theory.__path__, "theory."):
        importlib.import_module(info.name)


def lookup(container: Any, key: Any) -> Any:
    """The object held by ``container`` under ``key`` (a class's own attribute, unbound)."""
    if isinstance(container, type):
        return container.__dict__[key]
    if isinstance(container, dict):
        return container[key]
    return getattr(container, key)


def _store(container: Any, key: Any, value: Any) -> None:
    if isinstance(container, dict):
        container[key] = value
    elif isinstance(container, (type, ModuleType)):
        setattr(container, key, value)
    else:  # a (possibly frozen) dataclass instance
        object.__setattr__(container, key, value)


def _held_in(value: Any, raw: Any) -> list[tuple[Any, Any]]:
    """References to ``raw`` inside a module-level dict or dataclass instance (one level deep)."""
    out: list[tuple[Any, Any]] = []
    if isinstance(value, dict):
        for k, v in value.items():
            if v is raw:
                out.append((value, k))
            elif dataclasses.is_dataclass(v) and not isinstance(v, type):
                out += _held_in(v, raw)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        out += [(value, f.name) for f in dataclasses.fields(value)
                if getattr(value, f.name, None) is raw]
    return out


def holders(target: str) -> list[tuple[Any, Any]]:
    """Every ``(container, key)`` through which ``target`` is looked up.

    A method is looked up on its class only. A module-level function is looked up in every
    loaded ``theory``/``experiments`` module whose namespace holds the very same object (under
    any name), which covers ``from X import f`` and re-exports by ``__init__`` modules, and in
    module-level tables: a dict holding it as a value, or a dataclass instance holding it as a
    field, directly or as a value of such a dict (e.g. a registry of perturbation kinds).
    """
    owner, attr, raw = _resolve(target)
    if isinstance(owner, type):
        return [(owner, attr)]
    out: list[tuple[Any, Any]] = []
    for name, mod in list(sys.modules.items()):
        if mod is None or name.split(".")[0] not in _PREFIXES:
            continue
        for key, val in list(vars(mod).items()):
            if val is raw:
                out.append((mod, key))
            elif not isinstance(val, (type, ModuleType)):
                out += _held_in(val, raw)
    unique: dict[tuple[int, Any], tuple[Any, Any]] = {}
    for c, k in out:
        unique.setdefault((id(c), k), (c, k))
    return list(unique.values())


def _function_of(raw: Any) -> Callable[..., Any]:
    if isinstance(raw, (staticmethod, classmethod)):
        return raw.__func__
    if isinstance(raw, property):
        return raw.fget
    return raw


def _rewrap(raw: Any, fn: Callable[..., Any]) -> Any:
    """Wrap ``fn`` the way ``raw`` is wrapped (staticmethod, classmethod, property, plain)."""
    if isinstance(raw, staticmethod):
        return staticmethod(fn)
    if isinstance(raw, classmethod):
        return classmethod(fn)
    if isinstance(raw, property):
        return property(fn, raw.fset, raw.fdel, raw.__doc__)
    return fn


def _scaled(value: Any, factor: float, index: int | None) -> Any:
    if index is not None:
        items = list(value)
        items[index] = items[index] * factor
        return type(value)(items)
    return value * factor


def _source_replacement(m: Mutant, raw: Any) -> Any:
    fn = _function_of(raw)
    src = textwrap.dedent(inspect.getsource(fn))
    count = src.count(m.old)
    if count != 1:
        raise ValueError(f"mutant {m.id}: old text {m.old!r} occurs {count} times in the source "
                         f"of {m.target} (must be exactly once)")
    src = src.replace(m.old, m.new)
    # Drop decorators: the result is re-wrapped like the original.
    lines = src.splitlines()
    start = next(i for i, line in enumerate(lines) if line.lstrip().startswith(("def ", "async ")))
    code = compile("\n".join(lines[start:]) + "\n", f"<mutant {m.id}>", "exec",
                   flags=__future__.annotations.compiler_flag, dont_inherit=True)
    ns: dict[str, Any] = {}
    exec(code, fn.__globals__, ns)  # noqa: S102 -- our own catalogue, in our own namespace
    new = ns[fn.__name__]
    new.__qualname__ = fn.__qualname__
    return _rewrap(raw, new)


def replacement(m: Mutant) -> Any:
    """The mutated object that replaces ``m.target`` (not yet installed)."""
    _, _, raw = _resolve(m.target)
    if m.kind == "source":
        return _source_replacement(m, raw)
    fn = _function_of(raw)

    @functools.wraps(fn)
    def mutated(*args: Any, **kwargs: Any) -> Any:
        return _scaled(fn(*args, **kwargs), m.factor, m.index)

    return _rewrap(raw, mutated)


@contextlib.contextmanager
def _patched(target: str, new: Any) -> Iterator[list[tuple[Any, str]]]:
    """Install ``new`` wherever ``target`` is looked up; restore the originals on exit."""
    _, _, raw = _resolve(target)
    where = holders(target)
    saved = [(obj, key, lookup(obj, key)) for obj, key in where]
    try:
        for obj, key in where:
            _store(obj, key, new)
        yield where
    finally:
        for obj, key, val in saved:
            _store(obj, key, val)
        if _resolve(target)[2] is not raw:  # pragma: no cover -- would be a harness bug
            raise RuntimeError(f"restoring {target} failed")


@contextlib.contextmanager
def applied(m: Mutant) -> Iterator[list[tuple[Any, str]]]:
    """Apply mutant ``m`` for the duration of the ``with`` block (restored also on errors).

    Yields:
        The ``(namespace, name)`` pairs patched.
    """
    with _patched(m.target, replacement(m)) as where:
        yield where


# ----------------------------------------------------------------------------------------------
# Running
# ----------------------------------------------------------------------------------------------


def _evaluate(name: str) -> dict[str, Any]:
    """Run one quick experiment in-process and evaluate its checks (never raises)."""
    mod = _runner.get(name)
    cfg = _runner.make_config(mod, "quick")
    t0 = time.perf_counter()
    out: dict[str, Any] = {"experiment": name, "crash": None, "nan": [], "checks_error": None,
                           "rows": {}}
    try:
        with warnings.catch_warnings():  # a mutant makes solvers warn; the outcome is recorded
            warnings.simplefilter("ignore")
            results = _io.to_jsonable(mod.run(cfg))
    except Exception as exc:
        out["crash"] = f"{type(exc).__name__}: {exc}"
        out["wall_s"] = time.perf_counter() - t0
        return out
    out["nan"] = _io.find_nonfinite(results)[:20]
    try:
        rows = list(mod.checks(results))
    except Exception as exc:
        out["checks_error"] = f"{type(exc).__name__}: {exc}"
        rows = []
    seen: dict[str, int] = {}
    for c in rows:
        base = f"{name}:{c.claim}:{c.key}"
        seen[base] = seen.get(base, 0) + 1
        rid = base if seen[base] == 1 else f"{base}#{seen[base]}"
        out["rows"][rid] = {"passed": bool(c.passed), "measured": _num(c.measured),
                            "threshold": _num(c.threshold), "inequality": c.inequality,
                            "kind": c.kind, "claim": c.claim}
    out["wall_s"] = time.perf_counter() - t0
    return out


def _num(x: Any) -> Any:
    try:
        f = float(x)
    except (TypeError, ValueError):
        return str(x)
    return f if math.isfinite(f) else str(f)


def _baseline(names: Sequence[str], targets: Sequence[str]) -> tuple[dict, dict[str, list[str]]]:
    """Run every experiment unmutated, recording which targets each one reaches."""
    hits: dict[str, set[str]] = {t: set() for t in targets}
    current = {"name": ""}
    stack = contextlib.ExitStack()
    with stack:
        for t in targets:
            _, _, raw = _resolve(t)
            fn = _function_of(raw)

            def make(fn: Callable[..., Any], t: str) -> Callable[..., Any]:
                @functools.wraps(fn)
                def recorder(*args: Any, **kwargs: Any) -> Any:
                    hits[t].add(current["name"])
                    return fn(*args, **kwargs)
                return recorder

            stack.enter_context(_patched(t, _rewrap(raw, make(fn, t))))
        base = {}
        for name in progress(names, "baseline (unmutated)"):
            current["name"] = name
            base[name] = _evaluate(name)
    return base, {t: sorted(h) for t, h in hits.items()}


def _outcome(m: Mutant, runs: dict[str, dict], base: dict[str, dict]) -> dict[str, Any]:
    killed_by, pipeline = [], []
    for name, r in runs.items():
        if r["crash"]:
            pipeline.append(f"{name}: crashed ({r['crash'][:120]})")
            continue
        new_nan = [k for k in r["nan"] if k not in base[name]["nan"]]
        if new_nan:
            pipeline.append(f"{name}: NaN in results ({', '.join(new_nan[:3])})")
        if r["checks_error"]:
            pipeline.append(f"{name}: checks raised ({r['checks_error'][:120]})")
        for rid, row in r["rows"].items():
            was = base[name]["rows"].get(rid)
            if not row["passed"] and (was is None or was["passed"]):
                killed_by.append({"row": rid, "inequality": row["inequality"],
                                  "measured": row["measured"], "threshold": row["threshold"]})
    closest = None
    for r in runs.values():
        for rid, row in r["rows"].items():
            m_, t_ = row["measured"], row["threshold"]
            if (row["kind"] == "ratio" and row["claim"] in m.claims and row["passed"]
                    and isinstance(m_, float) and isinstance(t_, float) and t_ > 0
                    and (closest is None or m_ / t_ > closest["measured"] / closest["threshold"])):
                closest = {"row": rid, "measured": m_, "threshold": t_}
    if not runs:
        status = "not reached"
    elif killed_by:
        status = "killed"
    elif pipeline:
        status = "pipeline"
    elif m.equivalent:
        status = "equivalent"
    else:
        status = "survived"
    return {"status": status, "killed_by": killed_by, "pipeline": pipeline,
            "closest_passing_ratio_row": closest}


def _select(only: Sequence[str] | None) -> list[Mutant]:
    if not only:
        return list(CATALOGUE)
    ids = {m.id for m in CATALOGUE}
    names = set(_runner._names(_runner._package(None)))
    unknown = [o for o in only if o not in ids and o not in names]
    if unknown:
        raise ValueError(f"only: unknown mutant id(s) or experiment(s) {unknown}; "
                         f"see `python -m experiments mutants --list`")
    chosen = [o for o in only if o in ids]
    return [m for m in CATALOGUE if m.id in chosen] if chosen else list(CATALOGUE)


def run_catalogue(only: Sequence[str] | None = None,
                  mutants: Sequence[Mutant] | None = None) -> dict[str, Any]:
    """Run the mutation test and return its record (see the module docstring).

    Args:
        only: mutant ids, or experiment names (then only those experiments are run, for every
            mutant that reaches them).
        mutants: an explicit list of mutants instead of the catalogue (tests).

    Raises:
        ValueError: naming ``only`` for an unknown id or experiment.
    """
    _import_everything()
    selected = list(mutants) if mutants is not None else _select(only)
    all_names = list(_runner.discover())
    exp_filter = [o for o in (only or []) if o in all_names]
    names = exp_filter or all_names
    t0 = time.perf_counter()
    base, hits = _baseline(names, sorted({m.target for m in selected}))
    base_fail = {f"{n}: {rid}" for n, r in base.items() for rid, row in r["rows"].items()
                 if not row["passed"]}
    out = []
    for m in progress(selected, "mutants", total=len(selected)):
        exps = [n for n in hits[m.target] if n in names]
        t1 = time.perf_counter()
        runs = {}
        with applied(m):
            for name in exps:
                runs[name] = _evaluate(name)
        rec = {"id": m.id, "target": m.target, "kind": m.kind, "what": m.what,
               "claims": list(m.claims), "factor": m.factor if m.kind == "scale" else None,
               "edit": [m.old, m.new] if m.kind == "source" else None,
               "equivalent": m.equivalent, "experiments": exps,
               "wall_s": time.perf_counter() - t1, **_outcome(m, runs, base)}
        out.append(rec)
        print(f"  {rec['status']:12s} {m.id}  ({len(exps)} experiments, {rec['wall_s']:.1f} s)",
              file=sys.stderr, flush=True)
    counts: dict[str, int] = {}
    for r in out:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    return {"meta": _io.metadata(), "wall_time_s": time.perf_counter() - t0,
            "experiments": names, "baseline_failures": sorted(base_fail),
            "baseline_wall_s": {n: r.get("wall_s") for n, r in base.items()},
            "counts": counts, "mutants": out}


# ----------------------------------------------------------------------------------------------
# Report
# ----------------------------------------------------------------------------------------------


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def render(record: dict[str, Any]) -> str:
    """The markdown text of ``docs/mutants.md`` from a :func:`run_catalogue` record."""
    muts = record["mutants"]
    counts = record["counts"]
    n_eq = counts.get("equivalent", 0)
    lines = [
        "# Mutation test of the checks",
        "",
        "Generated by `python -m experiments mutants` (`experiments/_mutants.py`); do not edit by",
        "hand. Each mutant is a realistic bug injected into `theory/`, one at a time and",
        "in-process; with it in place the quick profile of every experiment that reaches the",
        "mutated code is re-run and its `paper_checks.md` rows evaluated. A mutant is **killed**",
        "when at least one row FAILs that passes on the unmutated code; **pipeline** when an",
        "experiment crashed, produced NaN or its checks raised (which `checks` reports as a FAIL",
        "row of its own); **survived** when every row still passes; **not reached** when no",
        "quick experiment calls the mutated function. Equivalent mutants (which cannot change a",
        "checked number) are declared, with the reason, in the catalogue in",
        "`experiments/_mutants.py`.",
        "",
        "Run it with `.venv/bin/python -m experiments mutants` (all mutants, about ten minutes on",
        "two cores; rewrites this file and `results/mutants.json`), `--only ID...` for some",
        "mutants or `--only EXPERIMENT...` for some experiments (these write only",
        "`results/quick/mutants_only.json`),",
        "`--list` for the catalogue. It exits non-zero while a mutant survives. The slow test",
        "`tests/test_mutants.py` runs a few mutants; the default one checks that patching and",
        "restoring leave every patched reference identical to the original.",
        "",
        f"Summary: {len(muts)} mutants over {len(record['experiments'])} experiments in "
        f"{record['wall_time_s']:.0f} s (commit {record['meta']['commit'][:10]}): "
        + ", ".join(f"**{v} {k}**" for k, v in sorted(counts.items())) + ".",
        "",
    ]
    if record["baseline_failures"]:
        lines += ["Rows failing already on the unmutated code (not counted as kills): "
                  + "; ".join(f"`{r}`" for r in record["baseline_failures"]) + ".", ""]
    if n_eq:
        lines += [f"{n_eq} mutant(s) declared equivalent.", ""]
    lines += ["## Catalogue and kill table", "",
              "| id | mutated code | what it breaks | claims it should affect | outcome | "
              "killed by (row: measured vs threshold) |",
              "|---|---|---|---|---|---|"]
    for r in muts:
        if r["kind"] == "scale":
            how = f"`{r['target']}` result ×{r['factor']:g}"
        else:
            how = f"`{r['target']}`: `{r['edit'][0]}` → `{r['edit'][1]}`"
        if r["killed_by"]:
            kb = "; ".join(f"`{k['row']}` ({_fmt(k['measured'])} vs {_fmt(k['threshold'])})"
                           for k in r["killed_by"][:4])
            if len(r["killed_by"]) > 4:
                kb += f"; +{len(r['killed_by']) - 4} more rows"
        elif r.get("closest_passing_ratio_row"):
            c = r["closest_passing_ratio_row"]
            kb = (f"— (closest: `{c['row']}` {_fmt(c['measured'])} vs "
                  f"{_fmt(c['threshold'])})")
        else:
            kb = "—"
        if r["pipeline"]:
            kb += " — pipeline: " + "; ".join(r["pipeline"][:2])
        status = r["status"] if r["status"] != "survived" else "**SURVIVED**"
        if r["equivalent"]:
            status += f" (declared equivalent: {r['equivalent']})"
        lines.append(f"| {_cell(r['id'])} | {_cell(how)} | {_cell(r['what'])} | "
                     f"{', '.join(r['claims'])} | {_cell(status)} | {_cell(kb)} |")
    surv = [r["id"] for r in muts if r["status"] in ("survived", "not reached")]
    lines += ["", "## Survivors", "",
              ("Every non-equivalent mutant is caught." if not surv else
               "Not caught by any row: " + ", ".join(f"`{s}`" for s in surv) + "."), ""]
    return "\n".join(lines) + "\n"


def _fmt(x: Any) -> str:
    if isinstance(x, float):
        return f"{x:.4g}"
    return str(x)


def main(only: Sequence[str] | None = None, *, list_only: bool = False,
         write_docs: bool = True) -> int:
    """Command ``python -m experiments mutants``; returns 1 if a non-equivalent mutant survives.

    ``docs/mutants.md`` and ``results/mutants.json`` are rewritten only for a run of the whole
    catalogue; a run with ``only`` writes ``results/quick/mutants_only.json``.
    """
    if list_only:
        for m in CATALOGUE:
            print(f"{m.id:52s} {m.kind:6s} {','.join(m.claims):16s} {m.what}")
        return 0
    record = run_catalogue(only)
    out = RESULT if not only else PARTIAL  # a subset never overwrites the catalogue's record
    _io.write_json(out, record)
    write_docs = write_docs and not only  # the kill table in the docs is for the whole catalogue
    if write_docs:
        from theory.io import atomic_write_text

        atomic_write_text(DOC, render(record))
    print(f"wrote {out}" + (f" and {DOC}" if write_docs else "") + ": "
          + ", ".join(f"{v} {k}" for k, v in sorted(record["counts"].items())))
    bad = [r["id"] for r in record["mutants"] if r["status"] in ("survived", "not reached")]
    for b in bad:
        print(f"  SURVIVED {b}")
    return 1 if bad else 0


def _check_catalogue() -> None:
    ids = [m.id for m in CATALOGUE]
    dup = {i for i in ids if ids.count(i) > 1}
    if dup:
        raise ValueError(f"duplicate mutant ids {sorted(dup)}")


_check_catalogue()
