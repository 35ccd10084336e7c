"""Logging setup: clear startup lines, and no message text or personal data in any record.

The SDK puts exception messages (which may quote a user) and activity text into
some of its records; the filter keeps the exception type and stack frames and
drops the rest.
"""

from __future__ import annotations

import logging
import traceback

_SDK_PREFIX = "microsoft_agents"


class RedactSdkRecords(logging.Filter):
    """Replace SDK records that may carry user content with their safe parts."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record in place; always keep it."""
        if not record.name.startswith(_SDK_PREFIX):
            return True
        if record.exc_info and record.exc_info[0] is not None:
            exc_type, _exc, tb = record.exc_info
            frames = "".join(traceback.format_tb(tb))
            record.msg = "%s raised %s"
            record.args = (record.name, exc_type.__name__)
            record.exc_info = None
            record.exc_text = "Traceback (message removed):\n" + frames.rstrip()
        elif record.levelno >= logging.WARNING:
            # Keep the template's first words only: SDK warnings interpolate activity text.
            record.msg = str(record.msg).split(":", 1)[0].split("{", 1)[0][:120]
            record.args = ()
        return True


def configure(level: str = "INFO") -> None:
    """Log to stderr with timestamps; SDK records at WARNING and above, redacted."""
    handler = logging.StreamHandler()
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S")
    )
    handler.addFilter(RedactSdkRecords())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger(_SDK_PREFIX).setLevel(logging.WARNING)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
