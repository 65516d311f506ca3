"""The base every integration type is built on: declared fields, validation, sending.

An integration knows nothing about models, Django requests, Celery or the admin. It turns
validated settings plus the notification's template data into one outgoing request (or an
email) and classifies the answer. Its fields are declared once, as data; the admin form,
the API validation, the type catalogue and the secret split are all derived from them.
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from integrations.http import HttpTransport
    from integrations.templating import TemplateData


class Kind(enum.StrEnum):
    """How a setting is entered and stored."""

    STRING = "string"  # one line
    TEXT = "text"  # several lines (templates, PEM blocks)
    BOOL = "bool"
    INT = "int"  # stored as given (Grafana accepts numbers or numeric strings)
    CHOICE = "choice"
    MAP = "map"  # string → string
    LIST = "list"  # list of objects (e.g. Opsgenie responders)


@dataclass(frozen=True)
class Field:
    """One setting of an integration type, declared once."""

    key: str  # settings key; dotted for nested objects ("hmacConfig.secret")
    label: str
    kind: Kind = Kind.STRING
    required: bool = False
    secret: bool = False
    default: Any = None
    choices: tuple[str, ...] = ()
    help: str = ""
    template: bool = False  # rendered with the notification template engine before use
    required_error: str = ""  # the spec's error text when a required value is missing
    placeholder: str = ""

    def describe(self) -> dict[str, Any]:
        """The catalogue entry for this field (GET /api/v1/integration-types)."""
        return {
            "key": self.key,
            "label": self.label,
            "kind": str(self.kind),
            "required": self.required,
            "secret": self.secret,
            "default": self.default,
            "choices": list(self.choices),
            "help": self.help,
            "template": self.template,
            "placeholder": self.placeholder,
        }


class SettingsError(ValueError):
    """Settings that do not validate. Each error is keyed to a field (or None for the whole)."""

    def __init__(self, errors: Iterable[tuple[str | None, str]]):
        self.errors: list[tuple[str | None, str]] = list(errors)
        super().__init__(self.message)

    @property
    def message(self) -> str:
        # Grafana answers with one plain string: the first error.
        return self.errors[0][1] if self.errors else "invalid settings"

    @classmethod
    def single(cls, key: str | None, message: str) -> SettingsError:
        return cls([(key, message)])


# -- nested settings (dotted keys) ---------------------------------------------------------


def get_path(data: dict[str, Any], dotted_key: str, default: Any = None) -> Any:
    """Read `a.b.c` from nested dicts."""
    node: Any = data
    for part in dotted_key.split("."):
        if not isinstance(node, dict) or part not in node:
            return default
        node = node[part]
    return node


def set_path(data: dict[str, Any], dotted_key: str, value: Any) -> None:
    """Write `a.b.c` into nested dicts, creating the intermediate objects."""
    parts = dotted_key.split(".")
    node = data
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = node[part] = {}
        node = child
    node[parts[-1]] = value


def pop_path(data: dict[str, Any], dotted_key: str) -> Any:
    """Remove `a.b.c` from nested dicts (dropping objects left empty); return its value."""
    parts = dotted_key.split(".")
    trail = [data]
    for part in parts[:-1]:
        child = trail[-1].get(part)
        if not isinstance(child, dict):
            return None
        trail.append(child)
    value = trail[-1].pop(parts[-1], None)
    for parent, part in zip(reversed(trail[:-1]), reversed(parts[:-1]), strict=True):
        if parent.get(part) == {}:
            del parent[part]
    return value


# -- value coercion shared by every type ---------------------------------------------------


def is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.strip() == "") or value == {}


def as_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes", "on")
    return bool(value)


def as_int(value: Any, default: int = 0) -> int:
    """Grafana's lenient integer: numbers or numeric strings, anything else is `default`."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return default
    return default


def sha256_hex(text: str) -> str:
    """Lowercase hex SHA-256: Grafana's groupKey.Hash(), the dedup key of several types."""
    return hashlib.sha256(text.encode()).hexdigest()


# -- what goes out and what comes back ------------------------------------------------------


@dataclass
class TlsOptions:
    insecure_skip_verify: bool = False
    ca_certificate: str = ""  # PEM
    client_certificate: str = ""  # PEM
    client_key: str = ""  # PEM


@dataclass
class OutgoingRequest:
    """One HTTP request, fully built. The HTTP seam adds the user agent and the policy."""

    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
    # multipart/form-data parts, in order: (name, text) or (name, (filename, bytes, content_type))
    multipart: list[tuple[str, Any]] | None = None
    basic_auth: tuple[str, str] | None = None
    tls: TlsOptions | None = None


@dataclass
class HttpResponse:
    status: int
    headers: dict[str, str]
    body: bytes  # at most the first MAX_RESPONSE_BYTES
    reason: str = ""

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")


class Result(enum.StrEnum):
    SUCCESS = "success"
    RETRY = "retry"  # transient: try again later
    FAILED = "failed"  # permanent: do not try again


