"""Explicit danger phrases: a safety net under the model, never the other way round.

The model decides almost everything. These few phrases (a threat to kill, a
weapon, a cry for help, "I can't go on") send a message to the safety card even
when the model is unsure, because a frightened person must never be asked to
choose from a menu. They are matched on the cleaned text (NFKC, lower case) and
on its hiragana fold, so ｺﾛｽ, コロス and ころす all count. Keep the list short and
unambiguous: every phrase here must be one nobody writes about an ordinary day
at the office.
"""

from __future__ import annotations

import re

from bot.triage.features import kana_folded

_PHRASES = [
    # Threats of violence (Japanese: the kana fold covers katakana spellings).
    r"殺す",
    r"殺され",
    r"殺して",
    r"殺すぞ",
    r"ころす",
    r"ころされ",
    r"ぶっころ",
    r"ぶっ殺",
    r"刺すぞ",
    r"刺される",
    r"刺してやる",
    r"燃やすぞ",
    r"火をつけ(る|てやる)",
    r"爆破",
    r"殴られ(た|そう|ました)",
    r"殴るぞ",
    r"殴ってやる",
    # Weapons.
    r"(刃物|包丁|ないふ|ナイフ|カッター|かったー)を(持って|出し|見せ|ちらつか|振り|向け|突きつけ)",
    r"(包丁|ないふ)(持って|を手に)",
    r"拳銃",
    # Being followed or waited for (the bare つけられ also means 名前をつけられ: too broad).
    r"待ち伏せ",
    r"待ちぶせ",
    r"(後|あと)を(つけ|付け)(られ|てく|て来)",
    r"(後ろ|うしろ)を?(ずっと)?(歩いて|ついて)(くる|きて|来る|来て)",
    # A cry for help, a crisis.
    r"助けて",
    r"たすけて",
    r"もう限界",
    r"もうげんかい",
    r"死にたい",
    r"しにたい",
    r"消えたい",
    r"自殺",
    # English.
    r"\bkill (you|me|her|him|them|us)\b",
    r"\b(going|gonna) to kill\b",
    r"\bthreat(ened|ening)? to kill\b",
    r"\bstab\b",
    r"\bknife\b",
    r"\bgun\b",
    r"\bfollow(ed|ing|s)? me (home|to (my|the) (car|station|house|bus))\b",
    r"\bhelp me\s*[!.]*$",
    r"^help\s*[!.]+$",
    r"\bplease help\b",
    r"\bi can'?t (take|go on|do this) (it )?any ?more\b",
    r"\b(want|wanna) to die\b",
    r"\bsuicid",
]
_DANGER = re.compile("|".join(f"(?:{p})" for p in _PHRASES))


def mentions_danger(cleaned: str) -> bool:
    """Whether ``cleaned`` (see ``features.clean``) contains an explicit danger phrase."""
    return _DANGER.search(cleaned) is not None or _DANGER.search(kana_folded(cleaned)) is not None
