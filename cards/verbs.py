"""Every Action.Execute verb Mamoru's cards use, in one enum shared with the bot's routes.

A card may only carry verbs listed here; the bot answers any other verb with a
clear "this button is no longer supported" card instead of an error.
"""

from __future__ import annotations

from enum import StrEnum


class Verb(StrEnum):
    """Verbs of Action.Execute buttons (the ``verb`` field)."""

    SHOW_MENU = "menu.show"
    SHOW_PLAYBOOK = "playbook.show"
    SHOW_SCRIPTS = "playbook.scripts"
    SHOW_SCRIPT = "playbook.script"
    URGENT_ALERT = "urgent.alert"  # 「上司にすぐ知らせる」 (bot/guidance/urgent.py)
    TALK_TO_MANAGER = "manager.talk"
    REPORT_OPEN = "incident.report.open"
    REPORT_SUBMIT = "incident.report.submit"
    MY_INCIDENTS = "incident.mine"
    ESCALATION_REFRESH = "escalation.refresh"
    ESCALATION_APPROVE = "escalation.approve"
    ESCALATION_REJECT = "escalation.reject"
    ESCALATION_EXPORT = "escalation.export"
    ESCALATION_RESUME = "escalation.job.resume"
    # The organisation's mails on a case (issue 13): review, edit, preview, send once
    MAIL_REVIEW = "mail.review"
    MAIL_EDIT = "mail.edit"
    MAIL_PREVIEW = "mail.preview"
    MAIL_SEND = "mail.send"
    MAIL_PREPARE = "mail.prepare"
    # SNS cases (issue 6)
    SNS_CAPTURE_SUBMIT = "sns.capture.submit"
    SNS_CAPTURE_DISCARD = "sns.capture.discard"
    SNS_PROTECT = "sns.protect.show"
    SNS_PLATFORMS = "sns.platforms.show"
    SNS_PLATFORM_REPORTED = "sns.platform.reported"
    SNS_TASK_DONE = "sns.task.done"  # cards posted before tasks were shared by every case
    SNS_MONITOR_ANSWER = "sns.monitor.answer"
    # Case work (issue 13)
    TASK_DONE = "task.done"
    TASK_ASSIGN = "task.assign"
    CASES_LIST = "cases.list"
    CASE_SHOW = "case.show"
    EXPORT_LINK = "export.link"
    # Flood watch, linked cases, figures (issue 15)
    FLOOD_START = "flood.start"
    FLOOD_DISMISS = "flood.dismiss"
    CASES_MERGE = "cases.merge"  # shows the confirmation (which cases, exactly)
    ORG_MERGE_CONFIRM = "org.merge.confirm"
    ORG_SHOW = "org.show"
    ORG_REMOVE = "org.remove"
    ORG_EXPORT = "org.export"
    ORG_MERGE_ORGS = "org.merge.orgs"  # two organisational cases: shows the confirmation
    ORG_MERGE_ORGS_CONFIRM = "org.merge.orgs.confirm"
