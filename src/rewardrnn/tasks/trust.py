"""Which task files this user trusts: the rule that decides whether a task file may be imported.

A task file is Python code. rewardrnn imports one only when its exact content (SHA-256) is in
this user's list of trusted files, a JSON file outside every run folder
(``$REWARDRNN_TRUST_FILE``, default ``$XDG_CONFIG_HOME/rewardrnn/trusted-tasks.json``, i.e.
``~/.config/rewardrnn/trusted-tasks.json``). A content enters the list only by an act of the
user (the convention of Hugging Face's ``trust_remote_code``):

- naming the file yourself: ``rewardrnn train my_task.py:NAME``, ``rewardrnn tasks my_task.py:NAME``,
  ``rewardrnn.train("my_task.py:NAME")`` or ``rewardrnn.train(protocol_object)``;
- ``rewardrnn trust FILE`` (or ``rewardrnn.trust(FILE)``) after reading it;
- ``--trust-code`` on a verb (``trust_code=True`` of :func:`rewardrnn.load_run`), which trusts
  the task file that the run folder, run file or sweep file names, for this and later calls.

A file named by a run folder, run file or sweep file is data, never an act: without one of the
above it is refused in one line that names it and says how to trust it. Whatever the list says,
a task file is never imported through a link, and a run folder's task file must be an absolute
path outside the run folder (:func:`rewardrnn.training.run_folder.read_run_config`): a folder can
never make rewardrnn import the code it carries. The list maps each trusted content to the path
where the user keeps it, so a colleague's run (whose recorded path is on another machine) opens
from the user's own reviewed copy: ``cp RUN/task_source.py ~/tasks/x.py; rewardrnn trust ~/tasks/x.py``.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import json
import os
import time
from pathlib import Path

from rewardrnn.errors import ConfigError

FORMAT = "rewardrnn-trusted-tasks/1"
_TRUSTING: contextvars.ContextVar[bool] = contextvars.ContextVar("rewardrnn_trusting", default=False)


def store_path() -> Path:
    """Where this user's list of trusted task files is kept."""
    if os.environ.get("REWARDRNN_TRUST_FILE"):
        return Path(os.environ["REWARDRNN_TRUST_FILE"]).expanduser()
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "rewardrnn" / "trusted-tasks.json"


def digest_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _read() -> dict[str, dict]:
    path = store_path()
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError, RecursionError):
        raise ConfigError(f"the list of trusted task files, {path}, is unreadable; remove it (and trust your task "
                          f"files again) or set REWARDRNN_TRUST_FILE") from None
    files = data.get("files") if isinstance(data, dict) and data.get("format") == FORMAT else None
    return {k: v for k, v in files.items() if isinstance(v, dict)} if isinstance(files, dict) else {}


def is_trusted(sha256: str) -> bool:
    return sha256 in _read()


def trusted_copy(sha256: str) -> Path | None:
    """The path where the user keeps the trusted file of this content, if it is trusted."""
    entry = _read().get(sha256)
    path = entry.get("path") if entry else None
    return Path(path) if isinstance(path, str) else None


def check_not_a_link(path: Path) -> None:
    """Refuse a task file that is a link or lies under one (its content could change under the name)."""
    path = Path(path)
    if path.is_symlink() or path.resolve() != path.absolute():
        raise ConfigError(f"task file {path} is a link or lies under one; rewardrnn imports a task file only by its "
                          f"real path ({path.resolve()})")


def trust(path: str | Path) -> str:
    """Add the content of the file ``path`` to the trusted list (with its absolute path); returns
    its SHA-256. A link is refused."""
    path = Path(path).expanduser().absolute()
    if not path.is_file():
        raise ConfigError(f"task file {path} does not exist")
    check_not_a_link(path)
    sha = digest_bytes(path.read_bytes())
    entries = _read()
    entries[sha] = {"path": str(path), "trusted": time.strftime("%Y-%m-%dT%H:%M:%S")}
    from rewardrnn.safe_files import atomic_write_text

    store = store_path()
    try:
        store.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ConfigError(f"cannot create {store.parent} for the list of trusted task files ({err.strerror}); "
                          f"set REWARDRNN_TRUST_FILE") from None
    atomic_write_text(store, json.dumps({"format": FORMAT, "files": entries}, indent=1))
    return sha


@contextlib.contextmanager
def trusting():
    """Within this block, a task file that is loaded is trusted first (``--trust-code``): the
    structural rules (no link; a run folder's file outside the folder) still apply."""
    token = _TRUSTING.set(True)
    try:
        yield
    finally:
        _TRUSTING.reset(token)


def trusting_now() -> bool:
    return _TRUSTING.get()


def untrusted_message(path: Path, sha256: str) -> str:
    return (f"task file {path} (sha256 {sha256[:12]}…) is not in your list of trusted task files; it is code: read "
            f"it, then run `rewardrnn trust {path}` or pass --trust-code")
