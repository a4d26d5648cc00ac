"""anymail's webhook URLs (same paths and names, namespace "anymail"), each behind delivery.webhooks.guarded.

Each of anymail's views is used as it is, with ReadableBodyMixin in front so that
a body it cannot parse is refused with 400 instead of failing with 500, and
FreshSignatureMixin so that a signature anymail accepted must also be recent
and not used before.
"""

from typing import Any

from anymail import urls as anymail_urls
from django.urls import URLPattern

from delivery.webhooks import FreshSignatureMixin, ReadableBodyMixin, guarded

app_name = "anymail"


def _readable(callback: Any) -> Any:
    view_class = callback.view_class
    readable: Any = type(
        view_class.__name__, (ReadableBodyMixin, FreshSignatureMixin, view_class), {"__module__": __name__}
    )
    return readable.as_view(**callback.view_initkwargs)


urlpatterns = [
    URLPattern(pattern.pattern, guarded(_readable(pattern.callback)), pattern.default_args, pattern.name)
    for pattern in anymail_urls.urlpatterns
    if isinstance(pattern, URLPattern)
]
