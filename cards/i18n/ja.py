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
    "guidance.confidence": "この案内を選んだ確からしさ: {percent}%",
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
    "speaker.narration": "",
    "mistake.why": "なぜまずいか",
    "menu.title": "どのような状況ですか？",
    "menu.intro": "近いものを選んでください。すぐに、すること・しないことをお伝えします。",
    "menu.unsure": "ご相談の内容を一つに絞り切れませんでした。近いものを選んでください。",
    "menu.out_of_scope": (
        "Mamoru はカスタマーハラスメント（SNSでの誹謗中傷、大量メール、つきまとい等）の"
        "初動を支援するボットです。このご質問にはお答えできませんが、"
        "被害に遭っているときは下から選んでください。"
    ),
    "menu.empty": "メッセージが空でした。状況を一言で書くか、下から選んでください。",
    "welcome.title": "Mamoru（守る）へようこそ",
    "welcome.body": (
        "お客様からの嫌がらせ（カスハラ）を受けたとき、ひとりで抱え込まないでください。"
        "状況をそのまま書いてください（例:「Xで実名を出されて悪口を書かれています」）。"
        "すること・しないこと、組織としての返答例、法的根拠をすぐにお伝えし、"
        "インシデントとして報告すれば上司が対応を引き継ぎます。"
    ),
    "welcome.privacy": "あなたが書いた内容はログに残しません。記録は案件の関係者だけが見られます。",
    "help.commands": (
        "使えるコマンド: 「メニュー」「ヘルプ」「報告」「自分の案件」、"
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
    "incident.mine": "自分の案件",
    "incident.none": "報告した案件はまだありません。",
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
}
