"""JUnit XML: one testcase per check, so Jenkins, GitLab and GitHub show each one.

Where each verdict lands (the JUnit schema as Jenkins and GitLab read it):

- fail -> ``<failure message="DLC705 48 labels outside 0..2 (and 1 more failing finding)"
  type="DLC705">``: the message is the failing finding, code first (CI pages show only the
  message in their lists); every finding with its advice is the element's text.
- error -> ``<error message="DLC002 ..." type="DLC002">`` likewise.
- warn -> a passed testcase; each warning is a ``<property name="warning">`` of the testcase and
  a line of its ``<system-out>``, so the pages that show either show it.
- skipped (nothing to look at) -> ``<skipped message="the model has no BatchNorm layer"/>``,
  counted in the suite's ``skipped``.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from dlcheck.render._write import write_text


def _finding_lines(check) -> str:
    lines = []
    for f in check.findings:
        lines.append(f"[{f.severity}] {f.code} {f.message}")
        if f.advice:
            lines.append(f"    advice: {f.advice}")
    return "\n".join(lines)


def _skipped(check) -> bool:
    return bool(getattr(check, "skipped", False)) and check.status == "pass"


def _headline(check) -> tuple[str, str]:
    """(message, type) of a failing or erroring check: its first finding of that severity, code
    first, with a count of the others; the summary when no finding says it."""
    worst = [f for f in check.findings if f.severity == check.status]
    if not worst:
        return check.summary or check.status, check.status
    first = worst[0]
    more = len(worst) - 1
    noun = "failing finding" if check.status == "fail" else "error"
    extra = f" (and {more} more {noun}{'s' if more > 1 else ''})" if more else ""
    return f"{first.code} {first.message}{extra}", first.code


def dumps(report) -> str:
    checks = report.checks
    counts = {
        "tests": str(len(checks)),
        "failures": str(sum(c.status == "fail" for c in checks)),
        "errors": str(sum(c.status == "error" for c in checks)),
        "skipped": str(sum(_skipped(c) for c in checks)),
        "time": f"{sum(c.seconds for c in checks):.3f}",
    }
    suite = ET.Element("testsuite", {"name": "dlcheck", **counts})
    props = ET.SubElement(suite, "properties")
    for key in ("target", "device", "seed"):
        ET.SubElement(props, "property", {"name": key, "value": str(getattr(report, key))})
    ET.SubElement(props, "property", {"name": "status", "value": report.status})
    for check in checks:
        case = ET.SubElement(suite, "testcase", {"classname": "dlcheck", "name": check.name,
                                                 "time": f"{check.seconds:.3f}"})
        warnings = [f for f in check.findings if f.severity == "warn"]
        if warnings:  # first child, as pytest writes testcase properties
            case_props = ET.SubElement(case, "properties")
            for f in warnings:
                ET.SubElement(case_props, "property", {"name": "warning", "value": f"{f.code} {f.message}"})
        details = _finding_lines(check)
        if check.status in ("fail", "error"):
            message, kind = _headline(check)
            node = ET.SubElement(case, "failure" if check.status == "fail" else "error",
                                 {"message": message, "type": kind})
            node.text = check.summary + ("\n" + details if details else "")
        elif _skipped(check):
            ET.SubElement(case, "skipped", {"message": check.reason or check.summary})
        out = check.summary + ("\n" + details if details else "")
        ET.SubElement(case, "system-out").text = out
    root = ET.Element("testsuites", {"name": "dlcheck", **counts})
    root.append(suite)
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def write(report, path: str) -> None:
    write_text(dumps(report), path)
