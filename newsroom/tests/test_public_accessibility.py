"""axe-core finds no accessibility violation, of any impact, on the pages a
reader meets (home, archive, a paginated archive page, an issue, a tag page,
subscribe, preferences) at 375 and 1280 px, in light and dark.

One test over the demo content: axe runs in the page (the `axe-core` npm
package, scripts/ensure-axe); the demo is loaded once for all the runs."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import pytest

from demo.loader import demo_load
from issues.models import Issue, IssueStatus
from subscribers.links import links_for
from subscribers.models import Subscriber, SubscriberStatus
from testing.plugin import axe_js

pytestmark = [pytest.mark.browser, pytest.mark.axe, pytest.mark.django_db(transaction=True)]

WIDTHS = (375, 1280)
SCHEMES = ("light", "dark")
# Every rule axe has, best practices included; none is switched off.
RUN_AXE = """
async () => {
  const result = await axe.run(document, {resultTypes: ["violations"]});
  return result.violations.map(v => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 3).map(n => n.target.join(" ") + " :: " + n.failureSummary),
  }));
}
"""


def _pages() -> dict[str, str]:
    issue = Issue.objects.filter(status=IssueStatus.SENT).order_by("-publish_date").first()
    tag = issue.tags.order_by("name").first() if issue else None
    active = Subscriber.objects.filter(status=SubscriberStatus.ACTIVE).first()
    assert issue and tag and active
    return {
        "home": "/",
        "archive": "/newsletter/",
        "archive page 2": "/newsletter/?page=2",
        "issue": issue.get_absolute_url(),
        "tag": f"/tag/{tag.slug}/",
        "subscribe": "/subscribe/",
        "preferences": urlsplit(links_for(subscriber_id=active.pk, email=active.email)["preferences_url"]).path,
    }


def test_the_public_pages_have_no_axe_violations_at_phone_and_desktop_widths_in_light_and_dark(
    page, live_server, settings
):
    settings.PAGE_CACHE_SECONDS = 0
    script = axe_js().read_text()
    # The harness finds what it should: a page with a picture that has no alt text.
    page.set_content('<!doctype html><html lang="en"><title>t</title><main><img src="data:,"></main></html>')
    page.add_script_tag(content=script)
    assert "image-alt" in {v["id"] for v in page.evaluate(RUN_AXE)}
    demo_load()
    found = []
    for name, path in _pages().items():
        for scheme in SCHEMES:
            page.emulate_media(color_scheme=scheme)
            for width in WIDTHS:
                page.set_viewport_size({"width": width, "height": 900})
                page.goto(live_server.url + path)
                page.add_script_tag(content=script)
                for violation in page.evaluate(RUN_AXE):
                    found.append(f"{name} {width}px {scheme}: {json.dumps(violation)}")
    assert not found, "\n".join(found)
