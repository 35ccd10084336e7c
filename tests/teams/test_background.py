"""Background work after an answer: ``drain`` waits for all of it, and never forever."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any

import pytest

from bot.background import BackgroundWork, Foreground, PendingWork


def run_with_deadline(seconds: float, scenario: Coroutine[Any, Any, None]) -> None:
    """Run ``scenario`` on its own loop in a thread: a spin there cannot hang this test."""
    outcome: list[BaseException | None] = []

    def target() -> None:
        try:
            asyncio.run(scenario)
            outcome.append(None)
        except BaseException as exc:  # handed to the test's thread
            outcome.append(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still running after {seconds} s (a busy loop?)"
    if outcome[0] is not None:
        raise outcome[0]


def test_drain_returns_when_a_task_finished_before_its_callback_ran() -> None:
    # The hang seen in CI: a task done, its done callback (leaving the set) not yet run.
    async def scenario() -> None:
        work = BackgroundWork("failed")

        async def quick() -> None:
            return None

        work.spawn(quick(), name="quick")
        await asyncio.sleep(0)  # ``quick`` finishes in this turn; its callback is queued
        await work.drain(timeout=1)
        assert work.pending() == []

    run_with_deadline(10, scenario())


async def test_drain_waits_for_work_started_by_running_work() -> None:
    work = BackgroundWork("failed")
    done: list[str] = []

    async def second() -> None:
        await asyncio.sleep(0.01)
        done.append("second")

    async def first() -> None:
        await asyncio.sleep(0.01)
        work.spawn(second(), name="second")  # a refresh scheduled by a refresh
        done.append("first")

    work.spawn(first(), name="first")
    await work.drain(timeout=5)
    assert done == ["first", "second"]


async def test_drain_names_the_work_that_never_ends() -> None:
    work = BackgroundWork("failed")
    forever = asyncio.Event()

    async def stuck() -> None:
        await forever.wait()

    work.spawn(stuck(), name="thread card refresh of KH-2026-0001")
    with pytest.raises(PendingWork, match="thread card refresh of KH-2026-0001"):
        await work.drain(timeout=0.05)
    forever.set()
    await work.drain(timeout=5)


async def test_a_failing_task_is_logged_by_type_and_drained(
    caplog: pytest.LogCaptureFixture,
) -> None:
    work = BackgroundWork("background update failed")

    async def fails() -> None:
        raise ValueError("田中様 090-1234-5678")  # personal data: never in the log

    work.spawn(fails(), name="fails")
    await work.drain(timeout=5)
    assert "background update failed: ValueError" in caplog.text
    assert "090" not in caplog.text


async def test_work_spawned_while_answering_starts_after_the_answers() -> None:
    foreground = Foreground()
    work = BackgroundWork("failed", foreground)
    order: list[str] = []

    async def update() -> None:
        order.append("card update")

    with foreground.serving():
        work.spawn(update(), name="card update")
        with foreground.serving():  # a second answer arrives meanwhile
            await asyncio.sleep(0.01)
            order.append("answer 2")
        await asyncio.sleep(0.01)
        order.append("answer 1")
    await work.drain(1.0)
    assert order == ["answer 2", "answer 1", "card update"]


async def test_steady_answers_delay_background_work_only_so_long() -> None:
    foreground = Foreground()
    work = BackgroundWork("failed", foreground)
    started: list[float] = []

    async def update() -> None:
        started.append(asyncio.get_running_loop().time())

    loop = asyncio.get_running_loop()
    with foreground.serving():  # never quiet while the work waits
        begin = loop.time()
        work.spawn(update(), name="card update")
        task = asyncio.create_task(work.drain(5.0))
        await asyncio.sleep(0.05)
        assert not started
        await task
    assert started and started[0] - begin < 2.5  # bot.background.DEFER_SECONDS, then it runs
