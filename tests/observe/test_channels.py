"""Each channel against a local receiver that checks it the way the vendor does."""

from __future__ import annotations

import email
import email.policy
import shutil
import subprocess
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from observe_helpers import (
    DINGTALK_SECRET,
    FEISHU_SECRET,
    SECRETS,
    WEBHOOK_TOKEN,
    Mailbox,
    Receiver,
    free_port,
    start_smtp,
)

from ferry.errors import ConfigError, RetriableError
from ferry.observe.alerts import Message, parse_alert_config
from ferry.observe.alerts.channels import build_channel

OPENED = datetime(2024, 5, 3, 4, 0, tzinfo=UTC)


def message(kind: str = "alert") -> Message:
    return Message(
        kind=kind,  # type: ignore[arg-type]
        rule="dead-letters",
        rule_type="dead_letters",
        subject="kuaimai-aftersale",
        severity="warning",
        summary="3 record(s) went dead in the last 1h (新增死信 3 条); 5 dead in all",
        hint="ferry records --scheme kuaimai-aftersale --status dead",
        opened_at=OPENED,
        resolved_at=datetime(2024, 5, 3, 4, 40, tzinfo=UTC) if kind == "recovery" else None,
        incident_id=7,
    )


@pytest.fixture
def client():
    with httpx.Client() as c:
        yield c


def channel(spec: dict[str, Any], client: httpx.Client, name: str = "ch"):
    config = parse_alert_config({"channels": {name: spec}}, env={})
    return build_channel(name, config.channels[name], client=client)


