"""Exception types that the command line reports as one clear message (no traceback)."""

from __future__ import annotations


class HimnetError(Exception):
    """Base class for user-facing errors: bad input, refused runs, bad settings."""


class DataError(HimnetError):
    """A problem with a dataset on disk.

    The message always names the file and, where known, the video and the field at fault,
    so that a user with a 400-video bundle can find the broken entry without a debugger.
    """

    def __init__(self, message: str, *, file: str | None = None, video: str | None = None,
                 field: str | None = None):
        parts = []
        if file is not None:
            parts.append(f"file {file}")
        if video is not None:
            parts.append(f"video {video}")
        if field is not None:
            parts.append(f"field {field}")
        where = (" [" + ", ".join(parts) + "]") if parts else ""
        super().__init__(message + where)
        self.file, self.video, self.field = file, video, field


class EvaluationError(HimnetError):
    """Malformed ground truth or predictions given to the detection metric."""


class RunError(HimnetError):
    """A training run that cannot proceed as asked (parameter mismatch, finished run, ...)."""


class DivergenceError(RunError):
    """Training went non-finite: the run stopped, its last good checkpoint kept, nothing marked finished."""
