"""English UI strings."""

STRINGS: dict[str, str] = {
    "app.name": "Mamoru",
    "legal.reminder": "Always confirm legal points with your legal section or the office's lawyer.",
    "guidance.now": "What to do now",
    "guidance.key_points": "Key points",
    "guidance.do": "Do",
    "guidance.dont": "Don't",
    "guidance.legal": "Legal basis",
    "guidance.mistakes": "Common mistakes",
    "guidance.reviewed_on": "Reviewed on {date}",
    "guidance.source": "Source",
    "guidance.do_dont": "Do and don't",
    "guidance.statute": "Read the statute",
    "action.scripts": "Show model replies",
    "action.report": "Report an incident",
    "action.manager": "Talk to my manager",
    "action.menu": "Menu",
    "action.open": "Open",
    "scripts.title": "Model replies and scripts",
    "scripts.why": "Why this wording",
    "scripts.channel.mail": "Email",
    "scripts.channel.phone": "Phone",
    "scripts.channel.counter": "Counter",
    "scripts.channel.sns": "Social media",
    "speaker.customer": "Customer",
    "speaker.staff": "Staff (for the organisation)",
    "speaker.staff_bad": "Staff member (acting alone)",
    "speaker.narration": "",
    "mistake.why": "Why it hurts",
    "menu.title": "What is happening?",
    "menu.intro": "Pick the closest situation: Mamoru tells you what to do and what not to do.",
    "menu.ask_title": "Which is closest?",
    "menu.unsure": "Pick the closest situation and Mamoru tells you what to do now.",
    "menu.empty": "Mamoru could not read that message. Pick the closest situation, or say in a few words what happened.",
    "menu.elsewhere": "None of these? Harassment by a supervisor or colleague goes to HR's harassment consultation desk. If you cannot sleep or feel low for days, the occupational physician or health nurse can help.",
    "menu.alert_hint": "If you feel in danger, do not choose: press this.",
    "menu.out_of_scope": "Mamoru helps staff when a customer or resident harasses them. If that is happening, just describe it in your own words.",
    "urgent.alert": "Alert my managers now",
    "urgent.where": "Where are you now? (optional)",
    "urgent.where_placeholder": "e.g. behind the ground-floor counter, inside the staff exit",
    "urgent.call_110": "If you are in danger, call 110 straight away. You do not need anyone's permission.",
    "urgent.after": "Later: care and the occupational physician",
    "urgent.after_body": "Only once you are safe: your manager will meet you and offer the occupational physician and counselling. If you cannot sleep or keep reliving it, use them early. The organisation takes care of the records and reports.",
    "urgent.sent_title": "Your managers have been alerted",
    "urgent.sent_body": "The managers' channel and {count} manager(s) have been alerted directly (case {id}). Stay with a colleague until a manager reaches you.",
    "urgent.sent_no_managers": "The managers' channel has been alerted (case {id}). Stay with a colleague and tell a manager in person too.",
    "urgent.not_sent": "No managers' channel is set up, so Teams could not alert anyone (case {id} is recorded). Tell the nearest manager or colleague in person now, and call 110 if you are in danger.",
    "urgent.thread_title": "URGENT: a member of staff may be in danger",
    "urgent.thread_body": '{name} pressed "Alert my managers now". Go to them or contact them straight away.',
    "urgent.thread_where": "Where: {where}",
    "urgent.thread_where_unknown": "Where: (not given; ask them)",
    "urgent.thread_when": "Time: {at}   Case: {id}",
    "urgent.thread_steps": "1. Make them safe (not alone, away from the person)\r2. Call 110 if there is danger; tell building security\r3. Later, record the facts and offer the occupational physician and counselling",
    "urgent.dm_body": "URGENT: {name} may be in danger and is alerting the managers. {where} Go to them or contact them straight away (case {id}).",
    "welcome.title": "Welcome to Mamoru",
    "welcome.body": (
        "If a customer harasses you, you don't have to handle it alone. Describe what "
        'is happening (e.g. "Someone named me on X and insults me"). Mamoru tells you '
        "at once what to do and not to do, how the organisation replies and the legal "
        "basis; report it as an incident and your manager takes it from there."
    ),
    "welcome.privacy": (
        "What you write is never logged. Case records are visible only to the people on the case."
    ),
    "help.commands": (
        'Commands: "menu", "help", "report", "my cases" (managers: "cases"), '
        "or just describe what is happening."
    ),
    "manager.title": "Talk to my manager",
    "manager.body": (
        "Don't handle this alone. When you report it as an incident, the case goes to your "
        "managers' channel and the organisation decides the actions (preserving mail as "
        "evidence, a cut-off notice, your safety). If you are in danger now, speak to your "
        "manager directly, and call 110 if you are physically threatened."
    ),
    "report.unavailable": (
        "Incident reporting is not available yet. Tell your manager directly for now, "
        "and keep (never delete) the mails and screenshots of the posts."
    ),
    "error.title": "Something went wrong",
    "error.body": (
        "Please try again. If it keeps happening, contact IT with the reference number."
    ),
    "error.reference": "Reference: {reference}",
    "unknown_action.title": "This button no longer works",
    "unknown_action.body": "The card may be out of date. Please start again from the menu.",
    "private.sent": "The next step is in your personal chat with Mamoru; nobody else here can see it.",
    "private.unreachable": (
        "The next step is not shown here, where others could see it. Open a personal chat with"
        ' Mamoru in Teams, write once (e.g. "help") and ask again there.'
    ),
    "unsupported.body": "Mamoru can't handle this kind of message. Please describe it in words.",
    "report.title": "Report an incident",
    "report.intro": "Fill in what you know. The report reaches your manager and the legal section.",
    "report.type": "Type",
    "report.type.required": "Choose a type.",
    "report.what": "What happened",
    "report.what.placeholder": "When, from whom, what. Keep (never delete) the mails and posts.",
    "report.what.required": "Describe what happened.",
    "report.counterpart": "Their address, URL or account",
    "report.started": "When it started",
    "report.threat": "There is a threat of physical harm (waiting outside, threats...)",
    "report.privacy": "🔒 Only the people on the case (you, your managers, legal) can see this.",
    "report.submit": "Report",
    "incident.id": "Case",
    "incident.state": "State",
    "incident.reported_at": "Reported",
    "incident.reported": "Report received ({id})",
    "incident.threat": "Threat of physical harm: your manager is alerted first. If you are in danger, call 110 now.",
    "incident.next": "Your manager decides the actions. You don't need to answer the sender yourself. Updates arrive here.",
    "incident.unknown": "This case does not exist or you may not see it.",
    "action.my_incidents": "My incidents",
    "state.reported": "Reported",
    "state.escalated": "With your manager",
    "state.actions_approved": "Actions approved",
    "state.in_progress": "In progress",
    "state.monitoring": "Monitoring",
    "state.closed": "Closed",
    "state.rejected": "No action needed",
    "state.reopened": "Reopened",
    "esc.title": "Harassment case {id}",
    "esc.reporter": "Reported by",
    "esc.counterpart": "Counterpart",
    "esc.reported_at": "Reported",
    "esc.proposals": "Proposed actions",
    "esc.select": "Tick the actions you approve. Mail texts can be edited before they are sent.",
    "esc.draft": "Text (sent once from the department mailbox)",
    "esc.comment": "Comment (optional, kept on the record)",
    "esc.approve": "Approve and run",
    "esc.reject": "Reject: no action needed",
    "esc.waiting": "Waiting for a manager's decision.",
    "esc.own_case": "You reported this case or are its target, so another manager decides.",
    "esc.not_manager": "Only the department's managers can decide.",
    "esc.already": "This case has already been decided (showing its current state).",
    "esc.nothing_selected": "Select at least one action to approve.",
    "esc.approved_by": "✅ Approved by {name} ({at})",
    "esc.rejected_by": "⛔ Rejected by {name} ({at})",
    "esc.comment_line": "Comment: {comment}",
    "esc.progress": "Progress",
    "esc.job.waiting": "waiting: {reason}, next try at {at}",
    "job.wait.permission-propagation": "the mailbox permission is still being applied",
    "job.wait.graph-throttled": "the mail service is busy",
    "job.wait.graph-unavailable": "the mail service is briefly unavailable",
    "job.wait.database": "reconnecting to the database",
    "job.wait.network": "the network to come back",
    "esc.resume": "Resume: {name}",
    "esc.resumed": "Resumed. It continues where it stopped.",
    "esc.not_resumable": "This action cannot be resumed now (it is running or done).",
    "esc.archived": "{done:,} / {total:,} mails preserved in the evidence folder",
    "esc.reminder": "⏰ {id} has waited over {hours} hours for a decision.",
    "esc.setup.done": 'This channel is now the managers\' channel of "{department}". New cases arrive here as threads.',
    "esc.setup.refused": "Only people registered as managers can run setup. Ask IT to add you.",
    "esc.setup.personal": "Run setup in a channel of the managers' team, not in a personal chat.",
    "esc.sent_to_managers": "The case was sent to your managers' channel. You will be told when they decide.",
    "action.kind.mail-protection": "Evidence rule and archive of existing mail",
    "action.kind.mail-protection.why": "Moves the sender's mail, past and future, into an evidence folder without deleting anything: out of the staff member's sight, fully preserved (Junk is not used: it is purged).",
    "action.rule.address": "Applies to: mail whose sender address is exactly {address} (marked read)",
    "action.rule.domain": "Applies to: mail whose sender's domain is exactly {domain} only (not other domains such as {longer}, nor subdomains). Left unread",
    "action.rule.none": "Applies to: nobody yet: no sender address or domain is recorded, so no rule is created",
    "action.kind.cutoff-declaration": "One-time cut-off notice",
    "action.kind.cutoff-declaration.why": "The organisation says once and clearly that everything has been answered; this justifies not answering afterwards.",
    "action.kind.it-domain-filter": "Ask IT to filter the whole domain",
    "action.kind.it-domain-filter.why": "For mail bombs that load the server; the request carries the volume figures.",
    "action.kind.police-consultation": "Consult the police (with the evidence bundle)",
    "action.kind.police-consultation.why": "When it may be obstruction of business, threats or defamation, take the hashed evidence bundle to the local police station.",
    "action.kind.refusal-reply": "The section's refusal reply (once)",
    "action.kind.refusal-reply.why": "The section, not the officer, says clearly that requests outside work are refused.",
    "action.kind.final-warning": "Final warning in the manager's name",
    "action.kind.final-warning.why": "If it continues after the refusal: it may be customer harassment, and legal steps will be considered.",
    "action.kind.safety-measures": "Safety (off counter duty for now, safe commute, surname-only name tag)",
    "action.kind.safety-measures.why": "When there is a risk of being waited for or followed, the staff member's safety comes first.",
    "action.kind.care-followup": "Care (1:1 follow-ups, occupational physician or counsellor)",
    "action.kind.care-followup.why": "Online abuse is visible around the clock; regular check-ins and professional care help.",
    "action.kind.platform-report": "Report to the platform (official channel, by the organisation)",
    "action.kind.platform-report.why": "After preserving the posts, report them as terms-of-service violations through the official form.",
    "action.kind.legal-consultation": "Legal section / lawyer (sender-information disclosure)",
    "action.kind.legal-consultation.why": "Access logs are often kept only 3-6 months: start early.",
    "esc.follow_up": "📋 Follow-up for {id}: {text}",
    "export.button": "Export evidence",
    "export.queued": "The evidence bundle (report, CSV, original mails, hashes) is being prepared. A download button will arrive in your personal chat (the link works once, for 10 minutes).",
}

# SNS cases (issue 6): kept in their own module, merged here.
from cards.i18n.sns_strings import EN as _SNS  # noqa: E402

STRINGS |= _SNS

# Case work (issue 13: tasks, case list and detail, unsent cases, exports).
from cards.i18n.case_strings import EN as _CASES  # noqa: E402

STRINGS |= _CASES

# Flood watch, linked cases, figures (issue 15): their own module, merged here.
from cards.i18n.flood_strings import EN as _FLOOD  # noqa: E402
from cards.i18n.org_strings import EN as _ORG  # noqa: E402

STRINGS |= _FLOOD
STRINGS |= _ORG
# The decision flow (issue 13): one status vocabulary, proposals' reasons, previews, notices.
from cards.i18n.decision_strings import EN as _DECISION  # noqa: E402

STRINGS |= _DECISION
