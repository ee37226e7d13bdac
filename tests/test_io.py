"""theory/io.py: atomic writes leave either the old file or the new one, never a temporary."""

import pytest

from theory.io import atomic_path, atomic_write_text


class _Interrupted(Exception):
    pass


def test_atomic_path_success_replaces_and_keeps_suffix(tmp_path):
    dest = tmp_path / "fig.png"
    dest.write_text("old")
    with atomic_path(dest) as tmp:
        assert tmp.parent == tmp_path and tmp.suffix == ".png" and tmp != dest
        tmp.write_text("new")
        assert dest.read_text() == "old"  # nothing visible before the block ends
    assert dest.read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["fig.png"]


def test_atomic_path_creates_missing_folders(tmp_path):
    dest = tmp_path / "a" / "b" / "x.txt"
    atomic_write_text(dest, "héllo\n")
    assert dest.read_bytes() == "héllo\n".encode()


@pytest.mark.parametrize("exc", [_Interrupted, KeyboardInterrupt])
def test_exception_inside_block_keeps_old_content_and_removes_temporary(tmp_path, exc):
    dest = tmp_path / "result.json"
    dest.write_text('{"ok": 1}')
    with pytest.raises(exc), atomic_path(dest) as tmp:
        tmp.write_text('{"half-writ')
        raise exc
    assert dest.read_text() == '{"ok": 1}'
    assert [p.name for p in tmp_path.iterdir()] == ["result.json"]


def test_exception_without_previous_file_leaves_nothing(tmp_path):
    dest = tmp_path / "new.txt"
    with pytest.raises(_Interrupted), atomic_path(dest) as tmp:
        tmp.write_text("partial")
        raise _Interrupted
    assert list(tmp_path.iterdir()) == []
