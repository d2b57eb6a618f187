"""The checks, one module (or package) each; their specs are in ``dlcheck.registry``.

A check module ``dlcheck.checks.<name>`` has
    NAME: str                        the command name (equal to its spec's)
    SETTINGS: dict[str, object]      every setting and threshold with its default (recipe-overridable);
                                     every flag of the spec is one of them
    def run(ctx: Context) -> CheckResult
and, in the shape of every check (``dlcheck.rules``), a ``Measured`` dataclass and a ``RULES`` tuple.
"""
