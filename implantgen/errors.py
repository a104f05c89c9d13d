"""Errors a user can act on.

``InputError`` carries one plain sentence that says what is wrong and what to do; the CLI prints
it without a traceback and exits with ``exit_code``.  Anything else escaping is a bug.
"""


class InputError(Exception):
    """Bad input (missing, unreadable or unsuitable data): exit status 2."""

    exit_code = 2

    def __init__(self, sentence: str):
        super().__init__(sentence)
        self.sentence = sentence


class PlanNotFeasible(InputError):
    """The data is fine but no safe plan exists for it: exit status 3."""

    exit_code = 3
