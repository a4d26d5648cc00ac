from django.urls import path

from core import views

urlpatterns = [
    path("", views.outbox_list, name="outbox-list"),
    path("<int:pk>/", views.outbox_detail, name="outbox-detail"),
    path("<int:pk>/html/", views.outbox_html, name="outbox-html"),
]
