"""Email (spec §4.4): validation, address splitting, real SMTP delivery (aiosmtpd), SMTP errors."""

from __future__ import annotations

import pytest

from integrations.base import Result, SettingsError
from integrations.email import Email, split_addresses
from tests.integrations.helpers import EXAMPLE_TITLE, alert, loopback_transport, make_context


def send(settings, alerts=None, **options):
    return Email().send(make_context(Email, settings, alerts, **options), loopback_transport())


def parts(message) -> dict[str, str]:
    """{content type: decoded text, line breaks as sent by templates} of a multipart/alternative message."""
    assert message.get_content_type() == "multipart/alternative"
    return {part.get_content_type(): part.get_content().replace("\r\n", "\n") for part in message.iter_parts()}


# -- validation ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "settings",
    [{}, {"addresses": ""}, {"addresses": "   "}, {"addresses": ",;\n"}, {"addresses": None}],
)
def test_addresses_are_required(settings):
    with pytest.raises(SettingsError) as raised:
        Email.validate(settings)
    assert raised.value.errors == [("addresses", "could not find addresses in settings")]


@pytest.mark.parametrize(
    ("addresses", "expected"),
    [
        ("a@x.org", ["a@x.org"]),
        ("a@x.org,b@x.org;c@x.org\nd@x.org", ["a@x.org", "b@x.org", "c@x.org", "d@x.org"]),
        ("a@x.org, b@x.org", ["a@x.org", " b@x.org"]),  # not trimmed, as in Grafana
        (",,a@x.org;;\n", ["a@x.org"]),  # empty pieces dropped
        ("a@x.org\r\nb@x.org", ["a@x.org", "b@x.org"]),  # a textarea's CRLF is one line break
    ],
)
def test_address_splitting(addresses, expected):
    assert split_addresses(addresses) == expected


def test_defaults():
    config = Email.validate({"addresses": "a@x.org"})
    assert (config["singleEmail"], config["subject"], config["message"]) == (
        False,
        '{{ template("default.title") }}',
        "",
    )
    assert Email.secret_keys() == []


# -- delivery over SMTP --------------------------------------------------------------------


def test_one_message_per_address(smtp_server, settings):
    settings.DEFAULT_FROM_EMAIL = "alerts@example.org"
    outcome = send({"addresses": "a@example.org;b@example.org"})
    assert outcome.result is Result.SUCCESS, outcome.error
    assert [(rcpt, message["To"]) for rcpt, message in smtp_server.messages] == [
        (["a@example.org"], "a@example.org"),
        (["b@example.org"], "b@example.org"),
    ]
    for _rcpt, message in smtp_server.messages:
        assert message["From"] == "ContactPoints <alerts@example.org>"
        assert message["Subject"] == EXAMPLE_TITLE
        assert message["Reply-To"] is None  # Grafana's empty Reply-To is not valid RFC 5322; left out
        assert message["Message-ID"] == "<4f7c1f5e-delivery-1@example.org>"  # stable across retries


def test_from_address_with_its_own_display_name(smtp_server, settings):
    settings.DEFAULT_FROM_EMAIL = "Ops Alerts <ops@example.org>"
    send({"addresses": "a@example.org"})
    ((_rcpt, message),) = smtp_server.messages
    assert message["From"] == "Ops Alerts <ops@example.org>"


def test_single_email_to_all_addresses(smtp_server):
    outcome = send({"addresses": "a@example.org,b@example.org", "singleEmail": True})
    assert outcome.ok
    ((rcpt, message),) = smtp_server.messages
    assert rcpt == ["a@example.org", "b@example.org"]
    assert message["To"] == "a@example.org, b@example.org"


