from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from issues import admin_views as issues_admin_views
from newsroom import views

urlpatterns = [
    path("admin/analytics/", include("delivery.analytics_urls")),
    path("admin/", admin.site.urls),
    path("health/", views.health, name="health"),
    path("api/", include("api.urls")),
    # anymail's webhook views behind a 401 challenge for a missing WEBHOOK_SECRET (delivery/webhooks.py).
    path("anymail/", include("delivery.webhook_urls")),
    # Image uploads answer every refusal (type, size) with a message CKEditor shows.
    path("ckeditor5/image_upload/", issues_admin_views.ckeditor_upload, name="issues_ckeditor_upload"),
    path("ckeditor5/", include("django_ckeditor_5.urls")),
    path("", include("subscribers.urls")),
    path("", include("delivery.urls")),
    path("", include("issues.urls")),
    path("", include("newsroom.site_urls")),
]

handler403 = "newsroom.views.permission_denied"

if settings.DEBUG:
    from django.conf.urls.static import static

    urlpatterns += [path("dev/outbox/", include("core.urls"))]
    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
