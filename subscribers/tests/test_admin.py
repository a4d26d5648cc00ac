from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from core.models import OutboxMessage
from subscribers.models import (
    Consent,
    ConsentBasis,
    ImportJob,
    ImportStatus,
    MailingList,
    Segment,
    Subscriber,
    SubscriberStatus,
    SubscriberTag,
    Suppression,
    email_hash,
)
from subscribers.privacy import subscriber_erase
from testing.factories import MailingListFactory, make_confirmed_reader, make_pending_reader
from testing.fixtures import BrokerOutage

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/subscribers/subscriber/"


@pytest.fixture
def editor_client(client: Client, editor: object) -> Client:
    client.force_login(editor)  # type: ignore[arg-type]
    return client


def test_editors_search_and_filter_readers(editor_client: Client) -> None:
    make_confirmed_reader(email="ada@example.org", name="Ada Lovelace")
    make_confirmed_reader(email="bob@example.org", name="Bob")
    page = editor_client.get(CHANGELIST, {"q": "lovelace"}).content.decode()
    assert "ada@example.org" in page and "bob@example.org" not in page
    page = editor_client.get(CHANGELIST, {"status__exact": "pending"}).content.decode()
    assert "ada@example.org" not in page


def test_add_to_list_asks_which_list_then_adds(editor_client: Client) -> None:
    daily = MailingListFactory.create(name="Daily")
    reader = make_confirmed_reader()
    data = {"action": "add_to_list", ACTION_CHECKBOX_NAME: [reader.pk]}
    page = editor_client.post(CHANGELIST, data)
    assert page.status_code == 200 and "Add readers to a list" in page.content.decode()
    done = editor_client.post(CHANGELIST, {**data, "apply": "1", "mailing_list": daily.pk}, follow=True)
    assert "1 readers added to Daily" in done.content.decode()
    assert list(reader.lists.all()) == [daily]


def test_tag_action_creates_a_new_tag(editor_client: Client) -> None:
    reader = make_confirmed_reader()
    data = {"action": "add_tag", ACTION_CHECKBOX_NAME: [reader.pk], "apply": "1", "new_tag": "vip"}
    editor_client.post(CHANGELIST, data)
    assert list(reader.tags.values_list("name", flat=True)) == ["vip"]
    assert SubscriberTag.objects.count() == 1


def test_bulk_export_neutralises_formulas(editor_client: Client) -> None:
    reader = make_confirmed_reader(email="x@example.org", name="@evil")
    response = editor_client.post(CHANGELIST, {"action": "export_csv", ACTION_CHECKBOX_NAME: [reader.pk]})
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))  # type: ignore[attr-defined]
    assert rows[0]["email"] == "x@example.org" and rows[0]["name"] == "'@evil"


def test_bulk_unsubscribe_asks_first_then_says_how_many_changed(editor_client: Client) -> None:
    reader = make_confirmed_reader(email="x@example.org")
    gone = make_confirmed_reader(email="gone@example.org")
    Subscriber.objects.filter(pk=gone.pk).update(status=SubscriberStatus.BOUNCED)
    data = {"action": "unsubscribe", ACTION_CHECKBOX_NAME: [reader.pk, gone.pk]}
    asked = editor_client.post(CHANGELIST, data)
    assert "Unsubscribe readers" in asked.content.decode() and "2 readers selected" in asked.content.decode()
    reader.refresh_from_db()
    assert reader.status == SubscriberStatus.ACTIVE
    unconfirmed = editor_client.post(CHANGELIST, {**data, "apply": "1"})
    assert "This field is required" in unconfirmed.content.decode()
    done = editor_client.post(CHANGELIST, {**data, "apply": "1", "confirm": "on"}, follow=True).content.decode()
    assert "1 readers are unsubscribed. 1 were already unsubscribed, bounced or complained." in done
    reader.refresh_from_db()
    gone.refresh_from_db()
    assert reader.status == SubscriberStatus.UNSUBSCRIBED and gone.status == SubscriberStatus.BOUNCED
    assert reader.consents.get().form == "admin: edith"


def test_the_segment_form_counts_unsaved_conditions_live(editor_client: Client) -> None:
    daily = MailingListFactory.create()
    make_confirmed_reader(lists=[daily])
    make_pending_reader(lists=[daily])
    make_confirmed_reader()
    page = editor_client.get("/admin/subscribers/segment/add/").content.decode()
    assert 'id="segment-live-count"' in page and "subscribers/segment.js" in page
    count = editor_client.get("/admin/subscribers/segment/count/", {"lists": str(daily.pk)})
    assert count.json() == {"matching": 2, "sendable": 1}
    pending = editor_client.get("/admin/subscribers/segment/count/", {"lists": str(daily.pk), "status": "pending"})
    assert pending.json() == {"matching": 1, "sendable": 0}
    bad = editor_client.get("/admin/subscribers/segment/count/", {"signed_up_after": "yesterday"})
    assert bad.status_code == 400 and "signed_up_after" in bad.json()["errors"]


