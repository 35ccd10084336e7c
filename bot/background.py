"""Work started after an answer (card updates, registrations, debounced rounds), awaitable.

Teams waits for the bot's answer, so what may follow it runs as background tasks; the
services keep them here so shutdown and tests can wait until it is all done. That wait
is bounded: work that never ends (a refresh loop, a stuck request) raises
``PendingWork`` naming it instead of hanging a shutdown or a test run.

Why ``drain`` waits only on the tasks still running: a finished task leaves the set by a
done callback, which the event loop runs one turn later. On Python 3.12 ``gather()`` of
tasks that are all done completes without yielding to the loop, so a loop of
``while tasks: await gather(*tasks)`` that saw a finished task before its callback ran
spun forever, holding the CPU and never letting the callback run.

Why background work waits for a quiet moment (``Foreground``): it shares one event loop
and one connection pool with the answers Teams is waiting for. When 50 managers click at
once, the thread updates and notices of the first decisions would otherwise run between
the later answers and hold them up (p99 of 50 concurrent approvals was seconds). So work
spawned with a ``Foreground`` starts once no request is being answered, or after
``DEFER_SECONDS`` at most, so that steady traffic never starves it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine, Iterator
from typing import Any

log = logging.getLogger(__name__)

# Long enough for any real card update or delta round under load; short enough that a
# stuck one shows up as a clear error instead of a silent hang.
DRAIN_SECONDS = 60.0
# At most this long does background work wait for the answers in progress to go out.
DEFER_SECONDS = 2.0


class Foreground:
    """The requests being answered now; background work waits for a quiet moment."""

    def __init__(self) -> None:
        self._busy = 0
        self._quiet: asyncio.Event | None = None  # made on first use, inside the loop

    def _event(self) -> asyncio.Event:
        if self._quiet is None:
            self._quiet = asyncio.Event()
            if not self._busy:
                self._quiet.set()
        return self._quiet

    @contextlib.contextmanager
    def serving(self) -> Iterator[None]:
        """Mark one request as being answered for the duration of the block."""
        self._busy += 1
        self._event().clear()
        try:
            yield
        finally:
            self._busy -= 1
            if not self._busy:
                self._event().set()

    @property
    def busy(self) -> int:
        """How many requests are being answered now."""
        return self._busy

    async def quiet(self, max_wait: float = DEFER_SECONDS) -> None:
        """Return once no request is being answered, or after ``max_wait`` seconds."""
        if not self._busy:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._event().wait(), max_wait)


class PendingWork(TimeoutError):
    """Background work still running when ``drain``'s time was up."""

    def __init__(self, names: list[str], timeout: float) -> None:
        self.names = names
        super().__init__(f"background work still running after {timeout:g} s: {', '.join(names)}")


class BackgroundWork:
    """The background tasks of one service: started by ``spawn``, awaited by ``drain``."""

    def __init__(self, failure: str, foreground: Foreground | None = None) -> None:
        # Logged (with the exception's type only, never its text) when a task fails.
        self._failure = failure
        self._tasks: set[asyncio.Task[None]] = set()
        # When given, work starts after the answers in progress (bounded, see module doc).
        self.foreground = foreground

    def spawn(self, work: Coroutine[Any, Any, None], *, name: str) -> None:
        """Run ``work`` in the background; ``name`` (no personal data) names it if stuck."""

        async def run() -> None:
            try:
                if self.foreground is not None:
                    await self.foreground.quiet()
                await work
            except Exception as exc:  # logged by type: the caller's state is already saved
                log.error("%s: %s", self._failure, type(exc).__name__)

        task = asyncio.create_task(run(), name=name)
        self._tasks.add(task)  # a reference, or the task may be collected mid-run
        task.add_done_callback(self._tasks.discard)

    def __contains__(self, task: object) -> bool:
        """Whether ``task`` is one of this service's background tasks (still running)."""
        return task in self._tasks

    def pending(self) -> list[str]:
        """The names of the tasks still running, sorted."""
        return sorted(task.get_name() for task in self._tasks if not task.done())

    async def drain(self, timeout: float = DRAIN_SECONDS) -> None:
        """Wait until no task runs, including tasks started meanwhile by running ones.

        Raises ``PendingWork`` naming what still runs after ``timeout`` seconds.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while running := {task for task in self._tasks if not task.done()}:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise PendingWork(self.pending(), timeout)
            # Only unfinished tasks: ``wait`` then always yields to the loop (see above).
            await asyncio.wait(running, timeout=remaining)
