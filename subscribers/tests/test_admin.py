from __future__ import annotations

import csv
import io

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from newsroom.testing.factories import MailingListFactory, make_confirmed_reader
from subscribers.models import (
    ConsentBasis,
    ImportJob,
    Segment,
    Subscriber,
    SubscriberStatus,
    SubscriberTag,
    Suppression,
    email_hash,
)
from subscribers.services import subscriber_erase

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


def test_bulk_unsubscribe_and_export(editor_client: Client) -> None:
    reader = make_confirmed_reader(email="x@example.org", name="@evil")
    response = editor_client.post(CHANGELIST, {"action": "export_csv", ACTION_CHECKBOX_NAME: [reader.pk]})
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))  # type: ignore[attr-defined]
    assert rows[0]["email"] == "x@example.org" and rows[0]["name"] == "'@evil"
    editor_client.post(CHANGELIST, {"action": "unsubscribe", ACTION_CHECKBOX_NAME: [reader.pk]})
    reader.refresh_from_db()
    assert reader.status == SubscriberStatus.UNSUBSCRIBED


def test_segment_pages_show_the_live_count(editor_client: Client) -> None:
    daily = MailingListFactory.create()
    make_confirmed_reader(lists=[daily])
    make_confirmed_reader(lists=[daily])
    segment = Segment.objects.create(name="All daily")
    segment.lists.add(daily)
    change = editor_client.get(f"/admin/subscribers/segment/{segment.pk}/change/").content.decode()
    assert "Readers a send would reach now" in change
    listing = editor_client.get("/admin/subscribers/segment/").content.decode()
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


def test_import_in_the_admin_previews_then_reports(editor_client: Client) -> None:
    content = b"email,name\nok@example.org,Ok\nbad,Bad\n"
    response = editor_client.post(
        f"{CHANGELIST}import/", {"file": SimpleUploadedFile("r.csv", content, content_type="text/csv")}
    )
    job = ImportJob.objects.get()
    assert response["Location"] == f"{CHANGELIST}import/{job.pk}/"
    preview = editor_client.get(response["Location"]).content.decode()
    assert "ok@example.org" in preview and "2 data rows" in preview
    assert not Subscriber.objects.exists()
    report = editor_client.post(
        response["Location"], {"consent_basis": ConsentBasis.DOUBLE_OPT_IN}, follow=True
    ).content.decode()
    assert "1 added, 0 updated, 0 skipped, 1 rejected" in report
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
