"""SARIF 2.1.0 (``--sarif dlcheck.sarif``), for GitHub code scanning and other SARIF viewers.

- **Rules**: every finding code of the catalogue (``dlcheck/codes.py``), in catalogue order, not
  only the codes that appear: a file names the same rules in the same order on every run (a rule's
  index never shifts), and a viewer can show any code's help. Each rule carries the code's
  ``dlcheck explain`` text (what it means, why it matters, how to fix it), its default level and
  check, and a help URI into the README's finding-codes section when the installed package names
  its repository (a ``Project-URL`` in its metadata); without one the URI is left out rather than
  guessed.
- **Results**: one per finding, level from its severity (fail/error -> ``error``, warn ->
  ``warning``, info -> ``note``), the message and its advice, located at the target file (when
  the target is a file, or a module whose file is found here) and, where the message names a
  layer (``'fc2'``, ``3 [ReLU]``), at that layer as a logical location.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

from dlcheck.render._write import write_text

SCHEMA_URI = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
LEVELS = {"error": "error", "fail": "error", "warn": "warning", "info": "note"}
#: at most this many layers named in one message become logical locations
MAX_LAYERS = 5
_TYPED = re.compile(r"(?<![\w.'])([\w.]+) \[([A-Z]\w*)\]")  # ``3 [ReLU]``, ``layer1.0.conv1 [Conv2d]``
_QUOTED = re.compile(r"'([^'\s]+)'")


def help_uri() -> str | None:
    """The README's finding-codes section, when the installed dlcheck names its repository."""
    from importlib import metadata

    try:
        urls = metadata.metadata("dlcheck").get_all("Project-URL") or []
    except metadata.PackageNotFoundError:
        return None
    by_label = {}
    for entry in urls:
        label, _, url = entry.partition(",")
        by_label[label.strip().lower()] = url.strip()
    for label in ("repository", "source", "homepage"):
        url = by_label.get(label, "")
        if url.startswith("https://"):
            return url.rstrip("/") + "#finding-codes"
    return None


def _rule(code, uri: str | None) -> dict:
    explain = f"What it means: {code.title}\nWhy it matters: {code.why}\nHow to fix it: {code.fix}"
    markdown = (f"**What it means:** {code.title}\n\n**Why it matters:** {code.why}\n\n"
                f"**How to fix it:** {code.fix}")
    rule = {
        "id": code.code,
        "name": code.name,
        "shortDescription": {"text": code.title},
        "fullDescription": {"text": f"{code.title} {code.why}"},
        "help": {"text": explain, "markdown": markdown},
        "defaultConfiguration": {"level": LEVELS[code.severity]},
        "properties": {"check": code.check, "severity": code.severity, "tags": ["dlcheck", code.check]},
    }
    if uri:
        rule["helpUri"] = uri
    return rule


def target_file(target: str) -> str | None:
    """The file the report's target names, as a URI relative to the working folder (the checkout
    in CI) when it lies under it, else an absolute ``file://`` URI; None when there is none."""
    from dlcheck.runner import _ref_files

    candidates = [Path(target)] if target.endswith(".py") else _ref_files(target, None)
    found = next((p for p in candidates if p.is_file()), None)
    if found is None:
        return None
    full = found.resolve()
    try:
        return full.relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return full.as_uri()


def known_layers(report) -> set[str]:
    """Layer names the checks listed in their per-item tables (``layer`` / ``name`` columns)."""
    names = set()
    for check in report.checks:
        for rows in check.details.values():
            if isinstance(rows, list):
                names.update(str(r.get("layer", r.get("name"))) for r in rows
                             if isinstance(r, dict) and r.get("layer", r.get("name")) is not None)
    return names


def layers_named(message: str, known: set[str]) -> list[tuple[str, str | None]]:
    """``(layer, type)`` of each layer the message names: ``name [Type]`` always, ``'name'`` when
    a check listed a layer of that name; in order, once each."""
    found = [(m.group(1), m.group(2)) for m in _TYPED.finditer(message)]
    found += [(m.group(1), None) for m in _QUOTED.finditer(message) if m.group(1) in known]
    out, seen = [], set()
    for name, kind in found:
        if name not in seen:
            seen.add(name)
            out.append((name, kind))
    return out[:MAX_LAYERS]


def _result(check, finding, index: int, uri: str | None, known: set[str]) -> dict:
    text = finding.message + (f"\nAdvice: {finding.advice}" if finding.advice else "")
    location: dict = {}
    if uri:
        location["physicalLocation"] = {"artifactLocation": {"uri": uri}, "region": {"startLine": 1}}
    layers = layers_named(finding.message, known)
    if layers:
        location["logicalLocations"] = [
            {"name": name.rsplit(".", 1)[-1], "fullyQualifiedName": name, "kind": "member",
             **({"properties": {"type": kind}} if kind else {})} for name, kind in layers]
    where = ",".join(name for name, _ in layers)
    stable = hashlib.sha256(f"{finding.code}|{check.name}|{where}".encode()).hexdigest()[:32]
    result = {
        "ruleId": finding.code,
        "ruleIndex": index,
        "level": LEVELS[finding.severity],
        "message": {"text": f"{check.name}: {text}"},
        "partialFingerprints": {"dlcheckFinding/v1": stable},
        "properties": {"check": check.name, "severity": finding.severity, "status": check.status},
    }
    if location:
        result["locations"] = [location]
    return result


def to_sarif(report) -> dict:
    from dlcheck import __version__
    from dlcheck.codes import CODES

    uri = help_uri()
    index = {code: i for i, code in enumerate(CODES)}
    file = target_file(report.target)
    known = known_layers(report)
    results = [_result(check, f, index[f.code], file, known)
               for check in report.checks for f in check.findings if f.code in index]
    driver = {"name": "dlcheck", "version": report.version or __version__,
              "semanticVersion": report.version or __version__,
              "rules": [_rule(code, uri) for code in CODES.values()]}
    if uri:
        driver["informationUri"] = uri.split("#", 1)[0]
    run = {
        "tool": {"driver": driver},
        "invocations": [{"executionSuccessful": all(c.status != "error" for c in report.checks),
                         "workingDirectory": {"uri": Path(os.getcwd()).resolve().as_uri()}}],
        "results": results,
        "properties": {"target": report.target, "device": report.device, "seed": report.seed,
                       "status": report.status,
                       "checks": {c.name: c.status for c in report.checks}},
    }
    return {"$schema": SCHEMA_URI, "version": "2.1.0", "runs": [run]}


def dumps(report) -> str:
    from dlcheck.render.json import _clean

    return json.dumps(_clean(to_sarif(report)), indent=2, allow_nan=False, ensure_ascii=False) + "\n"


def write(report, path: str) -> None:
    write_text(dumps(report), path)
