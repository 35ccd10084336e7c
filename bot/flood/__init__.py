"""Flood watch: Mamoru notices a mail flood in an opted-in mailbox before anyone reports it."""
