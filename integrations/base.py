"""The base every integration type is built on: declared fields, validation, sending.

An integration knows nothing about models, Django requests, Celery or the admin. It turns
validated settings plus the notification's template data into one outgoing request (or an
email) and classifies the answer. Its fields are declared once, as data; the admin form,
the API validation, the type catalogue and the secret split are all derived from them.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from integrations.template_sandbox import TimeLimitExceeded
from integrations.templating import go_template_problems
from integrations.values import get_path, is_blank, parse_bool, parse_retry_after, pop_path, sha256_hex, status_text

if TYPE_CHECKING:
    from integrations.http import HttpTransport
    from integrations.templating import TemplateData


class Kind(enum.StrEnum):
    """How a setting is entered and stored."""

    STRING = "string"  # one line
    TEXT = "text"  # several lines (templates, PEM blocks)
    BOOL = "bool"  # JSON true/false, or a text such as "true", "off" (a ticked checkbox posts "on")
    INT = "int"  # stored as given (Grafana accepts numbers or numeric strings)
    # The choices are what forms offer; which other values are refused, and with which text,
    # is the type's clean() (the spec's rule: some fall back to a default, some are refused).
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


def template_field(key: str, label: str, default_template: str, help: str = "", kind: Kind = Kind.TEXT) -> Field:
    """A templated setting whose default is one of the built-in templates."""
    return Field(key, label, kind, default=f'{{{{ template("{default_template}") }}}}', template=True, help=help)


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
    # The body itself carries a credential (Pushover's token, Threema's secret): a redirect that
    # would send the body on to another origin is refused rather than followed.
    credentials_in_body: bool = False


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

    @classmethod
    def failure(cls, error: str, *, retryable: bool, **details: Any) -> Outcome:
        """A failed attempt: RETRY when it may succeed later, else FAILED."""
        return cls(Result.RETRY if retryable else Result.FAILED, error=error, **details)

    @classmethod
    def from_transport_error(cls, exc: TransportError) -> Outcome:
        return cls.failure(str(exc), retryable=exc.retryable)

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
    # The stored alerts behind `data`, untouched: private labels and real end times kept
    # (prometheus-alertmanager forwards them as they came in).
    raw_alerts: list[dict[str, Any]] = field(default_factory=list)

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
        except TimeLimitExceeded as exc:
            # The delivery's template time is spent: every later field would come out blank too.
            raise TemplateFailure(f"failed to template {key_or_text if is_key else 'template'}: {exc}") from exc
        except Exception as exc:  # noqa: BLE001 - any other template failure degrades to ""
            self.template_errors.append(f"{key_or_text if is_key else 'template'}: {exc}")
            return ""

    def render_or_raw(self, key: str) -> str:
        """Render a setting; on a template error (kept in template_errors) use the raw setting,
        as Grafana does for URLs and some other fields."""
        errors_before = len(self.template_errors)
        rendered = self.render(key)
        return self.config.get(key, "") if len(self.template_errors) > errors_before else rendered

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
    # Prepended to the errors of sending (HTTP answers and transport), as Grafana wraps them.
    error_prefix: ClassVar[str] = ""
    # Settings that validate, as a user would write them (catalogue, docs, the contract test).
    example: ClassVar[dict[str, Any]] = {}

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
            "example": cls.example,
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
            elif declared.template and isinstance(config[declared.key], str):
                errors.extend((declared.key, problem) for problem in go_template_problems(config[declared.key]))
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
            switch = bool(declared.default) if value is None else parse_bool(value)
            if switch is None:
                raise SettingsError.single(declared.key, f"{declared.label} must be true or false")
            return switch
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
        return Outcome.failure(
            message,
            retryable=status_is_retryable(response.status),
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
        return self.deliver(request, ctx, transport)

    def deliver(self, request: OutgoingRequest, ctx: SendContext, transport: HttpTransport) -> Outcome:
        """Send a request `build(ctx)` made, classify the answer."""
        try:
            response = transport.send(request)
        except TransportError as exc:
            return self.with_error_prefix(Outcome.from_transport_error(exc))
        return self.with_error_prefix(self.classify(response, ctx))

    @classmethod
    def sends_what_it_builds(cls) -> bool:
        """Whether a send is `build` and then `deliver` (not a type with a send of its own, as email's,
        which may reach the network another way): then a request can be built ahead of its send."""
        return cls.send is IntegrationType.send

    def with_error_prefix(self, outcome: Outcome) -> Outcome:
        """Grafana wraps some types' send errors (`send notification to Teams: …`)."""
        if outcome.error and self.error_prefix:
            outcome.error = self.error_prefix + outcome.error
        return outcome