@dataclass
class Outcome:
    result: Result
    error: str = ""
    http_status: int | None = None
    retry_after_seconds: float | None = None

    @classmethod
    def success(cls, http_status: int | None = None) -> Outcome:
        return cls(Result.SUCCESS, http_status=http_status)

    @property
    def ok(self) -> bool:
        return self.result is Result.SUCCESS


class TransportError(Exception):
    """The request never got an HTTP answer. The message never contains the URL's secrets."""

    def __init__(self, message: str, retryable: bool):
        super().__init__(message)
        self.retryable = retryable


RETRYABLE_STATUSES = frozenset({408, 425, 429})


def status_is_retryable(status: int) -> bool:
    return status in RETRYABLE_STATUSES or 500 <= status <= 599


def status_text(status: int, reason: str = "") -> str:
    """Go's `resp.Status`: "500 Internal Server Error"."""
    from http import HTTPStatus

    if not reason:
        try:
            reason = HTTPStatus(status).phrase
        except ValueError:
            reason = ""
    return f"{status} {reason}".strip()


# -- the send context ---------------------------------------------------------------------


class BuildFailure(Exception):
    """The request cannot be built and retrying will not help (Grafana fails the notification)."""


class TemplateFailure(BuildFailure):
    """A template that must render did not (the types where Grafana fails the notification)."""


@dataclass
class SendContext:
    """Everything one delivery attempt needs, with no database or framework behind it."""

    config: dict[str, Any]  # validated settings, secrets resolved, defaults applied
    data: TemplateData  # Grafana's template data for the alerts of this delivery
    render_template: Callable[[str], str]  # renders one template text; raises on error
    idempotency_key: str  # stable across retries of one delivery (webhook-id style)
    timeout_seconds: float
    product_name: str
    version: str
    template_errors: list[str] = field(default_factory=list)
    # The TemplateRenderer behind render_template, for types that render more than one text
    # against `data` (email's HTML and plain-text bodies with their extra variables).
    renderer: Any = None

    @property
    def dedup_key(self) -> str:
        """SHA-256 of the group key: PagerDuty dedup_key, Opsgenie alias, and so on."""
        return sha256_hex(self.data.GroupKey)

    @property
    def product_with_version(self) -> str:
        return f"{self.product_name} v{self.version}"

    def render(self, key_or_text: str, *, is_key: bool = True) -> str:
        """Render a templated setting; on error Grafana's rule applies: log it, use "".

        `key_or_text` is a settings key (the usual case) or, with is_key=False, a template.
        """
        source = self.config.get(key_or_text, "") if is_key else key_or_text
        if not source:
            return ""
        try:
            return self.render_template(str(source))
        except Exception as exc:  # noqa: BLE001 - any template failure degrades to ""
            self.template_errors.append(f"{key_or_text if is_key else 'template'}: {exc}")
            return ""

    def render_strict(self, key_or_text: str, *, is_key: bool = True) -> str:
        """Render where Grafana fails the notification on a template error."""
        source = self.config.get(key_or_text, "") if is_key else key_or_text
        if not source:
            return ""
        try:
            return self.render_template(str(source))
        except Exception as exc:
            name = key_or_text if is_key else "template"
            raise TemplateFailure(f"failed to template {name}: {exc}") from exc


# -- the integration type -----------------------------------------------------------------


