"""The invitation by e-mail (issue 17 item 6): when the organisation's administrator gives an address, the request
only queues a "mail.invitation" job in its own transaction; a job consumer sends the mail over the notices' SMTP
connection (notifications/mail.py), retried like them when the server is down or answers 4xx. The address lives in
the job's payload only; the link is built by the job from the invitation (its token is never stored). Without a
mail server the page says the link must be passed on by hand, and nothing is queued."""
from __future__ import annotations

import logging
import smtplib

from sqlalchemy.orm import Session

from ..database import write_intent
from ..jobs import job_enqueue, job_kind
from ..models import OrgInvitation, User
from ..models.base import utcnow
from ..notifications.mail import compose, mail_configured, mail_domain, render_mail, site_link, smtp_connection
from ..notifications.services import path_for

log = logging.getLogger(__name__)


def invitation_mail_queue(*, invitation: OrgInvitation, to: str, user: User) -> bool:
    """Queue the mail in the caller's transaction (sent after it commits); False when no mail server is set."""
    if not mail_configured():
        return False
    job_enqueue(kind="mail.invitation", payload={"invitation_id": invitation.id, "to": to}, user=user)
    return True


@job_kind("mail.invitation", label="发送单位成员邀请邮件", lease_seconds=300, max_attempts=6, retry_seconds=60)
def invitation_mail_send(session: Session, payload: dict) -> str:
    from .services import INVITATION_DAYS, invitation_token

    if not mail_configured():
        return "未配置邮件服务器，未发送（请把邀请链接手工转交）"
    to = str(payload.get("to") or "")
    token = write_intent.set(False)
    try:
        invitation = session.get(OrgInvitation, int(payload["invitation_id"]))
        if invitation is None or invitation.used_at is not None or invitation.revoked_at is not None \
                or invitation.expires_at <= utcnow():
            session.commit()
            return "邀请已使用、撤销或过期，未发送"
        link = site_link(path_for("members.join", token=invitation_token(invitation)))
        body = render_mail("mail/invitation.txt", org=invitation.org, inviter=invitation.created_by, link=link,
                           expires_at=invitation.expires_at, days=INVITATION_DAYS)
        subject = f"【科技大市场】{invitation.created_by.name}邀请您加入{invitation.org.name}"
        message = compose(to=to, subject=subject, body=body, message_id=f"<invitation-{invitation.id}@{mail_domain()}>")
        session.commit()  # no transaction is held while the SMTP server answers
    finally:
        write_intent.reset(token)
    with smtp_connection() as smtp:
        try:
            smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            if any(code < 500 for code, _msg in exc.recipients.values()):
                raise  # a temporary refusal (4xx): retried with the job
            log.warning("mail server refused invitation %s", payload.get("invitation_id"))
            return "邮件服务器拒收该地址，未发送（请把邀请链接手工转交）"
    return "已发送 1 封邀请邮件"
