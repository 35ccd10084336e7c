"""``python -m bot``: the same as the ``mamoru`` command."""

from bot.cli import main

raise SystemExit(main())
