"""The HTML report (--html): one self-contained file of a real run, with and without --out, that
references nothing outside itself and that a real browser (headless chromium) loads and draws at
phone width. The browser tests skip when no chromium is installed (.ci/run installs one and sets
DLCHECK_REQUIRE_BROWSER=1, so CI fails instead of skipping)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess

import numpy as np
import pytest

from conftest import RECIPES, ROOT

DIGITS = RECIPES / "digits.yaml"
PHOTO = ROOT / "tests" / "zoo" / "ok_photo_cnn.py"
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")


def assert_self_contained(page: str) -> None:
    """Nothing outside the file: every src/href is a data: URI or an anchor, no <link>, no
    @import or url() to elsewhere, at most one inline script."""
    assert page.startswith("<!DOCTYPE html>")
    assert "<link" not in page and "@import" not in page
    assert not re.search(r"""\b(src|href)\s*=\s*["']?(https?:|//|file:)""", page)
    for attr, value in re.findall(r"""\b(src|href)="([^"]*)\"""", page):
        assert value.startswith("data:" if attr == "src" else "#"), (attr, value[:60])
    assert not re.search(r"url\((?!data:)", page)
    assert page.count("<script") == 1 and "<script src" not in page


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    """One full run of the digits recipe: --out, --html, --junit and --json."""
    from typer.testing import CliRunner

    from dlcheck.cli import app

    folder = tmp_path_factory.mktemp("digits")
    paths = {k: folder / f"report.{k}" for k in ("html", "xml", "json")}
    res = CliRunner().invoke(app, ["run", str(DIGITS), "--out", str(folder / "out"), "--html", str(paths["html"]),
                                   "--junit", str(paths["xml"]), "--json", str(paths["json"])],
                             catch_exceptions=False)
    assert res.exit_code == 0, res.stderr
    return {"report": json.loads(paths["json"].read_text()), "html": paths["html"], "junit": paths["xml"],
            "folder": folder}


@pytest.fixture(scope="module")
def photo_run(tmp_path_factory):
    """A run without --out: the plots must still be in the HTML (drawn from the results' data)."""
    from typer.testing import CliRunner

    from dlcheck.cli import app

    folder = tmp_path_factory.mktemp("photo")
    html, report = folder / "report.html", folder / "report.json"
    res = CliRunner().invoke(app, ["run", str(PHOTO), "--checks", "init-stats,bn-gap,aug-preview", "--html", str(html),
                                   "--json", str(report)], catch_exceptions=False)
    assert res.exit_code == 0, res.stderr
    assert not list(folder.glob("*.png"))
    return {"report": json.loads(report.read_text()), "html": html}


def test_html_of_a_full_run_is_one_file_with_every_check_finding_and_plot(digits_run):
    page = digits_run["html"].read_text(encoding="utf-8")
    assert_self_contained(page)
    report = digits_run["report"]
    for check in report["checks"]:
        assert f'id="check-{check["name"]}"' in page
        for finding in check["findings"]:
            assert finding["code"] in page and f"dlcheck explain {finding['code']}" in page
    pngs = [a for c in report["checks"] for a in c["artifacts"] if a.endswith(".png")]
    assert len(pngs) >= 5 and page.count('<img src="data:image/') >= len(pngs)
    for key in ("recipes/digits_setup.py", "torch", "CrossEntropyLoss", "classification"):
        assert key in page  # header: target, versions, task
    assert "What it means:" in page and "How to fix it:" in page
    assert 'class="sortable"' in page and 'name="viewport"' in page
    aug = next(c for c in report["checks"] if c["name"] == "aug-preview")
    assert aug["skipped"] and 'badge skipped' in page


def test_junit_of_the_same_run_marks_the_check_with_nothing_to_look_at(digits_run):
    import xml.etree.ElementTree as ET

    suite = ET.parse(digits_run["junit"]).getroot().find("testsuite")
    said = [c["name"] for c in digits_run["report"]["checks"] if c.get("skipped")]
    assert suite.get("skipped") == str(len(said)) and suite.get("failures") == "0"
    skipped = [c.get("name") for c in suite.iter("testcase") if c.find("skipped") is not None]
    assert skipped == said
    assert {"bn-gap", "aug-preview"} <= set(skipped)  # the digits MLP has no BatchNorm, its data no transform
    reason = suite.find("testcase[@name='aug-preview']/skipped").get("message")
    assert reason == next(c["reason"] for c in digits_run["report"]["checks"] if c["name"] == "aug-preview")


def test_html_without_out_still_embeds_the_plots(photo_run):
    page = photo_run["html"].read_text(encoding="utf-8")
    assert_self_contained(page)
    svgs = page.count('<img src="data:image/svg+xml;base64,')
    pngs = page.count('<img src="data:image/png;base64,')
    assert svgs >= 3  # activation std and gradient norm by depth, BN gap per layer
    assert pngs == 1  # the augmentation grid, drawn in memory
    assert "augmented draws" in page


