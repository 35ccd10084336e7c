"""Mails the organisation sends: what one looks like before it goes, and what blocks sending.

A mail leaves the building only as previewed: From, To, Subject and Body exactly as a
manager saw them. ``check`` lists every reason the text may not go out yet (a template
placeholder left in, markup that a plain-text mail would show literally, an empty
subject, the department writing to itself...), each with what to fix.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from enum import StrEnum

MAX_BODY_CHARS = 4000  # a one-time notice is a few paragraphs; more is a pasted mistake
MAX_SUBJECT_CHARS = 200

# Template gaps a person must fill: 〇〇 ○○ ＿＿ __ XX {…} [ ] and 〇月〇日.
_PLACEHOLDERS = re.compile(
    r"[〇○◯]{1,}(?:月|日|様|区|課|市|町|村)?|[＿_]{2,}|\bX{2,}\b|ＸＸ+|\{[^{}\n]{0,40}\}|\[\s*\]"
)
_HTML = re.compile(r"</?[a-zA-Z][a-zA-Z0-9]*(\s[^<>]*)?/?>|&(nbsp|amp|lt|gt|quot);")
_MARKDOWN = re.compile(
    r"\*\*[^*\n]+\*\*|__[^_\n]+__|^\s{0,3}#{1,6}\s|\[[^\]\n]+\]\([^)\s]+\)|`[^`\n]+`|^\s*[-*+]\s\[",
    re.MULTILINE,
)
_ADDRESS = re.compile(r"^[^@\s<>\"',;]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$")


class DraftState(StrEnum):
    """Where an organisation mail is between approval and Sent Items."""

    AWAITING_CONFIRMATION = "awaiting_confirmation"  # approved, nobody confirmed the preview
    SENDING = "sending"  # confirmed: one send job queued
    SENT = "sent"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class OutgoingMail:
    """One organisation mail exactly as it would be sent."""

    sender: str  # the department mailbox (From)
    to: str
    subject: str
    body: str

    @property
    def digest(self) -> str:
        """A fingerprint of exactly this text: the send button carries it, so a preview
        that was edited meanwhile can never send a text nobody saw."""
        data = "\x1f".join((self.sender, self.to, self.subject, self.body)).encode()
        return hashlib.sha256(data).hexdigest()[:20]


class Problem(StrEnum):
    """Why a mail may not be sent yet."""

    PLACEHOLDER = "placeholder"
    TOO_LONG = "too-long"
    SUBJECT_TOO_LONG = "subject-too-long"
    EMPTY_BODY = "empty-body"
    EMPTY_SUBJECT = "empty-subject"
    MARKUP = "markup"
    NO_RECIPIENT = "no-recipient"
    BAD_RECIPIENT = "bad-recipient"
    TO_SELF = "to-self"
    NO_SENDER = "no-sender"


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem with the text, with what it is about (the placeholder, the length...)."""

    problem: Problem
    detail: str = ""


def placeholders_in(text: str) -> tuple[str, ...]:
    """The template placeholders left in ``text``, each once, in order of appearance."""
    found = dict.fromkeys(m.group(0) for m in _PLACEHOLDERS.finditer(text))
    return tuple(found)


def check(mail: OutgoingMail) -> tuple[Finding, ...]:
    """Every reason ``mail`` may not be sent as it is (empty: it may)."""
    findings: list[Finding] = []
    if not mail.sender:
        findings.append(Finding(Problem.NO_SENDER))
    to = mail.to.strip()
    if not to:
        findings.append(Finding(Problem.NO_RECIPIENT))
    elif not _ADDRESS.match(to):
        findings.append(Finding(Problem.BAD_RECIPIENT, to[:100]))
    elif mail.sender and to.lower() == mail.sender.lower():
        findings.append(Finding(Problem.TO_SELF, to))
    subject = mail.subject.strip()
    if not subject:
        findings.append(Finding(Problem.EMPTY_SUBJECT))
    elif len(subject) > MAX_SUBJECT_CHARS:
        findings.append(Finding(Problem.SUBJECT_TOO_LONG, f"{len(subject):,}"))
    if not mail.body.strip():
        findings.append(Finding(Problem.EMPTY_BODY))
    elif len(mail.body) > MAX_BODY_CHARS:
        findings.append(Finding(Problem.TOO_LONG, f"{len(mail.body):,}"))
    markup = _HTML.search(mail.body) or _MARKDOWN.search(mail.body)
    if markup:
        findings.append(Finding(Problem.MARKUP, markup.group(0).strip()[:40]))
    gaps = placeholders_in(f"{mail.subject}\n{mail.body}")
    if gaps:
        findings.append(Finding(Problem.PLACEHOLDER, "、".join(gaps[:8])))
    return tuple(findings)


def normalise_body(text: str) -> str:
    """The body as it will be sent: Windows/Mac line ends made one, trailing spaces trimmed."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return "\n".join(line.rstrip() for line in lines).strip("\n")


def reference(fmt: str, *, department: str, year: int, month: int, day: int, n: int) -> str:
    """The organisation's reference for a mail, e.g. ``{department}-{yyyy}{mm}{dd}-{n}``."""
    values = {
        "department": department,
        "yyyy": f"{year:04d}",
        "mm": f"{month:02d}",
        "dd": f"{day:02d}",
        "n": str(n),
    }
    try:
        return fmt.format(**values)
    except (KeyError, IndexError, ValueError):
        # A wrong format must not block a mail to the counterpart: fall back to the default.
        return "{department}-{yyyy}{mm}{dd}-{n}".format(**values)
