"""One self-contained HTML report of the evidence: ``python -m experiments report``.

The page holds the claims catalogue C1-C19, every check row (verdict, measured value, threshold,
grid, detail) grouped by experiment with the experiment's figure beside its rows, the README's
findings, the seed sweeps, and the provenance of every results record. Figures are embedded as
base64 PNG data URIs and the CSS and the (small, optional) filtering script are inline, so the file
needs no network and no other file to be viewed. Without JavaScript every row is shown.

The rows come from the same functions that build ``paper_checks.md``
(:func:`experiments._runner.collect_checks`, :func:`experiments._runner.collect_seed_sweeps`),
never from the markdown. The output is a function of the results, the figures, the README and the
commit only (no clock), so regenerating it from the same inputs gives the same bytes.
"""

from __future__ import annotations

import base64
import html
import re
import subprocess
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

from experiments import _io, _runner
from experiments._api import Check
from experiments._claims import ABSTRACT, CLAIMS
from experiments._paper_checks import _fmt, _seed_span, fmt_pair, relation
from theory.io import atomic_write_text

__all__ = ["EXPERIMENT_SOLVER", "SOLVERS", "default_output", "findings_markdown", "head_commit",
           "markdown_to_html", "render_report", "solver_of", "verdict", "write_report"]

#: Solver families, in the order the report shows them: key -> label.
SOLVERS: dict[str, str] = {
    "gaussian": "closed-form Gaussian",
    "oned": "1-D Lagrangian",
    "separable": "separable reference",
    "neural": "neural flow",
}

#: The solver behind each experiment (an experiment module may instead define ``SOLVER``, one of
#: the keys of :data:`SOLVERS`; tests/test_report.py checks that every experiment has one).
EXPERIMENT_SOLVER: dict[str, str] = {
    "gaussian_step_oracle": "gaussian",
    "gaussian_exact_rates": "gaussian",
    "gaussian_inexact": "gaussian",
    "kl_guarantee": "gaussian",
    "no_density": "gaussian",
    "inversion_error": "gaussian",
    "forward_backward": "gaussian",
    "lagrangian_validation": "oned",
    "general_functionals": "oned",
    "merely_convex": "oned",
    "no_density_1d": "oned",
    "separable_reference": "separable",
    "assumption1": "neural",
    "neural_gaussian": "neural",
    "neural_toy2d": "neural",
    "neural_no_density": "neural",
    "neural_reference": "neural",
    "neural_digits": "neural",
    "neural_recipe": "neural",
}

VERDICTS = ("PASS", "FAIL", "INFO")


def solver_of(name: str, mod: ModuleType | None = None) -> str:
    """The solver key (:data:`SOLVERS`) of experiment ``name``.

    Raises:
        ValueError: if the experiment has no solver (neither ``mod.SOLVER`` nor an entry of
            :data:`EXPERIMENT_SOLVER`) or an unknown one.
    """
    key = getattr(mod, "SOLVER", None) or EXPERIMENT_SOLVER.get(name)
    if key not in SOLVERS:
        raise ValueError(f"experiment {name!r} has no solver family (got {key!r}); add it to "
                         f"EXPERIMENT_SOLVER in experiments/_report.py (one of "
                         f"{', '.join(SOLVERS)})")
    return key


def verdict(c: Check) -> str:
    """``"INFO"`` for a passed info row, else ``"PASS"`` or ``"FAIL"`` (as in paper_checks.md)."""
    if not c.passed:
        return "FAIL"
    return "INFO" if c.kind == "info" else "PASS"


