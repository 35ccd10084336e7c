"""File errors of the commands, told in words an operator can act on (never a traceback)."""

from __future__ import annotations

import errno


def describe_os_error(exc: OSError) -> str:
    """What went wrong with a file, in words an operator acts on (no traceback)."""
    reasons = {
        errno.ENOSPC: "the disk is full",
        errno.EDQUOT: "the disk quota is used up",
        errno.EACCES: "permission denied",
        errno.EPERM: "permission denied",
        errno.EROFS: "the file system is read-only",
        errno.ENOENT: "a directory does not exist",
    }
    where = f" ({exc.filename})" if exc.filename else ""
    return reasons.get(exc.errno or 0, exc.strerror or type(exc).__name__) + where
