"""Are the composer's scripts served as production serves them?

    python -m bench.static

With DEBUG off and WhiteNoise's CompressedManifestStaticFilesStorage (the
production settings), it runs collectstatic into a temporary STATIC_ROOT, then
fetches CKEditor's bundle and the composer's script and style by their hashed
names through the whole middleware stack, asking for gzip (and for brotli
when the Brotli package is installed: WhiteNoise writes .br files only then;
requirements.txt does not pin it today). It prints each answer's
Content-Encoding, Cache-Control and size against the uncompressed file, and
exits 1 if one is not compressed or not cached for at least a year. A check,
not a timing; it takes a few seconds (collectstatic).
"""

from __future__ import annotations

import importlib.util
import os
import re
import sys
import tempfile

ASSETS = ("django_ckeditor_5/dist/bundle.js", "issues/composer.js", "issues/composer.css")
A_YEAR = 365 * 24 * 3600
ENCODINGS = ("br", "gzip") if importlib.util.find_spec("brotli") else ("gzip",)


def _configure(static_root: str) -> None:
    os.environ.update(
        DJANGO_SETTINGS_MODULE="newsroom.settings",
        DEBUG="0",
        NEWSROOM_TESTING="0",
        STATIC_ROOT=static_root,
        SECURE_SSL_REDIRECT="0",
        CACHE_URL="locmem",
    )
    os.environ.setdefault("SECRET_KEY", "bench-static-" + "x" * 50)


def _check(client: object, url: str, encoding: str, plain_size: int) -> bool:
    response = client.get(url, HTTP_ACCEPT_ENCODING=encoding)  # type: ignore[attr-defined]
    body = b"".join(response.streaming_content) if response.streaming else response.content
    served = response.get("Content-Encoding", "none")
    cache = response.get("Cache-Control", "")
    max_age = int(match.group(1)) if (match := re.search(r"max-age=(\d+)", cache)) else 0
    good = response.status_code == 200 and served == encoding and max_age >= A_YEAR
    ratio = len(body) / plain_size
    print(f"  {'ok ' if good else 'BAD'} {encoding:<3} {served:<5} {ratio:5.2f}x size  {cache}  {url}")
    return good


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="newsroom-static-") as static_root:
        _configure(static_root)
        import django

        django.setup()
        from django.contrib.staticfiles.storage import staticfiles_storage
        from django.core.management import call_command
        from django.test import Client

        call_command("collectstatic", interactive=False, verbosity=0)
        client, results = Client(), []
        print(f"Static files through WhiteNoise, DEBUG off, asking for {' and '.join(ENCODINGS)}:")
        for name in ASSETS:
            plain_size = os.path.getsize(staticfiles_storage.path(name))
            url = staticfiles_storage.url(name)
            results += [_check(client, url, encoding, plain_size) for encoding in ENCODINGS]
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