def head_commit(root: Path = _io.ROOT) -> str:
    """``git rev-parse HEAD`` of ``root``, or ``"unknown"`` without git or a repository."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True,
                             text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip() if out.returncode == 0 and out.stdout.strip() else "unknown"


def default_output(profile: str, results_dir: Path = _io.RESULTS) -> Path:
    """``results/report.html`` (full, best) or ``results/quick/report.html`` (quick)."""
    return Path(results_dir) / ("quick/report.html" if profile == "quick" else "report.html")


# ----------------------------------------------------------------------------- markdown


_ITEM = re.compile(r"^(\s*)(\d+[.)]|[-*+])\s+(.*)$")
_HEADING = re.compile(r"^(#{1,6})\s+(.*)$")


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _inline(text: str) -> str:
    """Escape ``text`` and render `code`, **bold**, *italic* and [links](url)."""
    parts = re.split(r"(`[^`]*`)", text)
    out = []
    for part in parts:
        if len(part) >= 2 and part.startswith("`") and part.endswith("`"):
            out.append(f"<code>{_e(part[1:-1])}</code>")
            continue
        s = _e(part)
        s = re.sub(r"\[([^\]]+)\]\((https?://[^)\s]+)\)",
                   lambda m: f'<a href="{m.group(2)}">{m.group(1)}</a>', s)
        s = re.sub(r"\[([^\]]+)\]\(([^)\s]+)\)", r"\1", s)  # relative links: no target offline
        s = re.sub(r"(?<![\w*])\*\*(?=\S)(.+?)(?<=\S)\*\*(?![\w*])", r"<strong>\1</strong>", s)
        s = re.sub(r"(?<![\w*])\*(?=\S)(.+?)(?<=\S)\*(?![\w*])", r"<em>\1</em>", s)
        out.append(s)
    return "".join(out)


def _list_html(items: list[tuple[int, bool, int, str]]) -> str:
    """Nested ``<ol>``/``<ul>`` from (indent, ordered, start, text) items."""
    out: list[str] = []
    stack: list[tuple[int, str]] = []
    for indent, ordered, start, text in items:
        while stack and indent < stack[-1][0]:
            out.append(f"</li></{stack.pop()[1]}>")
        if stack and indent == stack[-1][0]:
            out.append("</li>")
        else:
            tag = "ol" if ordered else "ul"
            out.append(f'<ol start="{start}">' if ordered and start != 1 else f"<{tag}>")
            stack.append((indent, tag))
        out.append(f"<li>{_inline(text)}")
    while stack:
        out.append(f"</li></{stack.pop()[1]}>")
    return "".join(out)


def markdown_to_html(text: str) -> str:
    """A small markdown subset as HTML: paragraphs, headings, nested lists, fenced code, inline
    code, bold, italic and links. Everything else is escaped text."""
    lines = text.splitlines()
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line.strip():
            i += 1
            continue
        if line.lstrip().startswith("```"):
            j = i + 1
            while j < len(lines) and not lines[j].lstrip().startswith("```"):
                j += 1
            out.append("<pre><code>" + _e("\n".join(lines[i + 1:j])) + "</code></pre>")
            i = j + 1
            continue
        m = _HEADING.match(line)
        if m:
            level = min(len(m.group(1)) + 2, 6)
            out.append(f"<h{level}>{_inline(m.group(2))}</h{level}>")
            i += 1
            continue
        if _ITEM.match(line):
            items: list[tuple[int, bool, int, str]] = []
            while i < len(lines):
                line = lines[i]
                m = _ITEM.match(line)
                if m:
                    marker = m.group(2)
                    ordered = marker[0].isdigit()
                    items.append((len(m.group(1)), ordered,
                                  int(marker[:-1]) if ordered else 1, m.group(3)))
                elif line.strip() and (line.startswith((" ", "\t")) or items):
                    if not lines[i - 1].strip() and not line.startswith((" ", "\t")):
                        break  # an unindented paragraph after a blank line ends the list
                    ind, o, s, t = items[-1]
                    items[-1] = (ind, o, s, t + " " + line.strip())
                elif not line.strip():
                    nxt = next((x for x in lines[i + 1:] if x.strip()), "")
                    if not (_ITEM.match(nxt) or nxt.startswith((" ", "\t"))):
                        break
                else:
                    break
                i += 1
            out.append(_list_html(items))
            continue
        para = []
        while i < len(lines) and lines[i].strip() and not _ITEM.match(lines[i]) \
                and not _HEADING.match(lines[i]) and not lines[i].lstrip().startswith("```"):
            para.append(lines[i].strip())
            i += 1
        out.append(f"<p>{_inline(' '.join(para))}</p>")
    return "\n".join(out)


def findings_markdown(readme: Path) -> str | None:
    """The README's findings: from a ``## Findings`` heading or a paragraph starting with
    "Findings" to the next ``#``/``##`` heading; None if there is none (or no README)."""
    try:
        lines = Path(readme).read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    start = None
    for k, line in enumerate(lines):
        m = _HEADING.match(line)
        if (m and m.group(2).strip().lower().startswith("findings")) or \
                line.lower().startswith("findings"):
            start = k
            break
    if start is None:
        return None
    end = len(lines)
    for k in range(start + 1, len(lines)):
        m = _HEADING.match(lines[k])
        if m and len(m.group(1)) <= 2:
            end = k
            break
    return "\n".join(lines[start:end]).strip() or None


# ----------------------------------------------------------------------------- page


