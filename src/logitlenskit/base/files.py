"""Writing files so that a failure never costs the user a file.

The content is encoded first, then written to a temporary file next to the target and
renamed over it (:func:`write_text_atomic`); :func:`check_output_path` says what is wrong
with a target before anything slow (a model load, a page render) happens. ``save_html``,
``LogitLensWidget.save_html``, figures, study tables and the ``logitlens`` command all
write through here.

Only regular files are written. Anything else at the target (a FIFO, a device node such as
``/dev/null``, a socket) is refused even with ``overwrite``: replacing it would break the
system, and opening it could hang. A symbolic link is refused too and never written through
(its target is often not where the user thinks); give the real path, or remove the link.
:func:`write_files_atomic` writes several files all or none: each goes to a temporary
first, and only when every one is written are they moved into place.
"""

from __future__ import annotations

import os
import secrets
import stat
from collections.abc import Sequence
from pathlib import Path

__all__ = [
    "check_output_path",
    "write_bytes_atomic",
    "write_files_atomic",
    "write_text_atomic",
]

# What a path that is not a regular file is, for the message that refuses it.
_KINDS = (
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def check_output_path(
    path: str | os.PathLike[str],
    *,
    overwrite: bool = False,
    name: str = "path",
    overwrite_hint: str = "pass overwrite=True to replace it",
) -> Path:
    """Check that a file can be written at ``path`` without losing anything by surprise.

    Args:
        path: where the file will go.
        overwrite: whether an existing regular file may be replaced.
        name: how messages name the path (the CLI passes ``"--html"``).
        overwrite_hint: the fix a message gives for an existing file.

    Returns:
        ``path`` as a ``Path``.

    Raises:
        TypeError: ``path`` is not a path.
        ValueError: ``path`` is a symbolic link (never written through, even with
            ``overwrite``: the link's target is often not where the user thinks), or
            something else that is not a regular file (a FIFO, a device, a socket).
        FileExistsError: the file exists and ``overwrite`` is false.
        IsADirectoryError, FileNotFoundError, NotADirectoryError, PermissionError: the
            path names a folder, or its folder is missing or not writable.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{name} must be a file path, got {type(path).__name__}")
    path = Path(path)
    if path.is_symlink():
        raise ValueError(
            f"{name}: {path} is a symbolic link (to {os.readlink(path)}); files are not "
            "written through links: give the real path, or remove the link"
        )
    if path.is_dir():
        raise IsADirectoryError(
            f"{name}: {path} is a folder: give a file name inside it, e.g. {path / 'lens.html'}"
        )
    _refuse_special(path, name)
    if path.exists() and not overwrite:
        raise FileExistsError(
            f"{name}: {path} already exists; {overwrite_hint}, or choose another name"
        )
    folder = path.parent
    if not folder.exists():
        raise FileNotFoundError(f"{name}: the folder {folder} does not exist: create it first")
    if not folder.is_dir():
        raise NotADirectoryError(f"{name}: {folder} is not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise PermissionError(
            f"{name}: cannot write in the folder {folder}: choose a folder you can write to"
        )
    return path


def _refuse_special(path: Path, name: str) -> None:
    """Refuse an existing path that is neither a folder nor a regular file."""
    try:
        mode = os.lstat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):
        return
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return
    kind = next((k for test, k in _KINDS if test(mode)), "not a file")
    raise ValueError(
        f"{name}: {path} is {kind}, not a regular file; only regular files are written "
        "(even with overwrite): give the path of a file"
    )


def _encode(text: str, name: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(
            f"{name}: the content cannot be saved as UTF-8 (character {exc.start} is a lone "
            f"surrogate {text[exc.start]!r}); nothing was written"
        ) from None


def write_text_atomic(
    path: str | os.PathLike[str],
    text: str,
    *,
    overwrite: bool = False,
    name: str = "path",
    overwrite_hint: str = "pass overwrite=True to replace it",
) -> Path:
    """Write ``text`` (UTF-8) to ``path`` so that a failure leaves the old file as it was.

    The text is encoded first, then written to a temporary file in the same folder, flushed
    to disk and renamed over ``path`` in one step: readers see the old file or the new one,
    never a truncated mix. An existing file's permissions are kept.

    Args:
        path: the target file.
        text: its new content.
        overwrite: replace an existing file (default: refuse, see :func:`check_output_path`).
        name: how messages name the path (the CLI passes ``"argument --html"``).
        overwrite_hint: the fix a message gives for an existing file.

    Returns:
        ``path`` as a ``Path``.

    Raises:
        ValueError: the text cannot be encoded, or ``path`` is a symbolic link.
        OSError: see :func:`check_output_path`; or the disk is full (the target is intact).
    """
    check_output_path(path, overwrite=overwrite, name=name, overwrite_hint=overwrite_hint)
    return write_bytes_atomic(
        path, _encode(text, name), overwrite=overwrite, name=name, overwrite_hint=overwrite_hint
    )


def write_bytes_atomic(
    path: str | os.PathLike[str],
    data: bytes,
    *,
    overwrite: bool = False,
    name: str = "path",
    overwrite_hint: str = "pass overwrite=True to replace it",
) -> Path:
    """Write ``data`` to ``path`` so that a failure leaves the old file as it was.

    The binary twin of :func:`write_text_atomic` (figures are PNG bytes): same temporary
    file, rename, kept permissions and refusals.

    Args:
        path: the target file.
        data: its new content.
        overwrite: replace an existing file (default: refuse, see :func:`check_output_path`).
        name: how messages name the path.
        overwrite_hint: the fix a message gives for an existing file.

    Returns:
        ``path`` as a ``Path``.

    Raises:
        ValueError: ``path`` is a symbolic link.
        OSError: see :func:`check_output_path`; or the disk is full (the target is intact).
    """
    path = check_output_path(path, overwrite=overwrite, name=name, overwrite_hint=overwrite_hint)
    temp = _stage(path, data)
    try:
        _place(temp, path, overwrite, name, overwrite_hint)
    finally:
        _discard(temp)
    return path


def write_files_atomic(
    files: Sequence[tuple[str | os.PathLike[str], str | bytes, str]],
    *,
    overwrite: bool = False,
    overwrite_hint: str = "pass overwrite=True to replace it",
) -> list[Path]:
    """Write several files all or none.

    Every path is checked, then every file is written to a temporary, and only then are
    they moved into place. A failure while checking or writing (a refused path, a full
    disk) leaves every target as it was and no temporary behind. Text is saved as UTF-8.

    Args:
        files: ``(path, content, name)`` each; ``name`` is how messages call the path
            (the CLI passes ``"argument --html"``).
        overwrite: replace existing files (default: refuse).
        overwrite_hint: the fix a message gives for an existing file.

    Returns:
        The paths, in order.

    Raises:
        ValueError, OSError: as :func:`write_bytes_atomic`, naming the path that failed.
    """
    paths = [
        check_output_path(path, overwrite=overwrite, name=name, overwrite_hint=overwrite_hint)
        for path, _, name in files
    ]
    contents = [c if isinstance(c, bytes) else _encode(c, n) for _, c, n in files]
    temps: list[Path] = []
    try:
        for path, content, (_, _, name) in zip(paths, contents, files, strict=True):
            try:
                temps.append(_stage(path, content))
            except OSError as exc:
                raise type(exc)(
                    exc.errno, f"{name}: cannot write {path} ({exc.strerror}); nothing was written"
                ) from None
        for temp, path, (_, _, name) in zip(temps, paths, files, strict=True):
            _place(temp, path, overwrite, name, overwrite_hint)
    finally:
        for temp in temps:
            _discard(temp)
    return paths


def _stage(path: Path, data: bytes) -> Path:
    """Write ``data`` to a new temporary file beside ``path``, on disk; returns its path."""
    old_mode = stat.S_IMODE(path.stat().st_mode) if path.exists() else None
    temp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    # O_EXCL: never reuse or follow something already there; 0o666 lets the umask decide.
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        if old_mode is not None:
            os.chmod(temp, old_mode)
    except BaseException:
        _discard(temp)
        raise
    return temp


def _place(temp: Path, path: Path, overwrite: bool, name: str, overwrite_hint: str) -> None:
    """Move a staged file into place: over an old file with ``overwrite``, else only new."""
    if overwrite:
        os.replace(temp, path)
    else:
        _place_new(temp, path, name, overwrite_hint)


def _discard(temp: Path) -> None:
    if os.path.lexists(temp):
        os.unlink(temp)


def _place_new(temp: Path, path: Path, name: str, overwrite_hint: str) -> None:
    """Move ``temp`` to ``path`` unless a file appeared there meanwhile (no silent clobber)."""
    try:
        os.link(temp, path)  # fails if path exists, atomically
    except FileExistsError:
        raise FileExistsError(
            f"{name}: {path} already exists; {overwrite_hint}, or choose another name"
        ) from None
    except OSError:  # a file system without hard links: check, then rename
        if os.path.lexists(path):
            raise FileExistsError(f"{name}: {path} already exists; {overwrite_hint}") from None
        os.replace(temp, path)
