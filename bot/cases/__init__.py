"""Case work after a report: tasks with owners, the case list and detail, who views what."""
