from django.contrib.sitemaps.views import sitemap
from django.urls import path

from newsroom import views
from newsroom.sitemaps import SITEMAPS

urlpatterns = [
    path("", views.home, name="home"),
    path("robots.txt", views.robots_txt, name="robots-txt"),
    # Clients that ask for /favicon.ico without reading the page's <link rel="icon">.
    path("favicon.ico", views.favicon, name="favicon"),
    path("sitemap.xml", sitemap, {"sitemaps": SITEMAPS}, name="django.contrib.sitemaps.views.sitemap"),
    path("pages/<slug:slug>/", views.site_page, name="site-page"),
]
