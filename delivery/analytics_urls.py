"""Analytics pages, mounted at /admin/analytics/ (namespace "delivery_analytics")."""

from django.urls import path

from delivery import analytics_views

app_name = "delivery_analytics"

urlpatterns = [
    path("", analytics_views.index, name="index"),
    path("send/<int:pk>/", analytics_views.send_detail, name="send"),
    path("issue/<int:pk>/", analytics_views.issue_detail, name="issue"),
    path("audience/", analytics_views.audience, name="audience"),
]