def test_the_html_renderer_only_reads_the_report():
    import copy

    from dlcheck.render import html
    from test_reports import mixed_report

    report = mixed_report()
    before = copy.deepcopy(report)
    page = html.dumps(report)
    assert report == before
    assert_self_contained(page)
    assert "DLC705" in page and "badge skipped" in page and "the model has no BatchNorm layer" in page
    report.checks[0].findings[0].message = "<img src=x onerror=alert(1)>"
    assert "<img src=x" not in html.dumps(report)


def test_aug_grid_marks_the_original_and_names_the_class():
    from PIL import Image

    import io

    from dlcheck.render.plots import AUG_SOURCE_FRAME, aug_grid, aug_grid_layout

    cell = 48
    rows = [[np.full((8, 8, 3), v, dtype=np.float32) for v in (0.2, 0.5, 0.8)] for _ in range(2)]
    buffer = io.BytesIO()
    aug_grid(buffer, rows, ["#4 airplane", "#9 class 3"], [[None] * 3] * 2, cell=cell)
    sheet = np.asarray(Image.open(buffer).convert("RGB")).astype(int)
    assert (sheet.shape[1], sheet.shape[0]) == aug_grid_layout(2, 3, cell=cell)[:2]
    blue = np.all(np.abs(sheet - np.array(AUG_SOURCE_FRAME)) < 30, axis=-1)
    left_third = blue[:, : sheet.shape[1] // 3].sum()
    assert left_third > 4 * cell and blue[:, sheet.shape[1] // 2:].sum() == 0  # only the originals are framed


def test_aug_preview_captions_use_the_class_names():
    import dlcheck
    from torch import nn
    from torch.utils.data import DataLoader
    from torchvision import transforms as T

    from zoo._data import PatchDataset

    dataset = PatchDataset(T.Compose([T.RandomHorizontalFlip(), T.ToTensor()]))
    dataset.classes = ["china", "flower", "sky", "tree"]
    result = dlcheck.check("aug-preview", model=lambda: nn.Sequential(nn.Flatten(), nn.LazyLinear(4)),
                           train_loader=DataLoader(dataset, batch_size=32),
                           settings={"aug-preview": {"measure": 8, "count": 4, "draws": 2}})
    assert [f.kind for f in result.figures] == ["aug_grid"]  # the grid, kept for the HTML report without --out
    assert not result.skipped and result.status == "pass"

    from dlcheck.checks.aug_preview import _caption

    assert _caption({"index": 44, "label": "2"}, dataset.classes) == "#44 sky"
    assert _caption({"index": 44, "label": "0"}, None) == "#44 class 0"
    assert _caption({"index": 7, "label": None}, None) == "#7"


# -- a real browser ------------------------------------------------------------------------------
def browser():
    found = next((shutil.which(b) for b in BROWSERS if shutil.which(b)), None)
    if found is None:
        if os.environ.get("DLCHECK_REQUIRE_BROWSER"):
            pytest.fail("no chromium found, and DLCHECK_REQUIRE_BROWSER is set (.ci/run installs it)")
        pytest.skip("no chromium installed (apt-get install chromium)")
    return found


def headless(exe: str, tmp_path, *args: str) -> subprocess.CompletedProcess:
    profile = tmp_path / "profile"
    profile.mkdir(exist_ok=True)
    command = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
               "--no-first-run", "--disable-extensions", f"--user-data-dir={profile}", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=180, check=False)


def test_a_real_browser_loads_the_report_and_draws_it_at_phone_width(digits_run, photo_run, tmp_path):
    from PIL import Image

    exe = browser()
    for run in (digits_run, photo_run):
        url = run["html"].resolve().as_uri()
        dom = headless(exe, tmp_path, "--dump-dom", url)
        assert dom.returncode == 0, dom.stderr[-2000:]
        page = dom.stdout
        for check in run["report"]["checks"]:
            assert f'id="check-{check["name"]}"' in page
            assert all(f["code"] in page for f in check["findings"])
        assert page.count("<img") == run["html"].read_text(encoding="utf-8").count("<img") >= 4
        assert "</table>" in page and "</footer>" in page  # parsed to the end

    shot = tmp_path / "phone.png"
    res = headless(exe, tmp_path, "--window-size=390,2400", "--hide-scrollbars", f"--screenshot={shot}",
                   digits_run["html"].resolve().as_uri())
    assert res.returncode == 0 and shot.is_file(), res.stderr[-2000:]
    image = np.asarray(Image.open(shot).convert("L"), dtype=np.float32)
    assert image.shape[1] == 390 and image.std() > 10  # drawn, not a blank page
    dark = image < 128
    assert dark[:, 300:].mean() > 0.001  # the text uses the width of a phone, not a sliver of it
