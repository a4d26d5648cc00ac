"""Imports of the export files other platforms give (samples in platform_exports/, written by us
from the platforms' documented columns): statuses, tags, custom fields, original opt-in dates."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from subscribers import importer
from subscribers.models import (
    ConsentBasis,
    CustomField,
    FieldKind,
    ImportJob,
    ImportStatus,
    Subscriber,
    SubscriberStatus,
    Suppression,
)
from subscribers.selectors import is_suppressed

pytestmark = pytest.mark.django_db
SAMPLES = Path(__file__).parent / "platform_exports"
UTC = datetime.UTC


@pytest.fixture(autouse=True)
def _fields() -> None:
    CustomField.objects.create(key="city", label="City", kind=FieldKind.TEXT)
    CustomField.objects.create(key="plan", label="Plan", kind=FieldKind.CHOICE, choices=["Free", "Paid"])


def run(sample: str, basis: str = ConsentBasis.DOUBLE_OPT_IN) -> ImportJob:
    data = (SAMPLES / sample).read_bytes()
    uploaded = SimpleUploadedFile(sample, data, content_type="text/csv")
    job, _columns, _preview, _count = importer.import_job_create(uploaded=uploaded, acting_user=None)
    assert importer.import_job_queue(job=job, consent_basis=basis, lists=[])
    while (running := importer.import_job_run(job_id=job.pk)) is not None and running.status == ImportStatus.QUEUED:
        pass
    return ImportJob.objects.get(pk=job.pk)


def reader(email: str) -> Subscriber:
    return Subscriber.objects.get(email=email)


def platform_of(sample: str) -> str:
    header = (SAMPLES / sample).read_text().splitlines()[0].lower().split(",")
    return importer.file_layout([c.strip() for c in header]).platform.key


def test_mailchimp_exports_keep_opt_in_dates_tags_and_fields_and_never_activate_the_unsubscribed_or_cleaned() -> None:
    assert platform_of("mailchimp_subscribed.csv") == "mailchimp"
    job = run("mailchimp_subscribed.csv")
    assert (job.status, job.added, job.rejected) == (ImportStatus.DONE, 2, 0)
    ada = reader("ada@example.org")
    assert ada.status == SubscriberStatus.ACTIVE and ada.name == "Ada Lovelace"
    assert ada.confirmed_at == datetime.datetime(2021, 3, 4, 8, 20, 11, tzinfo=UTC)  # CONFIRM_TIME
    assert ada.attributes == {"city": "London"}
    assert sorted(ada.tags.values_list("name", flat=True)) == ["Events", "Founding reader"]
    consent = ada.consents.get()
    assert "Originally opted in at 2021-03-04T08:20:11+00:00" in consent.text
    assert "198.51.100.4" in consent.text and consent.form.startswith("Mailchimp audience export import")
    run("mailchimp_unsubscribed.csv")
    assert reader("left@example.org").status == SubscriberStatus.UNSUBSCRIBED
    run("mailchimp_cleaned.csv")
    assert reader("gone@example.org").status == SubscriberStatus.BOUNCED and is_suppressed("gone@example.org")


def test_an_opt_out_on_the_old_platform_is_honoured_for_a_reader_already_here() -> None:
    Subscriber.objects.create(email="left@example.org", status=SubscriberStatus.ACTIVE)
    job = run("mailchimp_unsubscribed.csv")
    assert job.updated == 1 and reader("left@example.org").status == SubscriberStatus.UNSUBSCRIBED


def test_substack_exports_read_paid_as_tags_email_disabled_as_unsubscribed_and_skip_deletion_requests() -> None:
    assert platform_of("substack.csv") == "substack"
    job = run("substack.csv")
    assert (job.added, job.rejected) == (3, 1)
    assert reader("sam@example.org").status == SubscriberStatus.ACTIVE
    assert reader("sam@example.org").confirmed_at == datetime.datetime(2023, 9, 14, 10, 11, 12, tzinfo=UTC)
    assert list(reader("pat@example.org").tags.values_list("name", flat=True)) == ["Substack paid"]
    assert reader("quiet@example.org").status == SubscriberStatus.UNSUBSCRIBED
    assert "asking to be deleted" in job.report[0]["reason"]
    assert not Subscriber.objects.filter(email__endswith="deletion-request.substack.com").exists()
    # The subscribers export (type: free, paid, comp, gift) has no sign-up date.
    assert platform_of("substack_subscribers.csv") == "substack"
    run("substack_subscribers.csv")
    assert list(reader("gift@example.org").tags.values_list("name", flat=True)) == ["Substack gift"]


def test_beehiiv_export_maps_its_statuses_names_and_tiers() -> None:
    assert platform_of("beehiiv.csv") == "beehiiv"
    run("beehiiv.csv")
    bea = reader("bea@example.org")
    assert bea.status == SubscriberStatus.ACTIVE and bea.attributes == {"city": "Leeds"} and bea.name == "Bea Hive"
    assert bea.confirmed_at == datetime.datetime(2024, 4, 1, 12, 30, tzinfo=UTC)
    assert "Source: beehiiv." in bea.consents.get().text
    assert list(bea.tags.values_list("name", flat=True)) == ["beehiiv premium"]
    assert reader("val@example.org").status == SubscriberStatus.PENDING  # never confirmed there
    assert reader("out@example.org").status == SubscriberStatus.UNSUBSCRIBED
    assert reader("late@example.org").status == SubscriberStatus.UNSUBSCRIBED  # active, but an unsubscribed_at


def test_ghost_export_reads_labels_tiers_and_email_consent() -> None:
    assert platform_of("ghost.csv") == "ghost"
    run("ghost.csv")
    gia = reader("gia@example.org")
    assert gia.status == SubscriberStatus.ACTIVE and gia.name == "Gia Ghost"
    assert sorted(gia.tags.values_list("name", flat=True)) == ["Conference 2022", "Ghost Supporter", "VIP"]
    assert reader("nora@example.org").status == SubscriberStatus.UNSUBSCRIBED


def test_listmonk_export_fills_custom_fields_from_its_attributes_and_blocklisted_stays_out() -> None:
    assert platform_of("listmonk.csv") == "listmonk"
    run("listmonk.csv")
    lin = reader("lin@example.org")
    assert lin.status == SubscriberStatus.ACTIVE and lin.attributes == {"city": "Bristol", "plan": "Paid"}
    assert lin.confirmed_at == datetime.datetime(2023, 10, 10, 9, 10, 10, 123456, tzinfo=UTC)
    blocked = reader("blocked@example.org")
    assert blocked.status == SubscriberStatus.UNSUBSCRIBED
    assert "2022-12-12T12:12:12+01:00" in blocked.consents.get().text  # "+0100 CET", as Go writes it
    assert reader("off@example.org").status == SubscriberStatus.UNSUBSCRIBED


def test_kit_export_maps_states_and_suppresses_bounces_and_complaints() -> None:
    assert platform_of("kit.csv") == "kit"
    job = run("kit.csv")
    assert job.added == 5
    kim = reader("kim@example.org")
    assert kim.status == SubscriberStatus.ACTIVE and kim.attributes == {"city": "York"} and kim.name == "Kim"
    assert sorted(kim.tags.values_list("name", flat=True)) == ["Readers", "Welcome series"]
    assert reader("ken@example.org").status == SubscriberStatus.UNSUBSCRIBED
    assert reader("bo@example.org").status == SubscriberStatus.BOUNCED
    assert reader("cam@example.org").status == SubscriberStatus.COMPLAINED
    assert reader("ina@example.org").status == SubscriberStatus.PENDING  # Kit's inactive: never confirmed
    assert set(Suppression.objects.values_list("reason", flat=True)) == {"bounced", "complained"}


def test_without_a_consent_basis_nobody_is_active_whatever_the_platform_said() -> None:
    run("kit.csv", basis=ConsentBasis.NONE)
    assert reader("kim@example.org").status == SubscriberStatus.PENDING
    assert reader("ken@example.org").status == SubscriberStatus.UNSUBSCRIBED


def test_a_bad_custom_field_value_rejects_the_row_naming_the_field() -> None:
    data = b"email,plan\nok@example.org,Free\nno@example.org,Platinum\n"
    uploaded = SimpleUploadedFile("readers.csv", data, content_type="text/csv")
    job, _c, _p, _n = importer.import_job_create(uploaded=uploaded, acting_user=None)
    importer.import_job_queue(job=job, consent_basis=ConsentBasis.DOUBLE_OPT_IN, lists=[])
    importer.import_job_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.added == 1 and job.rejected == 1
    assert job.report[0]["reason"] == "Invalid Plan: “Platinum” is not one of Free, Paid."
    assert reader("ok@example.org").attributes == {"plan": "Free"}
