"""Subcommands of the ``mamoru`` command, one module per feature (see ``bot/cli.py``)."""
