"""atomic_write: the old bytes or the new ones, never a mix, and no litter."""

from __future__ import annotations

import errno
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from flask_notebook.core import errors, fileio


def temp_files(directory: Path) -> list[str]:
    return [name for name in os.listdir(directory) if name.startswith(".~")]


@pytest.fixture
def target(tmp_path: Path) -> Path:
    path = tmp_path / "file.txt"
    path.write_bytes(b"old bytes\n")
    return path


def test_writes_bytes_and_replaces(target: Path) -> None:
    fileio.atomic_write(str(target), b"new", api_path="file.txt")
    assert target.read_bytes() == b"new"
    assert temp_files(target.parent) == []


def test_writes_an_iterable_of_chunks(tmp_path: Path) -> None:
    path = tmp_path / "new.bin"
    fileio.atomic_write(str(path), iter([b"one ", b"", b"two ", b"three"]), api_path="new.bin")
    assert path.read_bytes() == b"one two three"
    assert temp_files(tmp_path) == []


def test_a_failure_mid_write_keeps_the_old_bytes(target: Path) -> None:
    def chunks() -> Iterator[bytes]:
        yield b"half of the new "
        raise RuntimeError("the producer broke")

    with pytest.raises(RuntimeError, match="the producer broke"):
        fileio.atomic_write(str(target), chunks(), api_path="file.txt")
    assert target.read_bytes() == b"old bytes\n"
    assert temp_files(target.parent) == []


def test_an_os_error_mid_write_is_save_failed_and_keeps_the_old_bytes(target: Path) -> None:
    def chunks() -> Iterator[bytes]:
        yield b"x" * 4096
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(errors.SaveFailed) as info:
        fileio.atomic_write(str(target), chunks(), api_path="file.txt")
    assert "file.txt" in info.value.message and "No space left on device" in info.value.message
    assert target.read_bytes() == b"old bytes\n"
    assert temp_files(target.parent) == []


def test_a_permission_error_mid_write_is_forbidden(target: Path) -> None:
    def chunks() -> Iterator[bytes]:
        yield b"x"
        raise PermissionError(errno.EACCES, "Permission denied")

    with pytest.raises(errors.Forbidden, match="Permission denied: file.txt"):
        fileio.atomic_write(str(target), chunks(), api_path="file.txt")
    assert target.read_bytes() == b"old bytes\n"
    assert temp_files(target.parent) == []


def test_interrupting_the_write_keeps_the_old_bytes(target: Path) -> None:
    """KeyboardInterrupt (or a greenlet kill) is not an OSError; it still cleans up and propagates."""

    def chunks() -> Iterator[bytes]:
        yield b"partial"
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        fileio.atomic_write(str(target), chunks(), api_path="file.txt")
    assert target.read_bytes() == b"old bytes\n"
    assert temp_files(target.parent) == []


def test_keeps_the_mode_of_an_existing_file(target: Path) -> None:
    for mode in (0o640, 0o755, 0o600):
        target.chmod(mode)
        fileio.atomic_write(str(target), b"new", api_path="file.txt")
        assert stat.S_IMODE(target.stat().st_mode) == mode


def test_a_new_file_gets_the_umask_mode(tmp_path: Path) -> None:
    path = tmp_path / "fresh.txt"
    fileio.atomic_write(str(path), b"x", api_path="fresh.txt")
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask


