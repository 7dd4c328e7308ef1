"""carefund settings, read from the environment (see README "Configuration")."""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("CAREFUND_VAR_DIR", BASE_DIR / "var"))


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


DEBUG = env_bool("DEBUG", False)
_INSECURE_DEV_KEY = "carefund-insecure-development-key-change-me"
# A production server must be given SECRET_KEY; `carefund check --deploy` fails while the development key is used.
SECRET_KEY = os.environ.get("SECRET_KEY") or _INSECURE_DEV_KEY

ALLOWED_HOSTS = [h.strip() for h in os.environ.get("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",") if h]
CSRF_TRUSTED_ORIGINS = [o for o in os.environ.get("CSRF_TRUSTED_ORIGINS", "").split(",") if o]
# The public address used in emails and share links.
SITE_URL = os.environ.get("SITE_URL", f"http://{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "axes",
    "django_tasks",
    "django_tasks_db",
    "carefund.core",
    "carefund.care",
    "carefund.ledger",
    "carefund.campaigns",
    "carefund.giftaid",
    "carefund.funding",
    "carefund.outcomes",
    "carefund.economics",
    "carefund.petitions",
    "carefund.web",
    "carefund.api",
    "ninja",  # its templates and static copy of Swagger UI: the API docs load nothing from other hosts
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "carefund.web.middleware.NoStorePersonalMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "carefund.web.context.site",
            ],
        },
    },
]

_default_sqlite = f"sqlite:///{VAR_DIR / 'carefund.sqlite3'}"
DATABASES = {"default": dj_database_url.parse(os.environ.get("DATABASE_URL", _default_sqlite), conn_max_age=60)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Connections are kept (one per server thread) like PostgreSQL's: opening one and running the PRAGMAs below
    # on every request cost the webhook a third of its rate (docs/benchmarks.md, "Giving").
    DATABASES["default"]["OPTIONS"] = {
        # WAL lets readers work while one writer writes; IMMEDIATE takes the write lock at BEGIN so two
        # writers queue instead of failing with "database is locked" half-way through a transaction.
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
    DATABASES["default"]["TEST"] = {"NAME": os.environ.get("CAREFUND_SQLITE_TEST_NAME") or None}
else:
    DATABASES["default"]["TEST"] = {"NAME": "test_" + str(DATABASES["default"]["NAME"])}
    # Django's queries bind their values on the client and are never prepared; this lets the few statements that
    # ask for it (petition signing's INSERT and confirming's UPDATE, `petitions.signing._execute_hot`) be prepared
    # once per connection. A number this large never prepares anything on its own. (Not behind a pooler in
    # transaction mode, where prepared statements do not follow the session.)
    DATABASES["default"]["OPTIONS"] = {"prepare_threshold": 1_000_000}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Django's cache: in the memory of each server process (nothing to run or share). The public campaign page keeps
# its slow parts there (Gift Aid to come, recent gifts, updates, the surplus wording) for CAMPAIGN_PAGE_CACHE_SECONDS
# (0: never cached); the money raised is always read live. A staff change shows at once in the process that made it
# and within that many seconds in the others (docs/campaigns.md, "The public campaign page").
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": "carefund",
        "OPTIONS": {"MAX_ENTRIES": 5000},
    },
    # The counts of the rate limits (django-ratelimit: gifts started, anonymous model runs) in a table of the
    # database, shared by every server process, so a limit holds across gunicorn workers (a per-process cache would
    # let an address start N times as many with N workers). Its table is made by `carefund createcachetable` (make
    # setup and make run do it; the test runner makes it in each test database). docs/adr/0031-shared-rate-limits.md.
    "ratelimit": {
        "BACKEND": "django.core.cache.backends.db.DatabaseCache",
        "LOCATION": "carefund_ratelimit_cache",
        "OPTIONS": {"MAX_ENTRIES": 100000},
    },
}
RATELIMIT_USE_CACHE = "ratelimit"
CAMPAIGN_PAGE_CACHE_SECONDS = int(os.environ.get("CAMPAIGN_PAGE_CACHE_SECONDS", "5"))

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "start"  # each person's "what needs me" page
LOGOUT_REDIRECT_URL = "/"

# Login rate limiting (django-axes, counted in the database, so across server processes): after AXES_FAILURE_LIMIT
# failures within the hour, an address is locked out whichever usernames it tried (one password sprayed over 30
# usernames was not slowed), and so is a username from whichever addresses; for one hour (AXES_COOLOFF_TIME).
AXES_FAILURE_LIMIT = int(os.environ.get("AXES_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = 1
AXES_LOCKOUT_PARAMETERS = ["ip_address", "username"]
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "Europe/London"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
WHITENOISE_AUTOREFRESH = DEBUG
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
MEDIA_ROOT = VAR_DIR / "media"
MEDIA_URL = "/media/"

# Email: the console in the demo, SMTP when EMAIL_URL-like settings are given.
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "carefund <no-reply@carefund.invalid>")
# Where a donor's reply to a receipt goes (the Reply-To of receipts): a mailbox people read.
CHARITY_EMAIL = os.environ.get("CHARITY_EMAIL", "donors@carefund.invalid")
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "25"))