def test_segment_dates_must_be_in_order(editor_client: Client) -> None:
    response = editor_client.post(
        "/admin/subscribers/segment/add/",
        {"name": "Odd", "signed_up_after": "2026-05-01", "signed_up_before": "2026-04-01"},
    )
    assert "must be on or before" in response.content.decode()
    assert not Segment.objects.exists()


def test_the_reader_list_filters_by_segment(editor_client: Client) -> None:
    vip = SubscriberTag.objects.create(name="vip")
    tagged = make_confirmed_reader(email="tagged@example.org")
    tagged.tags.add(vip)
    make_confirmed_reader(email="plain@example.org")
    segment = Segment.objects.create(name="VIPs")
    segment.tags.add(vip)
    page = editor_client.get(CHANGELIST, {"segment": segment.pk}).content.decode()
    assert "tagged@example.org" in page and "plain@example.org" not in page


def test_segment_pages_show_the_live_count(editor_client: Client) -> None:
    daily = MailingListFactory.create()
    make_confirmed_reader(lists=[daily])
    make_confirmed_reader(lists=[daily])
    segment = Segment.objects.create(name="All daily")
    segment.lists.add(daily)
    change = editor_client.get(f"/admin/subscribers/segment/{segment.pk}/change/").content.decode()
    assert 'id="segment-live-count"' in change
    listing = editor_client.get("/admin/subscribers/segment/").content.decode()
    assert "Readers a send would reach now" in listing
    assert '<td class="field-matching_readers">2</td>' in listing


def test_a_manual_suppression_stores_hash_and_address_and_erased_rows_show_only_the_hash(
    editor_client: Client,
) -> None:
    editor_client.post(
        "/admin/subscribers/suppression/add/", {"email": " Spam@Example.ORG ", "detail": "asked by phone"}
    )
    manual = Suppression.objects.get()
    assert manual.email == "spam@example.org" and manual.email_hash == email_hash("spam@example.org")
    assert manual.reason == Suppression.Reason.MANUAL
    subscriber_erase(subscriber=make_confirmed_reader(email="erase@example.org"))
    listing = editor_client.get("/admin/subscribers/suppression/").content.decode()
    assert "erase@example.org" not in listing and email_hash("erase@example.org") in listing


def test_import_in_the_admin_previews_then_reports(
    editor_client: Client, celery_eager: None, django_capture_on_commit_callbacks: Any
) -> None:
    content = b"email,name\nok@example.org,Ok\nbad,Bad\n"
    response = editor_client.post(
        f"{CHANGELIST}import/", {"file": SimpleUploadedFile("r.csv", content, content_type="text/csv")}
    )
    job = ImportJob.objects.get()
    assert response["Location"] == f"{CHANGELIST}import/{job.pk}/"
    preview = editor_client.get(response["Location"]).content.decode()
    assert "ok@example.org" in preview and "2 data rows" in preview
    assert not Subscriber.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        confirmed = editor_client.post(response["Location"], {"consent_basis": ConsentBasis.DOUBLE_OPT_IN})
    assert confirmed["Location"] == f"/admin/subscribers/importjob/{job.pk}/change/"
    report = editor_client.get(confirmed["Location"]).content.decode()
    assert "Import finished: 1 added, 0 updated, 0 skipped, 1 rejected" in report
    assert "Invalid address" in report
    assert Subscriber.objects.get().status == SubscriberStatus.ACTIVE


def test_import_upload_with_a_wrong_header_says_so_and_stores_nothing(editor_client: Client) -> None:
    response = editor_client.post(
        f"{CHANGELIST}import/", {"file": SimpleUploadedFile("r.csv", b"address\nx@example.org\n")}
    )
    assert response.status_code == 200
    assert "must have an “email” column" in response.content.decode()
    assert not ImportJob.objects.exists()


def test_import_needs_a_consent_choice(editor_client: Client) -> None:
    editor_client.post(f"{CHANGELIST}import/", {"file": SimpleUploadedFile("r.csv", b"email\nx@example.org\n")})
    job = ImportJob.objects.get()
    response = editor_client.post(f"{CHANGELIST}import/{job.pk}/", {"consent_basis": ""})
    assert "This field is required" in response.content.decode()
    assert not Subscriber.objects.exists()


def test_readers_without_permission_cannot_import(client: Client, contributor: object) -> None:
    client.force_login(contributor)  # type: ignore[arg-type]
    response = client.post(f"{CHANGELIST}import/", {"file": SimpleUploadedFile("r.csv", b"email\nx@example.org\n")})
    assert response.status_code == 403
    assert not ImportJob.objects.exists()


