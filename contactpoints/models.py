"""The domain: contact points, their integrations, notifications, deliveries and attempts."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.text import slugify

from contactpoints.fields import EncryptedJSONField
from integrations.registry import UnknownIntegrationType, get_type
from integrations.values import credentials_in_plain_settings, get_path, set_path

UID_MAX_LENGTH = 40


def new_uid() -> str:
    return uuid.uuid4().hex[:14]


def uid_from_name(name: str) -> str:
    """A contact point's uid is the slug of its name (`Ops Team` → `ops-team`)."""
    return slugify(name)[:UID_MAX_LENGTH] or new_uid()


class ContactPoint(models.Model):
    uid = models.SlugField("UID", max_length=UID_MAX_LENGTH, unique=True, blank=True)
    name = models.CharField(max_length=190, unique=True)
    description = models.TextField(blank=True)
    # Paused: intake is still accepted and recorded, but nothing is sent.
    paused = models.BooleanField(default=False)
    # Where a notification goes too when one of this contact point's integrations fails for good.
    fallback = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="fallback_for",
        help_text="Also notified, with the failure in the text, when an integration here fails permanently.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self.uid:
            self.uid = uid_from_name(self.name)
        super().save(*args, **kwargs)


class Provenance(models.TextChoices):
    NONE = "", "none"
    API = "api", "api"
    FILE = "file", "file"


class Integration(models.Model):
    """One integration of a contact point: a type and its settings (secrets encrypted)."""

    uid = models.CharField("UID", max_length=UID_MAX_LENGTH, unique=True, default=new_uid)
    contact_point = models.ForeignKey(ContactPoint, on_delete=models.CASCADE, related_name="integrations")
    type = models.CharField(max_length=40)
    settings = models.JSONField(default=dict, blank=True)
    secure_settings = EncryptedJSONField()
    disable_resolve_message = models.BooleanField(default=False)
    enabled = models.BooleanField(default=True)
    # Paused: deliveries are recorded as paused instead of being sent (see ContactPoint.paused).
    paused = models.BooleanField(default=False)
    position = models.PositiveIntegerField(default=0)
    provenance = models.CharField(max_length=10, choices=Provenance.choices, default=Provenance.NONE, blank=True)
    # Our own setting beside Grafana's: overrides the destination's default pace (0: not paced).
    rate_per_second = models.FloatField(
        "rate (messages per second)",
        null=True,
        blank=True,
        validators=[MinValueValidator(0.0)],
        help_text="Empty: the provider's documented limit. 0: not paced (until the destination answers 429).",
    )
    # Grafana's contact point status, kept current by every attempt.
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_attempt_duration_ms = models.PositiveIntegerField(null=True, blank=True)
    last_attempt_error = models.TextField(blank=True)
    # Set when permanent failures reached INTEGRATION_FAILURE_THRESHOLD (self-monitoring); cleared by a delivery.
    unhealthy_since = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["contact_point", "position", "id"]

    def __str__(self) -> str:
        return f"{self.contact_point.name} / {self.type_label}"

    @property
    def integration_type(self):
        return get_type(self.type)

    @property
    def type_label(self) -> str:
        try:
            return self.integration_type.label
        except UnknownIntegrationType:
            return self.type

    @property
    def is_paused(self) -> bool:
        return self.paused or self.contact_point.paused

    def validated_config(self) -> dict[str, Any]:
        """Settings with secrets resolved, checked by the type: raises SettingsError."""
        return self.integration_type.validate(self.settings, self.secure_settings)

    def assign_settings(self, settings_in: dict[str, Any], keep_secret: str | None = None) -> None:
        """Store settings, moving declared secrets into the encrypted column.

        A secret that is absent, blank or equal to `keep_secret` (the API's "[REDACTED]")
        keeps its stored value, so a form or an API client never has to send it back.
        """
        plain, given = self.integration_type.split_secrets(settings_in)
        secure = dict(self.secure_settings or {})
        for key, value in given.items():
            if keep_secret is None or value != keep_secret:
                secure[key] = value
        declared = set(self.integration_type.secret_keys())
        self.secure_settings = {k: v for k, v in secure.items() if k in declared}
        self.settings = plain

    def set_secret(self, key: str, value: str | None) -> None:
        secure = dict(self.secure_settings or {})
        if value:
            secure[key] = value
        else:
            secure.pop(key, None)
        self.secure_settings = secure

    def secret_state(self) -> dict[str, bool]:
        """{secret key: is it set}: all that the API and admin ever reveal about secrets."""
        return {key: bool((self.secure_settings or {}).get(key)) for key in self.integration_type.secret_keys()}

    def settings_with_secrets_masked(self, mask: str) -> dict[str, Any]:
        """Plain settings plus `mask` in place of every secret that is set."""
        import copy

        shown = copy.deepcopy(self.settings or {})
        for key, is_set in self.secret_state().items():
            if is_set:
                set_path(shown, key, mask)
            elif get_path(shown, key) is not None:
                set_path(shown, key, "")
        return shown

    def secret_values(self) -> list[str]:
        """Every secret value, for scrubbing error texts (secrets inside plain settings too)."""
        values = [v for v in (self.secure_settings or {}).values() if v]
        for key in self.integration_type.secret_keys():
            value = get_path(self.settings or {}, key)
            if isinstance(value, str) and value:
                values.append(value)
        return values + credentials_in_plain_settings(self.settings or {})


