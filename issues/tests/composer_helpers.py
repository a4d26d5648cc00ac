"""What the composer's script does, for tests with the Django test client:
read the state the issue page hands it and post a changed state back."""

from __future__ import annotations

import json
from typing import Any

from django.test import Client
from django.urls import reverse

from issues.models import Issue


def composer_state(client: Client, issue: Issue) -> dict[str, Any]:
    """The composer's initial state on the issue's change page."""
    response = client.get(reverse("admin:issues_issue_change", args=[issue.pk]))
    assert response.status_code == 200
    return response.context["composer_state"]


def composer_post(
    client: Client,
    issue: Issue,
    *,
    sections: list[dict[str, Any]],
    version: int,
    fields: dict[str, Any] | None = None,
    session: str = "",
) -> Any:
    """Post a composer save as the page's script does (JSON, CSRF header)."""
    body: dict[str, Any] = {"version": version, "issue": fields or {}, "sections": sections}
    if session:
        body["session"] = session
    for number, section in enumerate(sections):
        section.setdefault("key", f"s{number}")
    return client.post(
        reverse("admin:issues_issue_compose", args=[issue.pk]), json.dumps(body), content_type="application/json"
    )
