"""anymail's webhook URLs (same paths and names, namespace "anymail"), each behind delivery.webhooks.guarded."""

from anymail import urls as anymail_urls
from django.urls import URLPattern

from delivery.webhooks import guarded

app_name = "anymail"

urlpatterns = [
    URLPattern(pattern.pattern, guarded(pattern.callback), pattern.default_args, pattern.name)
    for pattern in anymail_urls.urlpatterns
    if isinstance(pattern, URLPattern)
]
