"""Every document reference in the repository resolves (docs/README.md, "How to cite").

Scanned: ``theory/``, ``experiments/`` and ``tests/`` (``*.py``), ``README.md``,
``paper_checks.md`` and ``docs/`` (``*.md``). Reference grammar::

    reference := DOC [" " target {SEP target}]
    DOC       := docs/<name>.md            (optionally in backticks)
    target    := section | label
    section   := "§" N {"." N} ["(" letter ")"] [("-" | "–") ["§"] N {"." N}]
    label     := T<n> | L<n> | P<n> | A<n> | R<n>["(" letter ")"] | A-cvx | A-inv | A-δ | C<n>
    SEP       := ", " | "/" | " and "

Checks:

(a) every ``*.md`` path mentioned is a file of this repository, given from the repository root
    (Markdown link targets inside ``docs/`` may be relative to the linking file). A bare
    working-note name such as ``theory.md`` or a path outside the repository fails, as does a
    document name with a section but no ``.md`` (``numerics §1.5``);
(b) ``docs/X.md §k.m`` names a heading numbered k.m of that file, and a suffix ``(b)`` occurs in
    that section; inside ``docs/`` a bare ``§k.m`` refers to the same file;
(c) a label cited as ``docs/theory.md T4`` is an anchor of that file: a heading starting with it
    (``### T4 — …``) or a paragraph starting with it in bold (``**R6(a).**``);
(d) ``docs/claims.md Cn`` is a heading ``## Cn — …`` of the catalogue.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

_SECTION = r"§\d+(?:\.\d+)*(?:\([a-z]\))?(?:\s*[-–]\s*§?\d+(?:\.\d+)*)?"
_LABEL = r"(?:[TLPA]\d+|R\d+(?:\([a-z]\))?|A-(?:cvx|inv|δ)|C\d+)(?![\w(])"
_TARGET = rf"(?:{_SECTION}|{_LABEL})"
_DOC_REF = re.compile(
    rf"(?<![\w/.-])`?(docs/[\w.-]+\.md)`?((?:\s+{_TARGET})(?:(?:\s*,\s*|\s*/\s*|\s+and\s+){_TARGET})*)?")
_TARGETS = re.compile(_TARGET)
_MD_PATH = re.compile(r"(?<![\w/.~-])((?:\.{1,2}/|/|~/)?(?:[\w.-]+/)*[\w-][\w.-]*\.md)\b")
#: Generated, git-ignored outputs that the README names as outputs (``make main`` writes them).
_GENERATED = ("results/quick/",)
_URL = re.compile(r"https?://\S+")
_NAME_WITHOUT_MD = re.compile(r"(?<![\w/.-])(?:theory|numerics|design|claims|style)\s+§\d")
_BARE_SECTION = re.compile(r"§\d+(?:\.\d+)*(?:\([a-z]\))?")
_HEADING = re.compile(r"^(#{1,6})\s+(.*)$", re.M)
_ANCHOR = re.compile(r"^(?:#{1,6}\s+|\*\*)([A-Z][\w-]*(?:\([a-z]\))?)", re.M)


def _scanned_files() -> list[str]:
    files = [p for d in ("theory", "experiments", "tests") for p in (ROOT / d).rglob("*.py")]
    files += [ROOT / "README.md", ROOT / "paper_checks.md", *(ROOT / "docs").rglob("*.md")]
    rel = sorted({p.relative_to(ROOT).as_posix() for p in files if p.is_file()})
    return [r for r in rel if r != "tests/test_docs.py"]


@cache
def _sections(doc: str, root: Path = ROOT) -> dict[str, str]:
    """Heading number -> text of that section (up to the next heading of any level)."""
    text = (root / doc).read_text(encoding="utf-8")
    heads = list(_HEADING.finditer(text))
    out: dict[str, str] = {}
    for i, h in enumerate(heads):
        m = re.match(r"(\d+(?:\.\d+)*)\.?\s", h.group(2) + " ")
        if m:
            end = heads[i + 1].start() if i + 1 < len(heads) else len(text)
            out[m.group(1)] = text[h.start():end]
    return out


@cache
def _anchors(doc: str, root: Path = ROOT) -> frozenset[str]:
    return frozenset(_ANCHOR.findall((root / doc).read_text(encoding="utf-8")))


def _resolve_section(doc: str, target: str, root: Path = ROOT) -> str | None:
    """None if ``target`` (``§k.m``, ``§k.m(b)`` or a range) resolves in ``doc``, else an error."""
    m = re.fullmatch(r"§(\d+(?:\.\d+)*)(?:\(([a-z])\))?(?:\s*[-–]\s*§?(\d+(?:\.\d+)*))?", target)
    if m is None:
        return f"malformed section {target!r}"
    num, sub, end = m.groups()
    sections = _sections(doc, root)
    for n in (num, end):
        if n is not None and n not in sections:
            return f"{doc} has no section §{n}"
    if sub is not None and f"({sub})" not in sections[num]:
        return f"{doc} §{num} has no item ({sub})"
    return None


def _resolve(doc: str, target: str, root: Path = ROOT) -> str | None:
    """None if ``target`` (a section or a label) resolves in ``doc``, else the error."""
    if target.startswith("§"):
        return _resolve_section(doc, target, root)
    return None if target in _anchors(doc, root) else f"{doc} has no anchor {target!r}"


def _problems(rel: str, root: Path = ROOT) -> list[str]:
    """All unresolved references of one scanned file, as ``file:line: message``."""
    text = (root / rel).read_text(encoding="utf-8")
    urls = [u.span() for u in _URL.finditer(text)]
    consumed: list[tuple[int, int]] = []
    out: list[tuple[int, str]] = []
    for m in _MD_PATH.finditer(text):
        path = m.group(1)
        if any(a <= m.start() < b for a, b in urls):
            continue
        is_link = text[max(0, m.start() - 2):m.start()] == "]("
        base = (root / rel).parent if is_link and rel.endswith(".md") else root
        target = (base / path).resolve()
        if path.startswith(("/", "~")) or not target.is_relative_to(root.resolve()):
            out.append((m.start(), f"cites {path!r}, outside the repository"))
        elif not target.is_file() and not path.startswith(_GENERATED):
            out.append((m.start(), f"cites {path!r}, not a file of the repository"))
    for m in _NAME_WITHOUT_MD.finditer(text):
        out.append((m.start(), f"document cited without its path: {m.group(0)!r}"))
    for m in _DOC_REF.finditer(text):
        doc = m.group(1)
        if m.group(2) is None or not (root / doc).is_file():
            continue
        consumed.append(m.span(2))
        for t in _TARGETS.finditer(m.group(2)):
            err = _resolve(doc, t.group(0), root)
            if err:
                out.append((m.start(), err))
    if rel.startswith("docs/"):
        for m in _BARE_SECTION.finditer(text):
            if not any(a <= m.start() < b for a, b in consumed):
                err = _resolve_section(rel, m.group(0), root)
                if err:
                    out.append((m.start(), err))
    return [f"{rel}:{text.count(chr(10), 0, pos) + 1}: {msg}" for pos, msg in sorted(out)]


@pytest.mark.parametrize("rel", _scanned_files())
def test_references_resolve(rel):
    """Rules (a)-(d) for one file."""
    problems = _problems(rel)
    assert not problems, "\n".join(problems)


def test_checker_rejects_bad_references(tmp_path):
    """The checker itself: each kind of bad reference is reported once, good ones are not."""
    good = ("docs/theory.md §5.2, T4 and R6(a); `docs/numerics.md` §2.3(b); docs/numerics.md "
            "§1.2-§1.4; docs/claims.md C7; docs/theory.md A-δ/P1; docs/theory.md, "
            "https://example.org/x/theory.md")
    bad = {
        "theory.md §5.2": "not a file",
        "/work/shared/docs/theory.md": "outside",
        "../notes/design.md": "outside",
        "numerics §1.5": "without its path",
        "docs/theory.md §9.9": "no section",
        "docs/numerics.md §2.3(z)": "no item",
        "docs/theory.md T9": "no anchor",
        "docs/theory.md T1, R6(z)": "no anchor",
        "docs/claims.md C99": "no anchor",
    }
    (tmp_path / "docs").mkdir()
    for name in ("theory.md", "numerics.md", "claims.md"):
        (tmp_path / "docs" / name).write_text((ROOT / "docs" / name).read_text(encoding="utf-8"),
                                              encoding="utf-8")
    (tmp_path / "good.py").write_text(f'"""{good}"""\n', encoding="utf-8")
    assert _problems("good.py", tmp_path) == []
    for ref, msg in bad.items():
        (tmp_path / "bad.py").write_text(f'"""See {ref}."""\n', encoding="utf-8")
        found = _problems("bad.py", tmp_path)
        assert len(found) == 1 and msg in found[0], (ref, found)


def test_theory_documents_every_bound_and_label():
    """docs/theory.md names every function of theory/bounds.py and has every label as an anchor."""
    from theory import bounds

    text = (ROOT / "docs/theory.md").read_text(encoding="utf-8")
    missing = [f for f in bounds.__all__ if f"bounds.{f}" not in text]
    assert not missing, f"functions of theory/bounds.py not documented: {missing}"
    labels = {"A0", "A-cvx", "A1", "A-inv", "A-δ", "L1", "L2", "L3", "L4", "P1", "P2",
              *(f"T{k}" for k in range(1, 8)), "R6", "R6(a)", "R6(b)", "R6(c)", "R7", "R7(a)",
              "R7(b)", "R8"}
    assert labels <= _anchors("docs/theory.md"), labels - _anchors("docs/theory.md")


def test_claims_catalogue_is_complete_and_resolves():
    """Every claim id of an experiment is catalogued and documented, and its source resolves."""
    from experiments._claims import CLAIMS

    ids = {f"C{k}" for k in range(1, 20)}
    assert set(CLAIMS) == ids
    assert ids <= _anchors("docs/claims.md")
    for cid, (_, abstract, source) in CLAIMS.items():
        assert set(abstract) <= {1, 2, 3, 4, 5}, cid
        m = _DOC_REF.fullmatch(source.split("; ")[0])
        assert m is not None and m.group(2), (cid, source)
        for ref in source.split("; "):
            m = _DOC_REF.fullmatch(ref)
            assert m is not None, (cid, ref)
            for t in _TARGETS.finditer(m.group(2) or ""):
                assert _resolve(m.group(1), t.group(0)) is None, (cid, t.group(0))
    used = {c for p in (ROOT / "experiments").glob("*.py")
            for decl in re.findall(r"^CLAIMS = \((.*?)\)", p.read_text(encoding="utf-8"), re.M)
            for c in re.findall(r"C\d+", decl)}
    assert used and used <= ids, used - ids
