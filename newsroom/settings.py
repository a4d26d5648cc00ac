"""Newsroom settings: one module, read from the environment.

Every variable is listed in the README. Defaults run on a laptop with no
services (SQLite, a file-system broker, the local outbox); production sets
DATABASE_URL, REDIS_URL, the provider and the secrets.
"""

from __future__ import annotations

import itertools
import re
import sys
import urllib.parse
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from core.env import (
    env_bool,
    env_choice,
    env_date,
    env_int,
    env_list,
    env_positive,
    env_positive_item,
    env_str,
    env_time_zone,
    env_url,
)

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("NEWSROOM_VAR_DIR", str(BASE_DIR / "var")))

TESTING = "pytest" in sys.modules or env_bool("NEWSROOM_TESTING", False)

DEBUG = env_bool("DEBUG", True)

SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = "dev-only-insecure-key-do-not-use-in-production-3f9a1c7e5b2d"  # noqa: S105
# Old keys still accepted when verifying signatures, so rotating SECRET_KEY does
# not break the unsubscribe and preference links in emails already sent.
SECRET_KEY_FALLBACKS = env_list("SECRET_KEY_FALLBACKS", [])

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"])

SITE_URL = env_url("SITE_URL", "http://127.0.0.1:8000")
PUBLISHER_NAME = env_str("PUBLISHER_NAME", "The Newsroom Daily")
PUBLISHER_ADDRESS = env_str("PUBLISHER_ADDRESS", "Newsroom Media Ltd, 1 Example Street, London EC1A 1AA, UK")
# The publication's colours: the generated social card of an issue without a cover.
BRAND_COLOR = env_str("BRAND_COLOR", "#1d4ed8")
BRAND_TEXT_COLOR = env_str("BRAND_TEXT_COLOR", "#ffffff")
for _name, _value in (("BRAND_COLOR", BRAND_COLOR), ("BRAND_TEXT_COLOR", BRAND_TEXT_COLOR)):
    if not re.fullmatch(r"#[0-9a-fA-F]{6}", _value):
        raise ImproperlyConfigured(f"{_name} must be a colour like #1d4ed8, not {_value!r}.")
# The site page (by slug) that lists every Tool of the Day featured in a public issue.
TOOLS_PAGE_SLUG = env_str("TOOLS_PAGE_SLUG", "tools")
# PostgreSQL's text-search configuration for the archive search (its language's stemming and stop words).
SEARCH_CONFIG = env_str("SEARCH_CONFIG", "english")
if not re.fullmatch(r"[a-z_]{1,40}", SEARCH_CONFIG):
    raise ImproperlyConfigured(
        f"SEARCH_CONFIG must name a PostgreSQL text-search configuration, not {SEARCH_CONFIG!r}."
    )
# The label over a sponsored highlight whose own label is left blank. Never
# empty: readers must always be told that a block is paid for.
SPONSOR_LABEL_DEFAULT = env_str("SPONSOR_LABEL_DEFAULT", "Sponsored").strip()
if not SPONSOR_LABEL_DEFAULT or len(SPONSOR_LABEL_DEFAULT) > 80:
    raise ImproperlyConfigured("SPONSOR_LABEL_DEFAULT must be 1 to 80 characters, e.g. 'Sponsored'.")
# The composer keeps one revision per editing session; autosaves refresh it at
# most this often (the session's first and last saves always do), since each
# refresh snapshots the whole issue.
COMPOSER_REVISION_SECONDS = env_int("COMPOSER_REVISION_SECONDS", 30, minimum=0)
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [SITE_URL] if SITE_URL.startswith("https") else [])

# Other sites whose pages may carry the embeddable sign-up form (scheme://host[:port], no path).
EMBED_ALLOWED_ORIGINS = env_list("EMBED_ALLOWED_ORIGINS", [])
for _origin in EMBED_ALLOWED_ORIGINS:
    _parts = urllib.parse.urlsplit(_origin)
    if _parts.scheme not in ("http", "https") or not _parts.netloc or _origin != f"{_parts.scheme}://{_parts.netloc}":
        raise ImproperlyConfigured(
            f"EMBED_ALLOWED_ORIGINS entry {_origin!r} is not an origin: write it as https://example.org "
            "(scheme and host, a port if any, no path or trailing slash)."
        )

