from django.urls import path

from issues import feeds, views

app_name = "issues"

urlpatterns = [
    path("newsletter/", views.archive, name="archive"),
    path("newsletter/feed/rss/", feeds.IssuesRssFeed(), name="feed-rss"),
    path("newsletter/feed/atom/", feeds.IssuesAtomFeed(), name="feed-atom"),
    path("newsletter/<slug:slug>/", views.issue_detail, name="detail"),
    path("tag/<str:slug>/", views.tag_detail, name="tag"),
]
