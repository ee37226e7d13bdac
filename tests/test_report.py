"""The HTML report (``python -m experiments report``, experiments/_report.py).

Unit tests render synthetic rows and a small copy of committed results; the browser test builds
the report of the committed full-profile results and renders it with headless Chromium
(``--dump-dom`` and ``--screenshot``). Without Chromium the browser test is skipped, except under
``CI`` (set by CI), where it fails.
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from experiments import _io, _report, _runner
from experiments.__main__ import main
from experiments._api import Check
from experiments._claims import CLAIMS

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
CHROMIUM_TIMEOUT_S = 120


class _Elements(HTMLParser):
    """Every start tag as (tag, attributes), and the text inside each ``tr.check`` row."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.rows: list[tuple[dict[str, str | None], str]] = []
        self._row: list[str] | None = None
        self._row_attrs: dict[str, str | None] = {}

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append((tag, a))
        if tag == "tr" and "check" in (a.get("class") or "").split():
            self._row, self._row_attrs = [], a

    def handle_endtag(self, tag):
        if tag == "tr" and self._row is not None:
            self.rows.append((self._row_attrs, " ".join(self._row)))
            self._row = None

    def handle_data(self, data):
        if self._row is not None:
            self._row.append(data)


def _parse(text: str) -> _Elements:
    p = _Elements()
    p.feed(text)
    p.close()
    return p


def _imgs(p: _Elements) -> list[dict[str, str | None]]:
    return [a for t, a in p.tags if t == "img"]


def _decode_png(src: str) -> bytes:
    prefix = "data:image/png;base64,"
    assert src.startswith(prefix), src[:40]
    data = base64.b64decode(src[len(prefix):], validate=True)
    assert data.startswith(PNG_MAGIC)
    return data


# ----------------------------------------------------------------------------- solvers


def test_every_experiment_maps_to_one_solver():
    mods = _runner.discover()
    for name, mod in mods.items():
        assert _report.solver_of(name, mod) in _report.SOLVERS, name
    assert set(_report.EXPERIMENT_SOLVER) <= set(mods), "mapping names unknown experiments"
    assert set(_report.EXPERIMENT_SOLVER.values()) <= set(_report.SOLVERS)
    with pytest.raises(ValueError, match="no solver family"):
        _report.solver_of("not_an_experiment")


# ----------------------------------------------------------------------------- rendering


def _synthetic(tmp_path: Path) -> tuple[list[Check], dict, Path]:
    fig = tmp_path / "demo.png"
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    f, ax = plt.subplots(figsize=(2, 1))
    ax.plot([0, 1], [0, 1])
    f.savefig(fig)
    plt.close(f)
    checks = [
        Check("C2", "W_{n+1} ≤ W_n/(1+γλ)", "d ∈ {1,2}", 0.5, 1.0, True, "a", "ratio",
              experiment="demo"),
        Check("C3", "bound <script>alert(1)</script> & more", "grid", 1.7, 1.0, False, "b",
              "ratio", "too tight", experiment="demo"),
        Check("C12", "finding: a measured fact", "grid", 3.0, 3.0, True, "c", "info",
              experiment="other"),
    ]
    rec = {"title": "Demo", "claims": ["C2", "C3"], "profile": "full", "status": "ok", "seed": 0,
           "wall_time_s": 1.25, "executor": {"kind": "serial", "workers": 1, "threads": 1},
           "meta": {"commit": "abc123", "python": "3.11"},
           "source_fingerprint": {"experiment": "e" * 16, "theory": "t" * 16}}
    records = {"demo": rec, "other": {**rec, "title": "Other", "claims": ["C12"]}}
    return checks, records, fig


def _render_synthetic(tmp_path: Path) -> str:
    checks, records, fig = _synthetic(tmp_path)
    return _report.render_report(
        checks, records, profile="full", solvers={"demo": "gaussian", "other": "neural"},
        figures={"demo": fig, "other": None}, findings_md="Findings:\n\n1. **one** `x<y`\n",
        commit="deadbeef",
        provenance=[(n, None, r, tmp_path / f"{n}.json", None) for n, r in records.items()])


