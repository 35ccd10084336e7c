"""Handing a finished bundle to the one person who asked for it.

In Teams (a bot identity configured) a bundle goes into the requester's own OneDrive
through Teams' file consent card (``file_consent``, ``upload_session``); local runs
without an identity (Agents Playground, anonymous) keep the single-use POST link of
``bot/delivery/exports.py``. Any bundle can be delivered: a case's evidence export or any other
file a person was allowed to ask for (``Bundle.kind`` names the rule re-checked when
the person accepts). See docs/security.md, "Evidence bundles: delivery".
"""