INSTALLED_APPS = [
    "newsroom.apps.NewsroomAdminConfig",  # django.contrib.admin with the project's site
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.sitemaps",
    "django.contrib.humanize",
    "adminsortable2",
    "reversion",
    "django_ckeditor_5",
    "anymail",
    "core",
    "newsroom",
    "issues",
    "subscribers",
    "delivery",
    "ninja",  # django-ninja: its Swagger UI files are served from our static files, no CDN
    "api",
    "automations",
    "outbound",
    "demo",  # load_demo and its content; production code never imports it
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Before the session: a cached public page needs no session, auth, messages or CSRF.
    "core.pagecache.CachedPageMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    # /api/v1/ only: the API key, its rate limit, Idempotency-Key and the request log (api/middleware.py).
    "api.middleware.ApiKeyMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "newsroom.urls"
WSGI_APPLICATION = "newsroom.wsgi.application"
ASGI_APPLICATION = "newsroom.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "newsroom.context_processors.site",
            ],
        },
    },
]

# --- Database ---------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}")
try:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 60))}
except ValueError as exc:
    raise ImproperlyConfigured(f"DATABASE_URL is malformed: {exc}") from None
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web server, the worker and beat share one file: wait for locks
    # rather than failing, and take the write lock up front.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and not env_bool("DATABASE_JIT", False):
    # PostgreSQL compiles a query with JIT when its estimated cost is high; a page's correlated counts
    # estimate high and run in a millisecond, and the compiling took 0.8 s of the sends list (bench.scale).
    DATABASES["default"].setdefault("OPTIONS", {})["options"] = "-c jit=off"
DATABASES["default"]["TEST"] = {"NAME": env_str("TEST_DATABASE_NAME") or None}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis, cache, Celery ---------------------------------------------------
REDIS_URL = env_url("REDIS_URL", "", schemes=("redis", "rediss", "unix"))

# CACHE_URL: a redis:// URL, "locmem" or "file"; defaults to REDIS_URL when set.
CACHE_URL = env_str("CACHE_URL", REDIS_URL or "file")
if CACHE_URL.startswith(("redis://", "rediss://", "unix://")):
    CACHES = {
        "default": {
            # Django's Redis cache, but a Redis that is down is a miss, not a 500 (core/cache.py).
            "BACKEND": "core.cache.RedisCache",
            "LOCATION": CACHE_URL,
            "KEY_PREFIX": env_str("CACHE_KEY_PREFIX", "newsroom"),
            # A Redis that hangs rather than refusing must not hang every page with it.
            "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
        }
    }
elif CACHE_URL == "locmem":
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
elif CACHE_URL == "file":
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }
else:
    raise ImproperlyConfigured(f"CACHE_URL={CACHE_URL!r} is not a redis:// URL, 'locmem' or 'file'.")
PAGE_CACHE_SECONDS = env_int("PAGE_CACHE_SECONDS", 300, minimum=0)
# How long a CDN may serve a public page without asking again (s-maxage); 0: it revalidates every time.
PAGE_SHARED_MAX_AGE = env_int("PAGE_SHARED_MAX_AGE", 0, minimum=0)

_VISIBILITY_TIMEOUT = env_int("CELERY_VISIBILITY_TIMEOUT", 3600, minimum=60)
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {
        # Longer than any task may run (task_time_limit, checked below), so a
        # task is never handed to a second worker while the first is still on it.
        "visibility_timeout": _VISIBILITY_TIMEOUT,
        # Without timeouts a connection that silently died (a failover, a dropped
        # NAT entry) leaves a worker or a web request waiting for ever.
        "socket_connect_timeout": 5,
        "socket_timeout": 30,
        "socket_keepalive": True,
    }