_CSS = """
:root{--fg:#1f2328;--muted:#59636e;--line:#d1d9e0;--bg2:#f6f8fa;--pass:#1a7f37;--passbg:#dafbe1;
--fail:#cf222e;--failbg:#ffebe9;--info:#0969da;--infobg:#ddf4ff;--accent:#0b3d91}
*{box-sizing:border-box}
html{font-size:15px}
body{margin:0;color:var(--fg);background:#fff;
font-family:"Charter","Georgia","Cambria","Times New Roman",serif;line-height:1.5}
main{max-width:1240px;margin:0 auto;padding:28px 36px 80px}
h1{font-size:1.9rem;margin:0 0 .2rem;line-height:1.25}
h2{font-size:1.45rem;margin:2.4rem 0 .6rem;padding-bottom:.25rem;border-bottom:2px solid var(--fg)}
h3{font-size:1.15rem;margin:1.8rem 0 .4rem}
h4,h5,h6{font-size:1rem;margin:1.2rem 0 .3rem}
p{margin:.45rem 0}
a{color:var(--accent)}
code,.mono{font-family:"DejaVu Sans Mono","Menlo","Consolas",monospace;font-size:.82em}
code{background:var(--bg2);padding:0 .2em;border-radius:3px}
pre{background:var(--bg2);padding:.6rem;overflow:auto}
.subtitle{color:var(--muted);margin:0 0 1rem}
.sans,table,nav,.filters,.badge,.meta,figcaption{font-family:"Helvetica Neue","Arial",
"DejaVu Sans",sans-serif}
nav.toc{font-size:.9rem;margin:.8rem 0 1.2rem;padding:.5rem .8rem;background:var(--bg2);
border:1px solid var(--line);border-radius:6px}
nav.toc a{margin-right:1.1rem;text-decoration:none}
.summary{display:flex;gap:.8rem;flex-wrap:wrap;margin:.6rem 0 1rem}
.stat{border:1px solid var(--line);border-radius:6px;padding:.35rem .8rem;font-family:sans-serif;
font-size:.9rem}
.stat b{font-size:1.2rem;margin-right:.3rem}
.stat.pass b{color:var(--pass)}.stat.fail b{color:var(--fail)}.stat.info b{color:var(--info)}
.filters{position:sticky;top:0;z-index:5;background:rgba(255,255,255,.97);
border-bottom:1px solid var(--line);padding:.45rem 0;margin:0 0 .6rem;font-size:.88rem}
.filters fieldset{display:inline-block;border:0;margin:0 1.4rem 0 0;padding:0}
.filters legend{float:left;font-weight:600;margin-right:.5rem;padding:0}
.filters label{margin-right:.7rem;white-space:nowrap;cursor:pointer}
.filters .count{color:var(--muted)}
.no-js .js-only{display:none}
table{border-collapse:collapse;width:100%;font-size:.8rem;line-height:1.35;margin:.4rem 0 1rem}
th,td{border-bottom:1px solid var(--line);padding:.32rem .45rem;vertical-align:top;text-align:left}
thead th{background:var(--bg2);border-top:1px solid var(--fg);border-bottom:1px solid var(--fg);
font-weight:600;white-space:nowrap}
tbody tr:nth-child(even){background:#fbfcfd}
td.num{font-family:"DejaVu Sans Mono",monospace;font-size:.76rem;white-space:nowrap;
text-align:right}
td.claim{font-weight:600;white-space:nowrap}
td.nowrap{white-space:nowrap}
.small{font-size:.68rem;overflow-wrap:anywhere}
.scroll{overflow-x:auto}
ul.envs{font-size:.8rem;margin:.2rem 0 .6rem}
.grid,.key{display:block;color:var(--muted);font-size:.72rem;margin-top:.2rem}
.key{font-family:"DejaVu Sans Mono",monospace;overflow-wrap:anywhere}
td.detail{color:#333;font-size:.74rem;max-width:30rem}
.badge{display:inline-block;font-size:.7rem;font-weight:700;letter-spacing:.03em;
padding:.08rem .45rem;border-radius:10px;white-space:nowrap}
.badge.PASS{color:var(--pass);background:var(--passbg)}
.badge.FAIL{color:#fff;background:var(--fail)}
.badge.INFO{color:var(--info);background:var(--infobg)}
.badge.NONE{color:var(--muted);background:var(--bg2)}
tr.check.FAIL td{background:var(--failbg)}
.solver{display:inline-block;font-size:.72rem;border:1px solid var(--line);border-radius:4px;
padding:0 .35rem;color:var(--muted);font-family:sans-serif;white-space:nowrap}
section.experiment{margin:1.6rem 0 2.2rem;padding-top:.3rem;border-top:1px solid var(--line)}
section.experiment h4{font-size:1.1rem;margin:.6rem 0 .2rem}
.solver-group>h3{background:var(--bg2);border-left:4px solid var(--accent);
padding:.3rem .7rem;font-family:sans-serif;font-size:1.05rem}
.meta{color:var(--muted);font-size:.78rem;margin:.2rem 0 .6rem}
figure{margin:.6rem auto 1rem;text-align:center;max-width:900px}
figure img{width:100%;height:auto;border:1px solid var(--line);background:#fff}
figcaption{color:var(--muted);font-size:.78rem;margin-top:.2rem}
.missing{color:var(--fail);font-family:sans-serif;font-size:.85rem}
.findings{max-width:980px}
.findings li{margin:.35rem 0}
.note{background:var(--bg2);border-left:3px solid var(--accent);padding:.4rem .7rem;
font-size:.9rem}
[hidden]{display:none!important}
@media print{.filters{display:none}figure{break-inside:avoid}}
"""

_JS = """
document.documentElement.classList.remove('no-js');
(function(){
  var boxes=document.querySelectorAll('.filters input[type=checkbox]');
  function checked(name){var s={};document.querySelectorAll('.filters input[name='+name+']')
    .forEach(function(b){if(b.checked){s[b.value]=1;}});return s;}
  function apply(){
    var v=checked('verdict'),s=checked('solver'),shown=0,all=0;
    document.querySelectorAll('tr.check').forEach(function(tr){
      var on=!!(v[tr.dataset.verdict]&&s[tr.dataset.solver]);tr.hidden=!on;
      if(tr.closest('#evidence')){all++;if(on){shown++;}}});
    document.querySelectorAll('.filterable').forEach(function(sec){
      sec.hidden=!sec.querySelector('tr.check:not([hidden])');});
    var c=document.getElementById('shown-count');
    if(c){c.textContent=shown+' of '+all+' rows shown';}
  }
  boxes.forEach(function(b){b.addEventListener('change',apply);});
  document.querySelectorAll('.filters button[data-only]').forEach(function(btn){
    btn.addEventListener('click',function(){var name=btn.dataset.name;
      document.querySelectorAll('.filters input[name='+name+']').forEach(function(b){
        b.checked=(btn.dataset.only==='*'||b.value===btn.dataset.only);});apply();});});
  apply();
})();
"""


