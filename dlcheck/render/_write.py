"""Write a report file whole or not at all: text goes to a temporary file beside the target,
then replaces it, so a crash never leaves half a report behind."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path


def write_text(text: str, path: str) -> None:
    """``path`` = '-' writes to stdout; anything else is written atomically."""
    if path == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    target = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=str(target.parent or Path(".")))
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
