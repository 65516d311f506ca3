"""Email: SMTP through Django's mail backend (EMAIL_URL), an HTML and a plain-text part per message."""

from __future__ import annotations

import contextlib
import functools
import re
import smtplib
import ssl
from email.utils import formataddr, parseaddr
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.mail.backends.smtp import EmailBackend as SmtpBackend

from integrations import deadlines
from integrations.base import (
    BuildFailure,
    Field,
    IntegrationType,
    Kind,
    Outcome,
    Result,
    SendContext,
    SettingsError,
    TemplateFailure,
    template_field,
)
from integrations.deadlines import attempt_deadline, deadline_passed

ADDRESS_SEPARATORS = re.compile(r"[,;\n]")


def split_addresses(addresses: str) -> list[str]:
    """Grafana's split: on `,` `;` and newlines; empty pieces dropped, the rest NOT trimmed.

    A CRLF line break counts as one newline: a textarea submits those, and a stray `\\r`
    would make every address on the line undeliverable.
    """
    return [piece for piece in ADDRESS_SEPARATORS.split(addresses.replace("\r\n", "\n")) if piece]


def smtp_error_text(exc: BaseException) -> str:
    """`550 5.1.1 user unknown` rather than Python's tuple reprs."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        replies = {address: f"{code} {_text(reply)}" for address, (code, reply) in exc.recipients.items()}
        if len(replies) == 1:
            return next(iter(replies.values()))
        return "; ".join(f"{address}: {reply}" for address, reply in replies.items())
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"{exc.smtp_code} {_text(exc.smtp_error)}"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


def smtp_error_is_retryable(exc: BaseException) -> bool:
    """SMTP's own rule: 4xx replies are transient, 5xx permanent; network trouble is transient."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return any(code < 500 for code, _reply in exc.recipients.values())
    if isinstance(exc, smtplib.SMTPResponseException):
        return exc.smtp_code < 500
    if isinstance(exc, smtplib.SMTPNotSupportedError | ssl.SSLCertVerificationError | ValueError):
        return False  # the server or the address will not change by waiting
    return isinstance(exc, OSError)  # includes SMTPServerDisconnected, timeouts, refused connections


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)


