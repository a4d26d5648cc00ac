"""core.pagecache on its own: what a view may keep out of the page cache."""

import pytest
from django.http import HttpResponse

from core.pagecache import CachedPageMiddleware, page_cacheable


def test_a_page_that_sets_its_own_cache_control_is_not_stored(rf):
    @page_cacheable(seconds=lambda: 300)
    def view(request):
        response = HttpResponse("private page")
        response["Cache-Control"] = "private"
        return response

    middleware = CachedPageMiddleware(view)
    for _ in range(2):
        response = middleware(rf.get("/own-cache-control/"))
        assert "ETag" not in response and response["Cache-Control"] == "private"


@pytest.fixture(autouse=True)
def _cache_on(settings):
    settings.PAGE_CACHE_SECONDS = 300


def test_a_marked_page_is_stored_and_the_next_request_skips_the_view(rf):
    calls = []

    @page_cacheable(seconds=lambda: 300)
    def view(request):
        calls.append(request)
        return HttpResponse("the same for all")

    middleware = CachedPageMiddleware(view)
    first = middleware(rf.get("/stored-page/"))
    again = middleware(rf.get("/stored-page/"))
    assert len(calls) == 1
    assert again.content == b"the same for all" and again["ETag"] == first["ETag"]
    assert again["Content-Length"] == str(len(b"the same for all"))
