"""`flask --app app mail ...`: check the mail settings by sending one message; queue today's digests now."""
from __future__ import annotations

import uuid

import click
from flask import current_app
from flask.cli import with_appcontext

mail_group = click.Group("mail", help="E-mail of notifications: a test message, today's digests.")


@mail_group.command("test")
@click.argument("address")
@with_appcontext
def test_command(address: str) -> None:
    """Send one message to ADDRESS through the configured server (MAIL_*), here and now: what the mail jobs do."""
    from . import mail

    if not mail.mail_configured():
        raise click.ClickException("未配置邮件服务器：请设置 MAIL_SERVER（及 MAIL_PORT、MAIL_USERNAME 等），见 README")
    config = current_app.config
    message = mail._message(to=address, subject="【科技大市场】测试邮件",
                            body=f"这是一封测试邮件：{config['MAIL_SERVER']}:{config['MAIL_PORT']} 可以发送通知邮件。\n"
                                 f"站点地址（邮件中的链接）：{config['SITE_URL']}\n",
                            message_id=f"<test-{uuid.uuid4().hex}@{mail._domain()}>",
                            unsubscribe=mail.site_link("/notifications/settings"))
    try:
        with mail.smtp_connection() as smtp:
            smtp.send_message(message)
    except Exception as exc:  # the operator reads what went wrong
        raise click.ClickException(f"发送失败：{type(exc).__name__}: {exc}") from exc
    click.echo(f"mail: test message to {address} accepted by {config['MAIL_SERVER']}:{config['MAIL_PORT']}")


@mail_group.command("digests")
@with_appcontext
def digests_command() -> None:
    """Queue today's digest for every user with waiting digest notices (once a day each; the sweep does this after
    MAIL_DIGEST_HOUR by itself)."""
    from . import mail

    if not mail.mail_configured():
        raise click.ClickException("未配置邮件服务器：请设置 MAIL_SERVER，见 README")
    click.echo(f"mail: {mail.digests_queue(any_hour=True)} digest(s) queued for {mail.china_today()}")


COMMANDS = (mail_group,)
