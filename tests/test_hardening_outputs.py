"""Issue 24: reports never overwrite the user's files nor each other, /dev/stdout is stdout, a
write error leaves no partial set and exits 2 in one sentence; text from the user's model and
data (layer names, class names, exception text) is shown as text in every format. All through
the real CLI in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from conftest import ROOT, SETUPS

NAMES = ("[/]", "[bold red]x[/bold red]", "<img src=x onerror=alert(1)>")
CLASS = "<script>alert(1)</script>"
RAISED = "[bold red]boom[/bold red] [/] <script>alert(1)</script> `tick` | pipe"
MARKER = "imported.marker"


def dlcheck(*args, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT), "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "dlcheck", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=300)


def one_line(proc, code: int, *needles: str) -> str:
    output = proc.stdout + proc.stderr
    assert proc.returncode == code, output
    assert "Traceback" not in output, output
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def work(tmp_path) -> Path:
    """A target that leaves a marker when imported, a recipe, and a --model file."""
    path = f"import sys\nsys.path.insert(0, {str(SETUPS)!r})\n"
    (tmp_path / "t.py").write_text(f"open({MARKER!r}, 'w').close()\n{path}from h24_hostile import *\n")
    (tmp_path / "m.py").write_text(f"{path}from h24_hostile import model\n")
    (tmp_path / "r.yaml").write_text("target: t.py\n")
    (tmp_path / "link.py").symlink_to(tmp_path / "t.py")
    return tmp_path


REFUSED = {
    "the target as --json": (["t.py", "--json", "t.py"], ["--json t.py", "is the target"]),
    "the target as ./ --markdown": (["t.py", "--markdown", "./t.py"], ["--markdown ./t.py", "is the target"]),
    "a symlink to the target": (["t.py", "--html", "link.py"], ["--html link.py", "is the target"]),
    "the recipe as --junit": (["r.yaml", "--junit", "r.yaml"], ["--junit r.yaml", "is the recipe"]),
    "the --model file as --html": (["t.py", "--model", "m.py:model", "--html", "m.py"],
                                   ["--html m.py", "is the --model file"]),
    "a module target as --json": (["t", "--json", "t.py"], ["--json t.py", "is the target"]),
    "two reports on one path": (["t.py", "--json", "r.out", "--junit", "./r.out"],
                                ["--json and --junit", "one file", "own path"]),
    "two reports on stdout": (["t.py", "--json", "-", "--markdown", "/dev/stdout"],
                              ["--json and --markdown", "standard output"]),
}


@pytest.mark.parametrize("case", list(REFUSED))
def test_a_report_on_an_input_or_another_report_is_refused_before_the_import(case, work):
    args, needles = REFUSED[case]
    before = {p.name: p.read_bytes() for p in work.iterdir() if p.is_file()}
    one_line(dlcheck("init-loss", *args, cwd=work), 2, *needles)
    assert not (work / MARKER).exists()  # refused before the target was imported
    assert {p.name: p.read_bytes() for p in work.iterdir() if p.is_file()} == before


def test_dev_stdout_is_stdout(work):
    proc = dlcheck("init-loss", "t.py", "--json", "/dev/stdout", cwd=work)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["checks"][0]["name"] == "init-loss"  # the console report went to stderr
    assert "verdict: warn" in proc.stderr


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full on this system")
def test_a_full_disk_leaves_no_partial_set(work):
    (work / "old.xml").write_text("earlier")
    proc = dlcheck("init-loss", "t.py", "--junit", "old.xml", "--json", "/dev/full", "--html", "new.html", cwd=work)
    one_line(proc, 2, "--json /dev/full", "cannot be written", "No space left on device")
    assert (work / "old.xml").read_text() == "earlier" and not (work / "new.html").exists()
    assert not [p for p in work.iterdir() if p.name.endswith(".tmp")]


# -- hostile names: every format shows them as text ----------------------------------------------
@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    """The hostile-named set-up (a warning names a layer) and its twin whose forward raises with
    hostile text, each through every report format."""
    runs = {}
    for name in ("h24_hostile", "h24_hostile_raises"):
        folder = tmp_path_factory.mktemp(name)
        proc = dlcheck("run", SETUPS / f"{name}.py", "--checks", "init-loss,init-stats", "--json", "r.json",
                       "--junit", "r.xml", "--markdown", "r.md", "--html", "r.html", cwd=folder)
        runs[name] = (proc, folder)
    return runs


def test_console_prints_names_as_text(hostile):
    proc, _ = hostile["h24_hostile"]
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for name in NAMES[:2]:
        assert name in proc.stdout
    assert "<img src=x onerror=alert(1)>" in proc.stdout and CLASS in proc.stdout
    raised, _ = hostile["h24_hostile_raises"]
    assert raised.returncode == 2 and "MarkupError" not in raised.stdout + raised.stderr
    assert RAISED in raised.stderr and "[bold red]boom[/bold red]" in raised.stdout
    assert "Traceback" not in raised.stderr


def test_markdown_escapes_names_and_exception_text(hostile):
    for proc, folder in hostile.values():
        text = (folder / "r.md").read_text()
        assert "<img" not in text and "<script" not in text, text
    text = (hostile["h24_hostile"][1] / "r.md").read_text()
    assert "&lt;img src=x onerror=alert(1)&gt;" in text and "&lt;script&gt;" in text
    raised = (hostile["h24_hostile_raises"][1] / "r.md").read_text()
    assert r"\[bold red\]boom\[/bold red\]" in raised and r"\`tick\` \| pipe" in raised
    rows = [line for line in raised.splitlines() if line.startswith("| init-loss")]
    assert len(rows) == 1 and rows[0].count(" | ") == 3  # the escaped '|' kept the row whole


def test_html_escapes_names_and_exception_text(hostile):
    for proc, folder in hostile.values():
        text = (folder / "r.html").read_text()
        assert "<img src=x" not in text and "<script>alert" not in text
    assert "&lt;img src=x onerror=alert(1)&gt;" in (hostile["h24_hostile"][1] / "r.html").read_text()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in (hostile["h24_hostile_raises"][1] / "r.html").read_text()


def test_json_and_junit_keep_the_text_exact(hostile):
    _, folder = hostile["h24_hostile"]
    stats = next(c for c in json.loads((folder / "r.json").read_text())["checks"] if c["name"] == "init-stats")
    layers = {row["layer"] for row in stats["details"]["layers"]}
    assert {NAMES[0], NAMES[2]} <= layers
    _, folder = hostile["h24_hostile_raises"]
    suite = ET.parse(folder / "r.xml").getroot()
    errors = [e.get("message") for e in suite.iter("error")]
    assert errors and all(RAISED in m for m in errors)
