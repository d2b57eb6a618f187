"""The pytest plugin (entry point ``pytest11``: pytest loads it in every session where dlcheck is
installed), so loading it imports neither torch nor any check: only a session that uses it does.

- The fixture ``dlcheck`` runs checks through the Python API::

      def test_sanity(dlcheck):
          dlcheck.run("train_setup.py", checks=["init-loss", "overfit-small"]).assert_ok()

  ``assert_ok()`` fails the test with every failing check and its findings as the message
  (``assert_ok(strict=True)``: warnings fail too). A relative path is found in the working folder,
  else beside the test file. ``--dlcheck-device`` and ``--dlcheck-seed`` set the defaults.
- ``pytest --dlcheck train_setup.py`` adds one test item per check (``train_setup.py::init-loss``,
  marked ``dlcheck``: ``-m dlcheck`` runs only them): a failing or erroring check fails its item
  with its findings, a check with nothing to look at is skipped with its reason, a warning passes
  with a ``DLCheckWarning`` in pytest's warnings summary (``--dlcheck-strict``: it fails). The
  checks run once per target, when the first of its items runs, as ``dlcheck run`` runs them.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import pytest


class DLCheckWarning(UserWarning):
    """A check of ``pytest --dlcheck`` that warned."""


class DLCheckFailed(Exception):
    """A check of ``pytest --dlcheck`` that failed or erred; the message is its findings."""


def pytest_addoption(parser) -> None:
    group = parser.getgroup("dlcheck", "dlcheck: sanity checks of a PyTorch training set-up")
    group.addoption("--dlcheck", action="append", default=[], metavar="TARGET", dest="dlcheck_targets",
                    help="run dlcheck's checks on TARGET (train_setup.py or pkg.module), one test item "
                         "per check (repeatable)")
    group.addoption("--dlcheck-checks", default=None, metavar="NAMES",
                    help="comma-separated checks for --dlcheck (default: those `dlcheck run` runs)")
    group.addoption("--dlcheck-device", default="auto", metavar="DEVICE",
                    help="device for --dlcheck and the dlcheck fixture: auto | cpu | cuda (default: auto)")
    group.addoption("--dlcheck-seed", type=int, default=0, metavar="N",
                    help="seed for --dlcheck and the dlcheck fixture (default: 0)")
    group.addoption("--dlcheck-strict", action="store_true", default=False,
                    help="a check of --dlcheck that warns fails its item")


def pytest_configure(config) -> None:
    config.addinivalue_line("markers", "dlcheck: a check that `pytest --dlcheck TARGET` runs")


class DLCheck:
    """The ``dlcheck`` fixture: :func:`dlcheck.run` and :func:`dlcheck.check` with the session's
    device and seed as defaults, relative targets found here or beside the test file."""

    def __init__(self, config, test_dir: Path | None = None):
        self.device = config.getoption("dlcheck_device")
        self.seed = config.getoption("dlcheck_seed")
        self.test_dir = test_dir

    def _where(self, target):
        if isinstance(target, (str, os.PathLike)) and not os.path.isabs(target) and self.test_dir:
            if not Path(target).exists() and (self.test_dir / target).exists():
                return str(self.test_dir / target)
        return str(target) if isinstance(target, os.PathLike) else target

    def run(self, target=None, **kwargs):
        """The Report of ``dlcheck.run(target, **kwargs)``; ``.assert_ok()`` on it fails a test."""
        from dlcheck import api

        kwargs.setdefault("device", self.device)
        kwargs.setdefault("seed", self.seed)
        return api.run(self._where(target), **kwargs)

    def check(self, name: str, target=None, **kwargs):
        """The CheckResult of one check (``result.ok``, ``result.summary``)."""
        return self.run(target, checks=[name], **kwargs).checks[0]


@pytest.fixture
def dlcheck(request) -> DLCheck:
    """Run dlcheck's checks in a test: ``dlcheck.run("train_setup.py").assert_ok()``."""
    path = getattr(request, "path", None)
    return DLCheck(request.config, Path(path).parent if path else None)