# Background work: Django's task framework (django-tasks backport) with the database backend.
TASKS = {
    "default": {
        "BACKEND": os.environ.get("TASKS_BACKEND", "django_tasks_db.DatabaseBackend"),
    }
}

# Cost-effectiveness runs started from the economics page or the API go through the task queue (never the request):
# at most ECONOMICS_MAX_DRAWS PSA draws a run, ECONOMICS_RUNS_PER_ADDRESS runs per address (django-ratelimit's rate:
# "20/h"; counted in the shared "ratelimit" cache, so across server processes), and no new run while
# ECONOMICS_QUEUE_CAP runs wait or run (docs/economics.md, "Runs for visitors").
ECONOMICS_MAX_DRAWS = int(os.environ.get("ECONOMICS_MAX_DRAWS", "100000"))
ECONOMICS_RUNS_PER_ADDRESS = os.environ.get("ECONOMICS_RUNS_PER_ADDRESS", "20/h")
ECONOMICS_QUEUE_CAP = int(os.environ.get("ECONOMICS_QUEUE_CAP", "20"))

# Encryption of identifiers (NHS numbers). FIELD_ENCRYPTION_KEY is a urlsafe base64 32-byte key
# (Fernet); HASH_KEY keys the lookup hash. Both default to keys derived from SECRET_KEY.
FIELD_ENCRYPTION_KEY = os.environ.get("FIELD_ENCRYPTION_KEY", "")
IDENTIFIER_HASH_KEY = os.environ.get("IDENTIFIER_HASH_KEY", "")

# Payments: Stripe when STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET are both set. Otherwise the built-in test gateway
# (no real money; every page says so) runs only with DEBUG on or PAYMENTS_TEST_MODE=1, and without either the site
# takes no gifts (docs/security.md, "Payments"; `carefund check --deploy` fails and says what to set).
STRIPE_SECRET_KEY = os.environ.get("STRIPE_SECRET_KEY", "")
STRIPE_PUBLISHABLE_KEY = os.environ.get("STRIPE_PUBLISHABLE_KEY", "")
STRIPE_WEBHOOK_SECRET = os.environ.get("STRIPE_WEBHOOK_SECRET", "")
if bool(STRIPE_SECRET_KEY) != bool(STRIPE_WEBHOOK_SECRET):
    # half a Stripe configuration once left the test gateway (with its public secret) taking "gifts" silently
    _missing = "STRIPE_WEBHOOK_SECRET" if STRIPE_SECRET_KEY else "STRIPE_SECRET_KEY"
    raise ImproperlyConfigured(
        f"Stripe is half configured: {_missing} is not set. Set both STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET "
        "(from the Stripe dashboard) to take card gifts, or neither."
    )
PAYMENTS_TEST_MODE = env_bool("PAYMENTS_TEST_MODE", False)
# The test gateway signs its webhook-shaped events with this secret.
TEST_GATEWAY_WEBHOOK_SECRET = os.environ.get("TEST_GATEWAY_WEBHOOK_SECRET", "whsec_carefund_test_gateway")
WEBHOOK_TOLERANCE_SECONDS = int(os.environ.get("WEBHOOK_TOLERANCE_SECONDS", "300"))

# `carefund ledger check` reports a clearing account holding money that came in longer ago than this: the provider
# should have paid it out by then. Set it to the payout schedule in the provider's dashboard plus a margin.
LEDGER_CLEARING_MAX_DAYS = int(os.environ.get("LEDGER_CLEARING_MAX_DAYS", "14"))

# The charity that holds the restricted funds.
CHARITY_NAME = os.environ.get("CHARITY_NAME", "carefund Children's Trust")
# Its number in the Charity Commission's register, shown on every public page and receipt; empty on a demo site,
# which then says it has none.
CHARITY_NUMBER = os.environ.get("CHARITY_NUMBER", "")

# Gift Aid claims (docs/giftaid.md "Settings"). Small gifts from donors whose details would not pass HMRC's schedule
# are aggregated up to this size: £20 in HMRC's schedule guidance (http://www.hmrc.gov.uk/charities/online/
# giftaid-spreadsheet.htm), though a 2025 gov.uk revision says "under £30": the sources conflict, so it is a setting.
GIFTAID_AGGREGATION_MAX_PENCE = int(os.environ.get("GIFTAID_AGGREGATION_MAX_PENCE", "2000"))
# The end of the charity's financial period as MM-DD (04-05: the tax year, for trusts; a CIO or company sets its
# accounting year end) and the years after it a gift may be claimed (four: https://gov.uk/claim-gift-aid/how-to-claim).
GIFTAID_PERIOD_END = os.environ.get("GIFTAID_PERIOD_END", "04-05")
GIFTAID_DEADLINE_YEARS = int(os.environ.get("GIFTAID_DEADLINE_YEARS", "4"))

