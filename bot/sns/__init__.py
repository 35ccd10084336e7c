"""SNS cases: capture from Teams, protection of the person, care tasks, the legal clock."""
