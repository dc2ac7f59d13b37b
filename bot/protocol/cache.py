"""A cache of the validated rules, so a one-shot command does not parse and check every
rules file again (about a quarter of a second of its start-up, docs/benchmarks.md).

The entry is keyed by the *content* of everything the validated rules depend on: every
file of the trial's folder, every file of the CTCAE data beside it (`<root>/ctcae/`), the
source of the modules that validate them, and the versions of Python, pydantic and the
holidays package. Any change to any of these is a miss: the rules are loaded and checked
from the files, as without a cache, and the entry is rewritten. Rules that do not
validate are never cached (the `RulesError` goes to the caller, as always).
`trialbot rules check` never reads it.

Where: `Settings.cache_dir` (`TRIALBOT_CACHE_DIR`, default the platform's per-user cache
folder; `off` disables it). One file per rules folder, written to a temporary file in
the same folder and moved into place with `os.replace`, so two processes writing at once
leave one complete entry, never a torn one. A file that cannot be read, does not unpickle,
has another format version or another key is ignored and replaced.

Why pickle is acceptable here: unpickling runs code named in the file, so a file someone
else can write would be a way in. The cache is used only when its folder and file belong
to the user running trialbot and nobody else can write them (POSIX: same uid, no group or
other write bit; the folder is created 0700, the file 0600) — then whoever could plant a
file could already run code as that user. Otherwise the cache is not used at all.
"""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
import stat
import sys
import tempfile
from collections.abc import Callable, Iterable
from importlib import metadata
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

FORMAT = 1  # bump when what is stored changes shape
_MAGIC = "trialbot-rules-cache"
_PACKAGE = Path(__file__).resolve().parents[1]  # bot/
# The code whose answer is cached: the loader, the schemas and what they call.
_SOURCES = (
    "protocol",
    "calendar",
    "grading",
    "eligibility",
    "decisions/schema.py",
    "decisions/checks.py",
    "strict.py",
    "services/rules.py",
    "services/help_rules.py",  # what `help` keeps of the rules (kind "help-names")
    "commands/registry.py",  # `names_of`, which that is read with
    "rulefile.py",
    "errors.py",
    "inputs.py",
    "phi.py",
    "paths.py",
)
_log = logging.getLogger("trialbot.rules_cache")


def _files(folder: Path) -> Iterable[Path]:
    if folder.is_file():
        yield folder
    elif folder.is_dir():
        yield from sorted(
            p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts
        )


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "?"


def cache_key(directory: Path) -> str:
    """SHA-256 of everything the validated rules of `directory` depend on."""
    digest = hashlib.sha256()

    def add(label: str, data: bytes) -> None:
        digest.update(f"{label}\0{len(data)}\0".encode())
        digest.update(data)

    add("format", str(FORMAT).encode())
    add("python", sys.version.encode())
    for package in ("pydantic", "pydantic-core", "holidays", "PyYAML"):
        add(package, _version(package).encode())
    add("directory", str(directory).encode())
    root = directory.parent
    for folder in (directory, root / "ctcae"):
        for path in _files(folder):
            add(f"rules:{path.relative_to(root).as_posix()}", path.read_bytes())
    for name in _SOURCES:
        for path in _files(_PACKAGE / name):
            if path.suffix == ".py":
                add(f"code:{path.relative_to(_PACKAGE).as_posix()}", path.read_bytes())
    return digest.hexdigest()


def _private(path: Path, *, folder: bool) -> bool:
    """Owned by this user and writable by nobody else (always true where there are no
    POSIX owners, e.g. Windows, whose per-user cache folder is private to the user)."""
    if not hasattr(os, "getuid"):
        return True
    info = path.stat()
    kind = stat.S_ISDIR if folder else stat.S_ISREG
    return kind(info.st_mode) and info.st_uid == os.getuid() and not info.st_mode & 0o022


def _entry(cache_dir: Path, directory: Path, kind: str) -> Path:
    name = hashlib.sha256(f"{kind}\0{directory}".encode()).hexdigest()[:20]
    return cache_dir / f"rules-{name}.pickle"


def _read(path: Path, key: str) -> object | None:
    try:
        if not _private(path.parent, folder=True) or not _private(path, folder=False):
            _log.warning("rules cache %s is not private to this user: not used", path)
            return None
        stored = pickle.loads(path.read_bytes())
    except FileNotFoundError:
        return None
    except Exception as exc:  # a torn, corrupt or foreign file: rebuild it
        _log.info("rules cache %s ignored: %s", path, type(exc).__name__)
        return None
    if not (isinstance(stored, tuple) and len(stored) == 4 and stored[:3] == (_MAGIC, FORMAT, key)):
        return None
    return stored[3]


def _write(path: Path, key: str, value: object) -> None:
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not _private(path.parent, folder=True):
            return
        data = pickle.dumps((_MAGIC, FORMAT, key, value), protocol=pickle.HIGHEST_PROTOCOL)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".rules-", suffix=".tmp")
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(data)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
    except OSError as exc:  # a read-only home, a full disk: run without the cache
        _log.info("rules cache %s not written: %s", path, exc)


def load_cached(
    directory: Path | str,
    cache_dir: Path | None,
    load: Callable[[Path], T],
    *,
    kind: str = "trial",
) -> T:
    """`load(directory)`, or what it returned last time if nothing it depends on changed.
    `kind` names what `load` returns (one entry per kind and folder); `cache_dir=None`:
    no cache, always `load`."""
    given = Path(directory)
    resolved = given.resolve()
    if cache_dir is None or not resolved.is_dir():
        return load(given)
    key = cache_key(resolved) + ":" + kind
    path = _entry(Path(cache_dir), resolved, kind)
    cached = _read(path, key)
    if cached is not None:
        return cached  # type: ignore[return-value]
    value = load(given)
    _write(path, key, value)
    return value