class IntegrationType:
    """Subclass once per type: type, label, description, fields, clean, build, classify/send."""

    type: ClassVar[str]
    label: ClassVar[str]
    description: ClassVar[str]
    fields: ClassVar[tuple[Field, ...]]
    aliases: ClassVar[tuple[str, ...]] = ()
    deprecated: ClassVar[bool] = False
    can_create: ClassVar[bool] = True

    # -- declaration-derived ----------------------------------------------------------

    @classmethod
    def field(cls, key: str) -> Field:
        for declared in cls.fields:
            if declared.key == key:
                return declared
        raise KeyError(key)

    @classmethod
    def secret_keys(cls) -> list[str]:
        return [f.key for f in cls.fields if f.secret]

    @classmethod
    def describe(cls) -> dict[str, Any]:
        return {
            "type": cls.type,
            "label": cls.label,
            "description": cls.description,
            "deprecated": cls.deprecated,
            "canCreate": cls.can_create,
            "fields": [f.describe() for f in cls.fields],
        }

    @classmethod
    def split_secrets(cls, settings: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
        """Move every declared secret out of `settings` into a flat {dotted key: value} map."""
        import copy

        plain = copy.deepcopy(settings)
        secure: dict[str, str] = {}
        for key in cls.secret_keys():
            value = pop_path(plain, key)
            if not is_blank(value):
                secure[key] = str(value)
        return plain, secure

    # -- validation (the one routine used at save time and at send time) ----------------

    @classmethod
    def validate(cls, settings: dict[str, Any], secure_settings: dict[str, str] | None = None) -> dict[str, Any]:
        """Resolve secrets, apply defaults, check every field and the cross-field rules.

        Returns a flat config keyed by the declared (dotted) keys. Raises SettingsError.
        """
        if not isinstance(settings, dict):
            raise SettingsError.single(None, "settings must be a JSON object")
        secure_settings = secure_settings or {}
        config: dict[str, Any] = {}
        errors: list[tuple[str | None, str]] = []
        for declared in cls.fields:
            # Grafana's secret resolution: the encrypted value wins, else the plain one.
            value = secure_settings.get(declared.key)
            if is_blank(value):
                value = get_path(settings, declared.key)
            try:
                config[declared.key] = cls._coerce(declared, value)
            except SettingsError as exc:
                errors.extend(exc.errors)
                continue
            if declared.required and is_blank(config[declared.key]):
                errors.append((declared.key, declared.required_error or f"{declared.label} is required"))
        if errors:
            raise SettingsError(errors)
        cls.clean(config)
        return config

    @classmethod
    def _coerce(cls, declared: Field, value: Any) -> Any:
        if is_blank(value) and declared.kind not in (Kind.BOOL,):
            return (
                declared.default
                if declared.default is not None
                else ("" if declared.kind in (Kind.STRING, Kind.TEXT, Kind.CHOICE) else None)
            )
        if declared.kind is Kind.BOOL:
            return as_bool(value) if value is not None else bool(declared.default)
        if declared.kind is Kind.MAP:
            if not isinstance(value, dict):
                raise SettingsError.single(declared.key, f"{declared.label} must be an object of names to values")
            return {str(k): "" if v is None else str(v) for k, v in value.items()}
        if declared.kind is Kind.LIST:
            if not isinstance(value, list):
                raise SettingsError.single(declared.key, f"{declared.label} must be a list")
            return value
        if declared.kind is Kind.INT:
            return value  # each type parses it with its own (spec-given) error text
        return value if isinstance(value, str) else str(value)

    @classmethod
    def clean(cls, config: dict[str, Any]) -> None:
        """Cross-field rules and spec-specific checks; raise SettingsError."""

    # -- sending --------------------------------------------------------------------------

    def build(self, ctx: SendContext) -> OutgoingRequest | None:
        """The request for this delivery, or None when there is nothing to send."""
        raise NotImplementedError

    def classify(self, response: HttpResponse, ctx: SendContext) -> Outcome:
        """Grafana's shared sender: 2xx succeeds, anything else is an error with the body."""
        if 200 <= response.status <= 299:
            return Outcome.success(response.status)
        body = response.body[:1024].decode("utf-8", "replace")
        status = status_text(response.status, response.reason)
        return self.http_error(response, f"webhook response status {status}: {body}")

    @staticmethod
    def http_error(response: HttpResponse, message: str) -> Outcome:
        """An error outcome for an HTTP answer, retryable per the delivery rules."""
        retryable = status_is_retryable(response.status)
        return Outcome(
            Result.RETRY if retryable else Result.FAILED,
            error=message,
            http_status=response.status,
            retry_after_seconds=parse_retry_after(response.headers.get("retry-after")),
        )

    def send(self, ctx: SendContext, transport: HttpTransport) -> Outcome:
        """Build, send through the one HTTP seam, classify. Email overrides this."""
        try:
            request = self.build(ctx)
        except BuildFailure as exc:
            return Outcome(Result.FAILED, error=str(exc))
        if request is None:
            return Outcome.success()
        try:
            response = transport.send(request)
        except TransportError as exc:
            return Outcome(Result.RETRY if exc.retryable else Result.FAILED, error=str(exc))
        return self.classify(response, ctx)


def parse_retry_after(value: str | None) -> float | None:
    """Retry-After as seconds or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    from datetime import UTC, datetime
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


_GO_JSON_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def go_json(value: Any) -> bytes:
    """Compact JSON as Go's encoding/json writes it (HTML characters escaped), UTF-8 encoded.

    The escaped characters can only occur inside JSON strings, so replacing them in the
    output is safe. Dict keys keep their order: callers order struct-like objects as Go does.
    """
    import json

    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    for char, escaped in _GO_JSON_ESCAPES.items():
        text = text.replace(char, escaped)
    return text.encode()


_GO_QUOTE_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\a": "\\a",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\v": "\\v",
}


def go_quote(text: str) -> str:
    """Go's strconv.Quote (`%q` of a string), as Grafana's error texts print values."""
    out = []
    for char in text:
        if char in _GO_QUOTE_ESCAPES:
            out.append(_GO_QUOTE_ESCAPES[char])
        elif char.isprintable():
            out.append(char)
        elif ord(char) < 0x80:
            out.append(f"\\x{ord(char):02x}")
        elif ord(char) <= 0xFFFF:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(f"\\U{ord(char):08x}")
    return '"' + "".join(out) + '"'


def go_quote_list(items: Iterable[str]) -> str:
    """Go's `%q` of a []string: `["Host" "Cookie"]`."""
    return "[" + " ".join(go_quote(item) for item in items) + "]"


def trunc_runes(text: str, limit: int) -> str:
    """Grafana's truncRunes: at most `limit` characters, ending in … when cut."""
    if len(text) <= limit:
        return text
    if limit <= 3:
        return text[:limit]
    return text[: limit - 1] + "…"
