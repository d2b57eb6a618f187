"""JUnit XML: one testcase per check, so Jenkins, GitLab and GitHub show each one.

fail -> <failure>, error -> <error>, warn -> passed with the warning in <system-out>.
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


def dumps(report) -> str:
    checks = report.checks
    suite = ET.Element("testsuite", {
        "name": "dlcheck",
        "tests": str(len(checks)),
        "failures": str(sum(c.status == "fail" for c in checks)),
        "errors": str(sum(c.status == "error" for c in checks)),
        "skipped": "0",
        "time": f"{sum(c.seconds for c in checks):.3f}",
    })
    props = ET.SubElement(suite, "properties")
    for key in ("target", "device", "seed"):
        ET.SubElement(props, "property", {"name": key, "value": str(getattr(report, key))})
    for check in checks:
        case = ET.SubElement(suite, "testcase", {"classname": "dlcheck", "name": check.name,
                                                 "time": f"{check.seconds:.3f}"})
        details = _finding_lines(check)
        if check.status == "fail":
            node = ET.SubElement(case, "failure", {"message": check.summary, "type": "fail"})
            node.text = details
        elif check.status == "error":
            node = ET.SubElement(case, "error", {"message": check.summary, "type": "error"})
            node.text = details
        out = check.summary + ("\n" + details if details else "")
        ET.SubElement(case, "system-out").text = out
    root = ET.Element("testsuites")
    root.append(suite)
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def write(report, path: str) -> None:
    write_text(dumps(report), path)
