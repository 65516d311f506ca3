"""Settings, read from the environment or `.env` (contract §2)."""

import os
from collections.abc import Iterator, MutableMapping
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent
PRODUCT_NAME = "ContactPoints"
VERSION = "0.1.0"


class SetVariables(MutableMapping):
    """The environment without its empty variables: `DATABASE_URL=` means the default, as if unset
    (contract §2). Writes go to os.environ, so `.env` fills in a variable that is unset or empty."""

    def __getitem__(self, name: str) -> str:
        value = os.environ[name]
        if not value.strip():
            raise KeyError(name)
        return value

    def __setitem__(self, name: str, value: str) -> None:
        os.environ[name] = value

    def __delitem__(self, name: str) -> None:
        del os.environ[name]

    def __iter__(self) -> Iterator[str]:
        return (name for name, value in os.environ.items() if value.strip())

    def __len__(self) -> int:
        return sum(1 for _ in self)


class Env(environ.Env):
    ENVIRON = SetVariables()


env = Env()
env_file = BASE_DIR / ".env"
if env_file.exists():
    Env.read_env(env_file)

# Tests and one-off commands may run without a .env; `make run` always writes one.
SECRET_KEY = env("SECRET_KEY", default="insecure-development-key-set-SECRET_KEY")
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["*"])

PORT = env.int("PORT", default=8000)
BIND = env("BIND", default="127.0.0.1")
PUBLIC_URL = env("PUBLIC_URL", default=f"http://localhost:{PORT}").rstrip("/")
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[PUBLIC_URL])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI's files, served from here: no CDN
    "contactpoints",
    "project",  # for its management command `run_all` (the `make run` supervisor)
]

MIDDLEWARE = [
    # Headers every answer carries, the intake hot path's too.
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # The intake's common request (Bearer token, PostgreSQL) answered here, without what follows.
    "contactpoints.api.intake_view.IntakeHotPathMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # A database or Redis briefly unreachable during a view: 503 with Retry-After, not a 500.
    "contactpoints.api.outages.OutageMiddleware",
]

# The admin shows a new API token once in a message: keep messages server-side, not in a cookie.
MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"

ROOT_URLCONF = "project.urls"
WSGI_APPLICATION = "project.wsgi.application"

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
            ],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
# Keep connections between requests and tasks: a delivery should not pay for a new connection.
# Nor for a new one every minute: a fresh connection re-plans the hot statements for its first ten
# runs (prepared after five, then five custom plans), and the connections opened together expire
# together: at 60 s, of four 10 s rounds of 100 alerts/s, the one that crossed the minute had a p99
# of 49 ms, the others 17-20 ms.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=600)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and env.bool("DATABASE_PREPARED_STATEMENTS", True):
    # The hot statements (intake's store, a worker's claim and load) run thousands of times a
    # minute: prepared on each connection after their fifth run, PostgreSQL stops re-planning them.
    # Turn off behind a pooler in transaction mode (PgBouncer), which cannot keep them.
    DATABASES["default"].setdefault("OPTIONS", {}).update(server_side_binding=True, prepare_threshold=5)
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Django's, with a health check that polls the socket instead of sending SELECT 1 (project/postgresql).
    DATABASES["default"]["ENGINE"] = "project.postgresql"
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The embedded default (`make run` without DATABASE_URL) has web and worker writing at once.
    # WAL lets readers go on beside the one writer; IMMEDIATE takes the write lock when a
    # transaction begins, so waiting for it honours the busy timeout (a DEFERRED transaction that
    # reads, then writes, fails at once with "database is locked" when another writer came first).
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        transaction_mode="IMMEDIATE",
        timeout=20,
        init_command="PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL",
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env("REDIS_URL", default="redis://127.0.0.1:6379/0")
# Redis is a fast path, never the source of truth: every client gives up quickly when it is down.
REDIS_SOCKET_TIMEOUT_SECONDS = env.float("REDIS_SOCKET_TIMEOUT_SECONDS", default=1.0)

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / ".run" / "static"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True

# Secrets at rest: the first key encrypts, every key decrypts (rotation).
ENCRYPTION_KEYS = env.list("ENCRYPTION_KEYS", default=[])

# Email integration: the SMTP server is server-level, as in Grafana.
vars().update(env.email_url("EMAIL_URL", default="smtp://localhost:25"))
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="alerts@localhost")
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT_SECONDS", default=15)

# Fixed provider endpoints (overridable for tests and proxies).
TELEGRAM_API_URL = env("TELEGRAM_API_URL", default="https://api.telegram.org")
PUSHOVER_API_URL = env("PUSHOVER_API_URL", default="https://api.pushover.net")
LINE_API_URL = env("LINE_API_URL", default="https://notify-api.line.me")
THREEMA_API_URL = env("THREEMA_API_URL", default="https://msgapi.threema.ch")

