"""Why a message was not delivered, in the reader's language.

The outbox stores the delivery error as the English sentence the log shows (``last_error``);
pages read it back through ``reason_text``, which recognises each kind of failure the outbox
and the notification channels raise and says it, with what to do, in the reader's language.
A text from an older version or an unforeseen failure is shown as stored.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from flask_babel import gettext as _

Reader = Callable[[re.Match[str]], str]

REASONS: tuple[tuple[re.Pattern[str], Reader], ...] = (
    (
        re.compile(r"destination host '(?P<host>.*)' is not on the allowlist; not contacted"),
        lambda m: _(
            "The host %(host)s is not on the allowlist, so nothing was sent. Add it under "
            "“Allowed destination hosts” below (e.g. erp.example.com), then replay.",
            host=m["host"],
        ),
    ),
    (
        re.compile(r"HTTP (?P<code>\d+) from (?P<who>.*) redirects to (?P<to>.*?); .*"),
        lambda m: _(
            "%(who)s answered HTTP %(code)s, a redirect to %(to)s; redirects are not "
            "followed: give the final address.",
            who=m["who"],
            code=m["code"],
            to=m["to"],
        ),
    ),
    (
        re.compile(r"HTTP (?P<code>\d+) from (?P<who>.*)"),
        lambda m: _("%(who)s answered HTTP %(code)s.", who=m["who"], code=m["code"]),
    ),
    (
        re.compile(r"cannot reach (?P<who>.*?): (?P<why>.*)"),
        lambda m: _("Cannot reach %(who)s (%(why)s).", who=m["who"], why=m["why"]),
    ),
    (
        re.compile(r"not (?:a usable|a valid|an http\(s\)) URL:? (?P<url>.*?)(?:: (?P<why>.*))?"),
        lambda m: _(
            "%(url)s is not an address that can be called; give an http:// or https:// "
            "address with a host, e.g. https://erp.example.com/orders.",
            url=m["url"],
        ),
    ),
    (
        re.compile(r"cannot send to (?P<who>.*?): (?P<why>.*)"),
        lambda m: _("Cannot send to %(who)s (%(why)s).", who=m["who"], why=m["why"]),
    ),
    (
        re.compile(r"bad answer from (?P<who>.*?): (?P<why>.*)"),
        lambda m: _("%(who)s broke off its answer (%(why)s).", who=m["who"], why=m["why"]),
    ),
    (
        re.compile(r"the channel was removed or disabled"),
        lambda m: _("The notification channel was removed or switched off."),
    ),
    (
        re.compile(r"the mail server refused the login"),
        lambda m: _("The mail server refused the login: check the channel's user and password."),
    ),
    (
        re.compile(r"the mail server refused (?P<email>.*)"),
        lambda m: _("The mail server refused the address %(email)s.", email=m["email"]),
    ),
    (
        re.compile(r"cannot send the email: (?P<why>.*)"),
        lambda m: _("Cannot send the email (%(why)s).", why=m["why"]),
    ),
    (
        re.compile(r"the robot refused the message: (?P<why>.*)"),
        lambda m: _("The group robot refused the message (%(why)s).", why=m["why"]),
    ),
)


def reason_text(last_error: str | None) -> str:
    """The stored delivery error of a message as the reader's sentence ("—" when none)."""
    if not last_error:
        return "—"
    for pattern, read in REASONS:
        match = pattern.fullmatch(last_error)
        if match is not None:
            return read(match)
    return last_error
