from django.urls import path

from subscribers import views

app_name = "subscribers"

urlpatterns = [
    path("subscribe/", views.subscribe, name="subscribe"),
    path("subscribe/embed/", views.embed_subscribe, name="embed_subscribe"),
    path("subscribe/thanks/", views.subscribe_thanks, name="thanks"),
    path("subscribe/resend/", views.resend, name="resend"),
    path("subscribe/confirm/<str:token>/", views.confirm, name="confirm"),
    path("subscription/<str:token>/", views.preferences, name="preferences"),
    path("subscription/<str:token>/data.json", views.download_data, name="data"),
    path("subscription/<str:token>/erase/", views.erase, name="erase"),
    path("subscription/<str:token>/keep/", views.keep, name="keep"),
    path("unsubscribe/<str:token>/", views.unsubscribe, name="unsubscribe"),
    path("unsubscribe/<str:token>/one-click/", views.one_click, name="one_click"),
]
