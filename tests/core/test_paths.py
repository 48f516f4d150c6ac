"""Root: the one door from API paths to the disk, with no Flask app."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from flask_notebook.core import errors
from flask_notebook.core.paths import Root, iso_utc, join_api_path, normalize_api_path, split_api_path


@pytest.fixture
def base(tmp_path: Path) -> Path:
    """tmp_path/root (served) with tmp_path/secret.txt and tmp_path/rootx beside it."""
    root = tmp_path / "root"
    (root / "inner" / "deeper").mkdir(parents=True)
    (root / "a.txt").write_text("a")
    (root / "inner" / "b.txt").write_text("b")
    (tmp_path / "secret.txt").write_text("secret")
    (tmp_path / "rootx").mkdir()
    (tmp_path / "rootx" / "secret.txt").write_text("secret")
    return root


@pytest.fixture
def rt(base: Path) -> Root:
    return Root(str(base))


# -- os_path ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("api_path", "parts"),
    [
        ("", ()),
        ("/", ()),
        ("a.txt", ("a.txt",)),
        ("/a.txt", ("a.txt",)),
        ("a.txt/", ("a.txt",)),
        ("//a.txt//", ("a.txt",)),
        ("inner/b.txt", ("inner", "b.txt")),
        ("inner/deeper", ("inner", "deeper")),
        ("not/yet/there.txt", ("not", "yet", "there.txt")),
        ("/etc/passwd", ("etc", "passwd")),  # absolute API paths are relative to the root
        ("inner/C:", ("inner", "C:")),  # a drive letter only counts at the start
        ("a\\..\\..\\secret.txt", ("a\\..\\..\\secret.txt",)),  # one legal name on POSIX
        ("\uff0e\uff0e/secret.txt", ("\uff0e\uff0e", "secret.txt")),
        ("..\u2215secret.txt", ("..\u2215secret.txt",)),
        ("...", ("...",)),
        (".hidden", (".hidden",)),  # hidden is a separate question
        ("~", ("~",)),
    ],
)
def test_os_path_maps_inside_the_root(rt: Root, base: Path, api_path: str, parts: tuple[str, ...]) -> None:
    assert rt.os_path(api_path) == os.path.join(str(base), *parts)


@pytest.mark.parametrize(
    "api_path",
    [
        "..",
        "../secret.txt",
        "../root/a.txt",  # out and back in is still refused
        "inner/../a.txt",  # resolves inside, but `..` is refused on sight
        "inner/../../secret.txt",
        "./a.txt",
        "inner/./b.txt",
        "inner//b.txt",
        "../" * 100 + "etc/passwd",
        "C:",
        "C:\\Windows",
        "c:/x",
        "Z:secret.txt",
        "a.txt\0",
        "\0",
        "inner/\0/b.txt",
        "../rootx/secret.txt",
    ],
)
def test_os_path_refuses(rt: Root, api_path: str) -> None:
    with pytest.raises(errors.NotFound) as info:
        rt.os_path(api_path)
    assert "outside root" in info.value.message or "not a valid path" in info.value.message


def test_nul_message_does_not_echo_a_raw_nul(rt: Root) -> None:
    with pytest.raises(errors.NotFound) as info:
        rt.os_path("a\0b")
    assert "\0" not in info.value.message and "not a valid path" in info.value.message


def test_os_path_refuses_symlinks_that_resolve_outside(rt: Root, base: Path) -> None:
    outside = base.parent
    os.symlink(outside, base / "out_dir")
    os.symlink(outside / "secret.txt", base / "out_file")
    os.symlink("../secret.txt", base / "rel_file")
    os.symlink("../rootx", base / "prefix")
    os.symlink("/", base / "slash")
    os.symlink(outside / "missing.txt", base / "dangling")
    os.symlink(outside, base / "inner" / "deeper" / "link")
    os.symlink("hop2", base / "hop1")
    os.symlink("../secret.txt", base / "hop2")
    for api_path in ("out_dir", "out_dir/secret.txt", "out_dir/new.txt", "out_file", "rel_file", "prefix",
                     "prefix/secret.txt", "slash", "slash/etc/passwd", "dangling", "inner/deeper/link",
                     "hop1", "hop2"):
        with pytest.raises(errors.NotFound):
            rt.os_path(api_path)
    # What counts is where a path lands: out through a link and back in is inside.
    assert rt.os_path("inner/deeper/link/root/a.txt") == str(base / "inner" / "deeper" / "link" / "root" / "a.txt")


def test_os_path_refuses_symlink_loops(rt: Root, base: Path) -> None:
    """A loop never resolves; one that passes through the outside must not count as inside."""
    outside = base.parent
    os.symlink(outside / "back", base / "loop")
    os.symlink(base / "loop", outside / "back")
    os.symlink("self", base / "self")
    for api_path in ("loop", "loop/new.txt", "self", "self/x"):
        with pytest.raises(errors.NotFound):
            rt.os_path(api_path)


def test_os_path_allows_symlinks_that_stay_inside(rt: Root, base: Path) -> None:
    os.symlink("inner", base / "good_dir")
    os.symlink(base / "inner" / "b.txt", base / "good_file")
    os.symlink("../a.txt", base / "inner" / "up")
    os.symlink("missing.txt", base / "dangling_inside")
    assert rt.os_path("good_dir/b.txt") == str(base / "good_dir" / "b.txt")
    assert rt.os_path("good_dir/new.txt") == str(base / "good_dir" / "new.txt")
    assert rt.os_path("good_file") == str(base / "good_file")
    assert rt.os_path("inner/up") == str(base / "inner" / "up")
    assert rt.os_path("dangling_inside") == str(base / "dangling_inside")


def test_os_path_below_a_file_is_inside_but_does_not_exist(rt: Root, base: Path) -> None:
    assert rt.os_path("a.txt/x") == str(base / "a.txt" / "x")


def test_the_root_may_itself_be_reached_through_a_symlink(base: Path, tmp_path: Path) -> None:
    os.symlink(base, tmp_path / "root_link")
    rt = Root(str(tmp_path / "root_link"))
    assert rt.os_root == str(base)
    assert rt.os_path("a.txt") == str(base / "a.txt")
    with pytest.raises(errors.NotFound):
        rt.os_path("../secret.txt")


def test_serving_the_filesystem_root() -> None:
    """Corner case: with `/` as the root, everything is inside (and `..` is still refused)."""
    rt = Root("/")
    assert rt.os_path("") == "/"
    assert rt.os_path("etc") == "/etc"
    assert rt.is_inside("/etc/passwd")
    with pytest.raises(errors.NotFound):
        rt.os_path("../etc")


# -- is_inside ---------------------------------------------------------------------------


def test_is_inside(rt: Root, base: Path) -> None:
    outside = base.parent
    assert rt.is_inside(str(base))
    assert rt.is_inside(str(base) + "/")
    assert rt.is_inside(str(base / "a.txt"))
    assert rt.is_inside(str(base / "not" / "there"))
    assert rt.is_inside(str(base / "inner" / ".." / "a.txt"))
    assert not rt.is_inside(str(outside))
    assert not rt.is_inside(str(outside / "rootx"))  # the root's name is a prefix of it
    assert not rt.is_inside(str(outside / "rootx" / "secret.txt"))
    assert not rt.is_inside(str(base / ".." / "secret.txt"))
    assert not rt.is_inside("/")
    os.symlink(outside, base / "out")
    assert not rt.is_inside(str(base / "out"))
    assert rt.is_inside(str(base / "out" / "root" / "a.txt"))  # out and back in: resolves inside
    os.symlink(outside / "root" / "inner", base / "via_abs")
    assert rt.is_inside(str(base / "via_abs" / "b.txt"))


# -- hidden and listed ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("api_path", "hidden"),
    [
        ("", False),
        ("/", False),
        ("a.txt", False),
        ("inner/b.txt", False),
        (".hidden", True),
        ("/.hidden/", True),
        ("inner/.git/config", True),
        (".ipynb_checkpoints/a-checkpoint.txt", True),
        ("inner/.b.txt", True),
        ("..", True),
        ("...", True),
        ("a.b/c", False),
        ("\uff0e\uff0e", False),
    ],
)
def test_is_hidden(rt: Root, api_path: str, hidden: bool) -> None:
    assert rt.is_hidden(api_path) is hidden


def test_refuse_hidden_follows_allow_hidden(base: Path) -> None:
    assert Root(str(base)).refuse_hidden(".env")
    assert not Root(str(base), allow_hidden=True).refuse_hidden(".env")
    assert not Root(str(base)).refuse_hidden("")


def test_listed(base: Path) -> None:
    rt = Root(str(base), hide_globs=["__pycache__", "*.pyc", "*~"])
    assert rt.listed("a.txt")
    assert not rt.listed(".hidden")
    assert not rt.listed("__pycache__")
    assert not rt.listed("mod.pyc")
    assert not rt.listed("notes.txt~")
    assert rt.listed("mod.py")
    shown = Root(str(base), allow_hidden=True, hide_globs=["*.pyc"])
    assert shown.listed(".hidden")
    assert not shown.listed(".cache.pyc")
    assert Root(str(base)).listed("__pycache__")  # no globs, nothing hidden by name


# -- helpers -------------------------------------------------------------------------------


def test_api_path_helpers() -> None:
    assert normalize_api_path("/a/b/") == "a/b"
    assert join_api_path("", "a", "/b/", "") == "a/b"
    assert join_api_path("") == ""
    assert split_api_path("a/b/c.txt") == ("a/b", "c.txt")
    assert split_api_path("c.txt") == ("", "c.txt")
    assert iso_utc(0) == "1970-01-01T00:00:00.000000Z"


@pytest.mark.parametrize("api_path, message", [
    ("n" * 256, f"Name too long: '{'n' * 39}…' is 256 bytes; the file system allows 255"),
    ("ok/" + "€" * 86, f"Name too long: '{'€' * 39}…' is 258 bytes; the file system allows 255"),
])
def test_a_name_longer_than_the_file_system_takes_is_name_too_long(rt: Root, api_path: str, message: str) -> None:
    """It was "outside root contents directory" (404): resolving it failed with ENAMETOOLONG."""
    with pytest.raises(errors.NameTooLong) as info:
        rt.os_path(api_path)
    assert info.value.message == message
    assert rt.os_path("m" * 255).endswith("m" * 255)
    assert rt.resolve_path("n" * 256) is None


def test_a_path_longer_than_the_system_takes_is_name_too_long(rt: Root) -> None:
    with pytest.raises(errors.NameTooLong, match="^Path too long: "):
        rt.os_path("/".join(["d" * 250] * 17))
