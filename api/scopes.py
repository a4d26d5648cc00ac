"""What an API key may be used for. A key needs the scope of an operation *and* its
creator needs the Django permission the service checks (see api/README in the
project README: a key never does more than the person who made it)."""

from __future__ import annotations

from django.db import models


class Scope(models.TextChoices):
    SUBSCRIBERS_READ = "subscribers:read", "Read readers, lists, tags and segments"
    SUBSCRIBERS_WRITE = "subscribers:write", "Add, change, unsubscribe and erase readers"
    ISSUES_READ = "issues:read", "Read issues, rendered and structured"
    ISSUES_WRITE = "issues:write", "Create and change draft issues"
    SENDS_READ = "sends:read", "Read sends and their progress"
    SENDS_WRITE = "sends:write", "Schedule, pause, resume and cancel sends"
    ANALYTICS_READ = "analytics:read", "Read tracking events and send figures"
