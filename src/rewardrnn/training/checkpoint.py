"""Checkpoints: a pytree of arrays plus JSON metadata in one ``.npz`` file, written atomically
(temporary file in the same folder, fsync, rename), so an interruption never leaves a half-written
checkpoint in place. Loading checks the format tag and every array's name and shape against a
template pytree, so a truncated or foreign file gives a clear :class:`CheckpointError`."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import jax
import numpy as np

from rewardrnn.errors import CheckpointError
from rewardrnn.safe_files import atomic_write_bytes

FORMAT = "rewardrnn-checkpoint/2"
#: Formats written by earlier versions, and what wrote them.
OLD_FORMATS = {"rewardrnn-checkpoint/1": "rewardrnn 0.1 (before one learner interface)"}


def _named_leaves(tree: Any) -> tuple[list[str], list[Any], Any]:
    leaves, treedef = jax.tree_util.tree_flatten_with_path(tree)
    names = [jax.tree_util.keystr(path) for path, _ in leaves]
    return names, [leaf for _, leaf in leaves], treedef


def save(path: Path, tree: Any, meta: dict[str, Any], extras: dict[str, np.ndarray] | None = None) -> None:
    """Write ``tree`` (arrays), ``meta`` (JSON-serialisable) and ``extras`` (named arrays of any
    shape, e.g. a growing per-update trace) to ``path`` atomically."""
    from rewardrnn.version import __version__

    names, leaves, _ = _named_leaves(tree)
    arrays = {f"leaf{i}": np.asarray(leaf) for i, leaf in enumerate(leaves)}
    arrays.update({f"extra_{name}": np.asarray(value) for name, value in (extras or {}).items()})
    header = {"format": FORMAT, "version": __version__, "names": names, "meta": meta,
              "extras": sorted(extras or {})}
    arrays["__header__"] = np.frombuffer(json.dumps(header).encode(), np.uint8)
    atomic_write_bytes(Path(path), lambda f: np.savez(f, **arrays))


def read_meta(path: Path) -> dict[str, Any]:
    """The metadata of a checkpoint, without its arrays."""
    return _open(path)[0]["meta"]


def read_extras(path: Path) -> dict[str, np.ndarray]:
    """The extra arrays saved with a checkpoint (:func:`save`'s ``extras``)."""
    header, data = _open(path)
    try:
        return {name: data[f"extra_{name}"] for name in header.get("extras", [])}
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, KeyError) as err:
        raise CheckpointError(f"{path} is truncated or corrupt ({err})") from None


def load(path: Path, template: Any) -> tuple[Any, dict[str, Any]]:
    """Read a checkpoint into the structure of ``template``; returns (tree, meta)."""
    header, data = _open(path)
    names, leaves, treedef = _named_leaves(template)
    if header["names"] != names:
        raise CheckpointError(f"{path} does not match this run's structure (saved arrays "
                              f"{len(header['names'])}, expected {len(names)}); was it written by "
                              f"another configuration or version?")
    restored = []
    try:
        for i, (name, leaf) in enumerate(zip(names, leaves)):
            array = data[f"leaf{i}"]
            if array.shape != np.shape(leaf):
                raise CheckpointError(f"{path}: array {name} has shape {array.shape}, this run expects "
                                      f"{np.shape(leaf)} (different configuration?)")
            expected = np.asarray(leaf).dtype if not hasattr(leaf, "dtype") else np.dtype(leaf.dtype)
            if array.dtype != expected:
                raise CheckpointError(f"{path}: array {name} is {array.dtype}, this run expects {expected}; "
                                      f"the file was not written by rewardrnn for this run")
            restored.append(array)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, KeyError) as err:
        raise CheckpointError(f"{path} is truncated or corrupt ({err})") from None
    return jax.tree_util.tree_unflatten(treedef, restored), header["meta"]


def _open(path: Path):
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}")
    try:
        data = np.load(path, allow_pickle=False)
        header = json.loads(data["__header__"].tobytes().decode())
    except RecursionError:
        raise CheckpointError(f"{path} is not a rewardrnn checkpoint (its header is nested too deeply)") from None
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, KeyError, UnicodeDecodeError) as err:
        detail = "" if "pickle" in str(err) else f" ({err})"  # never numpy's advice to unpickle
        raise CheckpointError(f"{path} is truncated or not a rewardrnn checkpoint{detail}") from None
    if isinstance(header, dict) and header.get("format") in OLD_FORMATS:
        raise CheckpointError(f"{path} was written by {OLD_FORMATS[header['format']]} in format "
                              f"{header['format']!r}; this version reads {FORMAT!r}: train the run again")
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a rewardrnn checkpoint (format "
                              f"{header.get('format') if isinstance(header, dict) else None!r}, expected {FORMAT!r})")
    fields = {"names": list, "meta": dict, "extras": list}
    wrong = [k for k, kind in fields.items() if not isinstance(header.get(k, [] if k == "extras" else None), kind)]
    if wrong or not all(isinstance(n, str) for n in header["names"] + header.get("extras", [])):
        raise CheckpointError(f"{path} is not a rewardrnn checkpoint (its header lacks or mangles "
                              f"{', '.join(wrong) or 'the array names'})")
    return header, data