def _badge(v: str) -> str:
    return f'<span class="badge {_e(v)}">{_e(v)}</span>'


def _num(x: Any) -> str:
    return _e(_fmt(x)) if isinstance(x, (int, float)) else _e(x)


def _data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(Path(path).read_bytes()).decode("ascii")


def _rel(path: Path, root: Path = _io.ROOT) -> str:
    try:
        return str(Path(path).resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)


def _record_file(name: str, rec: dict, results_dir: Path, seed: int | None = None) -> Path:
    p = rec.get("profile", "full")
    if rec.get("status") == "crashed":
        return _runner.failure_path(name, p, results_dir, seed)
    return _runner.result_path(name, p, results_dir, seed)


def _row(c: Check, solver: str, *, with_experiment: bool = False,
         evidence: str | None = None) -> str:
    v = verdict(c)
    exp = (f'<td><a href="#exp-{_e(c.experiment)}">{_e(c.experiment)}</a></td>'
           if with_experiment else "")
    key = f'<span class="key">{_e(evidence or c.key)}</span>'
    meas, thr = fmt_pair(c.measured, c.threshold)
    return (f'<tr class="check {v}" data-verdict="{v}" data-solver="{_e(solver)}" '
            f'data-claim="{_e(c.claim)}">'
            f'<td class="claim"><a href="#claim-{_e(c.claim)}">{_e(c.claim)}</a></td>{exp}'
            f'<td>{_e(c.inequality)}<span class="grid">grid: {_e(c.grid)}</span></td>'
            f"<td>{_e(c.kind)}</td>"
            f'<td class="num">{_e(meas)}</td><td class="num">{_e(thr)}</td>'
            f"<td>{_badge(v)}</td>"
            f'<td class="detail">{_e(c.detail)}{key}</td></tr>')


_ROW_HEAD = ("<thead><tr><th>claim</th>{exp}<th>tested statement / grid</th><th>kind</th>"
             "<th>measured</th><th>threshold</th><th>verdict</th><th>detail / results key</th>"
             "</tr></thead>")


def _rows_table(rows: list[str], *, with_experiment: bool = False) -> str:
    head = _ROW_HEAD.format(exp="<th>experiment</th>" if with_experiment else "")
    return f"<table>{head}<tbody>{''.join(rows)}</tbody></table>"


def _executor(rec: dict) -> str:
    ex = rec.get("executor")
    if not isinstance(ex, dict):
        return "unknown"
    w, t = ex.get("workers"), ex.get("threads")
    return (f"{ex.get('kind', '?')}, {w} worker{'s' if w != 1 else ''}, "
            f"{t} thread{'s' if t != 1 else ''}")


def _fingerprint(rec: dict) -> str:
    fp = rec.get("source_fingerprint")
    if not isinstance(fp, dict):
        return "none"
    return f"experiment {fp.get('experiment', '?')}, theory {fp.get('theory', '?')}"


def _environment(meta: dict) -> str:
    versions = meta.get("versions") if isinstance(meta.get("versions"), dict) else {}
    parts = [f"Python {meta.get('python', '?')}"]
    parts += [f"{k} {v}" for k, v in versions.items() if v]
    if meta.get("machine"):
        parts.append(f"{meta['machine']}, {meta.get('cpu_count', '?')} CPUs")
    return ", ".join(parts)


def _provenance_rows(entries: list[tuple[str, int | None, dict, Path, dict | None]]) -> str:
    rows = []
    envs: dict[str, str] = {}
    for name, seed, rec, path, current in entries:
        meta = rec.get("meta") if isinstance(rec.get("meta"), dict) else {}
        stored = rec.get("source_fingerprint")
        if current is None or not isinstance(stored, dict):
            cur = "unknown" if current is None else "no"
        else:
            cur = "yes" if all(stored.get(k) == current.get(k) for k in current) else "no"
        wall = rec.get("wall_time_s")
        env = envs.setdefault(_environment(meta), f"E{len(envs) + 1}")
        fp = stored if isinstance(stored, dict) else {}
        rows.append(
            f'<tr><td><a href="#exp-{_e(name)}">{_e(name)}</a>'
            f'<span class="key">{_e(_rel(path))}</span></td><td>{_e(rec.get("profile", "?"))}</td>'
            f"<td>{_e(rec.get('status', '?'))}</td>"
            f"<td>{_e(rec.get('seed', seed if seed is not None else '?'))}</td>"
            f'<td class="nowrap">{_e(_executor(rec))}</td>'
            f'<td class="num">{_e(f"{wall:.1f} s" if isinstance(wall, (int, float)) else "?")}'
            f'</td><td class="mono small">'
            f'{_e(meta.get("commit", "unknown")).replace("+", "<wbr>+")}</td>'
            f'<td class="mono small">{_e(fp.get("experiment", "none"))}<br>'
            f'{_e(fp.get("theory", ""))}</td><td>{_e(cur)}</td>'
            f"<td>{_e(env)}</td></tr>")
    legend = "".join(f"<li><b>{_e(k)}</b>: {_e(v)}</li>" for v, k in envs.items())
    return (f'<p>Environments:</p><ul class="envs">{legend}</ul><div class="scroll"><table>'
            "<thead><tr><th>experiment / record</th><th>profile</th><th>status</th>"
            "<th>seed</th><th>executor</th><th>wall time</th><th>commit (record)</th>"
            "<th>source fingerprint<br>(experiment / theory)</th><th>current code</th>"
            "<th>env.</th></tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table></div>")