class Email(IntegrationType):
    type = "email"
    label = "Email"
    description = "Sends an email (HTML and plain text) through the server's SMTP relay."
    example = {"addresses": "oncall@example.com;lead@example.com", "singleEmail": False}
    fields = (
        Field(
            "addresses",
            "Addresses",
            Kind.TEXT,
            required=True,
            required_error="could not find addresses in settings",
            help='You can enter multiple email addresses using a ";", "," or new line separator.',
        ),
        Field(
            "singleEmail",
            "Single email",
            Kind.BOOL,
            default=False,
            help="Send a single email to all recipients.",
        ),
        template_field("subject", "Subject", "default.title", help="Templated subject of the email.", kind=Kind.STRING),
        Field(
            "message",
            "Message",
            Kind.TEXT,
            template=True,
            help="Optional message to include with the email. When empty the built-in summary is shown.",
        ),
    )

    @classmethod
    def clean(cls, config: dict[str, Any]) -> None:
        if not split_addresses(config["addresses"]):
            raise SettingsError.single("addresses", "could not find addresses in settings")

    def build_messages(self, ctx: SendContext) -> list[Any]:
        """One EmailMultiAlternatives per recipient, or one for all with singleEmail."""

        # A header cannot hold a line break; a multi-line subject template is folded to one line.
        subject = " ".join(ctx.render("subject").splitlines())
        text_body, html_body = self.render_bodies(ctx, subject)
        from_name, from_address = parseaddr(settings.DEFAULT_FROM_EMAIL)
        sender = formataddr((from_name or ctx.product_name, from_address))
        # The same Message-ID on every attempt of this delivery: mail clients show a re-sent copy once.
        domain = from_address.rpartition("@")[2] or "localhost"
        message_id = f"<{re.sub(r'[^A-Za-z0-9._-]', '', ctx.idempotency_key)}@{domain}>"
        addresses = split_addresses(ctx.config["addresses"])
        groups = [addresses] if ctx.config["singleEmail"] else [[address] for address in addresses]
        messages = []
        for recipients in groups:
            # Grafana sets an empty Reply-To; an empty address list is not valid RFC 5322, so
            # the header is left out and replies go to From, which is what mail clients do then.
            message = EmailMultiAlternatives(subject, text_body, sender, recipients, headers={"Message-ID": message_id})
            message.attach_alternative(html_body, "text/html")  # last part = preferred (RFC 2046)
            messages.append(message)
        return messages

    @staticmethod
    def render_bodies(ctx: SendContext, subject: str) -> tuple[str, str]:
        """The built-in `email.txt` and `email.html` templates over the email's data (spec §4.4)."""
        if ctx.renderer is None:
            raise BuildFailure("the email body cannot be rendered: the send context has no template renderer")
        try:
            body = ctx.renderer.render_email(ctx.data, subject=subject, message=ctx.render("message"))
        except Exception as exc:
            raise TemplateFailure(f"failed to template email body: {exc}") from exc
        return body.text, body.html

    def send(self, ctx: SendContext, transport: Any = None) -> Outcome:
        """Send through Django's SMTP connection; the HTTP transport is not used."""

        try:
            messages = self.build_messages(ctx)
        except BuildFailure as exc:
            return Outcome(Result.FAILED, error=str(exc))
        connection = get_connection(smtp_backend_with_deadline(), timeout=ctx.timeout_seconds)
        # Django's timeout bounds each wait; the deadline bounds the whole conversation.
        with attempt_deadline(ctx.timeout_seconds):
            errors, retryable = self.converse(connection, messages)
            timed_out = deadline_passed()
        if timed_out and errors:
            return Outcome.failure(f"SMTP conversation timed out after {ctx.timeout_seconds:g}s", retryable=True)
        return self.failure(errors, retryable) if errors else Outcome.success()

    @staticmethod
    def converse(connection: Any, messages: list[Any]) -> tuple[list[str], bool]:
        """Open, send every message, close: (error texts, whether any is worth a retry)."""
        try:
            connection.open()
        except (OSError, smtplib.SMTPException) as exc:
            return [f"failed to dial SMTP server: {smtp_error_text(exc)}"], smtp_error_is_retryable(exc)
        errors: list[str] = []
        retryable = False
        try:
            for message in messages:
                message.connection = connection
                try:
                    message.send()
                except (OSError, smtplib.SMTPException, ValueError) as exc:
                    recipients = ";".join(message.to)
                    errors.append(
                        f"failed to send notification to email addresses: {recipients}: {smtp_error_text(exc)}"
                    )
                    retryable = retryable or smtp_error_is_retryable(exc)
        finally:
            with contextlib.suppress(OSError, smtplib.SMTPException):
                connection.close()
        return errors, retryable

    @staticmethod
    def failure(errors: list[str], retryable: bool) -> Outcome:
        # A retry re-sends to every recipient, as Grafana does; any transient error is worth one.
        return Outcome.failure("\n".join(errors), retryable=retryable)


# -- SMTP within the attempt's deadline ----------------------------------------------------------

DJANGO_SMTP_BACKEND = "django.core.mail.backends.smtp.EmailBackend"


class DeadlineSMTP(smtplib.SMTP):
    """smtplib's client on a socket whose every wait keeps to the attempt's deadline: a server
    answering a byte at a time never lets one socket timeout fire."""

    def _get_socket(self, host, port, timeout):
        return deadlines.with_deadline(super()._get_socket(host, port, timeout))


class DeadlineSMTPSSL(smtplib.SMTP_SSL):
    """The same over implicit TLS: the context's DeadlineSSLSocket keeps the deadline."""


def smtp_backend_with_deadline() -> str | None:
    """The mail backend to send with: Django's SMTP backend becomes ours; a test's or another
    configured backend is kept (None: settings.EMAIL_BACKEND)."""
    return f"{__name__}.DeadlineSmtpBackend" if settings.EMAIL_BACKEND == DJANGO_SMTP_BACKEND else None


class DeadlineSmtpBackend(SmtpBackend):
    """Django's SMTP backend on the deadline-keeping clients, for STARTTLS too."""

    @property
    def connection_class(self) -> type:
        return DeadlineSMTPSSL if self.use_ssl else DeadlineSMTP

    @functools.cached_property
    def ssl_context(self) -> ssl.SSLContext:
        context = super().ssl_context
        context.sslsocket_class = deadlines.DeadlineSSLSocket
        return context