else:
    # An embedded broker that needs no server: kombu's file-system transport
    # keeps messages as files under var/broker, shared by the web server,
    # the worker and beat on one machine.
    _broker = VAR_DIR / "broker"
    # kombu does not create its folders; without them the worker stops at start-up.
    for _folder in ("out", "control", "processed"):
        (_broker / _folder).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_URL = "filesystem://localhost/"  # the host is unused; naming it quiets kombu
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker / "out"),
        "data_folder_out": str(_broker / "out"),
        "control_folder": str(_broker / "control"),
        "processed_folder": str(_broker / "processed"),
        "store_processed": False,
    }
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 600, minimum=10)
CELERY_TASK_SOFT_TIME_LIMIT = CELERY_TASK_TIME_LIMIT - 5
if REDIS_URL and CELERY_TASK_TIME_LIMIT >= _VISIBILITY_TIMEOUT:
    raise ImproperlyConfigured(
        "CELERY_VISIBILITY_TIMEOUT must be longer than CELERY_TASK_TIME_LIMIT, or Redis hands a running task "
        "to a second worker."
    )
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Celery's Django fix-up closes the database connection before and after every task unless told to
# reuse it: a new PostgreSQL connection for each batch of a send (about 5 ms of the worker's time,
# and a fresh server process that looks its catalog up again). With this it closes them every
# 2 x this many tasks, and after each task newsroom.celery closes one that broke or outlived
# DB_CONN_MAX_AGE, as Django does after each request.
CELERY_DB_REUSE_MAX = 500
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
SEND_POLL_SECONDS = env_int("SEND_POLL_SECONDS", 5, minimum=1)
# How often readers who joined a segment that triggers a sequence are looked for.
SEQUENCE_SEGMENT_CHECK_SECONDS = env_int("SEQUENCE_SEGMENT_CHECK_SECONDS", 300, minimum=10)
# Above this many readers the admin's pages of lists and segments show counts taken every
# AUDIENCE_COUNT_SECONDS (subscribers.counts) instead of counting every list and segment on each view.
AUDIENCE_COUNT_LIVE_LIMIT = env_int("AUDIENCE_COUNT_LIVE_LIMIT", 100_000, minimum=0)
AUDIENCE_COUNT_SECONDS = env_int("AUDIENCE_COUNT_SECONDS", 600, minimum=60)
# How often the lists' sunset policies run (re-engagement emails, moves to inactive).
SUNSET_CHECK_SECONDS = env_int("SUNSET_CHECK_SECONDS", 3600, minimum=60)

# --- Mail provider ----------------------------------------------------------
PROVIDERS = (
    "outbox",
    "console",
    "smtp",
    "mailgun",
    "postmark",
    "amazon_ses",
    "brevo",
    "resend",
    "sendgrid",
    "sparkpost",
    "mandrill",
    "mailjet",
    "unisender_go",
    "mailersend",
    "postal",
    "scaleway",
    "mailtrap",
)
# Providers that need ANYMAIL_API_KEY (Mailjet also ANYMAIL_SECRET_KEY, Unisender Go and Postal
# ANYMAIL_API_URL, Scaleway ANYMAIL_PROJECT_ID).
# Every API provider but Amazon SES (which reads boto3's own credentials).
_KEYED = tuple(name for name in PROVIDERS if name not in ("outbox", "console", "smtp", "amazon_ses"))
EMAIL_PROVIDER = env_choice("ANYMAIL_PROVIDER", "outbox", PROVIDERS)
ANYMAIL_API_KEY = env_str("ANYMAIL_API_KEY")
ANYMAIL_SENDER_DOMAIN = env_str("ANYMAIL_SENDER_DOMAIN")
ANYMAIL_API_URL = env_url("ANYMAIL_API_URL", "")
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", f"{PUBLISHER_NAME} <newsletter@example.com>")
SERVER_EMAIL = env_str("SERVER_EMAIL", DEFAULT_FROM_EMAIL)
# Django dates the messages it builds (SMTP, the console) in UTC as "-0000",
# which RFC 5322 reads as "zone unknown": name the publication's zone instead.
EMAIL_USE_LOCALTIME = True

