"""Settings for the migration platform, read from the environment.

With no variable set, the platform runs on embedded defaults that need no server: a SQLite
database and a SQLite Celery broker under ``var/``, a local-memory cache and a generated secret key
kept in ``var/``. Production sets the variables documented in ``docs/deployment.md``.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
from datetime import timedelta
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("MP_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)

VERSION = "1.0.0"


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def _local_secret(path: Path) -> str:
    """A per-install secret kept in a 0600 file, so the embedded default needs no variable."""
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(50))
    return path.read_text().strip()


def _private_database(path: Path) -> None:
    """Create the SQLite file empty and 0600 if missing (SQLite gives its -wal/-shm files the same mode); one left
    readable by an older install is made 0600."""
    if not path.parent.is_dir():
        return
    if not path.exists():
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    for item in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if item.exists() and item.stat().st_mode & 0o077 and item.stat().st_uid == os.getuid():
            item.chmod(0o600)


DEBUG = env_bool("DJANGO_DEBUG", default=False)
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY") or _local_secret(VAR_DIR / "django-secret-key")
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver")
# Proxies (addresses or networks) whose X-Forwarded-For is believed; anyone else's is ignored (apps/core/selectors.py).
MP_TRUSTED_PROXIES = env_list("MP_TRUSTED_PROXIES")
for _proxy in MP_TRUSTED_PROXIES:
    ipaddress.ip_network(_proxy, strict=False)  # a typo stops the start, not the first login
# The agents' requests come through their SSH tunnel as `Host: localhost:<port>` over plain HTTP from the loopback.
# Those names are always allowed, but a name the operator did not list is accepted only on such a request, which
# is also exempt from the HTTPS redirect (apps/core/middleware.py).
MP_TUNNEL_API_PORT = int(os.environ.get("MP_TUNNEL_API_PORT", "8082"))
MP_OMA_URL_FOR_AGENT = os.environ.get("MP_OMA_URL_FOR_AGENT", "http://localhost:8082")
AGENT_TUNNEL_ONLY_HOSTS = [name for name in ("localhost", "127.0.0.1", "[::1]") if name not in ALLOWED_HOSTS]
ALLOWED_HOSTS += AGENT_TUNNEL_ONLY_HOSTS
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    # The admin with the operations console's site: the dashboard as its home, the VM and job pages (apps/console).
    "apps.console.apps.ConsoleAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "django_celery_beat",
    "axes",
    "django_htmx",
    "drf_spectacular_sidecar",  # Swagger UI and ReDoc served from the project: the API docs work offline
    "apps.core",
    "apps.settings",
    "apps.inventory",
    "apps.replication",
    "apps.failover",
    "apps.scheduler",
    "apps.waves",
    "apps.enrollment",
    "apps.planner",
    "apps.accounts",  # users, roles, departments, branding, notifications (seed 004's portal)
    "apps.snapshots",  # snapshot policies, on-demand runs, restore from volume snapshots (seed 004)
    "apps.portal",
    "apps.metering",  # usage, pricing and chargeback sampled from the portal's collection (seed 004)
    "apps.runbooks",  # remediation and report procedures on CloudStack with dry runs and approvals (seed 004)
    "apps.copilot",  # the ops copilot: questions answered from the portal's and migrations' data (seed 004)
    "apps.console",  # the operations console: reads every app, nothing imports it
    "apps.devlab",  # development equipment: the lab and `make run` (manage.py run_platform)
]

MIDDLEWARE = [
    # Counts every request, its time and server errors for seed 004's /metrics (apps/accounts).
    "apps.accounts.middleware.RequestMetricsMiddleware",
    # The HTTPS redirect and the tunnel-only host names, with the agents' tunnel requests told apart.
    "apps.core.middleware.AgentTunnelMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # request.htmx: the console's live panels answer a fragment to htmx, a whole page otherwise.
    "django_htmx.middleware.HtmxMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: turns a console or browsable-API login lockout into the 429 answer.
    "axes.middleware.AxesMiddleware",
]

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
    # The roles (viewer, operator, admin groups) as the console's model permissions; authenticates nobody.
    "apps.console.backends.RolePermissionBackend",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

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
                # The console's frame shows the portal's branding (templates/admin/base_site.html).
                "apps.accounts.context_processors.branding",
            ],
        },
    },
]

# Database: SQLite file by default; DATABASE_URL=mysql://user:pass@host:3306/name for MariaDB.
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
        conn_max_age=int(os.environ.get("DATABASE_CONN_MAX_AGE", "0")),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.mysql":
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"charset": "utf8mb4", "init_command": "SET sql_mode='STRICT_TRANS_TABLES'"}
    )
    DATABASES["default"]["TEST"] = {"CHARSET": "utf8mb4", "COLLATION": "utf8mb4_unicode_ci"}
elif DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web, worker and beat share the file: wait for locks instead of failing at once. IMMEDIATE transactions take
    # the write lock up front (a deferred one that upgrades from read to write fails at once with "database is
    # locked"), and WAL lets readers run beside the writer.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 30, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"})
    # A file (not :memory:) so end-to-end tests can share the test database with a real Celery worker;
    # one per test process, so concurrent test runs never share (and destroy) each other's database.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-db-{os.getpid()}.sqlite3")}
    if DATABASES["default"]["NAME"] not in ("", ":memory:"):
        # The database holds password hashes and token digests: private like the keys beside it.
        _private_database(Path(DATABASES["default"]["NAME"]))

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# The cache holds the login throttle's counters, so every web worker must see the same one: Redis in production,
# else the database (its table made after every `manage.py migrate`, apps/core/signals.py, and by `make run`).
# `locmem://` (one process only) is for tests: under pytest it is the default, so each test clears it without the
# database.
CACHE_URL = os.environ.get("CACHE_URL", "") or ("locmem://" if os.environ.get("PYTEST_VERSION") else "")
if CACHE_URL.startswith(("redis://", "rediss://")):
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_URL}}
elif CACHE_URL == "locmem://":
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "mp_cache"}}
# Django's default of 300 entries would cull the request counters (fifteen per endpoint and method called,
# apps/accounts/middleware.py) once the API is well used; Redis has no such limit.
CACHES["default"].setdefault("OPTIONS", {})
if "Redis" not in CACHES["default"]["BACKEND"]:
    CACHES["default"]["OPTIONS"]["MAX_ENTRIES"] = 20000

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", BASE_DIR / "staticfiles"))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "static"]

# --- Security: strict when DJANGO_DEBUG is off (passes `manage.py check --deploy` with HTTPS vars). ---
SESSION_COOKIE_SECURE = env_bool("DJANGO_SECURE_COOKIES", default=False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
# The redirect to https is AgentTunnelMiddleware's, which exempts the agents' tunnel (Django's cannot): Django's
# own stays off, and its deploy warning W008 is replaced by core.W008 (apps/core/checks.py).
MP_SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", default=False)
SECURE_SSL_REDIRECT = False
SILENCED_SYSTEM_CHECKS = ["security.W008"]
SECURE_HSTS_SECONDS = int(os.environ.get("DJANGO_HSTS_SECONDS", "0"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_SECONDS > 0
SECURE_HSTS_PRELOAD = SECURE_HSTS_SECONDS > 0
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
if env_bool("DJANGO_BEHIND_TLS_PROXY", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# --- REST API ---
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "apps.core.authentication.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["apps.core.permissions.RolePermission"],
    "DEFAULT_PARSER_CLASSES": [
        "apps.core.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "apps.core.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "apps.core.schema.PlatformAutoSchema",
    "EXCEPTION_HANDLER": "apps.core.exceptions.exception_handler",
    "DEFAULT_THROTTLE_RATES": {"login": os.environ.get("LOGIN_THROTTLE_RATE", "10/min")},
    # Our throttles read the client address from apps.core.selectors.client_ip; any other reads only the peer.
    "NUM_PROXIES": 0,
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Migration Platform API (OMA)",
    "DESCRIPTION": "VMware to Apache CloudStack migration: discovery, replication, failover, schedules.",
    "VERSION": VERSION,
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    # Swagger UI and ReDoc from drf-spectacular-sidecar's static files, not a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Choice sets whose field names other apps use too ("status", "kind"): named after their class.
    "ENUM_NAME_OVERRIDES": {
        "WaveStatusEnum": "apps.waves.choices.WaveStatus", "WaveVMStatusEnum": "apps.waves.choices.WaveVMStatus",
        "WaveKindEnum": "apps.waves.choices.WaveKind", "HookKindEnum": "apps.waves.choices.HookKind",
    },
}

# --- Console and browsable-API logins: locked out per client address after repeated failures (django-axes). ---
# The API login (`/api/v1/auth/login`) is exempt here: it keeps its throttle (LOGIN_THROTTLE_RATE).
AXES_FAILURE_LIMIT = int(os.environ.get("MP_LOGIN_LOCKOUT_FAILURES", "5"))
AXES_COOLOFF_TIME = timedelta(minutes=float(os.environ.get("MP_LOGIN_LOCKOUT_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = ["ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "apps.core.selectors.client_ip"
AXES_WHITELIST_CALLABLE = "apps.core.throttling.lockout_exempt"
# API logins besides /api/v1/auth/login that the login throttle counts instead of django-axes (apps/portal's).
MP_API_LOGIN_PATHS = ("/auth/login",)
AXES_LOCKOUT_CALLABLE = "apps.core.throttling.lockout_response"
AXES_VERBOSE = False

# --- Platform ---
AGENT_SESSION_TTL = timedelta(seconds=int(os.environ.get("AGENT_SESSION_TTL_SECONDS", str(24 * 3600))))
OPERATOR_SESSION_TTL = timedelta(seconds=int(os.environ.get("OPERATOR_SESSION_TTL_SECONDS", str(12 * 3600))))
# Fernet key for secrets at rest; the embedded default keeps one in a 0600 file under var/.
SECRETS_KEY = os.environ.get("MP_SECRETS_KEY", "")
SECRETS_KEY_FILE = Path(os.environ.get("MP_SECRETS_KEY_FILE", VAR_DIR / "secrets.key"))
# Where the control plane reaches the agent API (the tunnel's reverse forward).
AGENT_API_URL = os.environ.get("MP_AGENT_API_URL", "http://localhost:9081")
AGENT_API_TIMEOUT = float(os.environ.get("MP_AGENT_API_TIMEOUT", "30"))

# --- Celery ---
# Under pytest (which sets PYTEST_VERSION) each test process gets its own embedded broker, so concurrent runs
# never consume each other's messages.
_BROKER_FILE = f"celery-broker-test-{os.getpid()}.sqlite3" if os.environ.get("PYTEST_VERSION") else "celery-broker.sqlite3"
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", f"sqla+sqlite:///{VAR_DIR / _BROKER_FILE}")
CELERY_RESULT_BACKEND = os.environ.get("CELERY_RESULT_BACKEND") or None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = TIME_ZONE

# --- Logging: structured key=value lines; a ring buffer feeds /api/v1/debug/logs. ---
LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact": {"()": "apps.core.logging.RedactSecretsFilter"}},
    "formatters": {
        "kv": {"format": "ts=%(asctime)s level=%(levelname)s logger=%(name)s msg=%(message)s"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "kv", "filters": ["redact"]},
        "memory": {"class": "apps.core.logging.RingBufferHandler", "filters": ["redact"]},
    },
    "root": {"handlers": ["console", "memory"], "level": LOG_LEVEL},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# --- CloudStack volumes and NBD exports ---
# Where attached volumes appear as /disk/by-id/virtio-<serial>: /dev in production, the lab root in the lab.
MP_DEVICE_ROOT = os.environ.get("MP_DEVICE_ROOT", "/dev")
MP_DEVICE_TIMEOUT = float(os.environ.get("MP_DEVICE_TIMEOUT", "60"))
MP_CLOUDSTACK_JOB_TIMEOUT = float(os.environ.get("MP_CLOUDSTACK_JOB_TIMEOUT", "600"))
MP_CLOUDSTACK_POLL_INTERVAL = float(os.environ.get("MP_CLOUDSTACK_POLL_INTERVAL", "2"))
# The CloudStack setup endpoints (test, validate, discover, networks) call URLs people type: each call gets this many
# seconds (connect, and each read), so a silent port cannot hold a worker; loopback (this host) and link-local
# addresses (169.254.169.254, the cloud metadata service) are refused unless allowed here (the lab allows loopback).
MP_CLOUDSTACK_SETUP_TIMEOUT = float(os.environ.get("MP_CLOUDSTACK_SETUP_TIMEOUT", "5"))
MP_CLOUDSTACK_ALLOW_LOOPBACK = env_bool("MP_CLOUDSTACK_ALLOW_LOOPBACK", default=False)
MP_CLOUDSTACK_ALLOW_LINK_LOCAL = env_bool("MP_CLOUDSTACK_ALLOW_LINK_LOCAL", default=False)
MP_NBD_BIND = os.environ.get("MP_NBD_BIND", "127.0.0.1")
# One range for the export manager and the tunnel: the agent's SSH key may only open these ports.
MP_NBD_PORT_RANGE = tuple(int(p) for p in os.environ.get("MP_NBD_PORT_RANGE", "10809-10908").split("-"))
MP_TUNNEL_NBD_PORTS = os.environ.get("MP_TUNNEL_NBD_PORTS", "{}-{}".format(*MP_NBD_PORT_RANGE))
# The host the agent uses to reach export ports: 127.0.0.1 through the tunnel's local forwards.
MP_AGENT_NBD_HOST = os.environ.get("MP_AGENT_NBD_HOST", "127.0.0.1")
# Added to each export port the agent is given: must equal the agents' `vma tunnel --nbd-local-offset` (0 when the
# agent's local forwards use the export ports themselves, as in production). Checked where it is used.
MP_AGENT_NBD_PORT_OFFSET = os.environ.get("MP_AGENT_NBD_PORT_OFFSET", "0")
# The control plane URL as the agent reaches it (tunnel local forward): MP_OMA_URL_FOR_AGENT, read above.
MP_REPLICATION_HEARTBEAT_TIMEOUT = int(os.environ.get("MP_REPLICATION_HEARTBEAT_TIMEOUT", "300"))
# A provisioning runner renews its lease on the job every third of this; a job whose lease ran out (its worker died)
# is taken over by the next sweep (docs/operations.md).
# Data volumes CloudStack lets one VM hold (listHypervisorCapabilities' maxdatavolumeslimit of the control plane's
# hypervisor; 6 in the lab emulator). Every replica stays attached to the control plane: a sync that would need more
# is refused with a clear 409 (docs/operations.md, capacity).
MP_OMA_MAX_DATA_VOLUMES = int(os.environ.get("MP_OMA_MAX_DATA_VOLUMES", "6"))
MP_REPLICATION_RUNNER_LEASE = float(os.environ.get("MP_REPLICATION_RUNNER_LEASE", "60"))
# Finished schedule runs older than this many days are deleted by the scheduler's sweep (0 keeps them all);
# the newest MP_SCHEDULER_KEEP_EXECUTIONS runs of each schedule are kept whatever their age.
MP_SCHEDULER_EXECUTION_RETENTION_DAYS = int(os.environ.get("MP_SCHEDULER_EXECUTION_RETENTION_DAYS", "90"))
MP_SCHEDULER_KEEP_EXECUTIONS = int(os.environ.get("MP_SCHEDULER_KEEP_EXECUTIONS", "20"))

# How often the orphan sweep retries CloudStack resources no live job owns (docs/operations.md).
MP_ORPHAN_SWEEP_INTERVAL = float(os.environ.get("MP_ORPHAN_SWEEP_INTERVAL", "300"))

# Snapshot policies and restore (docs/snapshots.md): volumes per batch of a run, when a silent run counts as
# interrupted, how far a data volume's snapshot may be from the restore point, whether the restore endpoints exist,
# and whether a failed restore deletes the volumes it made from snapshots (off: kept for a retry or cleanup).
MP_SNAPSHOT_BATCH_SIZE = int(os.environ.get("MP_SNAPSHOT_BATCH_SIZE", "20"))
MP_SNAPSHOT_RUN_STALE = int(os.environ.get("MP_SNAPSHOT_RUN_STALE", "1800"))
MP_RESTORE_MATCH_WINDOW = int(os.environ.get("MP_RESTORE_MATCH_WINDOW", "3600"))
MP_RESTORE_ENABLED = env_bool("RESTORE_ENABLED", default=True)
MP_RESTORE_DRY_RUN = env_bool("RESTORE_DRY_RUN", default=False)
MP_RESTORE_CLEANUP_VOLUMES = env_bool("RESTORE_CLEANUP_VOLUMES", default=True)
# How often the operations portal's collector reads CloudStack into its tables (docs/portal.md).
MP_PORTAL_COLLECT_INTERVAL = float(os.environ.get("MP_PORTAL_COLLECT_INTERVAL", "300"))
# CloudStack events the collector stored are deleted this many days after they happened (0 keeps them all; the
# newest is always kept), by the collection task.
MP_PORTAL_EVENT_RETENTION_DAYS = int(os.environ.get("MP_PORTAL_EVENT_RETENTION_DAYS", "90"))
# The copilot's questions and answers are deleted this many days after they were asked (0 keeps them all), by its
# hourly task; a user's history shows at most the newest 200 anyway.
MP_COPILOT_HISTORY_RETENTION_DAYS = int(os.environ.get("MP_COPILOT_HISTORY_RETENTION_DAYS", "90"))

# Seed 004's rate limit on its paths (portal, accounts, snapshots, planner): requests per user (per address before
# login) and period, answered in X-RateLimit-* headers and 429 past it (apps/core/api/detail.py).
MP_SEED_API_RATE = os.environ.get("SEED_API_RATE", "100/min")

CELERY_BEAT_SCHEDULE = {
    "replication-reaper": {"task": "apps.replication.tasks.reap_stale_jobs", "schedule": 60.0},
    "enrollment-tunnel-seen": {"task": "apps.enrollment.tasks.refresh_tunnel_seen", "schedule": 60.0},
    "cloudstack-orphan-sweep": {"task": "apps.settings.tasks.sweep_orphans", "schedule": MP_ORPHAN_SWEEP_INTERVAL},
    # Runs the snapshot policies whose interval has passed, prunes by retention (docs/snapshots.md).
    "snapshot-policies": {"task": "apps.snapshots.tasks.run_due_policies", "schedule": 60.0},
    # Escalates the runbook executions left waiting for an approver past their policy's timeout (docs/runbooks.md).
    "runbook-escalations": {"task": "apps.runbooks.tasks.escalate_overdue", "schedule": 60.0},
    # The operations portal's collector: CloudStack into the portal's tables, changes as history (docs/portal.md).
    "portal-collect": {"task": "apps.portal.tasks.collect_cloudstack", "schedule": MP_PORTAL_COLLECT_INTERVAL},
    # Deletes the copilot's questions and answers past MP_COPILOT_HISTORY_RETENTION_DAYS (docs/copilot.md).
    "copilot-history-retention": {"task": "apps.copilot.tasks.prune_history", "schedule": 3600.0},
    # Metering samples the collected tables when its configured interval has passed (docs/metering.md).
    "metering-sample": {"task": "apps.metering.tasks.sample_usage", "schedule": 60.0},
    # Opens waves at their window and follows the running ones (docs/waves.md).
    "waves-sweep": {"task": "apps.waves.tasks.sweep_waves", "schedule": 30.0, "options": {"queue": "scheduler"}},
    # The notification preferences' daily digests (docs/accounts.md).
    "notification-digests": {"task": "apps.accounts.tasks.send_digests",
                             "schedule": float(os.environ.get("MP_NOTIFICATION_DIGEST_INTERVAL", "86400"))},
}
