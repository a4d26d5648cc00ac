"""Run celery on a moved clock, for integration tests across days and clock changes:

    python -m testing.moved_clock 2026-11-01T12:00:30+00:00 -A newsroom worker ...

The clock (time-machine) starts at the given moment and ticks on at the real pace, in
this process and in the pool processes it forks; monotonic clocks are left alone, so
timeouts and the broker's heartbeats behave as usual."""

from __future__ import annotations

import sys

import time_machine


def main() -> None:
    moment, *args = sys.argv[1:]
    time_machine.travel(moment, tick=True).start()
    from celery.__main__ import main as celery_main

    sys.argv = ["celery", *args]
    celery_main()


if __name__ == "__main__":
    main()
