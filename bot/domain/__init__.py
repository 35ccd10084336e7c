"""The domain: plain Python, no SDK and no I/O. Playbooks, matcher, incidents, evidence, roles."""
