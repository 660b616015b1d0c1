"""files.py: only regular files are written, never through links, and a failure loses nothing."""

from __future__ import annotations

import os
import resource
import signal
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from logitlenskit.base.files import (
    check_output_path,
    write_bytes_atomic,
    write_files_atomic,
    write_text_atomic,
)


@contextmanager
def disk_full_after(limit: int) -> Iterator[None]:
    """Any write past byte ``limit`` of a file fails, as on a full disk (RLIMIT_FSIZE)."""
    old_limit = resource.getrlimit(resource.RLIMIT_FSIZE)
    old_handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # an error, not a kill
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, old_limit[1]))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, old_limit)
        signal.signal(signal.SIGXFSZ, old_handler)


@pytest.mark.parametrize("overwrite", [False, True])
def test_a_fifo_is_refused_not_replaced_or_opened(tmp_path, overwrite):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(ValueError, match="not a regular file"):
        write_text_atomic(fifo, "x", overwrite=overwrite)
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)  # still the FIFO


def test_a_device_node_is_refused_even_with_overwrite():
    # Only checked, never written: the check alone decides whether /dev/null would be replaced.
    with pytest.raises(ValueError, match=r"/dev/null is a character device, not a regular file"):
        check_output_path("/dev/null", overwrite=True, name="argument --json")


def test_a_socket_is_refused(tmp_path):
    import socket

    path = tmp_path / "s.sock"
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(path))
        with pytest.raises(ValueError, match="socket, not a regular file"):
            write_bytes_atomic(path, b"x", overwrite=True)
    assert stat.S_ISSOCK(os.lstat(path).st_mode)


def test_a_symbolic_link_is_refused_and_its_target_kept(tmp_path):
    target = tmp_path / "real.txt"
    target.write_text("keep")
    link = tmp_path / "link.txt"
    link.symlink_to(target)
    with pytest.raises(ValueError, match="symbolic link"):
        write_text_atomic(link, "new", overwrite=True)
    assert target.read_text() == "keep" and link.is_symlink()


def test_a_full_disk_leaves_the_old_file_whole(tmp_path):
    path = tmp_path / "checkpoint.bin"
    path.write_bytes(b"old" * 1000)
    with disk_full_after(1000), pytest.raises(OSError):
        write_bytes_atomic(path, b"new" * 2000, overwrite=True)
    assert path.read_bytes() == b"old" * 1000
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.bin"]  # no temporary left


def test_many_files_are_all_written_or_none(tmp_path):
    first, second = tmp_path / "a.json", tmp_path / "b.html"
    second.write_text("old page")
    with disk_full_after(1000), pytest.raises(OSError):
        write_files_atomic(
            [(first, "{}", "argument --json"), (second, "x" * 5000, "argument --html")],
            overwrite=True,
        )
    assert not first.exists() and second.read_text() == "old page"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.html"]
    written = write_files_atomic(
        [(first, "{}", "argument --json"), (second, b"<html>", "argument --html")],
        overwrite=True,
    )
    assert written == [first, second]
    assert first.read_text() == "{}" and second.read_bytes() == b"<html>"


def test_many_files_are_all_checked_before_any_is_written(tmp_path):
    first = tmp_path / "a.json"
    with pytest.raises(FileNotFoundError, match="argument --html"):
        write_files_atomic(
            [(first, "{}", "argument --json"), (tmp_path / "no" / "b.html", "x", "argument --html")]
        )
    assert not first.exists()


def test_an_existing_file_needs_overwrite(tmp_path):
    path = Path(tmp_path / "a.txt")
    path.write_text("old")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        write_text_atomic(path, "new")
    assert write_text_atomic(path, "new", overwrite=True) == path
    assert path.read_text() == "new"
