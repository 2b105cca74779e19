"""Django settings, all taken from the environment.

* ``DATABASE_URL``: ``sqlite:///path`` (default ``./var/billcore.sqlite3``) or
  ``postgres://user@host:port/db``.
* ``BILLCORE_SECRET_KEY``: the signing key; when unset a random one is generated once and kept
  in ``./var/secret_key`` (never in the repository).
* ``BILLCORE_DEBUG``: ``1`` for debug pages (never in production).
* ``BILLCORE_ALLOWED_HOSTS``: comma-separated host names (default: localhost names).
* ``BILLCORE_DB_CONN_MAX_AGE``: seconds a database connection is kept for the next request
  (default 300; 0: a new connection per request).
* ``BILLCORE_PAYMENT_GATEWAY``: the card gateway (``test``: the simulated one shipped); empty:
  none, so no card can be saved and nothing is auto-charged. An unknown name stops startup.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import secrets
from pathlib import Path
from typing import Any

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent
VAR_DIR = Path(os.environ.get("BILLCORE_VAR_DIR", Path.cwd() / "var"))


def _secret_key() -> str:
    key = os.environ.get("BILLCORE_SECRET_KEY")
    if key:
        return key
    path = VAR_DIR / "secret_key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(50)
        path.write_text(key)
        path.chmod(0o600)
        return key


SECRET_KEY = _secret_key()
DEBUG = os.environ.get("BILLCORE_DEBUG", "") == "1"
ALLOWED_HOSTS = [
    h.strip()
    for h in os.environ.get("BILLCORE_ALLOWED_HOSTS", "127.0.0.1,localhost,[::1],testserver").split(
        ","
    )
    if h.strip()
]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "billcore.accounts",
    "billcore.installation",
    "billcore.classes",
    "billcore.customers",
    "billcore.ledger",
    "billcore.audit",
    "billcore.subscribers",
    "billcore.charging",
    "billcore.invoicing",
    "billcore.subscriptions",
    "billcore.measured",
    "billcore.notifications",
    "billcore.rating",
    "billcore.plans",
    "billcore.dids",
    "billcore.features",
    "billcore.engine",
    "billcore.web",
    "billcore.porta",
    "billcore.selfcare",
    "axes",
    "ninja",  # its templates and static files: the API docs page loads only local assets
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "billcore.selfcare.middleware.SelfcareSessionCookie",  # /my/: a session of its own
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",  # last: turns a page's lockout into its 429 page
]

ROOT_URLCONF = "billcore.urls"
WSGI_APPLICATION = "billcore.wsgi.application"

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
                "billcore.web.context.navigation",
            ],
        },
    },
]


def _database() -> dict[str, Any]:
    url = os.environ.get("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'billcore.sqlite3'}"
    # Persistent connections (each server thread keeps its own; checked before reuse): a new
    # connection per request costs more than the request on the charging path.
    # BILLCORE_DB_CONN_MAX_AGE=0 closes them after every request.
    db: dict[str, Any] = dict(
        dj_database_url.parse(
            url,
            conn_max_age=int(os.environ.get("BILLCORE_DB_CONN_MAX_AGE", "300")),
            conn_health_checks=True,
        )
    )
    if db["ENGINE"] == "django.db.backends.sqlite3":
        # WAL lets readers run beside the single writer; IMMEDIATE takes the write lock at
        # BEGIN so two writers queue on the busy timeout instead of failing with
        # "database is locked" when one of them upgrades a read lock.
        db["OPTIONS"] = {
            "timeout": 30,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
        # Tests use a file (not shared-cache memory) so concurrency behaves as in production.
        # One file per test run, so parallel runs on one machine never share it.
        db["TEST"] = {"NAME": str(VAR_DIR / f"test-billcore-{os.getpid()}.sqlite3")}
    elif db["ENGINE"] == "django.db.backends.postgresql":
        # One test database per test run, so parallel runs on one server never collide.
        db["TEST"] = {"NAME": f"test_billcore_{os.getpid()}"}
    return db


DATABASES = {"default": _database()}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # WhiteNoise serves from the app folders too
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/login/"

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
X_FRAME_OPTIONS = "DENY"

# Content-Security-Policy on every response (django-csp): scripts, styles, fonts and
# connections only from this site; no inline script, no inline style, no plug-ins, no framing.
# images also as data: URLs (the favicon and the CSS icons are inline SVG).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("BILLCORE_LOG_LEVEL", "WARNING")},
}
AUTH_USER_MODEL = "accounts.User"


# One login throttle for every sign-in route (django-axes; see billcore/accounts/lockout.py):
# BILLCORE_LOGIN_FAILURE_LIMIT failed sign-ins of one user name from one client address lock
# that name from that address for BILLCORE_LOGIN_LOCKOUT_MINUTES. The client address is the
# direct peer, or X-Forwarded-For's when the peer is one of BILLCORE_TRUSTED_PROXIES
# (comma-separated addresses or networks, e.g. "127.0.0.1,10.0.0.0/8"; default: none).
def _env_positive(name: str, default: int) -> int:
    text = os.environ.get(name, "").strip() or str(default)
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"{name} must be a whole number of at least 1, not {text!r}")
    return int(text)


def _trusted_proxies() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    networks = []
    for part in os.environ.get("BILLCORE_TRUSTED_PROXIES", "").split(","):
        if part.strip():
            try:
                networks.append(ipaddress.ip_network(part.strip(), strict=False))
            except ValueError as exc:
                raise ValueError(
                    f"BILLCORE_TRUSTED_PROXIES: {part.strip()!r} is not an IP address or network"
                ) from exc
    return networks


AUTHENTICATION_BACKENDS = [
    "billcore.accounts.lockout.LockoutBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = _env_positive("BILLCORE_LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = dt.timedelta(minutes=_env_positive("BILLCORE_LOGIN_LOCKOUT_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_DISABLE_ACCESS_LOG = True
# Fields of a failed request axes must not keep in clear (it keeps the rest of the form):
# /rest/'s form style carries the password inside params or auth_info.
AXES_SENSITIVE_PARAMETERS = ["username", "ip_address", "params", "auth_info", "token"]
AXES_CLIENT_IP_CALLABLE = "billcore.accounts.lockout.client_address"
AXES_USERNAME_CALLABLE = "billcore.accounts.lockout.username_of"
AXES_LOCKOUT_CALLABLE = "billcore.web.lockouts.lockout_response"
BILLCORE_TRUSTED_PROXIES = _trusted_proxies()


# E-mail (invoice and statistics e-mails of the engine's mail step, issue 4): SMTP from the
# environment. An empty BILLCORE_SMTP_HOST means "not configured": the mail step sends nothing
# and reports how many e-mails are pending.
def _smtp_port() -> int:
    text = os.environ.get("BILLCORE_SMTP_PORT", "").strip() or "25"
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise ValueError(f"BILLCORE_SMTP_PORT must be a port number (1-65535), not {text!r}")
    return int(text)


EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
EMAIL_HOST = os.environ.get("BILLCORE_SMTP_HOST", "").strip()
EMAIL_PORT = _smtp_port()
EMAIL_HOST_USER = os.environ.get("BILLCORE_SMTP_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("BILLCORE_SMTP_PASSWORD", "")
EMAIL_USE_TLS = os.environ.get("BILLCORE_SMTP_TLS", "").strip().lower() in {"1", "true", "yes"}
EMAIL_TIMEOUT = 30


# API tokens (issue 10 §3): how many days a new token lives when its creator gives no
# --expires-in / expires_in (0: such tokens never expire). Tokens made before keep theirs.
def _token_expiry_days() -> int:
    text = os.environ.get("BILLCORE_TOKEN_DEFAULT_EXPIRY_DAYS", "").strip() or "90"
    if not text.isdigit() or int(text) > 3650:
        raise ValueError(
            f"BILLCORE_TOKEN_DEFAULT_EXPIRY_DAYS must be a whole number of days (0-3650), "
            f"not {text!r}"
        )
    return int(text)


BILLCORE_TOKEN_DEFAULT_EXPIRY_DAYS = _token_expiry_days()

# Card payments (CU-13, CC-14): the payment gateway adapter by name, ``test`` being the simulated
# processor shipped (invoicing/payments.py). Empty: none configured. An unknown name is refused
# when the application starts (invoicing/apps.py), naming this variable.
BILLCORE_PAYMENT_GATEWAY = os.environ.get("BILLCORE_PAYMENT_GATEWAY", "").strip()
