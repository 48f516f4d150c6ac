"""The listing cache: every change a client could make shows up in the very next listing."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from flask_notebook.core import notebooks
from flask_notebook.core.contents import ContentsManager
from flask_notebook.core.dircache import ListingCache, _local_mounts
from flask_notebook.core.paths import Root


@pytest.fixture
def manager(cm: ContentsManager) -> ContentsManager:
    assert cm.lister.cache is not None, "inotify should be available on this Linux machine"
    return cm


def listing(manager: ContentsManager, api_path: str = "") -> dict[str, dict[str, object]]:
    return {entry["name"]: dict(entry) for entry in manager.get(api_path)["content"]}


def test_unchanged_directory_is_served_from_the_cache(manager: ContentsManager) -> None:
    root = Path(manager.root.os_root)
    (root / "a.txt").write_text("a")
    first = manager.get("")["content"]
    second = manager.get("")["content"]
    assert first == second
    assert first[0] is second[0]  # the same model object: no stat, no rebuild
    assert first is not second  # but a fresh list: callers sort and slice it


def _append(path: Path, text: str) -> None:
    with open(path, "a") as f:
        f.write(text)


CHANGES: dict[str, Callable[[Path], None]] = {
    "create": lambda root: (root / "new.txt").write_text("n"),
    "delete": lambda root: (root / "a.txt").unlink(),
    "rename": lambda root: (root / "a.txt").rename(root / "b.txt"),
    "write": lambda root: (root / "a.txt").write_text("longer content"),
    "append": lambda root: _append(root / "a.txt", "more"),
    "chmod": lambda root: (root / "a.txt").chmod(0o400),
    "touch": lambda root: os.utime(root / "a.txt", (1_000_000_000, 1_000_000_000)),
    "mkdir": lambda root: (root / "newdir").mkdir(),
    "write in subdir": lambda root: os.utime(root / "sub", (1_000_000_000, 1_000_000_000)),
}


@pytest.mark.parametrize("change", list(CHANGES.values()), ids=list(CHANGES))
def test_every_change_shows_in_the_next_listing(manager: ContentsManager, change: Callable[[Path], None]) -> None:
    root = Path(manager.root.os_root)
    (root / "a.txt").write_text("a")
    (root / "sub").mkdir()
    listing(manager)  # cached now
    change(root)
    cached = listing(manager)
    manager.lister.cache = None  # the same listing, computed from scratch
    assert cached == listing(manager)


def test_subdirectory_contents_change_moves_its_mtime(manager: ContentsManager) -> None:
    root = Path(manager.root.os_root)
    (root / "sub").mkdir()
    os.utime(root / "sub", (1_000_000_000, 1_000_000_000))
    before = listing(manager)["sub"]["last_modified"]
    (root / "sub" / "inner.txt").write_text("x")  # an event for sub's watch, none for root's
    assert listing(manager)["sub"]["last_modified"] != before


def test_symlink_target_changes_are_seen(manager: ContentsManager, tmp_path: Path) -> None:
    root = Path(manager.root.os_root)
    (root / "inner").mkdir()
    (root / "inner" / "target.txt").write_text("x")
    os.symlink("inner/target.txt", root / "link.txt")
    assert listing(manager)["link.txt"]["size"] == 1
    (root / "inner" / "target.txt").write_text("much longer")  # no event in root's directory
    assert listing(manager)["link.txt"]["size"] == len("much longer")


def test_a_change_during_the_scan_is_handed_back_with_the_listing(tmp_path: Path) -> None:
    cache = ListingCache()
    version = cache.begin_scan(str(tmp_path))
    assert version is not None
    (tmp_path / "late.txt").write_text("x")  # changed after the scan began
    cache.store(str(tmp_path), "listing", version)
    stored = cache.get(str(tmp_path))
    assert stored is not None and stored[1:] == ("listing", {"late.txt"})
    assert cache.get(str(tmp_path))[2] == set()  # type: ignore[index]  # handed back once
    cache.close()


def test_a_lost_race_drops_the_listing(tmp_path: Path) -> None:
    cache = ListingCache()
    cache.store(str(tmp_path), "first", cache.begin_scan(str(tmp_path)) or 0)
    stored = cache.get(str(tmp_path))
    assert stored is not None
    cache.store(str(tmp_path), "second", stored[0])  # one update wins ...
    cache.store(str(tmp_path), "third", stored[0])  # ... the other, from the same version, loses
    assert cache.get(str(tmp_path)) is None  # and the directory is scanned afresh
    cache.close()


def test_a_flood_of_changes_means_a_rescan(tmp_path: Path) -> None:
    cache = ListingCache(max_dirty=10)
    cache.store(str(tmp_path), "listing", cache.begin_scan(str(tmp_path)) or 0)
    for index in range(20):
        (tmp_path / f"f{index}").write_text("x")
    assert cache.get(str(tmp_path)) is None
    cache.close()


def test_deleted_directory_is_forgotten(tmp_path: Path) -> None:
    cache = ListingCache()
    folder = tmp_path / "gone"
    folder.mkdir()
    version = cache.begin_scan(str(folder))
    assert version is not None
    cache.store(str(folder), "listing", version)
    assert cache.get(str(folder)) is not None
    folder.rmdir()
    assert cache.get(str(folder)) is None
    assert str(folder) not in cache._path_to_wd
    cache.close()


def test_a_modified_entry_keeps_its_place(manager: ContentsManager) -> None:
    root = Path(manager.root.os_root)
    for name in ("c.txt", "a.txt", "b.txt"):
        (root / name).write_text(name)
    order = [entry["name"] for entry in manager.get("")["content"]]
    (root / order[0]).write_text("changed")
    after = manager.get("")["content"]
    assert [entry["name"] for entry in after] == order
    assert after[0]["size"] == len("changed")


def test_many_changes_between_listings_match_a_fresh_scan(manager: ContentsManager) -> None:
    root = Path(manager.root.os_root)
    for index in range(50):
        (root / f"f{index}.txt").write_text("x")
    (root / "d").mkdir()
    manager.get("")
    for index in range(0, 50, 3):
        (root / f"f{index}.txt").unlink()
    for index in range(1, 50, 3):
        (root / f"f{index}.txt").rename(root / f"g{index}.txt")
    (root / "d").rename(root / "e")
    (root / "new.ipynb").write_text("{}")
    cached = listing(manager)
    manager.lister.cache = None
    assert cached == listing(manager)


def test_remote_file_systems_are_never_cached(tmp_path: Path) -> None:
    mountinfo = tmp_path / "mountinfo"
    mountinfo.write_text(
        "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"
        "40 22 0:35 / /home/shared rw,relatime shared:20 - nfs4 server:/export rw\n"
        "41 22 0:36 / /mnt/my\\040drive rw - fuse.sshfs host: rw\n"
    )
    assert _local_mounts(str(mountinfo))[-1] == ("/", "ext4")
    cache = ListingCache(mountinfo=str(mountinfo))
    assert cache._is_local("/home/user")
    assert not cache._is_local("/home/shared/project")
    assert not cache._is_local("/mnt/my drive/x")
    assert cache.begin_scan("/home/shared") is None
    cache.close()


def test_too_many_directories_resets_the_watches(tmp_path: Path) -> None:
    cache = ListingCache(max_dirs=3)
    for index in range(5):
        folder = tmp_path / f"d{index}"
        folder.mkdir()
        assert cache.begin_scan(str(folder)) is not None
    assert len(cache._path_to_wd) <= 3
    cache.close()


def test_listing_cache_can_be_turned_off(tmp_path: Path) -> None:
    manager = ContentsManager(Root(str(tmp_path)), notebooks.Notary(str(tmp_path / "data")), listing_cache=False)
    assert manager.lister.cache is None
    manager.notary.close()