class NotificationStatus(models.TextChoices):
    FIRING = "firing"
    RESOLVED = "resolved"


class Notification(models.Model):
    """One intake request: its alerts and the group data that templates see."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # Indexed by notification_by_contact_point, which leads with it: a second index only cost every insert.
    contact_point = models.ForeignKey(
        ContactPoint, on_delete=models.CASCADE, related_name="notifications", db_index=False
    )
    status = models.CharField(max_length=10, choices=NotificationStatus.choices)
    alerts = models.JSONField(default=list)
    receiver = models.CharField(max_length=190)
    group_key = models.TextField()
    group_labels = models.JSONField(default=dict)
    external_url = models.CharField(max_length=2000, blank=True)
    truncated_alerts = models.PositiveIntegerField(default=0)
    source = models.CharField(max_length=20, blank=True)  # alertmanager, grafana, alerts, simple, test
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-received_at"]
        indexes = [
            models.Index(fields=["-received_at", "-id"], name="notification_newest"),
            # A contact point's last notification (the admin's list) without a sort.
            models.Index(fields=["contact_point", "-received_at"], name="notification_by_contact_point"),
        ]

    def __str__(self) -> str:
        return f"{self.receiver} {self.status} ({len(self.alerts)} alerts)"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending"
    SENDING = "sending"
    RETRYING = "retrying"
    DELIVERED = "delivered"
    FAILED = "failed"
    PAUSED = "paused"  # recorded while its integration or contact point was paused; not sent


# Deliveries in these states are still expected to move (the sweeper watches them).
MOVING_STATUSES = (DeliveryStatus.PENDING, DeliveryStatus.RETRYING, DeliveryStatus.SENDING)


class Delivery(models.Model):
    """One notification to one integration. The database row is the source of truth."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    notification = models.ForeignKey(Notification, on_delete=models.CASCADE, related_name="deliveries")
    # Indexed by delivery_by_integration, which leads with it: a second index only cost every write (three a delivery).
    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="deliveries", db_index=False)
    firing_only = models.BooleanField(default=False)  # disableResolveMessage at intake time
    status = models.CharField(max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    # Attempts made before the last manual retry; the budget counts only the ones after it.
    attempt_offset = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    # While sending: when the claim lapses and the sweeper may hand the delivery to another worker.
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    # While sending: the batch that claimed it. Finds the batch after its claim, and keeps a worker
    # that outlived its lease from recording over the delivery's next owner.
    claim = models.UUIDField(null=True, blank=True, editable=False)
    last_error = models.TextField(blank=True)
    last_http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    # Delivered as part of another delivery's digest (a storm to a paced destination, issue 11).
    # Indexed by delivery_coalesced, which leaves out the many deliveries that are no digest's.
    coalesced_into = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="coalesced",
        editable=False,
        db_index=False,
    )

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "deliveries"
        indexes = [
            # The queue: due rows in order. Partial, so delivered rows leave it, and claims walk it in
            # order (an index scan marks dead entries as it passes; a status-first index made every
            # claim re-read each delivery that was ever pending until vacuum came by).
            models.Index(
                fields=["next_attempt_at"], name="delivery_due", condition=models.Q(status__in=["pending", "retrying"])
            ),
            models.Index(fields=["status", "-created_at"], name="delivery_by_status"),
            models.Index(fields=["claim"], name="delivery_claimed", condition=models.Q(status="sending")),
            # The lists sort by (-created_at, -id): the id breaks ties for stable pages.
            models.Index(fields=["-created_at", "-id"], name="delivery_newest"),
            models.Index(fields=["integration", "-created_at"], name="delivery_by_integration"),
            # A full index held a NULL entry for every delivery, written again by each claim and record
            # (neither is a HOT update): three of the 24 index records an alert wrote to the WAL.
            models.Index(
                fields=["coalesced_into"], name="delivery_coalesced", condition=models.Q(coalesced_into__isnull=False)
            ),
        ]

    def __str__(self) -> str:
        return f"{self.integration} {self.status}"

    @property
    def attempts_used_up(self) -> bool:
        return self.attempts - self.attempt_offset >= settings.DELIVERY_MAX_ATTEMPTS