# Behind PROXY_COUNT reverse proxies (each appending to X-Forwarded-For) the client's address is the one the nearest
# proxy saw; 0: REMOTE_ADDR, the default with no proxy. Used for login lockouts and the limits below.
PROXY_COUNT = int(os.environ.get("PROXY_COUNT", "0"))
if PROXY_COUNT:
    AXES_IPWARE_PROXY_COUNT = PROXY_COUNT
    AXES_IPWARE_META_PRECEDENCE_ORDER = ["HTTP_X_FORWARDED_FOR", "REMOTE_ADDR"]
# Gifts started from one address (django-ratelimit, counted in the shared "ratelimit" cache, so across server
# processes): enough for a family giving from one home, not for card testing.
GIVE_RATE_LIMIT = os.environ.get("GIVE_RATE_LIMIT", "20/h")

# Content-Security-Policy (django-csp): scripts only from the site's own static files; no inline script, no eval, no
# plugins, no framing; forms post to the site (and the giving form's answer redirects to Stripe's checkout). Inline
# style attributes stay allowed for computed widths (progress bars). The rule for pages: docs/security.md, "Headers".
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'", "https://checkout.stripe.com"],
    }
}
# Pages reached without signing in that hold one person's data: never stored by a browser or proxy.
NO_STORE_PATH_PREFIXES = ["/gifts/", "/test-gateway/"]

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# HTTPS=1 once the site is served over TLS: secure cookies, redirects to https and HSTS (`check --deploy` fails
# without them). Behind a proxy that terminates TLS, HTTPS_PROXY_HEADER=1 trusts its X-Forwarded-Proto (only when the
# proxy sets that header itself, overwriting any the client sent).
if not DEBUG and env_bool("HTTPS", False):
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = True
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", str(365 * 24 * 3600)))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
    if env_bool("HTTPS_PROXY_HEADER", False):
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"forbidden_without_traceback": {"()": "carefund.web.logging.ForbiddenWithoutTraceback"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "filters": ["forbidden_without_traceback"]}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "WARNING")},
    # Django's own console handler (DEBUG only) would print each request's warning a second time beside the root's.
    "loggers": {"django": {"handlers": [], "level": os.environ.get("LOG_LEVEL", "WARNING"), "propagate": True}},
}

# Petitions (docs/petitions.md). Defaults are UK Parliament e-petitions' (alphagov/e-petitions `sites` table).
PETITION_SPONSORS_REQUIRED = int(os.environ.get("PETITION_SPONSORS_REQUIRED", "5"))
PETITION_DURATION_DAYS = int(os.environ.get("PETITION_DURATION_DAYS", "182"))  # 6 months
# (response, debate) thresholds per target; a target not listed uses "default".
PETITION_THRESHOLDS = {
    "default": (
        int(os.environ.get("PETITION_RESPONSE_THRESHOLD", "10000")),
        int(os.environ.get("PETITION_DEBATE_THRESHOLD", "100000")),
    ),
}
# Signers' personal data is anonymised this many days after a petition closes or is rejected (6 months).
PETITION_RETENTION_DAYS = int(os.environ.get("PETITION_RETENTION_DAYS", "182"))
# The batch counter runs at most once per this many seconds per petition and server process; the public page and
# JSON are cached as long again, so the count shown is at most about twice this old (docs/adr/0050).
PETITION_COUNT_INTERVAL_SECONDS = float(os.environ.get("PETITION_COUNT_INTERVAL_SECONDS", "5"))
PETITION_PAGE_CACHE_SECONDS = int(os.environ.get("PETITION_PAGE_CACHE_SECONDS", "5"))
# Confirmation emails go out in batches, queued at most once per this many seconds per server process (0: one task
# per signature, at once).
PETITION_EMAIL_INTERVAL_SECONDS = float(os.environ.get("PETITION_EMAIL_INTERVAL_SECONDS", "1"))
PETITION_RATE_LIMITS = env_bool("PETITION_RATE_LIMITS", True)
# Big webmail providers: their domain is not held for volume (GDS: allow-list, limit unknown domains hard).
PETITION_ALLOWED_EMAIL_DOMAINS = [
    d.strip()
    for d in os.environ.get(
        "PETITION_ALLOWED_EMAIL_DOMAINS",
        "gmail.com,outlook.com,hotmail.com,hotmail.co.uk,live.co.uk,yahoo.com,yahoo.co.uk,icloud.com,me.com,"
        "btinternet.com,sky.com,virginmedia.com,aol.com,nhs.net,protonmail.com",
    ).split(",")
    if d.strip()
]
PETITION_LOCK_SECONDS = int(os.environ.get("PETITION_LOCK_SECONDS", "900"))
