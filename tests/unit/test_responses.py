# ruff: noqa: E501 - real provider replies are quoted whole, as parsers meet them
"""Real provider answers (deliverability.md §3) and what each must mean for us."""

from __future__ import annotations

import pytest

from outreach_core.policies.responses import ResponseClass, classify, classify_bounce

T, H, S, P, X = (
    ResponseClass.THROTTLE,
    ResponseClass.HARD_BOUNCE,
    ResponseClass.SENDER_BLOCK,
    ResponseClass.SOFT_PERSISTENT,
    ResponseClass.PERMANENT,
)

SMTP = [
    # Gmail: rate and reputation deferrals
    (
        "450 4.2.1 The user you are trying to contact is receiving email too quickly. Please resend your message at a later time. - gsmtp",
        T,
    ),
    (
        "450 4.2.1 The user you are trying to contact is receiving email at a rate that prevents additional messages from being delivered. - gsmtp",
        T,
    ),
    (
        "421 4.7.0 This message is suspicious due to the very low reputation of the sending IP address. To protect our users from spam, email sent from your IP address has been temporarily rate limited. - gsmtp",
        T,
    ),
    (
        "421 4.7.0 This message is suspicious due to the very low reputation of the sending domain. To best protect our users from spam, the message has been blocked. - gsmtp",
        T,
    ),
    ("421 4.7.0 TLS required for RCPT domain, closing connection. - gsmtp", T),
    (
        "421 4.7.28 Gmail has detected an unusual rate of email. To protect our users from spam, email has been temporarily rate limited. - gsmtp",
        T,
    ),
    (
        "421-4.7.28 Gmail has detected an unusual rate of unsolicited email originating from your DKIM domain example.com - gsmtp",
        T,
    ),
    ("451 4.7.23 The IP address sending this message does not have a PTR record - gsmtp", T),
    (
        "421 4.7.26 This email has been rate limited because it is unauthenticated. Gmail requires all senders to authenticate with either SPF or DKIM. - gsmtp",
        T,
    ),
    ("421 4.4.5 Server busy, try again later. - gsmtp", T),
    # Gmail: blocks that are about us, not the recipient
    (
        "550 5.7.1 This message is likely unsolicited email. To reduce the amount of spam sent to Gmail, this message has been blocked. - gsmtp",
        S,
    ),
    ("550-5.7.1 Our system has detected that this message is likely unsolicited mail. - gsmtp", S),
    (
        "550 5.7.1 This message is likely suspicious due to the very low reputation of the sending domain. - gsmtp",
        S,
    ),
    (
        "550 5.7.26 This email has been blocked because the sender is unauthenticated. Gmail requires all senders to authenticate with either SPF or DKIM. - gsmtp",
        S,
    ),
    (
        "550 5.7.26 Unauthenticated email from example.com is not accepted due to domain's DMARC policy. - gsmtp",
        S,
    ),
    ("550 5.7.28 There is an unusual rate of unsolicited email originating from your IP address. - gsmtp", S),
    ("550 5.7.1 This email has been rate limited. - gsmtp", T),
    # Gmail: recipient-class
    (
        "550 5.1.1 The email account that you tried to reach does not exist. Please try double-checking the recipient's email address. - gsmtp",
        H,
    ),
    (
        "553 5.1.2 We weren't able to find the recipient domain. Please check for any spelling errors. - gsmtp",
        H,
    ),
    ("553 5.1.3 The recipient address <x@y> is not a valid RFC 5321 address. - gsmtp", H),
    ("550 5.2.1 The email account that you tried to reach is inactive. - gsmtp", H),
    ("552 5.2.2 The recipient's inbox is out of storage space and inactive. - gsmtp", P),
    (
        "452 4.2.2 The recipient's inbox is out of storage space. Please direct the recipient to https://support.google.com/mail/?p=OverQuotaTemp - gsmtp",
        P,
    ),
    (
        "550 5.7.1 The user or domain that you are sending to (or from) has a policy that prohibits the email that you sent. - gcdp",
        H,
    ),
    ("550 5.4.5 Daily user sending limit exceeded. - gsmtp", T),
    # Microsoft
    (
        "451 4.7.650 The mail server [192.0.2.1] has been temporarily rate limited due to IP reputation. For e-mail delivery information, see https://aka.ms/postmaster (S775)",
        T,
    ),
    ("451 4.7.500 Server busy. Please try again later from [192.0.2.1]. (S77714)", T),
    ("451 4.7.700 PFA agent busy, please try again.", T),
    (
        "421 RP-001 (BAY004-MC1F1) Unfortunately, some messages from 192.0.2.1 weren't sent. Please try again.",
        T,
    ),
    (
        "550 5.7.1 Unfortunately, messages from [192.0.2.1] weren't sent. Please contact your Internet service provider since part of their network is on our block list (S3150).",
        S,
    ),
    (
        "550 5.7.606 Access denied, banned sending IP [192.0.2.1]. To request removal from this list please visit https://sender.office.com/",
        S,
    ),
    ("550 5.7.708 Access denied, traffic not accepted from this IP.", S),
    (
        "550; 5.7.515 Access denied, sending domain example.com does not meet the required authentication level.",
        S,
    ),
    (
        "550 SC-001 (BAY004-MC5F17) Unfortunately, messages from 192.0.2.1 weren't sent. Please contact your Internet service provider.",
        S,
    ),
    (
        "550 5.4.1 Recipient address rejected: Access denied. [AM0PR02MB1234.eurprd02.prod.protection.outlook.com]",
        H,
    ),
    ("550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup", H),
    (
        "550 5.7.513 Service unavailable, Client host [192.0.2.1] blocked by example.com using Customer Block list",
        H,
    ),
    ("550 5.2.121 recipient's per hour message receive limit from specific sender exceeded", T),
    ("550 5.2.122 recipient's per hour message receive limit exceeded", T),
    # Yahoo / AOL
    (
        "421 4.7.0 [TSS04] Messages from 192.0.2.1 temporarily deferred due to unexpected volume or user complaints - 4.16.55.1; see https://postmaster.yahooinc.com/error-codes",
        T,
    ),
    ("421 4.7.0 [TS01] Messages from 192.0.2.1 temporarily deferred due to user complaints - 4.16.55.1", T),
    ("421 Message temporarily deferred - 4.16.50", T),
    (
        "553 5.7.2 [TSS09] All messages from 192.0.2.1 will be permanently deferred; Retrying will NOT succeed.",
        S,
    ),
    (
        "553 5.7.1 [BL21] Connections will not be accepted from 192.0.2.1, because the ip is in Spamhaus's list",
        S,
    ),
    (
        "550 5.7.9 This mail has been blocked because the sender is unauthenticated. Yahoo requires all senders to authenticate with either SPF or DKIM.",
        S,
    ),
    ("554 Message not allowed - [PH01] Email not accepted for policy reasons.", S),
    ("421 Max message per connection reached, closing transmission channel", T),
    ("450 User is receiving mail too quickly", T),
    (
        "554 delivery error: dd This user doesn't have a yahoo.com account (x@yahoo.com) [-5] - mta1234.mail.bf1.yahoo.com",
        H,
    ),
    ("554 delivery error: dd x@yahoo.com is no longer valid.", H),
    ("554 30 Sorry, your message to x@aol.jp cannot be delivered. This mailbox is disabled (554.30)", H),
    # Mail.ru
    (
        "550 spam message rejected. Please visit http://help.mail.ru/notspam-support/id?c=abc or  report details to abuse@corp.mail.ru. Error code: 1A2B. ID: 3C4D.",
        S,
    ),
    (
        "550 spam message discarded. If you think that the system is mistaken, please report details to abuse@corp.mail.ru",
        S,
    ),
    (
        "550 Message was not accepted -- invalid mailbox.  Local mailbox x@mail.ru is unavailable: user not found",
        H,
    ),
    (
        "550 Message was not accepted -- invalid mailbox.  Local mailbox x@mail.ru is unavailable: account is disabled",
        H,
    ),
    # Yandex
    ("550 5.7.1 No such user!", H),
    ("501 5.1.3 Bad recipient address syntax", H),
    ("550 5.7.1 Policy rejection on the target address", H),
    ("552 5.2.2 Mailbox size limit exceeded", P),
    ("554 5.7.1 Message rejected under suspicion of SPAM; https://ya.cc/1IrBc", S),
    (
        "554 5.7.1 Client host [192.0.2.1] blocked using spamsource.mail.yandex.net; Blocked by spam statistics",
        S,
    ),
    ("451 4.7.1 Sorry, the service is currently unavailable. Please come back later.", T),
    # SES itself
    ("Maximum sending rate exceeded.", T),
    ("Daily message quota exceeded.", T),
    ("552 5.3.4 Message size exceeds fixed limit", X),
]


