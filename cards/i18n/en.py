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
    "guidance.confidence": "How sure Mamoru is this guidance fits: {percent}%",
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
    "speaker.narration": "",
    "mistake.why": "Why it hurts",
    "menu.title": "What is happening?",
    "menu.intro": "Pick the closest situation: Mamoru tells you what to do and what not to do.",
    "menu.unsure": "Mamoru could not tell which situation this is. Please pick the closest one.",
    "menu.out_of_scope": (
        "Mamoru helps staff facing customer harassment (defamation on social media, "
        "floods of email, personal fixation). It can't answer this question, but if "
        "you are being harassed, pick a situation below."
    ),
    "menu.empty": "Your message was empty. Describe what happened, or pick a situation below.",
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
        'Commands: "menu", "help", "report", "my incidents", or just describe what is happening.'
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
    "incident.mine": "My incidents",
    "incident.none": "You have not reported any incident yet.",
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
}