DEFAULT_OUTBOUND_DENY_NETWORKS = [
    "127.0.0.0/8",
    "::1/128",
    "0.0.0.0/8",
    "::/128",
    "169.254.0.0/16",
    "fe80::/10",
    "224.0.0.0/4",
    "ff00::/8",
    "100.100.100.200/32",  # Alibaba Cloud metadata
    "fd00:ec2::254/128",  # AWS metadata over IPv6
]
OUTBOUND_DENY_NETWORKS = env.list("OUTBOUND_DENY_NETWORKS", default=DEFAULT_OUTBOUND_DENY_NETWORKS)
OUTBOUND_ALLOW_NETWORKS = env.list("OUTBOUND_ALLOW_NETWORKS", default=[])

DELIVERY_MAX_ATTEMPTS = env.int("DELIVERY_MAX_ATTEMPTS", default=10)
DELIVERY_RETRY_BASE_SECONDS = env.float("DELIVERY_RETRY_BASE_SECONDS", default=5.0)
DELIVERY_RETRY_MAX_SECONDS = env.float("DELIVERY_RETRY_MAX_SECONDS", default=900.0)
DELIVERY_TIMEOUT_SECONDS = env.float("DELIVERY_TIMEOUT_SECONDS", default=15.0)
# How often beat's sweeper reclaims lapsed leases and wakes a worker while anything is due
# (the safety net for wakes lost with the broker).
DELIVERY_SWEEP_INTERVAL_SECONDS = env.float("DELIVERY_SWEEP_INTERVAL_SECONDS", default=10.0)
# New notifications' deliveries are handed to a listening worker in the intake's own statement
# (contactpoints.handoff): no claim, no ring. Off: every delivery is claimed from the queue.
DELIVERY_HANDOFF = env.bool("DELIVERY_HANDOFF", default=True)
# Deliveries one wake claims and sends together (one UPDATE, one SELECT, one recording transaction).
DELIVERY_BATCH_SIZE = env.int("DELIVERY_BATCH_SIZE", default=50)
# Each wait of the worker thread that stays on the doorbell for the next commit's ring (one per
# worker process, until it shuts down; at most half of REDIS_SOCKET_TIMEOUT_SECONDS; 0: no lingering).
DELIVERY_WAKE_LINGER_SECONDS = env.float("DELIVERY_WAKE_LINGER_SECONDS", default=0.5)
# Requests one worker process keeps in flight while it waits on the network.
DELIVERY_SEND_CONCURRENCY = env.int("DELIVERY_SEND_CONCURRENCY", default=32)

# Alert storms (README "Alert storms"). A destination's pace is its provider's documented limit
# (integrations.destinations) unless an integration sets its own rate. A sender thread waits for
# its slot at most this long; a later slot puts the delivery back in the queue until it comes.
PACING_HOLD_SECONDS = env.float("PACING_HOLD_SECONDS", default=1.0)
# More than this many notifications waiting for one paced integration are sent as one digest...
COALESCE_THRESHOLD = env.int("COALESCE_THRESHOLD", default=5)
# ...of at most this many notifications (the rest make the next digest). A digest merges what one
# claim took, so DELIVERY_BATCH_SIZE bounds it too.
DIGEST_MAX_NOTIFICATIONS = env.int("DIGEST_MAX_NOTIFICATIONS", default=50)
# Self-monitoring: this many permanent failures of one integration within the window mark it
# unhealthy and raise one notification to OPERATIONS_CONTACT_POINT (a contact point's uid).
INTEGRATION_FAILURE_THRESHOLD = env.int("INTEGRATION_FAILURE_THRESHOLD", default=3)
INTEGRATION_FAILURE_WINDOW_SECONDS = env.float("INTEGRATION_FAILURE_WINDOW_SECONDS", default=600.0)
OPERATIONS_CONTACT_POINT = env("OPERATIONS_CONTACT_POINT", default="")

INTAKE_MAX_BYTES = env.int("INTAKE_MAX_BYTES", default=1048576)
INTAKE_MAX_ALERTS = env.int("INTAKE_MAX_ALERTS", default=1000)
INTAKE_RATE_LIMIT = env("INTAKE_RATE_LIMIT", default="6000/min")
# Failed HTTP Basic logins allowed per client address and per username; then 429 until the window ends.
BASIC_AUTH_FAILURE_LIMIT = env("BASIC_AUTH_FAILURE_LIMIT", default="10/min")
# When set, /metrics needs `Authorization: Bearer <METRICS_TOKEN>`.
METRICS_TOKEN = env("METRICS_TOKEN", default="")
# Django must not refuse the body before the intake view can answer 413 itself.
DATA_UPLOAD_MAX_MEMORY_SIZE = max(INTAKE_MAX_BYTES * 2, 2621440)

