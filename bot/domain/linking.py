"""One harasser, one picture: cases that share a counterpart are linked.

Two cases share a counterpart when they name the same normalised email address, the
same organisation domain (never a free-mail domain such as gmail.com: thousands of
unrelated people write from those), or the same SNS account (profile URL or @name).
Who may open a linked case is the access rule's business (``bot.domain.access``);
this module only says which cases belong together.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from bot.domain.incidents import Counterparts, Incident

# Domains anyone can get an address at; configurable (MAMORU_FREE_MAIL_DOMAINS adds more).
FREE_MAIL_DOMAINS = frozenset(
    {
        "gmail.com",
        "googlemail.com",
        "yahoo.co.jp",
        "ymail.ne.jp",
        "yahoo.com",
        "outlook.com",
        "outlook.jp",
        "hotmail.com",
        "hotmail.co.jp",
        "live.jp",
        "live.com",
        "msn.com",
        "icloud.com",
        "me.com",
        "mac.com",
        "aol.com",
        "proton.me",
        "protonmail.com",
        "gmx.com",
        "mail.com",
        "docomo.ne.jp",
        "ezweb.ne.jp",
        "au.com",
        "softbank.ne.jp",
        "i.softbank.jp",
        "ymobile.ne.jp",
        "rakuten.jp",
        "nifty.com",
        "biglobe.ne.jp",
        "excite.co.jp",
    }
)


def free_mail_domains(configured: str = "") -> frozenset[str]:
    """The built-in free-mail domains plus ``configured`` (MAMORU_FREE_MAIL_DOMAINS,
    comma-separated): what links no two cases and is never proposed for a domain block."""
    return FREE_MAIL_DOMAINS | {d.strip().lower() for d in configured.split(",") if d.strip()}


# The same SNS under several host names.
_HOST_ALIASES = {
    "twitter.com": "x.com",
    "mobile.twitter.com": "x.com",
    "m.facebook.com": "facebook.com",
}
_ACCOUNT = re.compile(r"^@?([\w.-]{1,100})$")


def normalise_email(address: str) -> str:
    """``Kujou+abc@Example.NET `` → ``kujou@example.net`` (sub-addressing tags dropped)."""
    local, _, domain = address.strip().strip("<>").lower().rpartition("@")
    return f"{local.split('+', 1)[0]}@{domain}" if local else domain


def normalise_account(value: str) -> str:
    """An SNS account as one key: a profile URL's host and path, or ``@name``."""
    value = value.strip()
    if value.lower().startswith(("http://", "https://")):
        parts = urlsplit(value)
        host = (parts.hostname or "").lower().removeprefix("www.")
        host = _HOST_ALIASES.get(host, host)
        path = parts.path.rstrip("/").lower()
        # A post URL (x.com/name/status/123) names its account first.
        segments = [s for s in path.split("/") if s]
        if host == "x.com" and segments:
            path = "/" + segments[0]
        return f"{host}{path}"
    match = _ACCOUNT.match(value)
    return "@" + match.group(1).lower() if match else value.lower()


def counterpart_keys(
    counterparts: Counterparts, free_mail: frozenset[str] = FREE_MAIL_DOMAINS
) -> frozenset[str]:
    """The keys a case can be linked by (``email:``, ``domain:``, ``sns:``)."""
    keys = {f"email:{normalise_email(e)}" for e in counterparts.emails}
    domains = {d.lower().strip() for d in counterparts.domains}
    domains |= {normalise_email(e).rpartition("@")[2] for e in counterparts.emails}
    keys |= {f"domain:{d}" for d in domains if d and d not in free_mail}
    keys |= {
        f"sns:{normalise_account(a)}" for a in (*counterparts.sns_accounts, *counterparts.urls)
    }
    return frozenset(keys)


def index_keys(counterparts: Counterparts) -> frozenset[str]:
    """Every key of ``counterparts``, free-mail domains included: what the store indexes.

    The free-mail list is configuration (MAMORU_FREE_MAIL_DOMAINS), so the index keeps
    every domain and the lookup leaves the free-mail ones out (``counterpart_keys``):
    changing the setting needs no re-indexing.
    """
    return counterpart_keys(counterparts, frozenset())


# Prefixes of the keys that name one person or account (a domain names an organisation).
PERSON_KEYS = ("email:", "sns:")


@dataclass(frozen=True, slots=True)
class Link:
    """Another case sharing at least one counterpart key with the case in view."""

    incident: Incident
    shared: frozenset[str]


def linked_cases(
    incident: Incident,
    others: Iterable[Incident],
    free_mail: frozenset[str] = FREE_MAIL_DOMAINS,
) -> list[Link]:
    """The other cases that share a counterpart with ``incident``, oldest first."""
    mine = counterpart_keys(incident.counterparts, free_mail)
    if not mine:
        return []
    links = []
    for other in others:
        if other.id == incident.id:
            continue
        shared = mine & counterpart_keys(other.counterparts, free_mail)
        if shared:
            links.append(Link(other, shared))
    links.sort(key=lambda link: (link.incident.created_at, link.incident.id))
    return links


def departments_of(links: Sequence[Link]) -> int:
    """How many departments the linked cases come from."""
    return len({link.incident.department for link in links})


@dataclass(frozen=True, slots=True)
class LinkedCases:
    """What a card shows about the other cases with the same counterpart, for one viewer.

    ``total`` and ``departments`` are counts anyone who sees this case may know;
    ``openable`` lists only the cases the viewer may open (id, department).
    """

    total: int
    departments: int
    openable: tuple[tuple[str, str], ...] = ()
    org_case: str = ""  # the organisational case this one was merged into, if any
    org_members: int = 0
    can_merge: bool = False