def render_report(checks: Sequence[Check], records: dict[str, dict], *, profile: str,
                  solvers: dict[str, str], titles: dict[str, str] | None = None,
                  figures: dict[str, Path | None] | None = None, sweeps: Sequence = (),
                  findings_md: str | None = None, commit: str = "unknown",
                  provenance: Sequence[tuple[str, int | None, dict, Path, dict | None]] = (),
                  notes: Sequence[str] = (), extra_rows: Sequence[Check] = (),
                  results_dir: Path = _io.RESULTS) -> str:
    """The HTML page (a pure function of its arguments).

    Args:
        checks: the check rows (:func:`experiments._runner.collect_checks`).
        records: ``{experiment: record}`` behind ``checks``.
        profile: the profile asked for (shown in the header).
        solvers: ``{experiment: solver key}`` for every experiment of ``checks`` and ``records``.
        titles: ``{experiment: title}`` (default: each record's ``title``).
        figures: ``{experiment: PNG path or None (missing)}``; each is embedded as a data URI.
        sweeps: seed-sweep rows (:class:`experiments._runner.SeedRow`).
        findings_md: the README's findings (markdown), or None.
        commit: the commit the report was built at (``git rev-parse HEAD``).
        provenance: (experiment, seed, record, path, current source fingerprint) per record.
        notes: paragraphs (plain text) shown under the summary.
        extra_rows: further rows shown with the notes (e.g. failing quick re-runs).
        results_dir: the results folder (for the results-file names in the rows).
    """
    titles = titles or {n: str(r.get("title", "")) for n, r in records.items()}
    figures = figures or {}
    by_exp: dict[str, list[Check]] = defaultdict(list)
    for c in checks:
        by_exp[c.experiment].append(c)
    counts = {v: sum(verdict(c) == v for c in checks) for v in VERDICTS}
    commits = sorted({str(r.get("meta", {}).get("commit", "unknown")) for r in records.values()})

    out: list[str] = []
    w = out.append
    w('<!DOCTYPE html>\n<html lang="en" class="no-js"><head><meta charset="utf-8">'
      '<meta name="viewport" content="width=device-width, initial-scale=1">'
      "<title>JKO flow verification: supplementary evidence report</title>"
      f"<style>{_CSS}</style></head><body><main>")
    w("<header><h1>Supplementary evidence: convergence of flow-based generative models via "
      "proximal gradient descent in Wasserstein space</h1>"
      '<p class="subtitle">Cheng, Lu, Tan, Xie (arXiv 2310.17582). Verification report '
      "generated by <code>python -m experiments report</code> from <code>results/*.json</code> "
      "and <code>figures/*.png</code>; the same rows as <code>paper_checks.md</code>.</p>"
      f'<p class="meta">profile <b>{_e(profile)}</b> · '
      + (f'report built at commit <span class="mono">{_e(commit)}</span> · ' if commit else "")
      + 'results produced at commit'
      f'{"s" if len(commits) > 1 else ""} '
      + ", ".join(f'<span class="mono">{_e(c)}</span>' for c in commits or ["none"])
      + "</p></header>")
    w('<nav class="toc"><a href="#summary">Summary</a><a href="#claims">Claims C1–C19</a>'
      '<a href="#findings">Findings</a><a href="#evidence">Evidence by experiment</a>'
      + ('<a href="#sweeps">Seed sweeps</a>' if sweeps else "")
      + '<a href="#provenance">Provenance</a></nav>')

    # summary
    w('<section id="summary"><h2>Summary</h2>')
    w(f"<p>{len(checks)} checks from {len(records)} experiments.</p>")
    w('<div class="summary">' + "".join(
        f'<div class="stat {v.lower()}"><b>{counts[v]}</b>{v}</div>' for v in VERDICTS)
      + (f'<div class="stat fail"><b>{sum(not all(r.passed) for r in sweeps)}</b>'
         f"FAIL of {len(sweeps)} seed-sweep rows</div>" if sweeps else "") + "</div>")
    w("<p>How to read a row: <b>measured</b> is the worst value over the whole grid (for "
      "<code>ratio</code> rows the maximum of measured/bound, which must stay ≤ the threshold; a "
      "value near 1 means the bound is sharp); <code>equality</code> rows give a maximal error; "
      "<code>slope</code> rows a fitted exponent; <code>info</code> rows report a measured fact "
      "whose criterion is only qualitative (verdict INFO).</p>")
    for n in notes:
        w(f'<p class="note">{_e(n)}</p>')
    if extra_rows:
        w(_rows_table([_row(c, solvers.get(c.experiment, "gaussian"), with_experiment=True)
                       for c in extra_rows], with_experiment=True))
    w("<p>Abstract claims: " + "; ".join(f"({k}) {_e(v)}" for k, v in ABSTRACT.items())
      + ".</p></section>")

    # claims catalogue
    by_claim: dict[str, list[Check]] = defaultdict(list)
    for c in checks:
        by_claim[c.claim].append(c)
    w('<section id="claims"><h2>Claims catalogue C1–C19</h2>'
      "<p>Each claim with the abstract claim it supports, the source of the tested inequality "
      "(<code>docs/theory.md</code>), the experiments whose rows check it, and its rows' "
      "verdicts (a claim is FAIL if any row fails).</p>"
      "<table><thead><tr><th>claim</th><th>statement</th><th>abstract</th><th>source</th>"
      "<th>experiments</th><th>rows</th><th>verdict</th></tr></thead><tbody>")
    for cid, (statement, abstract, section) in CLAIMS.items():
        rows = by_claim.get(cid, [])
        vs = [verdict(c) for c in rows]
        overall = ("FAIL" if "FAIL" in vs else "PASS" if "PASS" in vs else
                   "INFO" if vs else "NONE")
        exps = list(dict.fromkeys(c.experiment for c in rows))
        tally = ", ".join(f"{vs.count(v)} {v}" for v in VERDICTS if vs.count(v)) or "not checked"
        w(f'<tr id="claim-{_e(cid)}"><td class="claim">{_e(cid)}</td><td>{_e(statement)}</td>'
          f"<td>{_e(', '.join(map(str, abstract)))}</td><td>{_e(section)}</td><td>"
          + ", ".join(f'<a href="#exp-{_e(x)}">{_e(x)}</a>' for x in exps)
          + f'</td><td class="nowrap">{_e(tally)}</td><td>{_badge(overall)}</td></tr>')
    w("</tbody></table></section>")

    # findings
    w('<section id="findings"><h2>Findings</h2>')
    if findings_md:
        w(f'<div class="findings">{markdown_to_html(findings_md)}</div>')
    else:
        w("<p><i>The README has no findings section.</i></p>")
    frows = [c for c in checks if c.inequality.lower().startswith("finding:")]
    if frows:
        w('<div class="filterable"><h3>Finding rows</h3><p>Check rows whose statement is a '
          "finding (a measured fact beyond the paper's claims).</p>")
        w(_rows_table([_row(c, solvers[c.experiment], with_experiment=True) for c in frows],
                      with_experiment=True) + "</div>")
    w("</section>")

    # evidence
    w('<section id="evidence"><h2>Evidence by experiment</h2>'
      "<p>Every check row, grouped by experiment and by the solver that computed it, with the "
      "experiment's figure above its rows.</p>")
    w('<form class="filters js-only" onsubmit="return false">'
      '<fieldset><legend>verdict</legend>' + "".join(
          f'<label><input type="checkbox" name="verdict" value="{v}" checked> {_badge(v)}'
          f"</label>" for v in VERDICTS)
      + '<button type="button" data-name="verdict" data-only="FAIL">only FAIL</button> '
      '<button type="button" data-name="verdict" data-only="*">all</button></fieldset>'
      '<fieldset><legend>solver</legend>' + "".join(
          f'<label><input type="checkbox" name="solver" value="{k}" checked> {_e(label)}'
          f"</label>" for k, label in SOLVERS.items())
      + '</fieldset><span class="count" id="shown-count"></span></form>')
    names = list(dict.fromkeys([*records, *by_exp]))
    for key, label in SOLVERS.items():
        group = [n for n in names if solvers.get(n) == key]
        if not group:
            continue
        w(f'<div class="filterable solver-group" data-solver="{key}">'
          f"<h3>Solver: {_e(label)}</h3>")
        for name in group:
            rec = records.get(name, {})
            rows = by_exp.get(name, [])
            vs = [verdict(c) for c in rows]
            w(f'<section class="experiment filterable" id="exp-{_e(name)}" data-solver="{key}">'
              f'<h4>{_e(name)} <span class="solver">{_e(label)}</span></h4>'
              f"<p>{_e(titles.get(name, ''))}</p>")
            wall = rec.get("wall_time_s")
            w(f'<p class="meta">claims {_e(", ".join(rec.get("claims", [])))} · '
              f"{_e(rec.get('profile', '?'))} profile · seed {_e(rec.get('seed', '?'))} · "
              f"{_e(_executor(rec))} · "
              + (f"{wall:.1f} s · " if isinstance(wall, (int, float)) else "")
              + f"commit {_e(str(rec.get('meta', {}).get('commit', 'unknown'))[:12])} · "
              f"source {_e(_fingerprint(rec))} · "
              + ", ".join(f"{vs.count(v)} {v}" for v in VERDICTS) + "</p>")
            fig = figures.get(name)
            if fig is not None and Path(fig).is_file():
                w(f'<figure><img src="{_data_uri(fig)}" alt="figure of {_e(name)}" '
                  f'data-figure="{_e(name)}"><figcaption>{_e(_rel(fig))}</figcaption></figure>')
            else:
                w(f'<p class="missing">figure missing: '
                  f"{_e(_rel(fig) if fig is not None else name + '.png')}</p>")
            res = _rel(_record_file(name, rec, results_dir)) if rec else f"{name}.json"
            w(_rows_table([_row(c, key, evidence=f"{res}:{c.key}") for c in rows]))
            w("</section>")
        w("</div>")
    w("</section>")

    # seed sweeps
    if sweeps:
        w('<section id="sweeps"><h2>Seed sweeps</h2><p>Every check of an experiment recomputed '
          "for each seed of a sweep (records <code>results/&lt;name&gt;.seed&lt;N&gt;.json</code>"
          " beside the default seed's). <b>worst</b> is the worst seed's value (a failing seed "
          "first, else the largest measured value); <b>across seeds</b> gives the range and the "
          "mean with its 95% t-interval over seeds. A row passes only if every seed passes.</p>")
        by_sweep: dict[str, list] = defaultdict(list)
        for r in sweeps:
            by_sweep[r.experiment].append(r)
        for exp, rs in by_sweep.items():
            solver = solvers.get(exp, "gaussian")
            w(f'<div class="filterable"><h3>{_e(exp)} (seeds {_e(_seed_span(rs[0].seeds))}) '
              f'<span class="solver">{_e(SOLVERS[solver])}</span></h3>'
              "<table><thead><tr><th>claim</th><th>tested statement</th><th>kind</th>"
              "<th>worst</th><th>threshold</th><th>seeds passed</th><th>verdict</th>"
              "<th>across seeds: range; mean [95% CI]</th></tr></thead><tbody>")
            for r in rs:
                c = r.check
                lo, hi, m, cl, ch = r.interval
                ok = all(r.passed)
                worst, thr = fmt_pair(c.measured, c.threshold)
                v = "INFO" if c.kind == "info" and ok else "PASS" if ok else "FAIL"
                w(f'<tr class="check {v}" data-verdict="{v}" data-solver="{solver}" '
                  f'data-claim="{_e(c.claim)}"><td class="claim">{_e(c.claim)}</td>'
                  f'<td>{_e(c.inequality)}<span class="key">results/{_e(exp)}.seed&lt;N&gt;.json:'
                  f"{_e(c.key)}</span></td><td>{_e(c.kind)}</td>"
                  f'<td class="num">{_e(worst)}</td><td class="num">{_e(thr)}'
                  f'</td><td class="num">{sum(r.passed)}/{len(r.passed)}</td>'
                  f'<td>{_badge(v)}</td><td class="num">[{_num(lo)}, {_num(hi)}]; {_num(m)} '
                  f"[{_num(cl)}, {_num(ch)}]</td></tr>")
            w("</tbody></table></div>")
        w("</section>")

    # provenance
    w('<section id="provenance"><h2>Provenance</h2>'
      + (f'<p>Report built at commit <span class="mono">{_e(commit)}</span> '
         "(<code>git rev-parse HEAD</code>). " if commit else
         "<p>Report regenerated by <code>python -m experiments checks</code> from the committed "
         "results (no build commit in it, so it is reproducible byte for byte). ")
      + "Each results record stores the commit it was produced "
      "at (<code>+dirty</code>: the code differed from that commit), the source fingerprint of "
      "its code (AST digests of <code>experiments/&lt;name&gt;.py</code> and "
      "<code>theory/</code>; <i>current code</i> says whether it matches the code now), its "
      "profile, seed, executor and wall time (the sum of its cases' times).</p>")
    w(_provenance_rows(list(provenance)))
    w("</section></main>")
    w(f"<script>{_JS}</script></body></html>\n")
    return "".join(out)