_BACKENDS = {
    "outbox": "core.outbox.OutboxBackend",
    "console": "django.core.mail.backends.console.EmailBackend",
    # Django's SMTP backend, each message's commands pipelined (RFC 2920): see delivery/backends.py
    "smtp": "delivery.backends.PipelinedSMTPBackend",
    # anymail's Mailgun backend, posting multipart (faster for large batches): see delivery/backends.py
    "mailgun": "delivery.backends.MailgunBackend",
    # anymail's Postmark and Resend backends, a batch's messages in one request (delivery/backends.py)
    "postmark": "delivery.backends.PostmarkBackend",
    "amazon_ses": "anymail.backends.amazon_ses.EmailBackend",
    "brevo": "anymail.backends.brevo.EmailBackend",
    "resend": "delivery.backends.ResendBackend",
    "sendgrid": "anymail.backends.sendgrid.EmailBackend",
    "sparkpost": "anymail.backends.sparkpost.EmailBackend",
    "mandrill": "anymail.backends.mandrill.EmailBackend",
    "mailjet": "anymail.backends.mailjet.EmailBackend",
    "unisender_go": "anymail.backends.unisender_go.EmailBackend",
    "mailersend": "anymail.backends.mailersend.EmailBackend",
    # anymail's Postal backend, a refusal in Postal's 200 answer read as one (delivery/backends.py)
    "postal": "delivery.backends.PostalBackend",
    "scaleway": "anymail.backends.scaleway.EmailBackend",
    "mailtrap": "anymail.backends.mailtrap.EmailBackend",
}
EMAIL_BACKEND = _BACKENDS[EMAIL_PROVIDER]

if EMAIL_PROVIDER in _KEYED and not ANYMAIL_API_KEY:
    raise ImproperlyConfigured(f"ANYMAIL_PROVIDER={EMAIL_PROVIDER} needs ANYMAIL_API_KEY.")
if EMAIL_PROVIDER == "mailjet" and not env_str("ANYMAIL_SECRET_KEY"):
    raise ImproperlyConfigured("ANYMAIL_PROVIDER=mailjet needs ANYMAIL_SECRET_KEY (the API key's secret).")
if EMAIL_PROVIDER == "unisender_go" and not ANYMAIL_API_URL:
    raise ImproperlyConfigured(
        "ANYMAIL_PROVIDER=unisender_go needs ANYMAIL_API_URL, your account's data centre "
        "(e.g. https://go1.unisender.ru/en/transactional/api/v1/)."
    )
if EMAIL_PROVIDER == "postal" and not ANYMAIL_API_URL:
    raise ImproperlyConfigured(
        "ANYMAIL_PROVIDER=postal needs ANYMAIL_API_URL, your Postal server (e.g. https://postal.example.com/)."
    )
if EMAIL_PROVIDER == "scaleway" and not env_str("ANYMAIL_PROJECT_ID"):
    raise ImproperlyConfigured("ANYMAIL_PROVIDER=scaleway needs ANYMAIL_PROJECT_ID (the Scaleway project's id).")
if EMAIL_PROVIDER == "mailgun" and not ANYMAIL_SENDER_DOMAIN:
    raise ImproperlyConfigured("ANYMAIL_PROVIDER=mailgun needs ANYMAIL_SENDER_DOMAIN.")

_WEBHOOK_SECRET = env_str("WEBHOOK_SECRET") or env_str("ANYMAIL_WEBHOOK_SECRET")
if _WEBHOOK_SECRET and ":" not in _WEBHOOK_SECRET:
    raise ImproperlyConfigured("WEBHOOK_SECRET must look like 'user:password' (HTTP basic auth).")
ANYMAIL: dict[str, object] = {
    "WEBHOOK_SECRET": _WEBHOOK_SECRET or None,
    "SEND_DEFAULTS": {},
}
_key_setting = {
    "mailgun": "MAILGUN_API_KEY",
    "postmark": "POSTMARK_SERVER_TOKEN",
    "brevo": "BREVO_API_KEY",
    "resend": "RESEND_API_KEY",
    "sendgrid": "SENDGRID_API_KEY",
    "sparkpost": "SPARKPOST_API_KEY",
    "mandrill": "MANDRILL_API_KEY",
    "mailjet": "MAILJET_API_KEY",
    "unisender_go": "UNISENDER_GO_API_KEY",
    "mailersend": "MAILERSEND_API_TOKEN",
    "postal": "POSTAL_API_KEY",
    "scaleway": "SCALEWAY_SECRET_KEY",
    "mailtrap": "MAILTRAP_API_TOKEN",
}.get(EMAIL_PROVIDER)
if _key_setting:
    ANYMAIL[_key_setting] = ANYMAIL_API_KEY
