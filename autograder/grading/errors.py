"""Exceptions that cross from the sandboxed worker into the trusted process.

An exception raised by student code comes back as plain data (type name, message, the student's
own traceback frames) and is re-raised here as a :class:`SubmissionError`. When the original type
is a builtin (``ValueError``, ``TypeError``, ...) the re-raised exception is also an instance of
that builtin, so ``pytest.raises(ValueError)`` and :func:`checks.assert_raises` work on remote
calls exactly as on local ones.
"""

from __future__ import annotations

import builtins
from typing import Any

from autograder.grading.feedback import clean, clean_frames, traceback_text


class SubmissionError(Exception):
    """Student code raised. ``frames`` are ``(file, line, function, source)`` in the submission."""

    type_name = "Exception"

    def __init__(self, type_name: str, message: str, frames: list[list[Any]] | None = None):
        super().__init__(message)
        self.type_name = type_name
        self.message = message
        self.frames = clean_frames(frames)

    def student_traceback(self) -> str:
        """The student's own frames and the exception in full (public tests, import errors)."""
        return traceback_text(self.type_name, self.frames, self.message)

    def __str__(self) -> str:
        return f"{self.type_name}: {self.message}" if self.message else self.type_name


class NotImplementedBySubmission(SubmissionError, NotImplementedError):
    """The student has not filled in this TODO yet (the stub raised NotImplementedError)."""


class ForbiddenAPIError(SubmissionError):
    """Student code called an API the assignment forbids."""


class WorkerError(Exception):
    """The worker could not answer: base class for timeouts and crashes."""


class WorkerTimeout(WorkerError):
    """A call ran past its time limit; the worker was killed and will be restarted."""


class WorkerCrashed(WorkerError):
    """The worker died (segfault, ``os._exit``, memory limit, ...) while serving a call."""


class SubmissionRefused(WorkerError):
    """The submission broke an intake rule (a link, too large, a sparse file, ...): it was
    never run, and every test of the assignment says why."""


class StaleHandle(WorkerError):
    """An object handle from a worker that has since been restarted."""


_cache: dict[str, type[SubmissionError]] = {}


def remote_exception(type_name: str, message: str, frames: list[list[Any]] | None = None
                     ) -> SubmissionError:
    """Rebuild an exception reported by the worker, as a builtin subclass where possible.
    Whatever the worker sent is cleaned first: a type name that is no identifier becomes
    ``Exception``, the message is capped and made valid text, malformed frames are dropped."""
    type_name = clean(type_name, 100)
    if not type_name.isidentifier():
        type_name = "Exception"
    message = clean(message)
    if type_name == "NotImplementedError":
        return NotImplementedBySubmission(type_name, message, frames)
    if type_name == "ForbiddenAPIError":
        return ForbiddenAPIError(type_name, message, frames)
    base = getattr(builtins, type_name, None)
    if not (isinstance(base, type) and issubclass(base, Exception)) or base is Exception:
        return SubmissionError(type_name, message, frames)
    cls = _cache.get(type_name)
    if cls is None:
        try:
            cls = type(f"Submission{type_name}", (SubmissionError, base), {})
        except TypeError:  # incompatible instance layout (OSError and a few others)
            cls = SubmissionError
        _cache[type_name] = cls
    try:
        exc = cls.__new__(cls)
        SubmissionError.__init__(exc, type_name, message, frames)
    except TypeError:  # a builtin whose constructor needs more arguments (UnicodeDecodeError)
        _cache[type_name] = SubmissionError
        return SubmissionError(type_name, message, frames)
    return exc