def assert_no_secret(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text


def test_dingtalk_robot_signs_the_url_and_sends_markdown(receiver: Receiver, client) -> None:
    channel(receiver.config()["ding"], client).send(message())

    [request] = receiver.got("ding")
    assert set(request.query) == {"access_token", "timestamp", "sign"}
    markdown = request.body["markdown"]
    assert markdown["title"] == "[Ferry 告警 ALERT] 新增死信 new dead letters · kuaimai-aftersale"
    assert (
        "新增死信 3 条" in markdown["text"]
        and "`ferry records --scheme kuaimai-aftersale" in markdown["text"]
    )
    assert "2024-05-03 12:00:00 (Asia/Shanghai)" in markdown["text"]


def test_dingtalk_refuses_a_wrong_secret_and_the_error_names_the_code_not_the_secret(
    receiver, client
) -> None:
    spec = {**receiver.config()["ding"], "secret": "SECwrong-secret-0000"}
    with pytest.raises(ConfigError) as caught:
        channel(spec, client).send(message())
    assert "errcode 310000: sign not match" in str(caught.value)
    assert_no_secret(str(caught.value))
    assert "SECwrong-secret-0000" not in str(caught.value)
    assert receiver.got("ding", accepted=False)


def test_dingtalk_at_mentions_only_in_alerts(receiver: Receiver, client) -> None:
    robot = channel({**receiver.config()["ding"], "at_mobiles": ["13800000000"]}, client)
    robot.send(message())
    robot.send(message("recovery"))
    alert, recovery = receiver.got("ding")
    assert (
        alert.body["at"]["atMobiles"] == ["13800000000"] and "@13800000000" in alert.body["markdown"]["text"]
    )
    assert recovery.body["at"]["atMobiles"] == []
    assert "[Ferry 恢复 RESOLVED]" in recovery.body["markdown"]["title"]
    assert "(40m, Asia/Shanghai)" in recovery.body["markdown"]["text"]


def test_wecom_robot_posts_markdown_to_its_key(receiver: Receiver, client) -> None:
    channel(receiver.config()["wecom"], client).send(message())
    [request] = receiver.got("wecom")
    assert request.body["msgtype"] == "markdown"
    assert request.body["markdown"]["content"].startswith("**[Ferry 告警 ALERT] 新增死信")


def test_wecom_unknown_key_is_a_config_error_without_the_key(receiver: Receiver, client) -> None:
    spec = {"type": "wecom", "webhook": f"{receiver.base}/wecom/webhook/send?key=not-the-key"}
    with pytest.raises(ConfigError) as caught:
        channel(spec, client).send(message())
    assert "errcode 93000" in str(caught.value) and "not-the-key" not in str(caught.value)


def test_feishu_bot_signs_the_body_as_feishu_checks_it(receiver: Receiver, client) -> None:
    channel(receiver.config()["feishu"], client).send(message())
    [request] = receiver.got("feishu")
    assert request.body["msg_type"] == "post"
    post = request.body["content"]["post"]["zh_cn"]
    assert post["title"].startswith("[Ferry 告警 ALERT]")
    assert [line[0]["text"] for line in post["content"][:1]] == ["方案 Scheme: kuaimai-aftersale"]


def test_feishu_wrong_secret_is_refused_with_code_19021(receiver: Receiver, client) -> None:
    spec = {**receiver.config()["feishu"], "secret": "another-secret"}
    with pytest.raises(ConfigError) as caught:
        channel(spec, client).send(message())
    assert "errcode 19021" in str(caught.value)
    assert_no_secret(str(caught.value))
    assert FEISHU_SECRET not in str(caught.value) and DINGTALK_SECRET not in str(caught.value)


def test_webhook_posts_the_notice_document_with_its_auth_header(receiver: Receiver, client) -> None:
    channel(receiver.config()["hook"], client).send(message("recovery"))
    [request] = receiver.got("hook")
    body = request.body
    assert (body["source"], body["kind"], body["status"]) == ("ferry", "recovery", "resolved")
    assert (body["rule"], body["rule_type"], body["subject"], body["incident_id"]) == (
        "dead-letters", "dead_letters", "kuaimai-aftersale", 7,
    )  # fmt: skip
    assert body["resolved_at"] == "2024-05-03T04:40:00+00:00"


def test_webhook_without_the_right_token_gets_401_and_the_token_stays_hidden(receiver, client) -> None:
    spec = {
        "type": "webhook",
        "url": f"{receiver.base}/hook",
        "headers": {"Authorization": "Bearer wrong-token"},
    }
    with pytest.raises(ConfigError) as caught:
        channel(spec, client).send(message())
    assert "HTTP 401" in str(caught.value) and "wrong-token" not in str(caught.value)
    assert WEBHOOK_TOKEN not in str(caught.value)


def test_a_500_answer_is_retriable(receiver: Receiver, client) -> None:
    receiver.status["ding"] = 500
    with pytest.raises(RetriableError, match="HTTP 500"):
        channel(receiver.config()["ding"], client).send(message())


def test_a_robot_answer_that_is_not_json_is_not_taken_for_success(receiver: Receiver, client) -> None:
    receiver.raw["feishu"] = b"<html>502 Bad Gateway</html>"
    with pytest.raises(RetriableError, match=r"unexpected answer \(HTTP 200\): <html>502 Bad Gateway"):
        channel(receiver.config()["feishu"], client).send(message())


def test_an_unreachable_robot_is_retriable_and_its_token_is_not_shown(client) -> None:
    url = f"http://127.0.0.1:{free_port()}/robot/send?access_token=tok-secret-777"
    with pytest.raises(RetriableError) as caught:
        channel({"type": "dingtalk", "webhook": url, "timeout": 2}, client).send(message())
    assert "tok-secret-777" not in str(caught.value)
    assert "dingtalk channel 'ch' (127.0.0.1)" in str(caught.value)


# -- e-mail ------------------------------------------------------------------------------------------


def parsed(raw: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(raw, policy=email.policy.default)  # type: ignore[return-value]


def test_email_is_sent_as_utf8_text_to_every_recipient(mailbox: Mailbox) -> None:
    spec = {"type": "email", "host": "127.0.0.1", "port": mailbox.port, "security": "none",
            "from": "ferry@example.com", "to": ["ops@example.com", "dba@example.com"], "subject_prefix": "[prod]"}  # fmt: skip
    config = parse_alert_config({"channels": {"mail": spec}}, env={})
    build_channel("mail", config.channels["mail"], client=httpx.Client()).send(message())

    [(sender, rcpts, raw)] = mailbox.mails
    assert (sender, rcpts) == ("ferry@example.com", ["ops@example.com", "dba@example.com"])
    mail = parsed(raw)
    assert mail["Subject"] == "[prod] [Ferry 告警 ALERT] 新增死信 new dead letters · kuaimai-aftersale"
    body = mail.get_content()
    assert "详情 Details: 3 record(s) went dead" in body and "建议 Next: ferry records" in body


def test_email_refused_by_the_server_is_retriable(mailbox: Mailbox) -> None:
    mailbox.refuse = True
    spec = {"type": "email", "host": "127.0.0.1", "port": mailbox.port, "security": "none",
            "from": "ferry@example.com", "to": ["ops@example.com"]}  # fmt: skip
    config = parse_alert_config({"channels": {"mail": spec}}, env={})
    with pytest.raises(RetriableError, match="451"):
        build_channel("mail", config.channels["mail"], client=httpx.Client()).send(message())


@pytest.fixture
def certificate(tmp_path):
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a test certificate")
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
         "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True, timeout=30,
    )  # fmt: skip
    return key, cert


def test_email_over_starttls_logs_in_and_checks_the_certificate(certificate) -> None:
    import ssl

    from aiosmtpd.smtp import AuthResult

    key, cert = certificate
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    box = Mailbox()

    def authenticate(server, session, envelope, mechanism, data) -> AuthResult:
        box.logins.append((data.login, data.password))
        return AuthResult(success=data.password == b"smtp-pass-4321", handled=False)

    controller = start_smtp(box, tls_context=context, require_starttls=True, authenticator=authenticate,
                            auth_required=True)  # fmt: skip
    try:
        spec = {"type": "email", "host": "127.0.0.1", "port": box.port, "security": "starttls",
                "ca_file": str(cert), "username": "ferry", "password": "${SMTP_PASSWORD}",
                "from": "ferry@example.com", "to": ["ops@example.com"]}  # fmt: skip
        good = parse_alert_config({"channels": {"mail": spec}}, env={"SMTP_PASSWORD": "smtp-pass-4321"})
        build_channel("mail", good.channels["mail"], client=httpx.Client()).send(message())
        assert len(box.mails) == 1 and box.logins == [(b"ferry", b"smtp-pass-4321")]

        bad = parse_alert_config({"channels": {"mail": spec}}, env={"SMTP_PASSWORD": "wrong-pass-1"})
        with pytest.raises(ConfigError, match="refused the login of 'ferry'") as caught:
            build_channel("mail", bad.channels["mail"], client=httpx.Client()).send(message())
        assert "wrong-pass-1" not in str(caught.value)

        untrusted = parse_alert_config(
            {"channels": {"mail": {**spec, "ca_file": None}}}, env={"SMTP_PASSWORD": "x"}
        )
        with pytest.raises(ConfigError, match="certificate not trusted"):
            build_channel("mail", untrusted.channels["mail"], client=httpx.Client()).send(message())
        assert len(box.mails) == 1
    finally:
        controller.stop()
