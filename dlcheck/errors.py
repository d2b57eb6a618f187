"""The one exception type for "the user's set-up is wrong" (and the CLI's handling of SIGINT and
SIGTERM: :func:`handle_signals`).

Domain code raises :class:`UserError` with one sentence naming what is wrong and where; only the
CLI turns it into a red one-liner on stderr and exit code 2 (a check that raises it ends in the
``error`` status, and the other checks still run).
"""


class UserError(Exception):
    """Bad input from the user: a missing file, a malformed spec, a loader yielding garbage."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:  # pragma: no cover - trivial
        return self.message


def describe_exception(exc: BaseException, limit: int = 300) -> str:
    """``TypeError: bad thing`` — the user's exception type and message, on one line (the first
    line of the message, cut at ``limit`` characters)."""
    text = str(exc).strip().splitlines()
    first = text[0].strip() if text else ""
    if len(first) > limit:
        first = first[:limit - 3].rstrip() + "..."
    name = type(exc).__name__
    return f"{name}: {first}" if first else name


class Interrupted(KeyboardInterrupt):
    """Ctrl-C (or a KeyboardInterrupt raised by the user's code) ended the run. ``message`` says
    where it stopped and what was handed back; ``report`` holds the checks that finished (None
    when none had started), so the caller can still write it. A KeyboardInterrupt, so that code
    catching those still does."""

    def __init__(self, message: str, report=None):
        super().__init__(message)
        self.message = message
        self.report = report


class Terminated(KeyboardInterrupt):
    """SIGTERM (what CI sends on cancel), raised by the CLI's handler: handled as Ctrl-C is (the
    model handed back, the check's artifacts removed, what finished reported), exit 143."""


#: the signals (SIGINT, SIGTERM) the CLI's handlers received during this run, first first: a
#: check that caught the KeyboardInterrupt itself (``curves`` reads the curves trained so far)
#: still ends the run once it returns
received: list[int] = []


def handle_signals() -> dict:
    """For the CLI: SIGTERM (what CI sends on cancel) is handled as Ctrl-C is: the first raises (Terminated, a
    KeyboardInterrupt) where the run is, so the model is handed back and what finished reported;
    a second Ctrl-C or SIGTERM ends the process at once, exit 130 or 143, never by the signal.
    Returns the handlers it replaced."""
    import signal

    def first(signum, frame):
        received.append(signum)
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, again)
        raise Terminated() if signum == signal.SIGTERM else KeyboardInterrupt()

    def again(signum, frame):
        import os

        os._exit(128 + signum)

    received.clear()
    previous = {}
    try:
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, first)
    except ValueError:  # not the main thread (an embedding app): its own handlers stay
        pass
    return previous


def restore_signals(previous: dict) -> None:
    """The handlers as they were (a caller running the CLI in-process keeps its own), unless a
    signal came: then the process is on its way out and later signals stay ignored."""
    import signal

    if not received:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


class SetupFailure(Exception):
    """The set-up is broken in a way that is a verdict, not bad input (e.g. nothing can train):
    the check that meets it ends in ``fail`` with this finding instead of ``error``."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message