def test_fail_row_is_shown_as_fail_and_filters_exist(tmp_path):
    text = _render_synthetic(tmp_path)
    p = _parse(text)
    by_claim = {a["data-claim"]: (a, row) for a, row in p.rows if a.get("data-claim")}
    a, row = by_claim["C3"]
    assert a["data-verdict"] == "FAIL" and "FAIL" in a["class"].split()
    assert "FAIL" in row and "1.7" in row and "too tight" in row
    assert by_claim["C2"][0]["data-verdict"] == "PASS"
    assert by_claim["C12"][0]["data-verdict"] == "INFO"
    assert {a["data-solver"] for a, _ in p.rows} <= set(_report.SOLVERS)
    assert by_claim["C12"][0]["data-solver"] == "neural"
    # the filter checkboxes: one per verdict and one per solver, all checked (everything shown)
    boxes = [a for t, a in p.tags if t == "input" and a.get("type") == "checkbox"]
    assert sorted(a["value"] for a in boxes if a["name"] == "verdict") == sorted(_report.VERDICTS)
    assert sorted(a["value"] for a in boxes if a["name"] == "solver") == sorted(_report.SOLVERS)
    assert all("checked" in a for a in boxes)
    # without JavaScript nothing is hidden: the controls are js-only, no row starts hidden
    assert 'class="no-js"' in text and ".no-js .js-only{display:none}" in text
    assert not any("hidden" in a for t, a in p.tags if t in ("tr", "section"))
    # text is escaped; the synthetic figure is embedded, the missing one named
    assert "<script>alert(1)" not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "<code>x&lt;y</code>" in text and "<strong>one</strong>" in text
    (img,) = _imgs(p)
    assert _decode_png(img["src"]) == (tmp_path / "demo.png").read_bytes()
    assert "figure missing" in text
    # every claim of the catalogue has a row of the claims table
    ids = {a.get("id") for _, a in p.tags}
    assert all(f"claim-{cid}" in ids for cid in CLAIMS)
    assert "finding: a measured fact" in text and "deadbeef" in text and "abc123" in text


def test_markdown_subset():
    md = ("Intro `a<b` and **bold** and *it*, ρ*_n stays.\n\n1. first\n   continued\n"
          "    - sub one\n    - sub two\n\n2. second [link](docs/numerics.md)\n\nAfter.\n")
    out = _report.markdown_to_html(md)
    assert "<code>a&lt;b</code>" in out and "<strong>bold</strong>" in out
    assert "<em>it</em>" in out and "ρ*_n" in out
    assert out.count("<ol") == 1 and out.count("<ul>") == 1 and out.count("<li>") == 4
    assert "first continued" in out and "second link" in out
    assert out.rstrip().endswith("<p>After.</p>")


def test_readme_findings_are_found():
    md = _report.findings_markdown(_io.ROOT / "README.md")
    assert md is not None and md.lower().startswith("findings")
    assert "## " not in md  # stops at the next section
    html = _report.markdown_to_html(md)
    assert "<ol>" in html and "<li>" in html


def _small_results(tmp_path: Path) -> tuple[Path, Path]:
    """A results folder with two committed records (one with seed records) and one figure."""
    res, figs = tmp_path / "results", tmp_path / "figures"
    res.mkdir()
    figs.mkdir()
    for n in ("lagrangian_validation", "separable_reference", "separable_reference.seed1"):
        shutil.copy(_io.RESULTS / f"{n}.json", res / f"{n}.json")
    shutil.copy(_io.FIGURES / "lagrangian_validation.png", figs / "lagrangian_validation.png")
    return res, figs


def test_write_report_is_deterministic_and_atomic(tmp_path):
    res, figs = _small_results(tmp_path)
    out = tmp_path / "out" / "report.html"
    p1 = _report.write_report(out, "full", results_dir=res, figures_dir=figs, commit="c0ffee")
    first = out.read_bytes()
    _report.write_report(out, "full", results_dir=res, figures_dir=figs, commit="c0ffee")
    assert p1 == out and out.read_bytes() == first
    assert [f.name for f in out.parent.iterdir()] == ["report.html"]  # no temporary left
    text = first.decode("utf-8")
    p = _parse(text)
    assert len(_imgs(p)) == 1 and "figure missing" in text  # separable_reference has none here
    assert 'id="sweeps"' in text and "separable_reference.seed1.json" in text
    assert 'id="exp-lagrangian_validation"' in text and "c0ffee" in text


def test_report_rejects_bad_profile_and_output(tmp_path, capsys):
    with pytest.raises(ValueError, match="profile"):
        _report.write_report(tmp_path / "r.html", "medium")
    with pytest.raises(SystemExit) as exc:
        main(["report", "--profile", "medium"])
    assert exc.value.code == 2
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match="no results"):
        _report.write_report(tmp_path / "r.html", "full", results_dir=empty)
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert main(["report", "--output", str(blocker / "r.html")]) == 2
    assert "cannot create" in capsys.readouterr().err


