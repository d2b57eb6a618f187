"""Write report files whole or not at all, and as a set: every file of a run is first written to
a temporary file beside its target, and only when all of them are written do they replace their
targets, so a crash, a full disk or Ctrl-C never leaves half a report, nor a JSON report without
the JUnit file asked for with it.

Like any tool's output, a new report file gets the mode the umask allows (0644 under the usual
umask), an existing one keeps its mode, and a symlinked path is written through (the link stays,
the file it points to is replaced). A path that is a device or a pipe (``/dev/stdout``) is written
directly. :func:`probe` proves a path writable before any check runs by creating its temporary
file for real (``os.access`` says yes to root for any path).
"""

from __future__ import annotations

import os
import secrets
import stat
import sys
from pathlib import Path

from dlcheck.errors import UserError


def _label(option: str | None, path: str) -> str:
    return f"{option} {path}" if option else f"'{path}'"


#: paths that name this process's standard output: the same as '-'
STDOUT_PATHS = ("-", "/dev/stdout", "/dev/fd/1", "/proc/self/fd/1")


def _resolved(path: str) -> Path:
    """The file a report path names, through symlinks (a dangling link: the file it names). A
    device or a pipe (``/dev/stderr`` into a pipe) is kept as named: its real path may not exist."""
    if _is_special(Path(path)):
        return Path(path)
    return Path(os.path.realpath(path))


def same_file_key(path: str) -> str:
    """What two paths naming one file have in common: '-' for standard output, else the real path
    (``./r.out``, ``r.out`` and a symlink to it are one file)."""
    if path in STDOUT_PATHS:
        return "-"
    return os.path.realpath(path)


def refuse_clashes(reports: list[tuple[str, str]], inputs: list[tuple[str, str]]) -> None:
    """Fail (UserError) when a report (``(option, path)``) would overwrite an input file (``(label,
    path)``: the target, the recipe, a --model/--data/--loss file) or another report of the run."""
    given = {same_file_key(path): label for label, path in inputs if path}
    seen: dict[str, str] = {}
    for option, path in reports:
        key = same_file_key(path)
        if key in given:
            raise UserError(f"{option} {path} is {given[key]}: a report there would overwrite it; "
                            f"name another file")
        if key in seen:
            where = "standard output" if key == "-" else f"one file ('{path}')"
            raise UserError(f"{seen[key]} and {option} both write to {where}: give each report its own path")
        seen[key] = option


def _create_temp(target: Path) -> tuple[int, Path]:
    """A new temporary file beside ``target``, created with mode 0666 less the umask."""
    for _ in range(100):
        tmp = target.parent / f".{target.name}.{secrets.token_hex(4)}.tmp"
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary name beside {target}")


def _is_special(target: Path) -> bool:
    """An existing path that is not a regular file (a device, a pipe): written directly."""
    return target.exists() and not target.is_dir() and not target.is_file()


def probe(path: str, option: str | None = None) -> None:
    """Fail (UserError naming ``option`` and the user's ``path``) unless a report can be written
    there: creates the temporary file beside the target for real, and removes it."""
    if not path or path in STDOUT_PATHS:
        return
    label = _label(option, path)
    target = _resolved(path)
    if target.is_dir():
        raise UserError(f"{label} is a directory, not a file")
    if _is_special(target):
        return
    if not target.parent.is_dir():
        raise UserError(f"{label} cannot be written: folder '{Path(path).parent}' does not exist")
    try:
        fd, tmp = _create_temp(target)
    except OSError as exc:
        raise UserError(f"{label} cannot be written: {exc.strerror or exc}") from None
    os.close(fd)
    tmp.unlink(missing_ok=True)
    if target.exists() and not os.access(target, os.W_OK):
        raise UserError(f"{label} cannot be written: permission denied")