if EMAIL_PROVIDER == "mailgun":
    ANYMAIL["MAILGUN_SENDER_DOMAIN"] = ANYMAIL_SENDER_DOMAIN
    if env_str("ANYMAIL_WEBHOOK_SIGNING_KEY"):
        ANYMAIL["MAILGUN_WEBHOOK_SIGNING_KEY"] = env_str("ANYMAIL_WEBHOOK_SIGNING_KEY")
if EMAIL_PROVIDER == "resend" and env_str("ANYMAIL_WEBHOOK_SIGNING_KEY"):
    ANYMAIL["RESEND_SIGNING_SECRET"] = env_str("ANYMAIL_WEBHOOK_SIGNING_KEY")
if EMAIL_PROVIDER == "mailjet":
    ANYMAIL["MAILJET_SECRET_KEY"] = env_str("ANYMAIL_SECRET_KEY")
if EMAIL_PROVIDER == "mandrill" and env_str("ANYMAIL_WEBHOOK_SIGNING_KEY"):
    ANYMAIL["MANDRILL_WEBHOOK_KEY"] = env_str("ANYMAIL_WEBHOOK_SIGNING_KEY")
# Their tracking webhooks' signing secrets (Postal's is the public key from its DNS records).
_signing_setting = {
    "mailersend": "MAILERSEND_SIGNING_SECRET",
    "mailtrap": "MAILTRAP_TRACKING_SECRET",
    "postal": "POSTAL_WEBHOOK_KEY",
}.get(EMAIL_PROVIDER)
if _signing_setting and env_str("ANYMAIL_WEBHOOK_SIGNING_KEY"):
    ANYMAIL[_signing_setting] = env_str("ANYMAIL_WEBHOOK_SIGNING_KEY")
if EMAIL_PROVIDER == "scaleway":
    ANYMAIL["SCALEWAY_PROJECT_ID"] = env_str("ANYMAIL_PROJECT_ID")
    if env_str("ANYMAIL_REGION"):
        ANYMAIL["SCALEWAY_REGION"] = env_str("ANYMAIL_REGION")
if ANYMAIL_API_URL and EMAIL_PROVIDER in _KEYED:
    ANYMAIL[f"{EMAIL_PROVIDER.upper()}_API_URL"] = ANYMAIL_API_URL
# A provider's webhook signature older than this is refused, and its token is remembered this long to refuse reuse.
WEBHOOK_MAX_AGE_SECONDS = env_int("WEBHOOK_MAX_AGE_SECONDS", 300, minimum=1)
# Seconds to wait for the provider's answer; a timeout after sending leaves the rows uncertain.
ANYMAIL["REQUESTS_TIMEOUT"] = env_int("ANYMAIL_REQUESTS_TIMEOUT", 30, minimum=1)

EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 30)

# Recipients per provider API call; NEWSROOM_BATCH_SIZE overrides.
PROVIDER_BATCH_LIMITS = {
    "mailgun": 1000,
    "postmark": 500,
    "amazon_ses": 50,
    "brevo": 1000,
    "resend": 100,
    "sendgrid": 1000,
    "sparkpost": 1000,
    "mailjet": 50,
    "unisender_go": 500,
}
NEWSROOM_BATCH_SIZE = env_int("NEWSROOM_BATCH_SIZE", PROVIDER_BATCH_LIMITS.get(EMAIL_PROVIDER, 500), minimum=1)
SEND_MAX_RETRIES = env_int("SEND_MAX_RETRIES", 6, minimum=0)
# A batch the provider could not take waits about BASE * 2**attempt seconds (jittered, capped at MAX).
SEND_RETRY_BACKOFF_SECONDS = env_int("SEND_RETRY_BACKOFF_SECONDS", 10, minimum=1)
SEND_RETRY_BACKOFF_MAX_SECONDS = env_int("SEND_RETRY_BACKOFF_MAX_SECONDS", 600, minimum=1)
if REDIS_URL and SEND_RETRY_BACKOFF_MAX_SECONDS >= _VISIBILITY_TIMEOUT:
    # Redis re-delivers a retry still waiting for its countdown once the visibility timeout passes.
    raise ImproperlyConfigured("SEND_RETRY_BACKOFF_MAX_SECONDS must be shorter than CELERY_VISIBILITY_TIMEOUT.")