class Attempt(models.Model):
    """One try at a delivery. The error text never holds a secret."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_set")
    number = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField()
    outcome = models.CharField(max_length=10)  # integrations.base.Result
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["delivery", "number"]

    def __str__(self) -> str:
        return f"attempt {self.number}: {self.outcome}"


class TemplateSyntax(models.TextChoices):
    GO = "go", "Go text/template (Grafana)"
    JINJA = "jinja", "Jinja2"


class NotificationTemplate(models.Model):
    """A user template, rendered by name like the built-in ones (`{{ template "name" . }}` in Go,
    `template("name")` in Jinja2).

    Which engine renders it is not guessed at send time: a template carries its syntax. When a
    client does not say (the templates API without `syntax`, the admin form's "detect" choice),
    it is detected once, at save time: Go when the content parses as Go and uses a form only Go
    has (`integrations.gotemplate.is_go_template`), else Jinja2. Grafana's provisioning API and
    provisioning files always mean Go: Grafana speaks nothing else. Templates stored before
    syntaxes existed are Jinja2 (the only engine then).
    """

    name = models.CharField(max_length=190, unique=True)
    content = models.TextField()
    syntax = models.CharField(max_length=8, choices=TemplateSyntax.choices, default=TemplateSyntax.JINJA)
    provenance = models.CharField(max_length=10, choices=Provenance.choices, default=Provenance.NONE, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class TokenScope(models.TextChoices):
    INTAKE = "intake", "intake (post alerts only)"
    ADMIN = "admin", "admin (the whole API)"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class ApiToken(models.Model):
    """An API token; only its SHA-256 is kept."""

    PREFIX = "cpt_"
    # last_used_at is written at most this often per token: the intake is a hot path.
    LAST_USED_RESOLUTION = timedelta(minutes=1)

    name = models.CharField(max_length=190)
    scope = models.CharField(max_length=10, choices=TokenScope.choices, default=TokenScope.INTAKE)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    hint = models.CharField(max_length=16, editable=False)  # the first characters, to tell tokens apart
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{self.name} ({self.scope})"

    @classmethod
    def issue(cls, name: str, scope: str = TokenScope.INTAKE, created_by=None) -> tuple[ApiToken, str]:
        """Create a token and return it with its plain value, which is shown once."""
        plain = cls.PREFIX + secrets.token_urlsafe(32)
        token = cls.objects.create(
            name=name, scope=scope, token_hash=hash_token(plain), hint=plain[:10], created_by=created_by
        )
        return token, plain

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    def allows(self, scope: str) -> bool:
        return self.is_active and (self.scope == TokenScope.ADMIN or self.scope == scope)


class IdempotencyKey(models.Model):
    """The first answer to a request carrying `Idempotency-Key`, replayed for 24 hours."""

    contact_point = models.ForeignKey(ContactPoint, on_delete=models.CASCADE)
    key = models.CharField(max_length=255)
    response = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["contact_point", "key"], name="idempotency_key_once")]
