"""The one error every reader of results raises: a command prints it and exits with status 2."""

from __future__ import annotations


class ResultsError(Exception):
    """A results file or directory that cannot be read; the message starts with its path."""