# A batch whose task is this many seconds past due (lost with a worker or a Redis restart)
# is enqueued again by recover_stalled_sends, which runs every half of it.
SEND_RECOVERY_GRACE_SECONDS = env_int("SEND_RECOVERY_GRACE_SECONDS", 60, minimum=10)
if PROVIDER_BATCH_LIMITS.get(EMAIL_PROVIDER, NEWSROOM_BATCH_SIZE) < NEWSROOM_BATCH_SIZE:
    raise ImproperlyConfigured(
        f"NEWSROOM_BATCH_SIZE={NEWSROOM_BATCH_SIZE} is more than {EMAIL_PROVIDER} takes in one call "
        f"({PROVIDER_BATCH_LIMITS[EMAIL_PROVIDER]})."
    )
# First-party tracking (delivery/firstparty.py): each send's default, which the send form may change.
# Links go through signed redirects on SITE_URL; the open pixel is off by default because reading
# an open needs the reader's consent where the ePrivacy rules apply (see README, "Tracking").
FIRST_PARTY_TRACKING = env_bool("FIRST_PARTY_TRACKING", True)
FIRST_PARTY_OPEN_PIXEL = env_bool("FIRST_PARTY_OPEN_PIXEL", False)
# The provider's rate limits, one budget for every worker (delivery/pacing.py; the admin's
# "Sending limits" page overrides them per provider). Unset: no limit; 0 or less is refused.
SEND_RATE_PER_SECOND = env_positive("SEND_RATE_PER_SECOND")
SEND_RATE_PER_MINUTE = env_positive("SEND_RATE_PER_MINUTE")
SEND_RATE_PER_HOUR = env_positive("SEND_RATE_PER_HOUR")
SEND_RATE_PER_DAY = env_positive("SEND_RATE_PER_DAY")
SEND_MAX_BATCH = env_positive("SEND_MAX_BATCH")
# Warm-up of a new sending domain: from SEND_WARMUP_START (YYYY-MM-DD), either the daily caps
# listed (SEND_WARMUP_DAILY_CAPS=500,1000,2000,...; then no cap) or SEND_WARMUP_FIRST_DAY
# growing by SEND_WARMUP_GROWTH_PERCENT a day. Most engaged readers go first.
SEND_WARMUP_START = env_date("SEND_WARMUP_START")
SEND_WARMUP_DAILY_CAPS = [
    env_positive_item("SEND_WARMUP_DAILY_CAPS", v) for v in env_list("SEND_WARMUP_DAILY_CAPS", [])
]
SEND_WARMUP_FIRST_DAY = env_positive("SEND_WARMUP_FIRST_DAY")
SEND_WARMUP_GROWTH_PERCENT = env_positive("SEND_WARMUP_GROWTH_PERCENT")
if SEND_WARMUP_START is None and (SEND_WARMUP_DAILY_CAPS or SEND_WARMUP_FIRST_DAY or SEND_WARMUP_GROWTH_PERCENT):
    raise ImproperlyConfigured("A warm-up needs SEND_WARMUP_START (the first day, YYYY-MM-DD).")
for _day, (_before, _after) in enumerate(itertools.pairwise(SEND_WARMUP_DAILY_CAPS), start=2):
    if _after < _before:
        raise ImproperlyConfigured(
            f"SEND_WARMUP_DAILY_CAPS shrinks on day {_day} ({_before} then {_after}): each day's cap must grow."
        )
if SEND_WARMUP_DAILY_CAPS and (SEND_WARMUP_FIRST_DAY or SEND_WARMUP_GROWTH_PERCENT):
    raise ImproperlyConfigured("Set SEND_WARMUP_DAILY_CAPS or SEND_WARMUP_FIRST_DAY with _GROWTH_PERCENT, not both.")