def _row_id(c: Check) -> tuple:
    return (c.experiment, c.claim, c.key, c.inequality, c.measured)


def _profile_notes(profile: str, checks: list[Check], records: dict[str, dict],
                   results_dir: Path, allow_stale: bool
                   ) -> tuple[list[str], list[Check], dict[str, dict]]:
    """The notes of ``checks --profile best|quick`` (the quick re-runs; the committed full rows
    that FAIL), the failing rows they name that are not among ``checks``, and their records."""
    if profile == "full":
        return [], [], {}
    qchecks, qrec = ((checks, records) if profile == "quick" else
                     _runner.collect_checks(profile="quick", results_dir=results_dir,
                                            allow_stale=allow_stale))
    qfail = [c for c in qchecks if not c.passed]
    notes = [f"Quick-profile reproduction: {len(qrec)} experiments have quick results "
             f"(results/quick/); {len(qchecks) - len(qfail)} of their {len(qchecks)} checks "
             "pass" + ("." if not qfail else ", FAILED: " + "; ".join(
                 f"{c.claim} [{c.experiment}] {c.inequality}" for c in qfail) + ".")]
    fchecks, frec = _runner.collect_checks(profile="full", results_dir=results_dir,
                                           allow_stale=allow_stale)
    ffail = [c for c in fchecks if not c.passed]
    notes.append(f"Committed full-profile evidence: {len(fchecks)} checks, {len(ffail)} FAIL"
                 + ("." if not ffail else ": " + "; ".join(
                     f"{c.claim} [{c.experiment}] {c.inequality} "
                     f"({relation(c.measured, c.threshold)})" for c in ffail) + "."))
    shown = {_row_id(c) for c in checks}
    extra = list({_row_id(c): c for c in (*qfail, *ffail) if _row_id(c) not in shown}.values())
    used = {(n, r.get("profile")) for n, r in records.items()}
    other = {f"{n} ({r.get('profile')})": (n, r) for rec in (qrec, frec)
             for n, r in rec.items() if (n, r.get("profile")) not in used}
    return notes, extra, other


