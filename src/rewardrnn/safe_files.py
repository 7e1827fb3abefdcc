"""Writing inside a folder that may come from someone else: every write stays inside it.

A run folder (or a sweep folder) is data that a colleague may have prepared; what rewardrnn
writes there must land in that folder and nowhere else, and nothing half-written may ever carry a
final name. The rules, kept by every writer of the package through these functions:

- A file is written to a fresh ``mkstemp`` name in its final folder, flushed, synced and
  ``os.replace``\\ d onto its name (:func:`atomic_write_bytes`, :func:`atomic_path`). A rename
  replaces a link rather than writing through it, and a fresh random name cannot be a planted link.
- A folder below the root is used only if no part of it is a link (:func:`inside`,
  :func:`folder_inside`): a planted ``evaluation -> /elsewhere`` is refused in one line, not followed.
- A path read from a file (a sweep's job folder, a config field) must resolve inside its folder
  (:func:`inside` refuses ``..`` and absolute parts).
- Nothing is deleted through a link (:func:`remove_inside` refuses one before it deletes anything).
- A write that fails for want of space or permission is one line naming the file and the cause
  (:class:`~rewardrnn.errors.RunFolderError`); the file it would have replaced is untouched.

The root itself (the folder the user named) may be a link: that is the user's own choice.
"""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from rewardrnn.errors import RunFolderError


def _current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _current_umask()


def _link_error(path: Path) -> RunFolderError:
    try:
        target = os.readlink(path)
    except OSError:
        target = "?"
    return RunFolderError(f"{path} is a link (to {target}); rewardrnn never writes, reads or deletes through a link "
                          f"in a run folder: remove the link and run again")


def inside(root: str | Path, *parts: str | Path) -> Path:
    """``root/parts...``, checked to lie inside ``root``: every part is a plain name (no ``..``,
    no absolute path) and no existing component below ``root`` is a link. The path need not exist."""
    root = Path(root)
    path = root
    for part in parts:
        for name in Path(part).parts:
            if name in ("", ".", "..") or Path(name).is_absolute() or os.sep in name or (os.altsep and os.altsep in name):
                raise RunFolderError(f"{root / Path(*[str(p) for p in parts])} does not lie inside {root} "
                                     f"(a path of plain names is allowed, got {str(part)!r})")
            path = path / name
            if path.is_symlink():
                raise _link_error(path)
    return path


def folder_inside(root: str | Path, *parts: str | Path) -> Path:
    """The folder ``root/parts...`` (created if missing, with its parents), checked as :func:`inside`;
    a component that exists and is not a folder is refused."""
    path = inside(root, *parts)
    current = Path(root)
    for part in parts:
        for name in Path(part).parts:
            current = current / name
            if current.exists() and not current.is_dir():
                raise RunFolderError(f"{current} exists and is not a folder")
            try:
                current.mkdir(exist_ok=True)
            except OSError as err:
                raise RunFolderError(f"{current} cannot be created ({err.strerror})") from None
            if current.is_symlink():  # made a link between the check and the mkdir
                raise _link_error(current)
    return path


def _write_error(path: Path, err: OSError) -> RunFolderError:
    cause = (err.strerror or str(err) or type(err).__name__).strip().splitlines()[0]
    if err.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        cause += "; free some space and run again (the file it would replace is kept)"
    return RunFolderError(f"cannot write {path}: {cause}")


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A fresh temporary path in ``path``'s folder (same suffix, for writers that infer the format
    from it), renamed onto ``path`` when the block ends without an error and removed otherwise.
    ``path`` itself must not be a link to a folder; a link as ``path`` is replaced, not followed."""
    path = Path(path)
    if path.is_symlink() and path.is_dir():
        raise _link_error(path)
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=f".tmp{path.suffix}")
        os.fchmod(fd, 0o666 & ~_UMASK)  # as open() would make it (mkstemp's are private to the owner)
        os.close(fd)
    except OSError as err:
        raise _write_error(path, err) from None
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except OSError as err:
        Path(tmp).unlink(missing_ok=True)
        raise _write_error(path, err) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: str | Path, write: Callable[[IO[bytes]], object]) -> None:
    """Call ``write(file)`` on a fresh temporary file beside ``path``, sync it, then rename it onto
    ``path`` (see :func:`atomic_path`)."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())


def atomic_write_text(path: str | Path, text: str) -> None:
    """``text`` (UTF-8) written to ``path`` atomically."""
    atomic_write_bytes(path, lambda f: f.write(text.encode("utf-8")))


def check_removable(root: str | Path, names: tuple[str, ...] | list[str]) -> None:
    """Refuse (one line) if any of ``root/name`` is a link, before anything is removed."""
    for name in names:
        inside(root, name)


def remove_inside(root: str | Path, name: str) -> None:
    """Remove ``root/name`` (a file or a folder tree) if it exists; a link is refused, never
    followed or removed (shutil.rmtree itself removes links inside a tree, not their targets)."""
    path = inside(root, name)
    try:
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)
    except OSError as err:
        raise RunFolderError(f"cannot remove {path} ({err.strerror})") from None


def regular_file_inside(root: str | Path, path: str | Path) -> bool:
    """Whether ``path`` is a regular file (not a link) that lies inside ``root`` (read side: what a
    report may embed)."""
    path = Path(path)
    try:
        relative = path.relative_to(root)
        inside(root, relative)
    except (ValueError, RunFolderError):
        return False
    return path.is_file() and not path.is_symlink() and path.resolve().is_relative_to(Path(root).resolve())


def check_free_space(folder: str | Path, needed_bytes: float, what: str) -> None:
    """Refuse (one line) to start writing ``what`` into ``folder`` when its disk has less than
    ``needed_bytes`` free."""
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        return
    if needed_bytes > free:
        raise RunFolderError(f"{what} need up to {needed_bytes / 1e6:,.0f} MB and the disk of {folder} has "
                             f"{free / 1e6:,.0f} MB free; free some space and run again")


def save_figure(figure, folder: Path, name: str, dpi: int) -> list[Path]:
    """``folder/name.png`` and ``.svg`` of a matplotlib figure, each written to a fresh temporary
    name and renamed; closes the figure. Returns the paths."""
    import matplotlib.pyplot as plt

    paths = []
    for ext in ("png", "svg"):
        path = Path(folder) / f"{name}.{ext}"
        with atomic_path(path) as tmp:
            figure.savefig(tmp, dpi=dpi, format=ext)
        paths.append(path)
    plt.close(figure)
    return paths
