"""Case work after a report: tasks with owners, the case list and detail, who views what,
the organisation's mails (drafts, previews, one send) and the facts behind proposals."""