CPU_COUNT = os.cpu_count() or 1
# One gunicorn process per core, with threads for the requests waiting on PostgreSQL's commit and
# Redis: on the 2-core bench machine, 2 processes of 16 threads spent 15-22% less web CPU per
# intake request than 5 of 4 (fewer processes switching on two cores), at the same throughput or better.
WEB_CONCURRENCY = env.int("WEB_CONCURRENCY", default=CPU_COUNT)
# Threads per gunicorn process: the gthread worker keeps client connections alive between
# requests (the sync worker closes each one, and a new TCP connection per alert cost a third of
# the intake's throughput in `make bench`). About 32 in all by default: each thread keeps a
# database connection open once it has served a request.
WEB_THREADS = env.int("WEB_THREADS", default=max(4, 32 // max(WEB_CONCURRENCY, 1)))
# One line per request through the runner's pipe costs about a tenth of the intake's throughput;
# Alertmanager logs none either. Errors are always logged.
WEB_ACCESS_LOG = env.bool("WEB_ACCESS_LOG", default=False)
# Deliveries wait on the network, so the worker runs threads. More than a few per core only
# adds GIL contention (bench: 4 threads delivered 170/s in-process, 16 threads 107/s); run
# `make worker` for more capacity.
WORKER_CONCURRENCY = env.int("WORKER_CONCURRENCY", default=CPU_COUNT * 4)

# Celery (project/celery.py reads the CELERY_ names).
CELERY_BROKER_URL = REDIS_URL
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 4
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
CELERY_BROKER_CONNECTION_TIMEOUT = REDIS_SOCKET_TIMEOUT_SECONDS
# Redis redelivers an unacknowledged message after this long. Broker countdowns are kept
# far below it (MAX_BROKER_COUNTDOWN_SECONDS); longer waits live in the database.
CELERY_BROKER_VISIBILITY_TIMEOUT_SECONDS = 3600
MAX_BROKER_COUNTDOWN_SECONDS = 300
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": CELERY_BROKER_VISIBILITY_TIMEOUT_SECONDS,
    "socket_timeout": REDIS_SOCKET_TIMEOUT_SECONDS * 5,
    "socket_connect_timeout": REDIS_SOCKET_TIMEOUT_SECONDS,
}
CELERY_TASK_DEFAULT_QUEUE = "deliveries"
# Celery's Django fixup closes the database connection around every task unless told to reuse
# it: a new PostgreSQL connection per delivery. The tasks call close_old_connections()
# themselves instead, which keeps CONN_MAX_AGE and the health checks in charge.
CELERY_DB_REUSE_MAX = env.int("CELERY_DB_REUSE_MAX", default=1_000_000)
# When the broker connection drops, a running delivery finishes and records its attempt; its
# message comes back later and finds the delivery already done.
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = False
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BEAT_SCHEDULE = {
    "sweep-deliveries": {
        "task": "contactpoints.tasks.sweep_deliveries",
        "schedule": DELIVERY_SWEEP_INTERVAL_SECONDS,
        "options": {"expires": DELIVERY_SWEEP_INTERVAL_SECONDS},
    },
    "expire-idempotency-keys": {
        "task": "contactpoints.tasks.expire_idempotency_keys",
        "schedule": 3600.0,
    },
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "contactpoints.api.auth.BearerTokenAuthentication",
        "contactpoints.api.auth.StaffBasicAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["contactpoints.api.auth.ModelPermissionsOrAdminScope"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["contactpoints.api.parsers.JSONParser"],  # with a nesting limit
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "contactpoints.api.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "contactpoints.api.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

# OpenAPI at /api/schema/, Swagger UI at /api/docs/ (contract §6): public, like any API reference.
SPECTACULAR_SETTINGS = {
    "TITLE": f"{PRODUCT_NAME} API",
    "VERSION": VERSION,
    "DESCRIPTION": (
        "Contact points for alert notifications, compatible with Grafana Alerting.\n\n"
        "Authenticate with `Authorization: Bearer <token>` (create one with "
        "`python manage.py create_api_token NAME --scope admin|intake` or in the admin), "
        "HTTP Basic for staff users, or the admin session. A token of scope `intake` may only "
        "post alerts; scope `admin` may use the whole API. Users get what their Django model "
        "permissions give (`view_*` to read, `add_*`/`change_*`/`delete_*` to write; the README has "
        "the table); a 403 names what is missing. Every error is JSON: "
        '`{"message": "...", "errors": {field: ...}}`, `errors` naming each bad field.'
    ),
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "SERVE_INCLUDE_SCHEMA": False,
    # The schema and its docs need no credentials, and a stale token must not hide them.
    "SERVE_AUTHENTICATION": [],
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "persistAuthorization": True},
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {"DeliveryStatusEnum": "contactpoints.models.DeliveryStatus"},
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "contactpoints.api.openapi_extensions.add_components",
    ],
}

LOG_LEVEL = env("LOG_LEVEL", default="INFO").upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # urllib3 logs full URLs, and webhook URLs are secrets.
        "urllib3": {"level": "WARNING"},
    },
}
