from django.test import RequestFactory

from core.net import client_ip


def _request(remote: str = "10.0.0.5", forwarded: str | None = None):
    meta = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        meta["HTTP_X_FORWARDED_FOR"] = forwarded
    request = RequestFactory().post("/subscribe/")
    request.META.update(meta)
    return request


def test_without_a_proxy_it_is_the_peer_address_whatever_the_header_says(settings):
    settings.TRUSTED_PROXY_COUNT = 0
    assert client_ip(_request(forwarded="203.0.113.9")) == "10.0.0.5"


def test_behind_one_proxy_it_is_the_address_that_proxy_appended(settings):
    settings.TRUSTED_PROXY_COUNT = 1
    # The client wrote 1.2.3.4 itself; our proxy appended the real peer.
    assert client_ip(_request(forwarded="1.2.3.4, 198.51.100.7")) == "198.51.100.7"


def test_behind_two_proxies_it_skips_the_inner_one(settings):
    settings.TRUSTED_PROXY_COUNT = 2
    assert client_ip(_request(forwarded="1.2.3.4, 198.51.100.7, 10.1.1.1")) == "198.51.100.7"


def test_a_missing_short_or_garbled_header_falls_back_to_the_peer(settings):
    settings.TRUSTED_PROXY_COUNT = 1
    assert client_ip(_request()) == "10.0.0.5"
    assert client_ip(_request(forwarded="not-an-ip")) == "10.0.0.5"
    settings.TRUSTED_PROXY_COUNT = 2
    assert client_ip(_request(forwarded="198.51.100.7")) == "10.0.0.5"
