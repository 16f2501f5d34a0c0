"""Warnings a command prints: the overhead warning names a fix the command accepts (``--time-scale``
on the command itself, or, against a mock started apart with ``--target``, which refuses
``--time-scale``, its ``serve``); ``serve`` says when it listens beyond loopback."""

from __future__ import annotations

from harness.overhead import WARN_PCT, overhead_warning


def test_under_the_threshold_there_is_no_warning() -> None:
    assert overhead_warning([(WARN_PCT - 0.1, 0.01), (None, 0.05)]) is None


def test_the_fix_is_on_the_command_or_on_the_targets_serve() -> None:
    embedded = overhead_warning([(4.0, 0.01), (1.0, 0.05)])
    assert embedded is not None and "4.0% of the makespan at time scale 0.01; --time-scale 0.05 " in embedded
    on_target = overhead_warning([(4.0, 0.01)], on_target=True)
    assert on_target is not None and "onyx-bench serve --time-scale 0.05" in on_target
    assert "; --time-scale" not in on_target and "without --target" in on_target


def test_serving_beyond_loopback_is_said() -> None:
    # issue 16: servers bind 127.0.0.1 unless --host says otherwise, and say so when it is not loopback
    from harness.cli import exposure_warning
    assert exposure_warning("127.0.0.1") is None and exposure_warning("::1") is None
    assert exposure_warning("localhost") is None and exposure_warning("127.0.0.2") is None
    for host in ("0.0.0.0", "192.168.1.5", "onyx-mock.internal"):
        warning = exposure_warning(host)
        assert warning is not None and warning.startswith(f"warning: serving on {host}, not loopback")
