"""When a step is due: its delay after the previous step, and its optional time of day.

The delay counts from when the previous step was due (after entering, for the
first step). With a time of day ("send at 09:00", in the publication's time
zone, settings.TIME_ZONE), a delay in days lands on that calendar day at that
time (the next day if that time has passed); a delay in minutes or hours lands
at the first such time once the delay has passed."""

from __future__ import annotations

import datetime

from django.utils import timezone

from automations.models import DelayUnit, Step

_UNIT = {
    DelayUnit.MINUTES: datetime.timedelta(minutes=1),
    DelayUnit.HOURS: datetime.timedelta(hours=1),
    DelayUnit.DAYS: datetime.timedelta(days=1),
}


def step_due(step: Step, *, after: datetime.datetime) -> datetime.datetime:
    """When ``step`` is due for a reader whose previous step was due at ``after``."""
    due = after + step.delay_value * _UNIT[DelayUnit(step.delay_unit)]
    if step.send_at is None:
        return due
    zone = timezone.get_current_timezone()
    local = timezone.localtime(due, zone)
    if step.delay_unit == DelayUnit.DAYS:
        candidate = _at(local.date(), step.send_at, zone)
        if candidate < after:
            candidate = _at(local.date() + datetime.timedelta(days=1), step.send_at, zone)
        return candidate
    candidate = _at(local.date(), step.send_at, zone)
    if candidate < due:
        candidate = _at(local.date() + datetime.timedelta(days=1), step.send_at, zone)
    return candidate


def _at(day: datetime.date, at: datetime.time, zone: datetime.tzinfo) -> datetime.datetime:
    # A time that does not exist on a clock-change day is read as the wall time after the change.
    return timezone.make_aware(datetime.datetime.combine(day, at.replace(tzinfo=None)), zone)