# ----------------------------------------------------------------------------- browser


def _chromium() -> str:
    path = shutil.which("chromium") or ("/usr/bin/chromium" if os.access(
        "/usr/bin/chromium", os.X_OK) else None)
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("CI is set but chromium is not installed (.ci/run installs it)")
        pytest.skip("chromium is not installed (apt-get install chromium); set CI=1 to make "
                    "this a failure")
    return path


def _run_chromium(chromium: str, tmp: Path, url: str, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         f"--user-data-dir={tmp / 'chromium-profile'}", "--window-size=1400,2000", *extra, url],
        capture_output=True, timeout=CHROMIUM_TIMEOUT_S, check=True)


@pytest.fixture(scope="module")
def committed_report(tmp_path_factory):
    """The report of the committed full-profile results, built by the command line."""
    out = tmp_path_factory.mktemp("report") / "report.html"
    assert main(["report", "--profile", "full", "--output", str(out)]) == 0
    return out


def test_report_of_committed_results_in_chromium(committed_report):
    chromium = _chromium()
    tmp = committed_report.parent
    url = committed_report.resolve().as_uri()
    dom = _run_chromium(chromium, tmp, url, "--dump-dom").stdout.decode("utf-8")
    p = _parse(dom)
    # the claims table: every claim C1..C19 has its row
    claims_rows = {a["id"] for t, a in p.tags if t == "tr" and (a.get("id") or "")
                   .startswith("claim-")}
    assert claims_rows == {f"claim-{cid}" for cid in CLAIMS}
    for cid in CLAIMS:
        assert re.search(rf'<td class="claim">{cid}</td>', dom), cid
    # every figure of the committed records, embedded once, each a PNG equal to the file
    _, records = _runner.collect_checks(profile="full", allow_stale=True)
    figs = {n: _runner.figure_path(n, "full") for n in records}
    figs = {n: f for n, f in figs.items() if f.is_file()}
    assert len(figs) == len(records) == len(list(_io.FIGURES.glob("*.png")))
    imgs = _imgs(p)
    assert len(imgs) == len(figs)
    for a in imgs:
        assert _decode_png(a["src"]) == figs[a["data-figure"]].read_bytes(), a["data-figure"]
    # the rows, the script ran (no-js removed, every row shown by default) and provenance
    assert len(p.rows) > 100 and all(a["data-solver"] in _report.SOLVERS for a, _ in p.rows)
    html_class = next(a.get("class") or "" for t, a in p.tags if t == "html")
    assert "no-js" not in html_class
    m = re.search(r'id="shown-count">(\d+) of (\d+) rows shown<', dom)
    assert m and m.group(1) == m.group(2) and int(m.group(1)) > 100
    assert 'id="provenance"' in dom and 'id="findings"' in dom and 'id="sweeps"' in dom
    # the screenshot is not blank
    shot = tmp / "screenshot.png"
    _run_chromium(chromium, tmp, url, f"--screenshot={shot}")
    from PIL import Image

    with Image.open(shot) as im:
        rgb = np.asarray(im.convert("RGB"), dtype=float)
    assert rgb.shape[:2] == (2000, 1400)
    colours = np.unique(rgb.reshape(-1, 3), axis=0)
    assert len(colours) > 50, f"{len(colours)} colours: blank page?"
    assert rgb.std() > 10.0
    assert (rgb.min(axis=2) < 100).mean() > 0.01  # dark (text) pixels on the white page


def test_committed_report_is_what_checks_and_report_regenerate(tmp_path):
    """The tracked report has no build commit: regenerating it leaves the file as committed."""
    out = tmp_path / "report.html"
    _report.write_report(out, "full", commit="")
    assert out.read_bytes() == (_report.default_output("full")).read_bytes()


def test_report_cli_writes_the_tracked_file_without_a_build_commit(monkeypatch):
    seen = []
    monkeypatch.setattr(_report, "write_report", lambda path, **kw: seen.append((path, kw)) or
                        "x")
    args = SimpleNamespace(output=None, profile="full", allow_stale=False)
    assert _report.cli(args) == 0 and seen[-1][1]["commit"] == ""
    _report.cli(SimpleNamespace(output="elsewhere.html", profile="full", allow_stale=False))
    assert seen[-1][1]["commit"] is None  # an explicit output shows the build commit
