"""bench.interrupts: a signal delivered to the process is told apart from a plugin's raise."""

from __future__ import annotations

import os
import signal

import pytest

from bench.interrupts import Interrupted, catch_signals, is_real_interrupt


def test_a_signal_is_recorded_and_raised_as_interrupted():
    with catch_signals() as caught:
        with pytest.raises(Interrupted) as exc:
            os.kill(os.getpid(), signal.SIGTERM)
        assert exc.value.signum == signal.SIGTERM and exc.value.signame == "SIGTERM"
        assert is_real_interrupt(exc.value)
        assert is_real_interrupt(KeyboardInterrupt())  # whatever is raised after a signal
    assert caught.signame == "SIGTERM"
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL


def test_a_raised_keyboard_interrupt_is_not_a_signal():
    with catch_signals() as caught:
        assert not is_real_interrupt(KeyboardInterrupt())
        assert not is_real_interrupt(SystemExit(3))
    assert caught.signum is None
    # outside of catch_signals, Python's own KeyboardInterrupt is the real thing
    assert is_real_interrupt(KeyboardInterrupt())


def test_an_ignored_signal_stays_ignored():
    old = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with catch_signals():
            assert signal.getsignal(signal.SIGINT) == signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, old)
