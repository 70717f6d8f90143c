"""The error every stage raises for bad input, and the interruption of resumable work."""

from pathlib import Path


class InputError(Exception):
    """Bad input: names the offending file and says what is wrong with it."""

    def __init__(self, path: str | Path, problem: str) -> None:
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during work that resumes: the message says what was kept and how to go on."""