def test_an_editor_adds_a_reader_whose_address_differs_only_in_case_and_is_told(editor_client: Client) -> None:
    make_confirmed_reader(email="taken@example.org")
    response = editor_client.post(
        "/admin/subscribers/subscriber/add/",
        {
            "email": "TAKEN@Example.org",
            "name": "",
            "status": "active",
            "consents-TOTAL_FORMS": "0",
            "consents-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 200
    assert "already exists" in response.content.decode()
    assert Subscriber.objects.count() == 1
    editor_client.post(
        "/admin/subscribers/subscriber/add/",
        {
            "email": "new@BÜCHER.example",
            "name": "",
            "status": "active",
            "consents-TOTAL_FORMS": "0",
            "consents-INITIAL_FORMS": "0",
        },
    )
    added = Subscriber.objects.get(email="new@xn--bcher-kva.example")
    assert added.source == "admin" and added.status == SubscriberStatus.ACTIVE


def test_an_editor_cannot_add_a_suppressed_address_by_hand(editor_client: Client) -> None:
    subscriber_erase(subscriber=make_confirmed_reader(email="erased@example.org"))
    response = editor_client.post(
        "/admin/subscribers/subscriber/add/",
        {"email": "Erased@example.org", "status": "active", "consents-TOTAL_FORMS": "0", "consents-INITIAL_FORMS": "0"},
    )
    assert "on the suppression list" in response.content.decode()
    assert not Subscriber.objects.exists()


def test_a_queued_import_shows_that_it_runs_and_a_second_confirm_changes_nothing(editor_client: Client) -> None:
    editor_client.post(f"{CHANGELIST}import/", {"file": SimpleUploadedFile("r.csv", b"email\nx@example.org\n")})
    job = ImportJob.objects.get()
    # No worker in this test: the job waits in the queue.
    editor_client.post(f"{CHANGELIST}import/{job.pk}/", {"consent_basis": ConsentBasis.NONE})
    again = editor_client.post(f"{CHANGELIST}import/{job.pk}/", {"consent_basis": ConsentBasis.DOUBLE_OPT_IN})
    assert again["Location"] == f"/admin/subscribers/importjob/{job.pk}/change/"
    job.refresh_from_db()
    assert (job.status, job.consent_basis) == (ImportStatus.QUEUED, ConsentBasis.NONE)
    page = editor_client.get(again["Location"]).content.decode()
    assert "Importing" in page and 'http-equiv="refresh"' in page


def test_a_failed_import_shows_its_message(editor_client: Client) -> None:
    job = ImportJob.objects.create(filename="bad.csv", status=ImportStatus.FAILED, error="The file is empty.")
    page = editor_client.get(f"/admin/subscribers/importjob/{job.pk}/change/").content.decode()
    assert "The file is empty." in page and "import-report-summary" not in page


def test_an_editor_adds_a_reader_by_hand_and_the_consent_names_them(
    editor_client: Client, celery_eager: None, django_capture_on_commit_callbacks: Any
) -> None:
    form = {"name": "", "consents-TOTAL_FORMS": "0", "consents-INITIAL_FORMS": "0"}
    with django_capture_on_commit_callbacks(execute=True):
        editor_client.post("/admin/subscribers/subscriber/add/", {**form, "email": "a@example.org", "status": "active"})
        editor_client.post(
            "/admin/subscribers/subscriber/add/", {**form, "email": "p@example.org", "status": "pending"}
        )
    active = Subscriber.objects.get(email="a@example.org")
    assert active.confirmed_at is not None and active.consents.get().form == "admin: edith"
    assert active.consents.get().action == Consent.Action.ADMIN
    assert not OutboxMessage.objects.filter(to="a@example.org").exists()
    assert OutboxMessage.objects.get(to="p@example.org").subject.startswith("Confirm")
    refused = editor_client.post(
        "/admin/subscribers/subscriber/add/", {**form, "email": "b@example.org", "status": "bounced"}
    )
    assert "Select a valid choice" in refused.content.decode()
    assert not Subscriber.objects.filter(email="b@example.org").exists()


def test_deleting_an_unconfirmed_import_deletes_its_file(
    editor_client: Client, django_capture_on_commit_callbacks: Any
) -> None:
    editor_client.post(f"{CHANGELIST}import/", {"file": SimpleUploadedFile("r.csv", b"email\nx@example.org\n")})
    job = ImportJob.objects.get()
    name, storage = str(job.file.name), job.file.storage
    with django_capture_on_commit_callbacks(execute=True):
        editor_client.post(f"/admin/subscribers/importjob/{job.pk}/delete/", {"post": "yes"})
    assert not ImportJob.objects.exists() and not storage.exists(name)


def test_the_live_count_is_for_editors_only(client: Client, contributor: object) -> None:
    make_confirmed_reader()
    client.force_login(contributor)  # type: ignore[arg-type]
    response = client.get("/admin/subscribers/segment/count/")
    assert response.status_code == 403


def test_searching_an_idn_domain_in_unicode_finds_the_punycode_address(editor_client: Client) -> None:
    make_confirmed_reader(email="leser@xn--bcher-kva.example")
    make_confirmed_reader(email="other@example.org")
    page = editor_client.get(CHANGELIST, {"q": "leser@bücher.example"}).content.decode()
    assert "leser@xn--bcher-kva.example" in page and "other@example.org" not in page


@pytest.mark.django_db(transaction=True)
def test_import_with_the_queue_down_says_so_and_can_be_confirmed_again(
    editor_client: Client, broker_down: BrokerOutage
) -> None:
    editor_client.post(f"{CHANGELIST}import/", {"file": SimpleUploadedFile("r.csv", b"email\nx@example.org\n")})
    job = ImportJob.objects.get()
    url = f"{CHANGELIST}import/{job.pk}/"
    response = editor_client.post(url, {"consent_basis": ConsentBasis.DOUBLE_OPT_IN}, follow=True)
    assert response.redirect_chain[-1][0] == url
    assert "Import not started: the task queue could not be reached." in response.content.decode()
    job.refresh_from_db()
    assert job.status == ImportStatus.UPLOADED and not Subscriber.objects.exists()

    broker_down.end(eager=True)
    confirmed = editor_client.post(url, {"consent_basis": ConsentBasis.DOUBLE_OPT_IN})
    assert confirmed["Location"] == f"/admin/subscribers/importjob/{job.pk}/change/"
    job.refresh_from_db()
    assert job.status == ImportStatus.DONE and Subscriber.objects.get().email == "x@example.org"


@pytest.mark.django_db(transaction=True)
def test_adding_a_pending_reader_with_the_queue_down_saves_them_and_says_the_email_did_not_go(
    editor_client: Client, broker_down: BrokerOutage
) -> None:
    form = {"name": "", "consents-TOTAL_FORMS": "0", "consents-INITIAL_FORMS": "0"}
    response = editor_client.post(
        "/admin/subscribers/subscriber/add/", {**form, "email": "p@example.org", "status": "pending"}, follow=True
    )
    assert response.status_code == 200
    assert "The reader p@example.org is saved as pending, but the confirmation email could not be queued" in (
        response.content.decode()
    )
    reader = Subscriber.objects.get()
    assert reader.status == SubscriberStatus.PENDING and reader.confirmation_sent_at is None


# The sunset policy's fields as the form shows them: off, with its default figures.
SUNSET_OFF = {"sunset_after_sends": "10", "sunset_grace_days": "14"}


@pytest.mark.django_db(transaction=True)
def test_a_list_saved_or_deleted_in_the_admin_shows_on_the_subscribe_form_at_once(editor_client: Client) -> None:
    anonymous = Client()
    assert "Weekly tools" not in anonymous.get("/").content.decode()  # the form's lists are now cached
    editor_client.post(
        "/admin/subscribers/mailinglist/add/",
        {"name": "Weekly tools", "slug": "weekly", "public": "on", "position": "0", "description": "", **SUNSET_OFF},
    )
    assert "Weekly tools" in anonymous.get("/").content.decode()
    weekly = MailingList.objects.get(slug="weekly")
    editor_client.post(
        f"/admin/subscribers/mailinglist/{weekly.pk}/change/",
        {
            "name": "Weekly tools and tips",
            "slug": "weekly",
            "public": "on",
            "position": "0",
            "description": "",
            **SUNSET_OFF,
        },
    )
    assert "Weekly tools and tips" in anonymous.get("/").content.decode()
    editor_client.post(f"/admin/subscribers/mailinglist/{weekly.pk}/delete/", {"post": "yes"})
    assert not MailingList.objects.exists()
    assert "Weekly tools" not in anonymous.get("/").content.decode()
    MailingListFactory(name="Daily digest")
    daily = MailingList.objects.get()
    editor_client.post(
        "/admin/subscribers/mailinglist/",
        {"action": "delete_selected", ACTION_CHECKBOX_NAME: [str(daily.pk)], "post": "yes"},
    )
    assert not MailingList.objects.exists()
    assert "Daily digest" not in anonymous.get("/").content.decode()


def test_ids_in_the_address_that_are_not_ascii_digits_answer_without_a_500(editor_client: Client) -> None:
    # "²".isdigit() is True and int("²") raises: the admin reads ids with core.ids.parse_id.
    assert editor_client.get(CHANGELIST + "?segment=%C2%B2").status_code == 200
    assert editor_client.get("/admin/subscribers/importjob/%C2%B2/change/").status_code in (200, 302)
