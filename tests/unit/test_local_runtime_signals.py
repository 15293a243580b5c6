"""A stop by signal reaches the local stack's idle main thread whichever thread the kernel gave it to."""

from __future__ import annotations

import signal
import threading
import time
from types import FrameType

from transcoder_status.local.runtime import SIGNAL_CHECK_S, idle_until

WATCHDOG_S = 10 * SIGNAL_CHECK_S  # the test ends even when the signal is lost; it then fails


def test_a_signal_taken_by_another_thread_still_stops_the_idle_main_thread() -> None:
    stopping, lost = threading.Event(), threading.Event()

    def stop(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    def other_thread() -> None:
        time.sleep(SIGNAL_CHECK_S / 5)  # the main thread is idle by then
        signal.pthread_kill(threading.get_ident(), signal.SIGUSR1)  # to this thread, not the main one
        if not stopping.wait(WATCHDOG_S):
            lost.set()
            stopping.set()

    previous = signal.signal(signal.SIGUSR1, stop)
    try:
        thread = threading.Thread(target=other_thread)
        thread.start()
        idle_until(stopping)
        thread.join()
    finally:
        signal.signal(signal.SIGUSR1, previous)
    assert not lost.is_set(), "the handler never ran: the main thread's wait never returned to it"
