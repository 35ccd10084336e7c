"""Platform reports: per platform, the steps and the official report / deletion-request links.

Content as data, in Japanese and English. The links point at each platform's public
help pages as of 2026; platforms move their forms, so each guide also says where to
look if a link has changed. Under 情報流通プラットフォーム対処法 (in force 2025-04-01,
formerly プロバイダ責任制限法) the platforms designated as large must publish a channel
for deletion requests and answer within a set period: use that channel first.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.domain.playbooks import Text
from bot.domain.sns import Platform

LAW_NOTE = Text(
    ja=(
        "情報流通プラットフォーム対処法（2025年4月1日施行、旧プロバイダ責任制限法）により、"
        "総務大臣が指定する大規模プラットフォーム事業者は、削除申出の窓口・手続を公表し、"
        "申出に一定期間内に応答する義務があります。指定事業者では、その公表された削除申出窓口を"
        "最初に使ってください。"
    ),
    en=(
        "Under the Information Distribution Platform Act (in force 2025-04-01, formerly the "
        "Provider Liability Limitation Act), platforms designated as large must publish a "
        "channel and procedure for deletion requests and answer requests within a set period. "
        "On a designated platform, use its published deletion-request channel first."
    ),
)
BEFORE = Text(
    ja="通報・削除依頼の前に、投稿をMamoruで保全してください（消されると証拠がなくなります）。",
    en="Preserve the post with Mamoru before reporting it: once deleted, the evidence is gone.",
)
MOVED = Text(
    ja="リンクが変わっている場合は、各サービスのヘルプセンターで「報告」「削除の申出」を探してください。",
    en=(
        "If a link has moved, look for 'report' or 'deletion"
        " request' in the platform's help centre."
    ),
)


@dataclass(frozen=True, slots=True)
class Link:
    """An official page: what it is and its address."""

    title: Text
    url: str


@dataclass(frozen=True, slots=True)
class PlatformGuide:
    """How the organisation reports a post on one platform."""

    platform: Platform
    steps: tuple[Text, ...]
    links: tuple[Link, ...]


GUIDES: dict[Platform, PlatformGuide] = {
    Platform.X: PlatformGuide(
        Platform.X,
        steps=(
            Text(
                ja="組織のアカウントでログインし、投稿の「…」メニューから「ポストを報告」を選びます。",
                en=(
                    "Signed in with the organisation's account, choose"
                    " 'Report post' in the post's … menu."
                ),
            ),
            Text(
                ja="「嫌がらせ」「個人情報の公開」など当てはまる違反を選び、保全したURLを添えます。",
                en=(
                    "Choose the breach (harassment, private"
                    " information) and give the preserved URL."
                ),
            ),
            Text(
                ja="個人情報・写真の無断掲載は、ヘルプセンターの専用フォームからも申請できます。",
                en=(
                    "Private information or photos posted without"
                    " consent have their own help-centre form."
                ),
            ),
        ),
        links=(
            Link(
                Text(ja="違反の報告方法", en="How to report violations"),
                "https://help.x.com/ja/rules-and-policies/x-report-violation",
            ),
            Link(
                Text(ja="ヘルプセンターのフォーム", en="Help centre forms"),
                "https://help.x.com/ja/forms",
            ),
        ),
    ),
    Platform.FACEBOOK: PlatformGuide(
        Platform.FACEBOOK,
        steps=(
            Text(
                ja="投稿の「…」から「投稿を報告」（またはプロフィールの「サポートを受けるまたは報告する」）を選びます。",
                en=(
                    "Use 'Report post' in the post's … menu (or 'Find"
                    " support or report' on a profile)."
                ),
            ),
            Text(
                ja="嫌がらせ・いじめ、プライバシー侵害など当てはまる理由を選びます。",
                en="Choose the reason: harassment or bullying, privacy violation.",
            ),
        ),
        links=(
            Link(
                Text(ja="報告の方法", en="How to report things"),
                "https://www.facebook.com/help/reportlinks",
            ),
        ),
    ),
    Platform.INSTAGRAM: PlatformGuide(
        Platform.INSTAGRAM,
        steps=(
            Text(
                ja="投稿の「…」から「報告」を選び、「いじめまたは嫌がらせ」等を選びます。",
                en="Use 'Report' in the post's … menu and choose bullying or harassment.",
            ),
            Text(
                ja="アカウント自体の報告は、プロフィールの「…」から行います。",
                en="Report the account itself from the … menu on its profile.",
            ),
        ),
        links=(Link(Text(ja="ヘルプセンター", en="Help centre"), "https://help.instagram.com/"),),
    ),
    Platform.OTHER: PlatformGuide(
        Platform.OTHER,
        steps=(
            Text(
                ja="サイトの利用規約・「お問い合わせ」「削除依頼」の窓口を探し、保全したURLを添えて申し出ます。",
                en=(
                    "Find the site's terms and its contact or"
                    " deletion-request channel; give the preserved URL."
                ),
            ),
            Text(
                ja="窓口が分からない・応じない場合は、次の公的な相談窓口に相談できます。",
                en=(
                    "If there is no channel or no answer, the public"
                    " advice services below can help."
                ),
            ),
        ),
        links=(
            Link(
                Text(
                    ja="違法・有害情報相談センター（総務省）",
                    en="Illegal and Harmful Information Consultation Center (MIC)",
                ),
                "https://ihaho.jp/",
            ),
            Link(
                Text(
                    ja="インターネット人権相談（法務省）",
                    en="Online human-rights consultation (Ministry of Justice)",
                ),
                "https://www.jinken.go.jp/",
            ),
        ),
    ),
}


def guide_for(platform: Platform) -> PlatformGuide:
    """The guide of ``platform`` (the generic one for other sites)."""
    return GUIDES.get(platform, GUIDES[Platform.OTHER])
