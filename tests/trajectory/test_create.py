"""RunStore.create where a run cannot be written: a clear error, and nothing left behind."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from policy_agent.trajectory import RunNotCreated, RunStore, describe_os_error

from ._filesystems import fill, tmpfs
from ._support import make_manifest

ADVICE = (
    ". Nothing was written; give --out a folder on a disk you can write to, with room for the run."
)


def test_under_a_file(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("")
    with pytest.raises(RunNotCreated) as caught:
        RunStore.create(tmp_path / "notes.txt" / "runs", make_manifest())
    assert str(caught.value) == (
        f"cannot start a run in {tmp_path}/notes.txt/runs: {tmp_path}/notes.txt is a file, "
        f"not a folder{ADVICE}"
    )


def test_under_proc() -> None:
    with pytest.raises(RunNotCreated) as caught:
        RunStore.create(Path("/proc/runs"), make_manifest())
    assert str(caught.value) == (
        "cannot start a run in /proc/runs: /proc does not take new files (a system folder such "
        f"as /proc?){ADVICE}"
    )
    assert not Path("/proc/runs").exists()


def test_on_a_read_only_file_system(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "ro", read_only=True) as mount:
        with pytest.raises(RunNotCreated) as caught:
            RunStore.create(mount / "runs", make_manifest())
        assert str(caught.value) == (
            f"cannot start a run in {mount}/runs: {mount}/runs is on a read-only file "
            f"system{ADVICE}"
        )


def test_on_a_full_disk_nothing_is_left_behind(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "full") as mount:
        (mount / "runs").mkdir()
        fill(mount)
        manifest = make_manifest()
        with pytest.raises(RunNotCreated) as caught:
            RunStore.create(mount / "runs", manifest)
        assert str(caught.value) == (
            f"cannot start a run in {mount}/runs: the disk holding {mount}/runs/"
            f"{manifest.run_id} is full{ADVICE}"
        )
        # Not even the empty run folder that a resume would then refuse as "not a run".
        assert list((mount / "runs").iterdir()) == []
        (mount / "filler").unlink()
        with RunStore.create(mount / "runs", manifest) as store:
            assert store.writable, "the same run id is free again"


@pytest.mark.parametrize(
    ("code", "said"),
    [
        (errno.EACCES, "permission denied for /x/y"),
        (errno.EDQUOT, "the disk holding /x/y is full"),
        (errno.EIO, "/x/y: Input/output error"),
    ],
)
def test_os_errors_are_put_in_words(code: int, said: str) -> None:
    assert describe_os_error(OSError(code, os.strerror(code)), Path("/x/y")) == said