@pytest.mark.parametrize(("text", "expected"), SMTP, ids=[t[:48] for t, _ in SMTP])
def test_smtp_replies(text: str, expected: ResponseClass) -> None:
    assert classify(None, text) is expected


def test_the_table_is_big_enough() -> None:
    assert len(SMTP) >= 40


def test_4xx_never_suppresses_whatever_the_text() -> None:
    assert classify(450, "4.1.1 user unknown (temporary lookup failure)") is T


SES = [
    ("Permanent", "General", "5.1.1", "smtp; 550 5.1.1 user unknown", H),
    ("Permanent", "NoEmail", "5.1.1", "", H),
    ("Permanent", "Suppressed", "5.1.1", "Amazon SES has suppressed sending to this address", H),
    ("Permanent", "OnAccountSuppressionList", "5.1.1", "", H),
    ("Permanent", "General", "5.7.1", "smtp; 550 5.7.1 This message is likely unsolicited email. - gsmtp", S),
    ("Permanent", "General", "", "", H),
    (
        "Transient",
        "MailboxFull",
        "4.2.2",
        "smtp; 452 4.2.2 The email account that you tried to reach is over quota",
        P,
    ),
    ("Transient", "MessageTooLarge", "5.3.4", "smtp; 552 5.3.4 Message size exceeds fixed limit", X),
    ("Transient", "ContentRejected", "", "", X),
    ("Transient", "General", "4.7.0", "smtp; 421 4.7.0 [TSS04] temporarily deferred", P),
    ("Undetermined", "Undetermined", "", "", X),
]


@pytest.mark.parametrize(("kind", "subtype", "status", "diagnostic", "expected"), SES)
def test_ses_bounces(kind: str, subtype: str, status: str, diagnostic: str, expected: ResponseClass) -> None:
    assert classify_bounce(kind, subtype, status, diagnostic) is expected