def test_writes_through_a_symlink_to_its_target(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    real = tmp_path / "real" / "target.txt"
    real.write_bytes(b"old")
    real.chmod(0o640)
    link = tmp_path / "link.txt"
    os.symlink("real/target.txt", link)
    fileio.atomic_write(str(link), b"through the link", api_path="link.txt")
    assert link.is_symlink() and os.readlink(link) == "real/target.txt"
    assert real.read_bytes() == b"through the link"
    assert stat.S_IMODE(real.stat().st_mode) == 0o640
    assert temp_files(tmp_path) == [] and temp_files(tmp_path / "real") == []


def test_writes_through_a_dangling_symlink_by_creating_its_target(tmp_path: Path) -> None:
    link = tmp_path / "link.txt"
    os.symlink("created.txt", link)
    fileio.atomic_write(str(link), b"made", api_path="link.txt")
    assert link.is_symlink() and (tmp_path / "created.txt").read_bytes() == b"made"


def test_a_parent_that_is_a_file_is_not_found(target: Path) -> None:
    """Works as root too, where a read-only directory blocks nothing. (The contents API
    checks the parent first: this is the race where another request replaced it.)"""
    with pytest.raises(errors.NotFound, match="^No such directory: file.txt$"):
        fileio.atomic_write(str(target / "child.txt"), b"x", api_path="file.txt/child.txt")
    assert target.read_bytes() == b"old bytes\n"


def test_a_missing_parent_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(errors.NotFound, match="^No such directory: nope$"):
        fileio.atomic_write(str(tmp_path / "nope" / "x.txt"), b"x", api_path="nope/x.txt")
    assert not (tmp_path / "nope").exists()


def test_a_symlink_loop_is_a_save_error(tmp_path: Path) -> None:
    os.symlink("loop", tmp_path / "loop")
    with pytest.raises(errors.SaveFailed):
        fileio.atomic_write(str(tmp_path / "loop"), b"x", api_path="loop")
    assert os.readlink(tmp_path / "loop") == "loop"


def test_a_read_only_directory_is_forbidden() -> None:
    """Run as an unprivileged user (root ignores permissions): the OS refusal becomes Forbidden."""
    base = Path(tempfile.mkdtemp(prefix="nb-perm-", dir="/tmp"))
    try:
        base.chmod(0o755)
        locked = base / "locked"
        locked.mkdir()
        (locked / "file.txt").write_bytes(b"old")
        locked.chmod(0o555)
        code = (
            "import os, sys\n"
            "from flask_notebook.core import errors, fileio\n"  # import first: root's home is private
            "if os.geteuid() == 0:\n"
            "    os.setgid(65534); os.setuid(65534)\n"
            "try:\n"
            "    fileio.atomic_write(sys.argv[1], b'new', api_path='locked/file.txt')\n"
            "except errors.Forbidden as exc:\n"
            "    print('Forbidden:', exc.message)\n"
        )
        result = subprocess.run([sys.executable, "-c", code, str(locked / "file.txt")], capture_output=True,
                                text=True, timeout=30, cwd=Path(__file__).parent.parent.parent)
        assert result.stdout.strip() == "Forbidden: Permission denied: locked/file.txt", result.stderr
        assert (locked / "file.txt").read_bytes() == b"old"
        assert temp_files(locked) == []
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_replacing_a_directory_fails_and_keeps_it(tmp_path: Path) -> None:
    (tmp_path / "dir").mkdir()
    (tmp_path / "dir" / "keep.txt").write_bytes(b"keep")
    with pytest.raises(errors.Invalid, match="^dir is a directory: a file cannot be saved over it$"):
        fileio.atomic_write(str(tmp_path / "dir"), b"x", api_path="dir")
    assert (tmp_path / "dir" / "keep.txt").read_bytes() == b"keep"
    assert temp_files(tmp_path) == []


def test_atomic_copy_copies_bytes_and_times(tmp_path: Path) -> None:
    src = tmp_path / "src.bin"
    src.write_bytes(os.urandom(3 << 20))  # more than one read chunk
    os.utime(src, (1_000_000_000, 1_000_000_000))
    dst = tmp_path / "dst.bin"
    dst.write_bytes(b"old")
    fileio.atomic_copy(str(src), str(dst), api_path="dst.bin")
    assert dst.read_bytes() == src.read_bytes()
    assert dst.stat().st_mtime == 1_000_000_000
    assert temp_files(tmp_path) == []


def test_fsync_dir_tolerates_what_cannot_be_synced(tmp_path: Path) -> None:
    fileio.fsync_dir(str(tmp_path))
    fileio.fsync_dir(str(tmp_path / "missing"))


def test_atomic_write_returns_the_written_files_status_even_once_it_is_gone(tmp_path: Path) -> None:
    """A save that succeeded is described from what was written: another request may have
    deleted the file before the model is made (the races of issue 17)."""
    st = fileio.atomic_write(str(tmp_path / "a.txt"), b"12345", api_path="a.txt")
    os.unlink(tmp_path / "a.txt")
    assert st.st_size == 5 and stat.S_ISREG(st.st_mode)


@pytest.mark.parametrize("make, error, message", [
    (lambda p: None, errors.NotFound, "file or directory '/x' does not exist"),
    (lambda p: p.mkdir(), errors.Conflict, "x was replaced by a directory while it was read; ask again"),
])
def test_a_read_overtaken_by_a_delete_or_a_folder_is_a_404_or_409(tmp_path: Path, make: Any, error: type,
                                                                   message: str) -> None:
    make(tmp_path / "x")
    with pytest.raises(OSError) as raised:
        open(tmp_path / "x", "rb").close()
    mapped = fileio.read_error(raised.value, "x")
    assert type(mapped) is error and mapped.message == message


def test_a_read_error_no_client_causes_is_raised_as_it_is() -> None:
    with pytest.raises(OSError) as raised:
        fileio.read_error(OSError(errno.EIO, "Input/output error"), "x")
    assert raised.value.errno == errno.EIO


def test_a_directory_copy_leaves_out_writes_under_way(tmp_path: Path) -> None:
    """A save's temporary file caught half-written in the source would stay in the copy."""
    (tmp_path / "src").mkdir()
    for name in ("a.txt", ".~a.txt.x1y2.tmp", ".~upload-b.bin", ".~copy-c.q1", ".~kept"):
        (tmp_path / "src" / name).write_text(name)
    fileio.copy_tree(str(tmp_path / "src"), str(tmp_path / "dst"), api_path="dst")
    assert sorted(os.listdir(tmp_path / "dst")) == [".~kept", "a.txt"]