def write_report(path: str | Path | None = None, profile: str = "full", *,
                 results_dir: str | Path = _io.RESULTS, figures_dir: str | Path = _io.FIGURES,
                 allow_stale: bool = False, readme: str | Path = _io.ROOT / "README.md",
                 commit: str | None = None) -> Path:
    """Write the HTML report of the results (atomically) and return its path.

    Args:
        path: output file (default :func:`default_output`: ``results/report.html``, or
            ``results/quick/report.html`` for the quick profile).
        profile: ``"full"``, ``"quick"`` or ``"best"`` (full results where present, else
            quick; also summarises the quick re-runs, as ``checks --profile best`` does).
        results_dir: the results folder (``results/``).
        figures_dir: the figures folder (``figures/``; quick figures in ``figures/quick/``).
        allow_stale: accept results whose source fingerprint differs from the current code.
        readme: the README whose findings section is shown.
        commit: the commit shown as the report's (default: ``git rev-parse HEAD`` or
            ``"unknown"``).

    Raises:
        ValueError: for an unknown profile, an experiment without a solver family, an
            unreadable results file or an unwritable output folder.
    """
    if profile not in (*_runner.PROFILES, "best"):
        raise ValueError(f"profile must be quick, full or best, got {profile!r}")
    results_dir, figures_dir = Path(results_dir), Path(figures_dir)
    path = Path(path) if path is not None else default_output(profile, results_dir)
    _io.check_writable(path.parent)
    mods = _runner.discover()
    solvers = {n: solver_of(n, m) for n, m in mods.items()}
    checks, records = _runner.collect_checks(profile=profile, results_dir=results_dir,
                                             allow_stale=allow_stale)
    sweeps = _runner.collect_seed_sweeps(profile="full" if profile == "best" else profile,
                                         results_dir=results_dir, allow_stale=allow_stale)
    theory_digest = None
    current: dict[str, dict] = {}
    for n in mods:
        current[n] = _io.source_fingerprint(n, theory_digest=theory_digest)
        theory_digest = current[n]["theory"]
    if not records:
        folder = results_dir / "quick" if profile == "quick" else results_dir
        run = "full" if profile == "full" else "quick"
        raise ValueError(f"--profile {profile}: no results in {folder}/ (run `python -m "
                         f"experiments run all --profile {run}` first)")
    notes, extra, other = _profile_notes(profile, checks, records, results_dir, allow_stale)
    figures = {n: _runner.figure_path(n, r.get("profile", "full"), figures_dir)
               for n, r in records.items()}
    provenance = [(n, None, r, _record_file(n, r, results_dir), current.get(n))
                  for n, r in records.items()]
    provenance += [(n, None, r, _record_file(n, r, results_dir), current.get(n))
                   for n, r in other.values()]
    seen = {(n, str(p)) for n, _, _, p, _ in provenance}
    for exp in dict.fromkeys(r.experiment for r in sweeps):
        for seed in next(r.seeds for r in sweeps if r.experiment == exp):
            s = None if seed == _runner.DEFAULT_SEED else seed
            p = _runner.result_path(exp, "full" if profile == "best" else profile, results_dir, s)
            fail = _runner.failure_path(exp, "full" if profile == "best" else profile,
                                        results_dir, s)
            p = fail if fail.exists() else p
            if (exp, str(p)) in seen or not p.exists():
                continue
            seen.add((exp, str(p)))
            provenance.append((exp, seed, _io.read_record(p), p, current.get(exp)))
    titles = {n: str(r.get("title") or getattr(mods.get(n), "TITLE", "")) for n, r in
              records.items()}
    text = render_report(checks, records, profile=profile, solvers=solvers, titles=titles,
                         figures=figures, sweeps=sweeps,
                         findings_md=findings_markdown(Path(readme)),
                         commit=commit if commit is not None else head_commit(),
                         provenance=provenance, notes=notes, extra_rows=extra,
                         results_dir=results_dir)
    atomic_write_text(path, text)
    return path


def cli(args: Any) -> int:
    """``python -m experiments report``: write the report, print its path (exit 0).

    Written to the tracked ``results/report.html`` (no ``--output``, full or best profile), the
    report carries no build commit, exactly as ``checks`` writes it, so regenerating it on an
    unchanged checkout leaves the file byte for byte as committed.
    """
    tracked = args.output is None and args.profile != "quick"
    path = write_report(args.output, profile=args.profile, allow_stale=args.allow_stale,
                        commit="" if tracked else None)
    print(f"wrote {path}")
    return 0