if (SEND_WARMUP_FIRST_DAY is None) != (SEND_WARMUP_GROWTH_PERCENT is None):
    raise ImproperlyConfigured("A growing warm-up needs both SEND_WARMUP_FIRST_DAY and SEND_WARMUP_GROWTH_PERCENT.")
SOFT_BOUNCE_LIMIT = env_int("SOFT_BOUNCE_LIMIT", 3, minimum=1)
# An open or click this soon after the message went to the provider is a machine's (delivery.machine).
MACHINE_OPEN_SECONDS = env_int("MACHINE_OPEN_SECONDS", 15, minimum=0)
# Rows of a CSV import per task run: each run must end well inside CELERY_TASK_TIME_LIMIT.
IMPORT_CHUNK_ROWS = env_int("IMPORT_CHUNK_ROWS", 5000, minimum=1)

# --- Outgoing webhooks (outbound/) -------------------------------------------
# Endpoints on private, loopback or link-local addresses are refused (at save and
# at every send) unless this is on: a laptop or the demo may post to localhost.
OUTBOUND_WEBHOOKS_ALLOW_PRIVATE = env_bool("OUTBOUND_WEBHOOKS_ALLOW_PRIVATE", DEBUG)
OUTBOUND_WEBHOOKS_TIMEOUT_SECONDS = env_int("OUTBOUND_WEBHOOKS_TIMEOUT_SECONDS", 10, minimum=1)
OUTBOUND_WEBHOOKS_POLL_SECONDS = env_int("OUTBOUND_WEBHOOKS_POLL_SECONDS", 10, minimum=1)
# An endpoint is disabled (with a notice in the admin) after this many failed attempts in a row,
# or when every attempt failed for this many days, whichever comes first.
OUTBOUND_WEBHOOKS_DISABLE_AFTER_FAILURES = env_int("OUTBOUND_WEBHOOKS_DISABLE_AFTER_FAILURES", 50, minimum=1)
OUTBOUND_WEBHOOKS_DISABLE_AFTER_DAYS = env_int("OUTBOUND_WEBHOOKS_DISABLE_AFTER_DAYS", 5, minimum=1)

# --- Auth, i18n ---------------------------------------------------------------
# Sessions read from the cache (Redis in production), written through to the database:
# every admin request, each composer autosave among them, skips a database query.
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
# Django's ModelBackend with a user's own and group permissions read in one query (core/auth.py).
AUTHENTICATION_BACKENDS = ["core.auth.OneQueryModelBackend"]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LANGUAGE_CODE = "en-gb"
TIME_ZONE = env_time_zone("TIME_ZONE", "Europe/London")
USE_I18N = True
USE_TZ = True
# Addresses typed without a scheme in URL form fields are read as https:// (Django 6 default).
FORMS_URLFIELD_ASSUME_HTTPS = True
LOGIN_URL = "admin:login"

