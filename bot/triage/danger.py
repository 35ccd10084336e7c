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
    r"燃やして(やる|やろう)",
    r"(灯油|とうゆ|ガソリン|がそりん)を?(撒|ま[いくか]|かけ(る|て|られ))",
    r"火をつけ(る|てやる)",
    r"爆破",
    r"(殴|なぐ)られ(た|そう|ました)",
    r"殴るぞ",
    r"殴ってやる",
    # Physical assault under way (grabbed, shoved, lunged at).
    r"(殴|なぐ)りかか",
    r"(掴|つか)みかか",
    r"(胸ぐら|胸倉|むなぐら)",
    r"(腕|手首|襟|えり)を(掴|つか)(ま|ん)",
    r"突き飛ばさ",
    r"(消え|きえ)てしまいたい",
    r"(ただ|只)(じゃ|では)(おかない|済まさない|すまさない)",
    r"夜道に(気|き)をつけ(ろ|な(?!さい)|とけ)",
    # "I know where you live / your child's school": a threat against the person or family.
    r"(家|いえ|住所|自宅|学校|子ども|子供|こども|娘|息子|家族).{0,8}(知って|しって)(る|い)(ぞ|からな|んだぞ)",
    r"\bi know where you (live|park|go home)\b",
    # Weapons.
    r"(刃物|包丁|ないふ|ナイフ|カッター|かったー)を(持って|出し|見せ|ちらつか|振り|向け|突きつけ)",
    r"(包丁|ないふ)(持って|を手に)",
    # A weapon or a heavy object brandished (ハサミを取り出して振り回して).
    r"(はさみ|鋏|刃物|包丁|ないふ|かったー|椅子|いす|傘|かさ|棒|ばっと|鉄ぱいぷ)を?.{0,8}"
    r"((振り回|ふりまわ)(?!さ)|振りかざ|振り上げ)",  # not 振り回される (being messed around)
    r"拳銃",
    # Being followed or waited for (the bare つけられ also means 名前をつけられ: too broad).
    r"待ち伏せ",
    r"待ちぶせ",
    r"まちぶせ",
    r"(後|あと)を(つけ|付け)(られ|てく|て来)",
    r"(後ろ|うしろ)を?(ずっと)?(歩いて|ついて)(くる|きて|来る|来て)",
    # Someone breaking in; staff hiding.
    r"侵入(して|された|者)",
    r"(倉庫|部屋|トイレ|更衣室|会議室|書庫|給湯室)に(隠|かく)れて",
    r"\b(we'?re|i'?m|we are|i am) hiding\b",
    r"\ban intruder\b(?! (alarm|drill))",
    r"\b(someone|somebody|he|she|they|a man|a woman) (has )?"
    r"(broke|broken|forced (his|her|their) way) in",
    # A cry for help, a crisis.
    r"助けて",
    r"たすけて",
    r"もう限界",
    r"もうげんかい",
    r"死にたい",
    r"しにたい",
    r"消えたい",
    r"自殺",
    r"いなくなりたい",
    r"生きて(いる|る)?の(が|も)(しんどい|つらい|辛い)",
    r"^限界です",
    # English.
    r"\bkill (you|me|her|him|them|us)\b",
    r"\b(going|gonna) to kill\b",
    r"\bthreat(ened|ening)? to kill\b",
    r"\bstab\b",
    r"\bknife\b",
    r"\bbox ?cutter\b",
    r"\bpunch(ed|ing)? (me|my|him|her|them|us|the|a)\b",
    r"\b(grabbed|grabbing) (me|my (arm|wrist|collar|hair))\b",
    r"\bshoved (me|my|him|her)\b",
    r"\b(being |been )?grabbed by\b",
    r"\bswing(ing|s)? (a|the) (chair|bat|stick|pipe)\b",
    r"\bburn (down )?(the|my|your|our|this) (office|house|home|building)\b",
    r"\bburn (it|the office|the building) down\b",
    r"\bgun\b",
    r"\bfollow(ed|ing|s)? me (home|to (my|the) (car|station|house|bus))\b",
    r"\bhelp me\s*[!.]*$",
    r"^help\s*[!.]+$",
    r"\bplease help\b",
    r"\bi can'?t (take|go on|do this) (it )?any ?more\b",
    r"\b(want|wanna) to die\b",
    r"\b(don'?t|do not|can'?t|cannot) see (the|any) point "
    r"(of|in) (anything|living|going on|life)\b",
    r"\bno (point|reason) (in |to )?(living|going on|be alive)\b",
    r"\bsuicid",
    # Emoji that stand for a weapon or a cry for help: 「😡🔪」 alone is someone in danger,
    # not an unreadable message. Matched as code points, so the emoji variation selector
    # (U+FE0F) after them changes nothing; NFKC leaves them as they are. An innocent 🔪
    # (「料理教室の🔪」) gets the safety card too: a glance wasted, never a threat missed.
    # Not here: 💣 (メール爆弾, a mail flood), 🚨 (「🚨重要」 notices), 🔥 (炎上, SNS).
    "\U0001f52a",  # 🔪 hocho (kitchen knife)
    "\U0001f5e1",  # 🗡 dagger
    "\U0001f52b",  # 🔫 pistol (drawn as a water pistol on some platforms, still a threat)
    "\U0001f198",  # 🆘 squared SOS
]
_DANGER = re.compile("|".join(f"(?:{p})" for p in _PHRASES))


def mentions_danger(cleaned: str, folded: str | None = None) -> bool:
    """Whether ``cleaned`` (see ``features.clean``) contains an explicit danger phrase.

    ``folded``: its ``kana_folded`` form, when the caller has it already.
    """
    if _DANGER.search(cleaned) is not None:
        return True
    folded = kana_folded(cleaned) if folded is None else folded
    # Text without katakana folds to itself (all English does): nothing more to search.
    return folded != cleaned and _DANGER.search(folded) is not None
