"""core.origin: cross-origin posts refused by the browser's own headers, no token needed."""

import pytest
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.test import RequestFactory

from core.origin import is_cross_origin, same_origin_post


def _post(**headers: str):
    request = RequestFactory().post("/form/", {"a": "1"}, HTTP_HOST="news.example.com")
    request.META.update(headers)
    return request


@pytest.mark.parametrize(
    ("headers", "cross"),
    [
        ({"HTTP_SEC_FETCH_SITE": "same-origin"}, False),
        ({"HTTP_SEC_FETCH_SITE": "none"}, False),
        ({"HTTP_SEC_FETCH_SITE": "same-site"}, True),
        ({"HTTP_SEC_FETCH_SITE": "cross-site"}, True),
        # Sec-Fetch-Site wins over a matching Origin.
        ({"HTTP_SEC_FETCH_SITE": "cross-site", "HTTP_ORIGIN": "http://news.example.com"}, True),
        ({"HTTP_ORIGIN": "http://news.example.com"}, False),
        ({"HTTP_ORIGIN": "https://news.example.com"}, True),
        ({"HTTP_ORIGIN": "http://evil.example"}, True),
        ({"HTTP_ORIGIN": "null"}, True),
        # Neither header: not sent by a current browser, so not a forgery by one.
        ({}, False),
    ],
)
def test_it_tells_a_cross_origin_post_from_the_browsers_headers(settings, headers, cross):
    settings.ALLOWED_HOSTS = ["news.example.com"]
    assert is_cross_origin(_post(**headers)) is cross


def test_a_trusted_origin_is_let_through(settings):
    settings.ALLOWED_HOSTS = ["news.example.com"]
    settings.CSRF_TRUSTED_ORIGINS = ["https://www.example.com"]
    assert is_cross_origin(_post(HTTP_ORIGIN="https://www.example.com")) is False


def test_the_decorated_view_refuses_a_cross_origin_post_before_it_runs(settings):
    settings.ALLOWED_HOSTS = ["news.example.com"]
    calls = []

    @same_origin_post
    def view(request):
        calls.append(request)
        return HttpResponse("ok")

    with pytest.raises(PermissionDenied):
        view(_post(HTTP_SEC_FETCH_SITE="cross-site"))
    assert calls == []
    get = RequestFactory().get("/form/", HTTP_HOST="news.example.com", HTTP_SEC_FETCH_SITE="cross-site")
    assert view(get).status_code == 200
    assert getattr(view, "csrf_exempt", False) is True
