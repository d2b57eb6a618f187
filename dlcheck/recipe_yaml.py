"""Reading a YAML recipe (``config.load_recipe`` judges what it holds): PyYAML's SafeLoader with
YAML 1.2's floats, duplicate keys refused, and every error one UserError placed by line and
column. Torch-free."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from dlcheck.errors import UserError


def _key(key: Any) -> str:
    from dlcheck.config import _key as shown

    return shown(key)


def loader():
    """PyYAML's SafeLoader, reading ``1e-3`` and ``1E5`` as floats as YAML 1.2 does (YAML 1.1
    wants a dot and a signed exponent: ``1.0e-3``; everybody writes ``1e-3``)."""
    import yaml

    class Loader(yaml.SafeLoader):
        def construct_mapping(self, node, deep=False):
            """A key given twice in one mapping is an error naming it and both lines (PyYAML
            would silently keep the last value)."""
            seen = {}
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=True) if key_node.tag != "tag:yaml.org,2002:merge" else None
                try:
                    first = seen.get(key)
                except TypeError:  # an unhashable key: PyYAML's own error says so
                    continue
                if first is not None:
                    raise UserError(f"recipe '{self.name}': key '{_key(key)}' is given twice, at line "
                                    f"{first + 1} and line {key_node.start_mark.line + 1}: keep one")
                if key is not None:
                    seen[key] = key_node.start_mark.line
            return super().construct_mapping(node, deep=deep)

    Loader.add_implicit_resolver(
        "tag:yaml.org,2002:float",
        re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)[eE][-+]?[0-9]+$"),
        list("-+0123456789."))
    return Loader


def read(file: Path, path: str) -> Any:
    """The YAML document in ``file`` (named ``path`` in messages)."""
    import yaml

    try:
        text = file.read_text(encoding="utf-8")
        reader = loader()(text)
        reader.name = str(path)
        try:
            data = reader.get_single_data()
        finally:
            reader.dispose()
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow (a NUL byte ...)
        line = text.count("\n", 0, exc.position) + 1
        column = exc.position - (text.rfind("\n", 0, exc.position) + 1) + 1
        char = exc.character if isinstance(exc.character, str) else chr(exc.character)
        raise UserError(f"recipe '{path}' is not valid YAML at line {line}, column {column}: the character "
                        f"{char!r} (U+{ord(char):04X}) is not allowed in YAML") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise UserError(f"recipe '{path}' is not valid YAML{where}: {problem}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"recipe '{path}' cannot be read: {exc}") from None
    return data
