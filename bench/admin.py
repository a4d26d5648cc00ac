"""The editor's day: server time of the issue page and of its saves.

    python -m bench.admin [--rounds 30]

Through the real admin (Django's test client, the full middleware stack, a
signed-in editor) on a throwaway PostgreSQL database (newsroom_bench_admin, or
BENCH_ADMIN_DATABASE_NAME; BENCH_ADMIN_DATABASE_URL overrides the server), it measures medians of:

- the issue change page (the one-page composer) for an issue of the reference
  shape and for one of 30 sections (target: within 3x the reference's);
- an autosave that changes one heading, against a full-page save (the
  change form's Save) of the same issue (target: a fifth or less); and the
  same autosave when it also refreshes the session's revision ("final save":
  a session's first and last saves, and one every COMPOSER_REVISION_SECONDS).

Each figure is a ratio to another measured in the same run, interleaved so
that drift in the machine's load falls on both alike.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

DATABASE_URL = os.environ.get("BENCH_ADMIN_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")


def _configure() -> None:
    os.environ.update(
        DJANGO_SETTINGS_MODULE="newsroom.settings",
        DATABASE_URL=DATABASE_URL,
        TEST_DATABASE_NAME=os.environ.get("BENCH_ADMIN_DATABASE_NAME", "newsroom_bench_admin"),
        CACHE_URL="locmem",
        DEBUG="0",
        SECURE_SSL_REDIRECT="0",
        ANYMAIL_PROVIDER="outbox",
        # Static files as the tests serve them (no collectstatic manifest needed).
        NEWSROOM_TESTING="1",
    )
    os.environ.setdefault("SECRET_KEY", "bench-admin-" + "x" * 50)


def _issues() -> tuple[Any, Any]:
    from issues.models import SectionKind
    from testing.factories import IssueFactory, SectionFactory, SectionItemFactory, make_full_issue

    reference = make_full_issue(title="Reference shape", slug="reference-shape")
    big = IssueFactory.create(title="Thirty sections", slug="thirty-sections")
    for position in range(30):
        section = SectionFactory(issue=big, kind=SectionKind.LEAD, position=position, heading=f"Story {position}")
        for n in range(3):
            SectionItemFactory(section=section, position=n, text=f"Detail {n} of story {position}")
    return reference, big


def _medians(rounds: int, runs: dict[str, Callable[[], object]]) -> dict[str, float]:
    timings: dict[str, list[float]] = {name: [] for name in runs}
    for index in range(rounds + 5):
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            if index >= 5:  # the first rounds warm caches and connections
                timings[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in timings.items()}


def _form_data(html: str) -> dict[str, Any]:
    """What the browser would post when the editor presses Save on this page."""
    from lxml import html as lxml_html

    form = lxml_html.fromstring(html).get_element_by_id("issue_form")
    data: dict[str, Any] = {}
    for name, value in form.form_values():
        data.setdefault(name, []).append(value)
    data["_continue"] = ["Save and continue editing"]
    return data


def _get(client: Any, url: str) -> Callable[[], object]:
    def run() -> object:
        response = client.get(url)
        assert response.status_code == 200, response.status_code
        return response

    return run


def _saves(client: Any, issue: Any) -> dict[str, Callable[[], object]]:
    from issues.models import Issue

    change_url = f"/admin/issues/issue/{issue.pk}/change/"
    compose_url = f"/admin/issues/issue/{issue.pk}/compose/"
    page = client.get(change_url).content.decode()
    state = json.loads(page.split('id="composer-state" type="application/json">', 1)[1].split("</script>", 1)[0])
    # As the page sends them: the changed first section whole, the others by id alone.
    sections = [{**state["sections"][0], "key": "s1"}] + [
        {"id": s["id"], "key": f"s{n}"} for n, s in enumerate(state["sections"][1:], start=2)
    ]
    counter = iter(range(10**9))

    def autosave(final: bool = False) -> object:
        version = Issue.objects.values_list("version", flat=True).get(pk=issue.pk)
        sections[0]["heading"] = f"Heading {next(counter)}"
        body = {"version": version, "session": "benchsession1", "sections": sections, "final": final}
        response = client.post(compose_url, json.dumps(body), content_type="application/json")
        assert response.status_code == 200 and response.json()["ok"], response.content[:300]
        return response

    form = _form_data(page)

    def full_save() -> object:
        version = Issue.objects.values_list("version", flat=True).get(pk=issue.pk)
        response = client.post(change_url, {**form, "base_version": [str(version)]})
        assert response.status_code == 302, response.content[:500]
        return response

    # Autosaves come every few seconds, so most skip the session's revision
    # (refreshed every COMPOSER_REVISION_SECONDS); "final save" is the one that
    # takes it (the first save of a session, a refresh, the page's last save).
    return {"autosave": autosave, "final save": lambda: autosave(final=True), "full save": full_save}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    _configure()
    import django

    django.setup()
    from django.db import connection
    from django.test import Client
    from django.test.utils import setup_test_environment

    from testing.factories import make_editor

    setup_test_environment()
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        reference, big = _issues()
        client = Client()
        client.force_login(make_editor())
        print(f"load average before: {os.getloadavg()}")
        pages = _medians(
            args.rounds,
            {
                "reference": _get(client, f"/admin/issues/issue/{reference.pk}/change/"),
                "30 sections": _get(client, f"/admin/issues/issue/{big.pk}/change/"),
            },
        )
        print("Issue change page (the composer), median server time:")
        for name, value in pages.items():
            print(f"  {name:<12} {value * 1000:8.1f} ms   {value / pages['reference']:5.2f}x reference")
        saves = _medians(args.rounds, _saves(client, reference))
        print("Saving the reference issue, median server time:")
        for name, value in saves.items():
            print(f"  {name:<12} {value * 1000:8.1f} ms   {value / saves['full save']:5.2f}x full save")
        print(f"load average after: {os.getloadavg()}")
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