class DLCheckTarget(pytest.Collector):
    """One ``--dlcheck`` target: its checks as items, run together once."""

    def __init__(self, *, target: str, checks: list[str], **kwargs):
        super().__init__(**kwargs)
        self.target = target
        self.checks = checks
        self._outcome = None

    def collect(self):
        return [DLCheckItem.from_parent(self, name=name) for name in self.checks]

    def outcome(self):
        """The Report of the run (once), or the UserError that stopped it."""
        if self._outcome is None:
            from dlcheck import api
            from dlcheck.errors import UserError

            config = self.config
            try:
                self._outcome = api.run(self.target, checks=self.checks, device=config.getoption("dlcheck_device"),
                                        seed=config.getoption("dlcheck_seed"))
            except UserError as exc:
                self._outcome = exc
        return self._outcome


class DLCheckItem(pytest.Item):
    """One check of a ``--dlcheck`` target."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.add_marker("dlcheck")

    def runtest(self) -> None:
        outcome = self.parent.outcome()
        if isinstance(outcome, Exception):
            raise DLCheckFailed(f"dlcheck could not run {self.parent.target}: {outcome}")
        result = next(c for c in outcome.checks if c.name == self.name)
        self.user_properties += [("status", result.status), ("seconds", round(result.seconds, 3))]
        lines = [f"{result.name}: {result.status} - {result.summary}"]
        for f in result.findings:
            lines.append(f"  [{f.severity}] {f.code} {f.message}")
            lines.extend([f"      advice: {f.advice}"] if f.advice and f.severity != "info" else [])
        text = "\n".join(lines)
        strict = self.config.getoption("dlcheck_strict")
        if result.status in ("fail", "error") or (strict and result.status == "warn"):
            raise DLCheckFailed(text)
        if result.skipped:
            try:  # reported at the target, not at this file (a private flag of pytest's own skips)
                skip = pytest.skip.Exception(f"{result.name}: {result.reason or result.summary}",
                                             _use_item_location=True)
            except TypeError:
                skip = pytest.skip.Exception(f"{result.name}: {result.reason or result.summary}")
            raise skip
        if result.status == "warn":
            self.user_properties += [("warning", f"{f.code} {f.message}") for f in result.findings
                                     if f.severity == "warn"]
            warnings.warn(DLCheckWarning(text), stacklevel=1)

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, DLCheckFailed):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self):
        return self.path, 0, f"dlcheck {self.name} on {self.parent.target}"


def _checks(config) -> list[str]:
    from dlcheck import registry
    from dlcheck.errors import UserError

    given = config.getoption("dlcheck_checks")
    if not given:
        return registry.run_by_default()
    names = [n.strip() for n in given.split(",") if n.strip()]
    try:
        for name in names:
            registry.spec(name)
    except UserError as exc:
        raise pytest.UsageError(f"--dlcheck-checks: {exc}") from None
    return names


@pytest.hookimpl(tryfirst=True)  # before -k / -m deselect items
def pytest_collection_modifyitems(session, config, items) -> None:
    targets = config.getoption("dlcheck_targets")
    if not targets:
        return
    checks = _checks(config)
    for target in targets:
        path, nodeid = session.path, target
        if Path(target).is_file():  # named like pytest names a test file: relative to the rootdir
            path = Path(target).resolve()
            if path.is_relative_to(config.rootpath):
                nodeid = path.relative_to(config.rootpath).as_posix()
        node = DLCheckTarget.from_parent(session, name=target, path=path, nodeid=nodeid, target=target,
                                         checks=checks)
        collected = node.collect()
        # reported like any collected file, so pytest's "collected N items" counts them
        config.hook.pytest_collectreport(report=pytest.CollectReport(node.nodeid, "passed", None, collected))
        items.extend(collected)
