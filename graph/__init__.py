"""Microsoft Graph, and nothing else: auth, transport, mailbox operations, the local sandbox.

Imports nothing from `bot` or `cards` (the dependency rule).
"""