def test_html_and_plain_text_parts(smtp_server):
    send({"addresses": "a@example.org"})
    ((_rcpt, message),) = smtp_server.messages
    bodies = parts(message)
    assert list(bodies) == ["text/plain", "text/html"]  # the last part is the preferred one
    text, html = bodies["text/plain"], bodies["text/html"]
    assert text.startswith(EXAMPLE_TITLE + "\n")
    assert "You have 1 firing alert(s), and 0 resolved alert(s) for alertname=" in text
    assert "Alertname: alert1" in text
    assert "Go to the Alerts page: http://localhost/alerting/list?alertState=firing&view=state" in text
    assert text.rstrip().endswith("Sent by ContactPoints v0.1.0")
    assert f"<title>{EXAMPLE_TITLE}</title>" in html
    assert "alert1" in html


def test_templated_subject_and_message(smtp_server):
    settings = {
        "addresses": "a@example.org",
        "subject": "[{{ Status }}] {{ CommonLabels.alertname }}\nsecond line",
        "message": "Hello {{ CommonLabels.lbl1 }}",
    }
    send(settings)
    ((_rcpt, message),) = smtp_server.messages
    assert message["Subject"] == "[firing] alert1 second line"  # a header holds one line
    bodies = parts(message)
    assert "Hello val1" in bodies["text/plain"]
    assert "You have 1 firing alert(s)" not in bodies["text/plain"]  # the message replaces the summary
    assert "Hello val1" in bodies["text/html"]


def test_resolved_email(smtp_server):
    send({"addresses": "a@example.org"}, [alert("a", "resolved")], group_labels={"alertname": "a"})
    ((_rcpt, message),) = smtp_server.messages
    assert message["Subject"] == "[RESOLVED] a "
    assert "(1) RESOLVED" in parts(message)["text/plain"]


# -- SMTP errors ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reply", "result"),
    [
        ("550 5.1.1 no such user", Result.FAILED),
        ("553 5.1.3 bad address", Result.FAILED),
        ("450 4.2.1 mailbox busy, try later", Result.RETRY),
        ("452 4.3.1 insufficient storage", Result.RETRY),
    ],
)
def test_refused_recipient(smtp_server, reply, result):
    smtp_server.refuse["bad@example.org"] = reply
    outcome = send({"addresses": "bad@example.org"})
    assert (outcome.result, outcome.error) == (
        result,
        f"failed to send notification to email addresses: bad@example.org: {reply}",
    )
    assert smtp_server.messages == []


def test_one_bad_address_does_not_stop_the_others(smtp_server):
    smtp_server.refuse["bad@example.org"] = "550 5.1.1 no such user"
    outcome = send({"addresses": "bad@example.org,good@example.org"})
    assert (outcome.result, outcome.error) == (
        Result.FAILED,
        "failed to send notification to email addresses: bad@example.org: 550 5.1.1 no such user",
    )
    assert [rcpt for rcpt, _message in smtp_server.messages] == [["good@example.org"]]


def test_errors_of_several_messages_are_joined(smtp_server):
    smtp_server.refuse.update({"a@example.org": "550 5.1.1 gone", "b@example.org": "451 4.3.0 later"})
    outcome = send({"addresses": "a@example.org;b@example.org"})
    assert outcome.result is Result.RETRY  # one transient failure is worth another attempt
    assert outcome.error == (
        "failed to send notification to email addresses: a@example.org: 550 5.1.1 gone\n"
        "failed to send notification to email addresses: b@example.org: 451 4.3.0 later"
    )


def test_unreachable_smtp_server_is_retried(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", 9
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    outcome = send({"addresses": "a@example.org"})
    assert (outcome.result, outcome.error) == (Result.RETRY, "failed to dial SMTP server: Connection refused")


def test_broken_email_template_fails_without_sending(smtp_server):
    outcome = send({"addresses": "a@example.org"}, user_templates={"email.txt": '{{ template("nope") }}'})
    assert outcome.result is Result.FAILED
    assert outcome.error.startswith("failed to template email body: ")
    assert 'template "nope" not defined' in outcome.error
    assert smtp_server.messages == []