# --- Static and media ---------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(BASE_DIR / "media")))
# CSV imports wait here between upload and import; they hold addresses, so never under MEDIA_ROOT.
IMPORT_FILES_ROOT = Path(env_str("IMPORT_FILES_ROOT", str(VAR_DIR / "imports")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG or TESTING
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = DEBUG or TESTING
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
IMAGE_UPLOAD_MAX_BYTES = env_int("IMAGE_UPLOAD_MAX_BYTES", 5 * 1024 * 1024, minimum=1024)
# Width x height: a small file can claim a huge image (a decompression bomb),
# and nothing a newsletter shows needs more than a few megapixels.
IMAGE_UPLOAD_MAX_PIXELS = env_int("IMAGE_UPLOAD_MAX_PIXELS", 40_000_000, minimum=1)
# Hosts (besides our own media) that images in rich text may come from; any
# other image loses its source, so no third party sees who opened an issue.
RICH_TEXT_IMAGE_HOSTS = env_list("RICH_TEXT_IMAGE_HOSTS", [])

# --- Test sends (issues/preview_send_policy.py) -------------------------------
# Addresses a person may send tests to in an hour, editors included.
TEST_SEND_LIMIT_PER_HOUR = env_int("TEST_SEND_LIMIT_PER_HOUR", 50, minimum=1)
# Where contributors may send tests: staff accounts' addresses, those and the allow-list, or anywhere.
TEST_SEND_RECIPIENTS = env_choice("TEST_SEND_RECIPIENTS", "staff", ("staff", "allowlist", "any"))
TEST_SEND_ALLOWED_ADDRESSES = [entry.lower() for entry in env_list("TEST_SEND_ALLOWED_ADDRESSES", [])]
for _entry in TEST_SEND_ALLOWED_ADDRESSES:
    _local, _at, _domain = _entry.rpartition("@")
    if not _at or "@" in _local or "." not in _domain:
        raise ImproperlyConfigured(
            f"TEST_SEND_ALLOWED_ADDRESSES entry {_entry!r} is not an address (name@example.org) "
            "or a domain (@example.org)."
        )

# --- CKEditor 5 (self-hosted; GPL build, no CDN) ------------------------------
CKEDITOR_5_FILE_STORAGE = "issues.storage.EditorImageStorage"
CKEDITOR_5_UPLOAD_FILE_TYPES = ["jpeg", "jpg", "png", "gif", "webp"]
CKEDITOR_5_MAX_FILE_SIZE = IMAGE_UPLOAD_MAX_BYTES // (1024 * 1024) or 1
CKEDITOR_5_FILE_UPLOAD_PERMISSION = "staff"
CKEDITOR_5_CONFIGS = {
    "default": {
        "licenseKey": "GPL",
        "toolbar": {
            "items": [
                "heading",
                "|",
                "bold",
                "italic",
                "link",
                "bulletedList",
                "numberedList",
                "blockQuote",
                "|",
                "imageUpload",
                "|",
                "undo",
                "redo",
            ],
        },
        "heading": {
            "options": [
                {"model": "paragraph", "title": "Paragraph", "class": "ck-heading_paragraph"},
                {"model": "heading3", "view": "h3", "title": "Heading", "class": "ck-heading_heading3"},
            ]
        },
        "image": {"toolbar": ["imageTextAlternative"]},
    },
}

# --- Security -----------------------------------------------------------------
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "strict-origin-when-cross-origin"
# Views meant to be framed (outbox, admin previews) say so with xframe_options_sameorigin.
X_FRAME_OPTIONS = "DENY"
if not DEBUG:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
    if env_bool("BEHIND_PROXY", False):
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Rate limits on the public forms use the cache above.
RATELIMIT_ENABLE = env_bool("RATELIMIT_ENABLE", True)
# How many proxies of ours stand in front of the web server; the client's address
# is then read from X-Forwarded-For (core/net.py), not REMOTE_ADDR.
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 1 if env_bool("BEHIND_PROXY", False) else 0, minimum=0)
RATELIMIT_IP_META_KEY = "core.net.client_ip"
RATELIMIT_USE_CACHE = "default"
# The file cache is shared by the processes of one machine, which is all a
# laptop run has; the locmem cache is only used by the test suite.
SILENCED_SYSTEM_CHECKS = (
    ["django_ratelimit.W001", "django_ratelimit.E003"] if not CACHE_URL.startswith(("redis", "unix")) else []
)

# --- API (api/) ---------------------------------------------------------------
# Requests per key: "<number>/<s|m|h|d>", counted in the cache above (Redis in production).
API_RATE_LIMIT = env_str("API_RATE_LIMIT", "120/m")
if not re.fullmatch(r"[1-9][0-9]*/[1-9]?[0-9]*[smhd]", API_RATE_LIMIT):
    raise ImproperlyConfigured(f"API_RATE_LIMIT={API_RATE_LIMIT!r} is not a rate like 120/m (per s, m, h or d).")
API_REQUEST_LOG_DAYS = env_int("API_REQUEST_LOG_DAYS", 30, minimum=1)
# How long an Idempotency-Key's answer is kept for retries.
API_IDEMPOTENCY_HOURS = env_int("API_IDEMPOTENCY_HOURS", 24, minimum=1)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "filters": {"quiet_send_poll": {"()": "core.logfilters.QuietSendPoll"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["quiet_send_poll"]}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
