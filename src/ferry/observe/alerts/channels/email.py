"""E-mail notices through SMTP (:mod:`smtplib`): plain, STARTTLS or implicit TLS, optional login."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from ferry.errors import ConfigError, RetriableError
from ferry.observe.alerts.config import EmailChannel
from ferry.observe.alerts.messages import Message, redact_text

__all__ = ["Mailer"]


class Mailer:
    """Sends each notice as one plain-text mail (UTF-8) to every recipient."""

    type = "email"

    def __init__(self, name: str, spec: EmailChannel) -> None:
        self.name = name
        self._spec = spec
        self._password = spec.password.get_secret_value() if spec.password else None

    def describe(self) -> str:
        """``email channel 'ops' (smtp.example.com:587, starttls)``."""
        spec = self._spec
        return f"email channel {self.name!r} ({spec.host}:{spec.effective_port}, {spec.security})"

    def _context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=self._spec.ca_file)
        if not self._spec.verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context

    def build(self, message: Message) -> EmailMessage:
        """The mail for ``message`` (subject = prefix + title, body = the plain text)."""
        spec = self._spec
        mail = EmailMessage()
        mail["Subject"] = f"{spec.subject_prefix} {message.title}".strip()
        mail["From"] = spec.sender
        mail["To"] = ", ".join(spec.to)
        mail["Date"] = formatdate(localtime=False)
        mail["Message-ID"] = make_msgid(domain="ferry.local")
        mail.set_content(message.text())
        return mail

    def send(self, message: Message) -> None:
        """Connect, secure, log in if configured, send; raise ``ConfigError``/``RetriableError``."""
        spec = self._spec
        mail = self.build(message)
        label = self.describe()
        try:
            client: smtplib.SMTP
            if spec.security == "ssl":
                client = smtplib.SMTP_SSL(
                    spec.host, spec.effective_port, timeout=spec.timeout, context=self._context()
                )
            else:
                client = smtplib.SMTP(spec.host, spec.effective_port, timeout=spec.timeout)
            with client:
                if spec.security == "starttls":
                    client.starttls(context=self._context())
                if spec.username:
                    client.login(spec.username, self._password or "")
                client.send_message(mail)
        except smtplib.SMTPAuthenticationError as exc:
            raise ConfigError(
                f"{label}: the server refused the login of {spec.username!r} ({exc.smtp_code})"
            ) from None
        except smtplib.SMTPRecipientsRefused as exc:
            raise ConfigError(f"{label}: recipients refused: {', '.join(exc.recipients)}") from None
        except ssl.SSLCertVerificationError as exc:
            raise ConfigError(
                f"{label}: certificate not trusted: {exc.verify_message}\n"
                "  hint: set ca_file: to the server's CA, or verify: false for a test server"
            ) from None
        except (smtplib.SMTPException, OSError) as exc:
            text = redact_text(f"{label}: {type(exc).__name__}: {exc}", [self._password or ""])
            raise RetriableError(text) from None
