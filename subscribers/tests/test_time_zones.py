"""Readers' time zones: guessed on the subscribe form, chosen on the preferences page and in the
admin, read from an import column; an unknown zone is refused with a clear message."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.test import Client

from core.env import env_time_zone
from subscribers.admin.readers import SubscriberAdminForm
from subscribers.export import export_rows
from subscribers.links import links_for
from subscribers.models import Subscriber
from subscribers.tests.test_import import reasons, run
from testing.factories import MailingListFactory, make_confirmed_reader

pytestmark = pytest.mark.django_db


def prefs(reader: Subscriber) -> str:
    return urlsplit(links_for(subscriber_id=reader.pk, email=reader.email)["preferences_url"]).path


def subscribe(client: Client, capture: Any, **data: str) -> Subscriber:
    with capture(execute=True):
        response = client.post("/subscribe/", {"email": "zone@example.org", **data}, REMOTE_ADDR="203.0.113.9")
    assert response.status_code == 302
    return Subscriber.objects.get(email="zone@example.org")


def test_the_subscribe_form_carries_a_hidden_time_zone_filled_by_our_script(client: Client) -> None:
    html = client.get("/subscribe/").content.decode()
    assert '<input type="hidden" name="time_zone" value="">' in html
    assert "subscribers/time_zone.js" in html


def test_the_browsers_zone_is_stored_with_a_new_reader(
    client: Client, celery_eager: None, django_capture_on_commit_callbacks: Any
) -> None:
    reader = subscribe(client, django_capture_on_commit_callbacks, time_zone="America/New_York")
    assert reader.time_zone == "America/New_York"


@pytest.mark.parametrize("guess", ["Mars/Olympus", "../../etc/passwd", "x" * 300])
def test_a_guess_we_do_not_know_is_dropped_and_the_reader_still_subscribes(
    client: Client, celery_eager: None, django_capture_on_commit_callbacks: Any, guess: str
) -> None:
    reader = subscribe(client, django_capture_on_commit_callbacks, time_zone=guess)
    assert reader.time_zone == ""


def test_a_subscribe_request_does_not_change_an_existing_readers_zone(
    client: Client, celery_eager: None, django_capture_on_commit_callbacks: Any
) -> None:
    make_confirmed_reader(email="zone@example.org", time_zone="Europe/Berlin")
    reader = subscribe(client, django_capture_on_commit_callbacks, time_zone="Asia/Tokyo")
    assert reader.time_zone == "Europe/Berlin"


def test_a_reader_chooses_their_zone_on_the_preferences_page(client: Client) -> None:
    reader = make_confirmed_reader(name="Ada")
    page = client.get(prefs(reader)).content.decode()
    assert '<option value="Europe/Berlin">Europe/Berlin</option>' in page

    response = client.post(prefs(reader), {"action": "save", "name": "Ada", "time_zone": "Europe/Berlin"})

    assert response.status_code == 302
    reader.refresh_from_db()
    assert reader.time_zone == "Europe/Berlin"
    assert '<option value="Europe/Berlin" selected>' in client.get(prefs(reader)).content.decode()


def test_an_unknown_zone_on_the_preferences_page_is_refused_and_nothing_is_saved(client: Client) -> None:
    reader = make_confirmed_reader(name="Kept", time_zone="Asia/Tokyo")
    response = client.post(prefs(reader), {"action": "save", "name": "Changed", "time_zone": "Mars/Olympus"})
    assert response.status_code == 400
    assert "“Mars/Olympus” is not a known time zone; choose one from the list." in response.content.decode()
    reader.refresh_from_db()
    assert (reader.name, reader.time_zone) == ("Kept", "Asia/Tokyo")


def test_the_admin_form_takes_a_zone_and_refuses_an_unknown_one() -> None:
    daily = MailingListFactory(name="Daily")
    good = SubscriberAdminForm(
        {"email": "a@example.org", "status": "active", "lists": [daily.pk], "time_zone": "America/Chicago"}
    )
    assert good.is_valid(), good.errors
    assert good.save().time_zone == "America/Chicago"

    bad = SubscriberAdminForm({"email": "b@example.org", "status": "active", "time_zone": "Europe/Atlantis"})
    assert not bad.is_valid()
    assert bad.errors["time_zone"] == ["“Europe/Atlantis” is not a known time zone; choose one from the list."]
    assert not Subscriber.objects.filter(email="b@example.org").exists()


def test_the_model_refuses_an_unknown_zone_on_full_clean() -> None:
    with pytest.raises(ValidationError, match="not a known time zone"):
        Subscriber(email="c@example.org", time_zone="Nowhere/City").full_clean()


def test_an_import_reads_the_time_zone_column_and_rejects_a_row_with_an_unknown_zone() -> None:
    job = run(
        "email,name,time_zone\n"
        "berlin@example.org,B,Europe/Berlin\n"
        "mars@example.org,M,Mars/Olympus\n"
        "blank@example.org,N,\n"
    )
    zones = dict(Subscriber.objects.values_list("email", "time_zone"))
    assert zones == {"berlin@example.org": "Europe/Berlin", "blank@example.org": ""}
    assert reasons(job)[3].startswith("Invalid time zone: “Mars/Olympus” is not a known time zone")
    assert (job.added, job.rejected) == (2, 1)


def test_an_import_reads_mailchimps_timezone_column_and_updates_a_known_reader() -> None:
    make_confirmed_reader(email="known@example.org", time_zone="")
    job = run(
        "Email Address,First Name,OPTIN_TIME,TIMEZONE\nknown@example.org,K,2024-01-31 09:15:00,America/Los_Angeles\n"
    )
    assert job.updated == 1, job.report
    assert Subscriber.objects.get(email="known@example.org").time_zone == "America/Los_Angeles"


def test_the_export_has_the_zone_so_it_imports_back() -> None:
    make_confirmed_reader(email="tz@example.org", time_zone="Asia/Kolkata")
    header, row = list(export_rows(Subscriber.objects.all()))
    assert row[header.index("time_zone")] == "Asia/Kolkata"


def test_an_unknown_publication_zone_stops_start_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIME_ZONE", "Europe/Atlantis")
    with pytest.raises(ImproperlyConfigured, match="TIME_ZONE='Europe/Atlantis' is not a known time zone"):
        env_time_zone("TIME_ZONE", "Europe/London")
    monkeypatch.setenv("TIME_ZONE", "America/New_York")
    assert env_time_zone("TIME_ZONE", "Europe/London") == "America/New_York"


def test_the_readers_data_download_includes_their_zone() -> None:
    from subscribers.privacy import subscriber_export_data

    reader = make_confirmed_reader(time_zone="Pacific/Auckland")
    assert subscriber_export_data(subscriber=reader)["subscriber"]["time_zone"] == "Pacific/Auckland"


def test_the_embedded_forms_zone_is_stored_too(
    client: Client, settings: Any, celery_eager: None, django_capture_on_commit_callbacks: Any
) -> None:
    settings.EMBED_ALLOWED_ORIGINS = ["https://partner.example"]
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/subscribe/embed/",
            {"email": "embed@example.org", "time_zone": "Europe/Lisbon"},
            HTTP_ORIGIN="https://partner.example",
            HTTP_SEC_FETCH_SITE="cross-site",
            HTTP_ACCEPT="application/json",
        )
    assert response.json()["ok"] is True
    assert Subscriber.objects.get(email="embed@example.org").time_zone == "Europe/Lisbon"
    from django.template.loader import render_to_string

    snippet = render_to_string("subscribers/embed/snippet.html", {"action": "https://site.example/subscribe/embed/"})
    assert '<input type="hidden" name="time_zone" value="">' in snippet