def probe_folder(path: str, option: str = "--out") -> None:
    """Fail unless folder ``path`` exists or can be created: a temporary file is created (and
    removed) in the deepest folder that exists; nothing else is created yet."""
    out = Path(path)
    if out.exists() and not out.is_dir():
        raise UserError(f"{option} {path} is a file, not a folder")
    existing = out
    while not existing.exists():
        if existing.is_symlink():  # a dangling link: a folder cannot be made there
            raise UserError(f"{option} {path} cannot be created: '{existing}' is a broken symlink")
        existing = existing.parent
    if not existing.is_dir():
        raise UserError(f"{option} {path} cannot be created: '{existing}' is a file, not a folder")
    try:
        fd, tmp = _create_temp(existing / ".dlcheck-probe")
    except OSError as exc:
        raise UserError(f"{option} {path} cannot be written: {exc.strerror or exc} at '{existing}'") from None
    os.close(fd)
    tmp.unlink(missing_ok=True)


def write_set(files: list[tuple[str | None, str, str, bool]]) -> None:
    """Write ``(option, path, text, append)`` items all or none. ``path`` '-' (or /dev/stdout) is
    stdout; devices, pipes and stdout are written before the files are put in place, so a full
    device (``/dev/full``) or a closed pipe leaves every file as it was; ``append`` keeps what the file holds and adds ``text`` (``$GITHUB_STEP_SUMMARY``).
    Raises UserError naming the option and the user's path; no target is touched then."""
    staged: list[tuple[Path, Path, str]] = []  # (temporary file, target, label), renamed at the end
    direct: list[tuple[Path, str, bool, str]] = []  # devices and pipes
    to_stdout: list[tuple[str, str]] = []
    label = ""
    try:
        for option, path, text, append in files:
            label = _label(option, path)
            if path in STDOUT_PATHS:
                to_stdout.append((f"{label} (standard output)", text))
                continue
            target = _resolved(path)
            if target.is_dir():
                raise UserError(f"{label} is a directory, not a file")
            if _is_special(target):
                direct.append((target, text, append, label))
                continue
            data = text.encode("utf-8", "backslashreplace")  # a lone surrogate in a user's name
            mode = None
            if target.is_file():
                mode = stat.S_IMODE(target.stat().st_mode)
                if append:
                    data = target.read_bytes() + data
            fd, tmp = _create_temp(target)
            staged.append((tmp, target, label))
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            if mode is not None:
                os.chmod(tmp, mode)
        for target, text, append, label in direct:  # before the renames: a full device stops them
            with open(target, "a" if append else "w", encoding="utf-8", errors="backslashreplace") as handle:
                handle.write(text)
        for label, text in to_stdout:  # a closed pipe stops the renames too
            sys.stdout.write(text)
            sys.stdout.flush()
        for tmp, target, label in staged:
            os.replace(tmp, target)
        staged = []
    except OSError as exc:
        raise UserError(f"{label} cannot be written: {exc.strerror or exc}") from None
    finally:
        for tmp, _, _ in staged:  # an error or Ctrl-C before the renames: no target was touched
            tmp.unlink(missing_ok=True)


def write_text(text: str, path: str, append: bool = False) -> None:
    """One report file, whole or not at all (``path`` '-': stdout)."""
    write_set([(None, path, text, append)])


def write_reports(report, *, json: str | None = None, junit: str | None = None,
                  markdown: str | None = None, html: str | None = None, tensorboard: str | None = None,
                  sarif: str | None = None) -> None:
    """Every report a run asks for, as one set (see :func:`write_set`). ``tensorboard`` is a folder
    that gains one event file: staged beside it first, moved in once the other files are written."""
    import importlib

    files = [("--json", json, "json", False), ("--junit", junit, "junit", False),
             ("--markdown", markdown, "markdown", True), ("--html", html, "html", False),
             ("--sarif", sarif, "sarif", False)]
    staged = None
    if tensorboard:
        from dlcheck.render import tensorboard as tb

        staged = tb.stage(report, tensorboard)
    try:
        write_set([(option, path, importlib.import_module(f"dlcheck.render.{module}").dumps(report), append)
                   for option, path, module, append in files if path])
    except BaseException:
        if staged is not None:
            import shutil

            shutil.rmtree(staged, ignore_errors=True)
        raise
    if staged is not None:
        tb.commit(staged, tensorboard)
