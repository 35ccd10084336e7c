"""Japanese UI strings (the default language)."""

STRINGS: dict[str, str] = {
    "app.name": "Mamoru（守る）",
    "legal.reminder": "法的な判断は、必ず法務担当（法規係・顧問弁護士）に確認してください。",
    "guidance.now": "いま、すること",
    "guidance.key_points": "ポイント",
    "guidance.do": "すること",
    "guidance.dont": "しないこと",
    "guidance.legal": "法的根拠",
    "guidance.mistakes": "よくある失敗",
    "guidance.reviewed_on": "確認日 {date}",
    "guidance.source": "出典",
    "guidance.do_dont": "すること・しないこと",
    "guidance.statute": "条文を読む",
    "action.scripts": "モデル回答を見る",
    "action.report": "インシデントを報告",
    "action.manager": "上司に相談する",
    "action.menu": "メニュー",
    "action.open": "開く",
    "scripts.title": "モデル回答・応対スクリプト",
    "scripts.why": "なぜこの言い方か",
    "scripts.channel.mail": "メール",
    "scripts.channel.phone": "電話",
    "scripts.channel.counter": "窓口",
    "scripts.channel.sns": "SNS",
    "speaker.customer": "相手",
    "speaker.staff": "職員（組織として）",
    "speaker.staff_bad": "職員（個人の判断で）",
    "speaker.narration": "",
    "mistake.why": "なぜまずいか",
    "menu.title": "どのような状況ですか？",
    "menu.intro": "近いものを選んでください。すぐに、すること・しないことをお伝えします。",
    "menu.ask_title": "どれに近いですか？",
    "menu.unsure": "近いものを選んでください。すぐに、いますることをお伝えします。",
    "menu.empty": "メッセージを読み取れませんでした。近いものを選ぶか、何があったかを一言で書いてください。",
    "menu.elsewhere": "どれにも当てはまらないとき：上司や同僚からのハラスメントは、人事担当のハラスメント相談窓口が受け付けます。眠れない・つらい状態が続くときは、産業医や保健師に相談できます。",
    "menu.alert_hint": "身の危険を感じているときは、選ばずにこちらを押してください。",
    "menu.out_of_scope": "Mamoru は、お客様からの嫌がらせ（カスハラ）を受けたときの対応をご案内します。困ったときは、状況をそのまま書いてください。",
    "urgent.alert": "上司にすぐ知らせる",
    "urgent.where": "いまどこにいますか？（任意）",
    "urgent.where_placeholder": "例: 1階窓口の奥、通用口の内側",
    "urgent.call_110": "危険を感じたら、ためらわず110番してください。上司の許可は要りません。",
    "urgent.after": "落ち着いたら（ケア・産業医）",
    "urgent.after_body": "落ち着いてからで構いません。上司との面談、産業医・相談窓口をご案内します。眠れない、思い出してつらいといったことが続くときは、早めに使ってください。記録や報告は組織が引き受けます。",
    "urgent.sent_title": "上司に知らせました",
    "urgent.sent_body": "管理職のチャンネルと、上司{count}人に直接知らせました（案件 {id}）。上司が向かうまで、近くの同僚と一緒にいてください。",
    "urgent.sent_no_managers": "管理職のチャンネルに知らせました（案件 {id}）。近くの同僚と一緒にいて、上司にも直接声をかけてください。",
    "urgent.not_sent": "管理職のチャンネルが設定されていないため、Teams では届けられませんでした（案件 {id} は記録しました）。すぐに近くの上司・同僚に直接声をかけ、危険なら110番してください。",
    "urgent.thread_title": "緊急: 職員が身の危険を感じています",
    "urgent.thread_body": "{name} さんが「上司にすぐ知らせる」を押しました。すぐに本人のもとへ向かうか、連絡を取ってください。",
    "urgent.thread_where": "いる場所: {where}",
    "urgent.thread_where_unknown": "いる場所: （書かれていません。本人に確認してください）",
    "urgent.thread_when": "時刻: {at}\u3000案件: {id}",
    "urgent.thread_steps": "1. 本人の安全を確保する（一人にしない、相手から離す）\r2. 危険があれば110番、庁舎管理（警備）に連絡\r3. 落ち着いたら事実を記録し、産業医・相談窓口を案内する",
    "urgent.dm_body": "緊急: {name} さんが身の危険を感じて上司に知らせています。{where} すぐに本人のもとへ向かうか、連絡を取ってください（案件 {id}）。",
    "welcome.title": "Mamoru（守る）へようこそ",
    "welcome.body": (
        "お客様からの嫌がらせ（カスハラ）を受けたとき、ひとりで抱え込まないでください。"
        "状況をそのまま書いてください（例:「Xで実名を出されて悪口を書かれています」）。"
        "すること・しないこと、組織としての返答例、法的根拠をすぐにお伝えし、"
        "インシデントとして報告すれば上司が対応を引き継ぎます。"
    ),
    "welcome.privacy": "あなたが書いた内容はログに残しません。記録は案件の関係者だけが見られます。",
    "help.commands": (
        "使えるコマンド: 「メニュー」「ヘルプ」「報告」「自分の案件」（上司は「案件一覧」）、"
        "または状況をそのまま書いてください。"
    ),
    "manager.title": "上司に相談する",
    "manager.body": (
        "ひとりで対応しないでください。インシデントとして報告すると、"
        "上司のチャンネルに案件が届き、対応（メールの証拠保全、回答打ち切りの通知、"
        "安全確保など）を組織として決めます。急ぎの危険があるときは、"
        "まず直接上司に声をかけ、身の危険があれば110番してください。"
    ),
    "report.unavailable": (
        "報告の受付はまだ準備中です。いまは直接上司に報告し、"
        "受け取ったメールや投稿の画面は削除せずに保存してください。"
    ),
    "error.title": "うまく処理できませんでした",
    "error.body": (
        "もう一度お試しください。繰り返す場合は、参照番号を添えて"
        "情報システム担当に連絡してください。"
    ),
    "error.reference": "参照番号: {reference}",
    "unknown_action.title": "このボタンは使えなくなりました",
    "unknown_action.body": "カードが古い可能性があります。メニューからやり直してください。",
    "private.sent": "続きはあなたの個人チャット（Mamoru とのチャット）に送りました。ここにいる他の人には見えません。",
    "private.unreachable": (
        "続きはここには表示しません（他の人にも見えるため）。Teams で Mamoru との個人チャットを開いて"
        "一度話しかけ（例:「ヘルプ」）、そこでもう一度相談してください。"
    ),
    "unsupported.body": "この種類のメッセージには対応していません。文章で状況を書いてください。",
    "report.title": "インシデントを報告",
    "report.intro": "わかる範囲で構いません。報告は上司と法務担当に届き、組織として対応します。",
    "report.type": "種類",
    "report.type.required": "種類を選んでください。",
    "report.what": "何があったか",
    "report.what.placeholder": "いつ、誰から、何をされたか。受け取ったメールや投稿は削除せずに残してください。",
    "report.what.required": "何があったかを書いてください。",
    "report.counterpart": "相手のアドレス・URL・アカウント",
    "report.started": "始まった日",
    "report.threat": "身体への危険をほのめかされている（待ち伏せ・脅し等）",
    "report.privacy": "🔒 この内容は案件の関係者（あなた、上司、法務担当）だけが見られます。",
    "report.submit": "報告する",
    "incident.id": "案件番号",
    "incident.state": "状況",
    "incident.reported_at": "報告日時",
    "incident.reported": "報告を受け付けました（{id}）",
    "incident.threat": "身体への危険あり：上司に優先して知らせます。身の危険を感じたらすぐ110番してください。",
    "incident.next": "上司が対応を決めます。あなたが相手に個人で返信する必要はありません。進み具合はここでお知らせします。",
    "incident.unknown": "この案件は見つからないか、見る権限がありません。",
    "action.my_incidents": "自分の案件",
    "state.reported": "報告済み",
    "state.escalated": "上司が確認中",
    "state.actions_approved": "対応を承認済み",
    "state.in_progress": "対応中",
    "state.monitoring": "経過観察",
    "state.closed": "完了",
    "state.rejected": "対応不要と判断",
    "state.reopened": "再開",
    "esc.title": "カスハラ案件 {id}",
    "esc.reporter": "報告者",
    "esc.counterpart": "相手",
    "esc.reported_at": "報告日時",
    "esc.proposals": "提案する対応",
    "esc.select": "承認する対応にチェックを入れてください。文面は送信前に編集できます。",
    "esc.draft": "文面（部署のメールアドレスから一度だけ送信）",
    "esc.comment": "コメント（任意・記録に残ります）",
    "esc.approve": "承認して実行",
    "esc.reject": "対応不要として却下",
    "esc.waiting": "上司の判断を待っています。",
    "esc.own_case": "あなたが報告者または対象者のため、この案件は別の上司が判断します。",
    "esc.not_manager": "判断できるのは部署の上司だけです。",
    "esc.already": "この案件はすでに判断済みです（最新の状態を表示しています）。",
    "esc.nothing_selected": "承認する対応を一つ以上選んでください。",
    "esc.approved_by": "✅ {name} が承認（{at}）",
    "esc.rejected_by": "⛔ {name} が却下（{at}）",
    "esc.comment_line": "コメント: {comment}",
    "esc.progress": "進捗",
    "esc.job.waiting": "待機中: {reason}（次回 {at}）",
    "job.wait.permission-propagation": "権限の反映待ち",
    "job.wait.graph-throttled": "メールサーバーの混雑",
    "job.wait.graph-unavailable": "メールサーバーの一時停止",
    "job.wait.database": "データベースの再接続待ち",
    "job.wait.network": "ネットワークの回復待ち",
    "esc.resume": "再開: {name}",
    "esc.resumed": "再開しました。中断したところから続けます。",
    "esc.not_resumable": "この処理は再開できる状態ではありません（実行中か完了済み）。",
    "esc.archived": "{done:,} / {total:,} 通を証拠フォルダへ保全",
    "esc.reminder": "⏰ {id} は {hours} 時間以上、判断待ちです。",
    "esc.setup.done": "このチャンネルを「{department}」の上司チャンネルとして登録しました。新しい案件はここにスレッドで届きます。",
    "esc.setup.refused": "setup を実行できるのは上司として登録された人だけです。情報システム担当に依頼してください。",
    "esc.setup.personal": "setup は上司のチームのチャンネルで実行してください（個人チャットでは登録できません）。",
    "esc.sent_to_managers": "上司のチャンネルに案件を送りました。判断が出たらお知らせします。",
    "action.kind.mail-protection": "証拠保全ルールと既存メールの保全",
    "action.kind.mail-protection.why": "相手のメールを削除せず専用フォルダへ自動で移し、既に届いた分も保全します。職員の目に触れず、証拠は完全に残ります（迷惑メールフォルダは自動削除されるため使いません）。",
    "action.rule.address": "対象：差出人アドレスが {address} と完全に一致するメール（既読にします）",
    "action.rule.domain": "対象：差出人のドメインがちょうど {domain} のメールだけ（{longer} などの別ドメインやサブドメインは対象外）。既読にはしません",
    "action.rule.none": "対象：相手のメールアドレスまたはドメインが未登録のため、ルールは作られません",
    "action.kind.cutoff-declaration": "回答打ち切りの通知（一度だけ）",
    "action.kind.cutoff-declaration.why": "回答は尽きていることを組織として一度だけ明確に伝えます。以後の無回答の正当性を支えます。",
    "action.kind.it-domain-filter": "情報システム担当へドメイン単位の受信制限を依頼",
    "action.kind.it-domain-filter.why": "メールボムなどサーバーに負荷がかかる量のとき、受信数を添えて依頼します。",
    "action.kind.police-consultation": "警察への相談（証拠一式を持参）",
    "action.kind.police-consultation.why": "業務妨害・脅迫・名誉毀損に当たり得るとき、証拠一式（ハッシュ付き）を持って所轄署に相談します。",
    "action.kind.refusal-reply": "課からの断りの返信（一度だけ）",
    "action.kind.refusal-reply.why": "職員個人ではなく課が、業務外の求めにははっきり応じないと伝えます。",
    "action.kind.final-warning": "上司名での最終警告",
    "action.kind.final-warning.why": "断っても続く場合、カスタマー・ハラスメントに当たり得ること、続けば法的措置を検討することを管理職名で伝えます。",
    "action.kind.safety-measures": "安全確保（窓口業務から一時的に外す・帰宅時の安全・名札を姓のみに）",
    "action.kind.safety-measures.why": "待ち伏せやつきまといの恐れがあるとき、まず職員の安全を確保します。",
    "action.kind.care-followup": "ケア（上司との1対1面談、産業医・カウンセラーへの紹介）",
    "action.kind.care-followup.why": "ネット上の中傷は24時間目に入ります。定期的な面談と専門家のケアを用意します。",
    "action.kind.platform-report": "プラットフォームへの削除申請（公式窓口から組織として）",
    "action.kind.platform-report.why": "投稿が消される前に保全したうえで、規約違反として公式窓口から申請します。",
    "action.kind.legal-consultation": "法務担当・弁護士への相談（発信者情報開示）",
    "action.kind.legal-consultation.why": "アクセスログの保存期間は3〜6か月程度のことが多く、早めの着手が必要です。",
    "esc.follow_up": "📋 {id} のフォローアップ: {text}",
    "export.button": "証拠一式を出力",
    "export.queued": "証拠一式（報告書・CSV・元のメール・ハッシュ）を作成しています。完了したら、あなたの個人チャットにダウンロード用のボタンを送ります（リンクは10分有効・1回限り）。",
}

# SNS cases (issue 6): kept in their own module, merged here.
from cards.i18n.sns_strings import JA as _SNS  # noqa: E402

STRINGS |= _SNS

# Case work (issue 13: tasks, case list and detail, unsent cases, exports).
from cards.i18n.case_strings import JA as _CASES  # noqa: E402

STRINGS |= _CASES

# Flood watch, linked cases, figures (issue 15): their own module, merged here.
from cards.i18n.flood_strings import JA as _FLOOD  # noqa: E402
from cards.i18n.org_strings import JA as _ORG  # noqa: E402

STRINGS |= _FLOOD
STRINGS |= _ORG
# The decision flow (issue 13): one status vocabulary, proposals' reasons, previews, notices.
from cards.i18n.decision_strings import JA as _DECISION  # noqa: E402

STRINGS |= _DECISION
