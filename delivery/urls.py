from django.urls import path

from delivery import tracking_views

app_name = "delivery"

urlpatterns = [
    # Tokens are URL-safe base64 and base62: letters, digits, "-", "_" and ".".
    path("t/c/<str:token>/", tracking_views.click, name="track_click"),
    path("t/o/<str:token>.gif", tracking_views.open_pixel, name="track_open"),
]
