"""Issues through the API: read structured and rendered, create and change drafts via the composer."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from reversion.models import Version

from issues.models import Issue, IssueStatus, IssueTransition, Section
from testing import factories

pytestmark = pytest.mark.django_db

LEAD = {
    "kind": "lead",
    "heading": "A lab ships a model",
    "body": "<p>It reads <strong>news</strong>.</p><script>alert(1)</script>",
    "link_url": "https://example.com/story",
    "items": [{"label": "Size", "text": "Small"}],
}


def test_it_lists_and_gets_issues_structured_and_rendered(api):
    issue = factories.make_full_issue(title="Machines that read")
    listed = api.get("/issues").json()["results"]
    assert [i["id"] for i in listed] == [issue.pk]
    body = api.get(f"/issues/{issue.pk}").json()
    assert body["title"] == "Machines that read"
    assert [s["kind"] for s in body["sections"]] == ["lead", "lead", "lead", "highlight", "tool", "quick_links"]
    assert len(body["sections"][-1]["items"]) == 8
    rendered = api.get(f"/issues/{issue.pk}/rendered").json()
    assert "Lead story 1" in rendered["html"]
    assert "Opening paragraph of lead story 1." in rendered["text"]
    assert "Opening paragraph of lead story 1" in rendered["web_html"]


def test_the_list_filters_by_status_and_pages(api):
    for n in range(3):
        factories.IssueFactory(status=IssueStatus.APPROVED if n else IssueStatus.DRAFT)
    page = api.get("/issues", {"status": "approved", "limit": 1}).json()
    assert len(page["results"]) == 1 and page["next_cursor"]
    rest = api.get("/issues", {"status": "approved", "limit": 1, "cursor": page["next_cursor"]}).json()
    assert rest["next_cursor"] is None
    assert {page["results"][0]["id"], rest["results"][0]["id"]} == set(
        Issue.objects.filter(status="approved").values_list("pk", flat=True)
    )


def test_create_makes_a_sanitised_draft_with_a_revision(api, editor):
    response = api.post("/issues", {"title": "From the CMS", "preheader": "Hello", "sections": [LEAD]})
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["status"], body["slug"], body["preheader"]) == ("draft", "from-the-cms", "Hello")
    section = body["sections"][0]
    assert "<script>" not in section["body"] and "<strong>news</strong>" in section["body"]
    assert section["items"] == [{"label": "Size", "text": "Small", "url": ""}]
    issue = Issue.objects.get(pk=body["id"])
    assert issue.created_by == editor
    assert issue.word_count > 0
    assert Version.objects.get_for_object(issue).exists()


def test_a_bad_link_in_a_section_names_it_and_stores_nothing(api):
    bad = {**LEAD, "link_url": "javascript:alert(1)"}
    response = api.post("/issues", {"title": "Half", "sections": [LEAD, bad]})
    assert response.status_code == 422
    assert "sections.1.link_url" in {e["field"] for e in response.json()["errors"]}
    assert not Issue.objects.exists() and not Section.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"title": "T", "colour": "red"}, "colour"),
        ({"title": "T", "sections": [{**LEAD, "colour": "red"}]}, "sections.0.colour"),
        ({"title": "T", "sections": [{**LEAD, "kind": "poem"}]}, "sections.0.kind"),
        ({"title": "T", "sections": [{**LEAD, "items": [{"text": 3}]}]}, "sections.0.items.0.text"),
        ({"title": 12}, "title"),
    ],
)
def test_bad_shapes_are_refused_naming_the_field(api, body, field):
    response = api.post("/issues", body)
    assert response.status_code == 422
    assert field in {e["field"] for e in response.json()["errors"]}
    assert not Issue.objects.exists()


def test_update_replaces_sections_and_keeps_them_when_left_out(api):
    created = api.post("/issues", {"title": "Edit me", "sections": [LEAD]}).json()
    keep = {**LEAD, "id": created["sections"][0]["id"], "heading": "Renamed"}
    tool = {"kind": "tool", "heading": "Tool", "link_url": "https://tool.example", "items": [{"text": "Step"}]}
    changed = api.patch(f"/issues/{created['id']}", {"version": created["version"], "sections": [tool, keep]})
    assert changed.status_code == 200, changed.content
    body = changed.json()
    assert [(s["kind"], s["heading"]) for s in body["sections"]] == [("tool", "Tool"), ("lead", "Renamed")]
    assert body["sections"][1]["id"] == keep["id"]
    again = api.patch(f"/issues/{created['id']}", {"version": body["version"], "subject": "New subject"}).json()
    assert again["subject"] == "New subject"
    assert [s["heading"] for s in again["sections"]] == ["Tool", "Renamed"]
    assert again["sections"][1]["items"] == [{"label": "Size", "text": "Small", "url": ""}]


def test_an_update_on_an_old_version_is_a_conflict(api):
    created = api.post("/issues", {"title": "Race", "sections": [LEAD]}).json()
    assert api.patch(f"/issues/{created['id']}", {"version": created["version"], "title": "First"}).status_code == 200
    late = api.patch(f"/issues/{created['id']}", {"version": created["version"], "title": "Second"})
    assert late.status_code == 409
    assert Issue.objects.get(pk=created["id"]).title == "First"


def test_a_section_id_of_another_issue_is_refused(api):
    other = factories.make_full_issue()
    created = api.post("/issues", {"title": "Mine"}).json()
    stolen = {**LEAD, "id": other.sections.first().pk}
    response = api.patch(f"/issues/{created['id']}", {"version": created["version"], "sections": [stolen]})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "sections.0.id"


def test_workflow_rules_hold_through_the_api(make_api, contributor, api):
    approved = factories.make_full_issue(status=IssueStatus.APPROVED)
    scheduled = factories.make_full_issue(status=IssueStatus.SCHEDULED)
    contributor.user_permissions.add(Permission.objects.get(codename="add_apikey"))
    as_contributor = make_api(user=contributor)
    refused = as_contributor.patch(f"/issues/{approved.pk}", {"version": approved.version, "title": "Mine now"})
    assert refused.status_code == 403
    assert "editors" in refused.json()["detail"].lower()
    locked = api.patch(f"/issues/{scheduled.pk}", {"version": scheduled.version, "title": "Late change"})
    assert locked.status_code == 403
    assert "scheduled" in locked.json()["detail"]
    assert Issue.objects.get(pk=approved.pk).title == approved.title
    assert not IssueTransition.objects.exists()
