"""Render a :class:`MessageContext` into an e-mail, an SMS, a letter or a call script.

Layout (``templates/``):

- ``layout/`` — one shared layout per channel, language-free: ``email.html``,
  ``email.txt`` (the plain-text part of an e-mail; letters use it too, for the text kept on
  the case timeline), ``sms.txt``, ``letter.html`` (a full A4 page for WeasyPrint) and
  ``call.txt``; ``_parts.html`` holds the HTML pieces e-mail and letter share.
- ``<language>/common.j2`` — the wording every step shares, as macros: greeting and
  sign-off, the labels of the amounts, how interest and costs were computed, what happens
  next, how to get help, the call script's fixed parts.
- ``<language>/<step>.j2`` — the wording of one step, as macros: ``subject``, ``title``,
  ``intro`` (paragraphs separated by a blank line), ``sms`` and for call steps
  ``purpose``. Both tones live in the same macro (``supportive`` is true for the warm one).

The wording files are plain text (not autoescaped); the HTML layouts escape what they
insert, so a name such as ``<b>`` shows as typed. Money and dates are formatted by Babel
for the language's locale (``money``, ``longdate``, ``pct`` filters). French uses
``fr_BE``: Belgium is the French-speaking target market (its number and date formats are
the same as ``fr_FR`` in CLDR today).

Third-party disclosure (``respite.domain.disclosure``): the e-mail subject, the SMS and
what shows through the letter's window (:func:`envelope_lines`) never name a debt or an
amount. The SMS therefore says only that there is a message about the person's account
with the brand, with the portal link and phone number: an SMS is read on lock screens.
:func:`render` checks every message it renders and raises ``ValidationError`` if one
breaks the rule (a template bug must fail loudly, not reach a neighbour).
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import Any

from babel.dates import format_date
from babel.numbers import format_currency, format_percent
from jinja2 import Environment, PackageLoader, StrictUndefined, pass_context, select_autoescape
from jinja2.runtime import Context

from respite.adapters.messages.context import LANGUAGES, STEPS, TONES, MessageContext, Rendered
from respite.domain.disclosure import disclosure_problems
from respite.errors import ValidationError

__all__ = ["CHANNELS", "LOCALES", "OUTCOMES", "envelope_lines", "render", "supported"]

CHANNELS = ("email", "sms", "post", "phone")
# What an agent records after a call (the call task's outcome codes).
OUTCOMES = (
    "promise_to_pay",
    "plan",
    "dispute",
    "wrong_number",
    "vulnerability_noticed",
    "no_answer",
)
_NEXT_KINDS = frozenset(
    {
        "formal_notice",
        "costs_charged",
        "personal_contact",
        "plan_offer",
        "legal_review",
        "instalment_due",
        "collection",
        "none",
    }
)
_COLOUR = re.compile(r"#[0-9a-fA-F]{3}(?:[0-9a-fA-F]{3})?")
LOCALES = {"nl": "nl_NL", "en": "en_GB", "fr": "fr_BE", "pl": "pl_PL"}

_LAYOUTS = {
    "email": ("layout/email.html", "layout/email.txt"),
    "post": ("layout/letter.html", "layout/email.txt"),
    "sms": (None, "layout/sms.txt"),
    "phone": (None, "layout/call.txt"),
}


def supported(step: str) -> tuple[str, ...]:
    """The channels a step renders for: call scripts for ``call_*``, else e-mail/SMS/post."""
    if step not in STEPS:
        raise ValidationError(f"unknown step {step!r}", field="step")
    return ("phone",) if step.startswith("call_") else ("email", "sms", "post")


@pass_context
def _money(context: Context, amount: Decimal | None, currency: str | None = None) -> str:
    if amount is None:
        return ""
    code = currency or context["ctx"].currency
    return str(format_currency(amount, code, locale=context["locale"]))


@pass_context
def _longdate(context: Context, value: date | None) -> str:
    if value is None:
        return ""
    return str(format_date(value, format="long", locale=context["locale"]))


@pass_context
def _pct(context: Context, rate: Decimal | None) -> str:
    """A yearly rate in percent (``Decimal("8.15")``) as ``8,15%`` for the locale."""
    if rate is None:
        return ""
    return str(
        format_percent(
            Decimal(str(rate)).normalize() / 100,
            locale=context["locale"],
            decimal_quantization=False,
        )
    )


def _blocks(text: str) -> list[tuple[str, Any]]:
    """Paragraphs separated by blank lines; consecutive ``- `` lines make a list."""
    out: list[tuple[str, Any]] = []
    for chunk in re.split(r"\n\s*\n", str(text).strip()):
        lines = [line.strip() for line in chunk.splitlines() if line.strip()]
        para: list[str] = []
        items: list[str] = []
        for line in lines:
            if line.startswith("- "):
                if para:
                    out.append(("p", " ".join(para)))
                    para = []
                items.append(line[2:].strip())
            else:
                if items:
                    out.append(("ul", items))
                    items = []
                para.append(line)
        if para:
            out.append(("p", " ".join(para)))
        if items:
            out.append(("ul", items))
    return out


def _as_text(text: str) -> str:
    """Wording as plain text: paragraphs on one line each, lists as ``- `` lines."""
    parts = []
    for kind, value in _blocks(text):
        parts.append("\n".join(f"- {item}" for item in value) if kind == "ul" else value)
    return "\n\n".join(parts)


def _squash(text: str) -> str:
    """Whitespace of a rendered text: no trailing blanks, at most one empty line."""
    lines = [line.rstrip() for line in text.strip().splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)) + "\n"


def _one_line(text: str) -> str:
    """Runs of ordinary whitespace as one space; no-break spaces (``€\xa040``) stay."""
    return re.sub(r"[ \t\r\n]+", " ", text).strip()


def _spaced(text: str) -> str:
    """IBAN or reference in blocks of four, as printed (ISO 13616 / ISO 11649)."""
    compact = re.sub(r"\s+", "", str(text))
    return " ".join(compact[i : i + 4] for i in range(0, len(compact), 4))


_env = Environment(
    loader=PackageLoader("respite.adapters.messages", "templates"),
    autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=False,
)
_env.filters.update(
    money=_money,
    longdate=_longdate,
    pct=_pct,
    blocks=_blocks,
    astext=_as_text,
    spaced=_spaced,
)


def envelope_lines(ctx: MessageContext) -> tuple[str, ...]:
    """What shows through the letter's window besides the address: the return line.

    Only the sending brand's name and its return address (FDCPA §1692f(8): nothing but
    the address and a neutral business name on the envelope).
    """
    return (ctx.brand.name, *ctx.brand.address_lines)


def _collect_on(ctx: MessageContext) -> date | None:
    raw = ctx.extra.get("collect_on")
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError as exc:
        raise ValidationError(f"not an ISO date: {raw!r}", field="extra.collect_on") from exc


def _call(module: Any, name: str) -> str:
    """A wording macro's text as a plain ``str`` ("" if the step has no such macro)."""
    macro = getattr(module, name, None)
    return "" if macro is None else str.__str__(macro())


def _explanations(ctx: MessageContext, common: Any) -> list[tuple[str | None, str]]:
    """How interest and costs came about: once if every case says the same, else once per
    distinct explanation with the creditors it applies to (``("A, B", text)``)."""
    groups: dict[str, list[str]] = {}
    for case in ctx.cases:
        text = _one_line(str.__str__(common.explain(case)))
        names = groups.setdefault(text, [])
        if case.creditor_name not in names:
            names.append(case.creditor_name)
    if len(groups) == 1:
        return [(None, next(iter(groups)))]
    return [(", ".join(names), text) for text, names in groups.items()]


def _check(ctx: MessageContext, channel: str) -> None:
    if ctx.step not in STEPS:
        raise ValidationError(f"unknown step {ctx.step!r}", field="step")
    if ctx.language not in LANGUAGES:
        raise ValidationError(f"unknown language {ctx.language!r}", field="language")
    if ctx.tone not in TONES:
        raise ValidationError(f"unknown tone {ctx.tone!r}", field="tone")
    if channel not in CHANNELS:
        raise ValidationError(f"unknown channel {channel!r}", field="channel")
    if channel not in supported(ctx.step):
        raise ValidationError(
            f"step {ctx.step} renders for {', '.join(supported(ctx.step))}, not {channel}",
            field="channel",
        )
    if not ctx.cases:
        raise ValidationError("a message needs at least one case", field="cases")
    for brand in (ctx.brand, ctx.agency):
        for colour in (brand.primary_color, brand.accent_color):
            if not _COLOUR.fullmatch(colour):
                raise ValidationError(f"not a #rgb or #rrggbb colour: {colour!r}", field="brand")
    np = ctx.next_step
    if np.kind not in _NEXT_KINDS:
        raise ValidationError(f"unknown next step {np.kind!r}", field="next_step")
    # the 14-day letter must name the exact costs (art. 6:96 lid 6 BW: without them the
    # costs never become due), so a costs notice without its amount is a bug, not a message
    if np.kind == "costs_charged" and np.amount is None:
        raise ValidationError("next step costs_charged needs its amount", field="next_step")
    if ctx.step == "sepa_prenotification" and _collect_on(ctx) is None:
        raise ValidationError("a SEPA pre-notification needs the collection date", field="extra")
    if ctx.step == "sepa_prenotification" and _next_amount(ctx) is None:
        raise ValidationError("a SEPA pre-notification needs the amount", field="next_step")


def _next_amount(ctx: MessageContext) -> Decimal | None:
    """The next step's amount; for an instalment or a debit the plan's instalment if the
    step does not say."""
    np = ctx.next_step
    if np.amount is not None:
        return np.amount
    if np.kind in ("instalment_due", "collection") and ctx.plan is not None:
        return ctx.plan.instalment
    return None


def _next_on(ctx: MessageContext) -> date | None:
    """The next step's date; for an instalment the plan's next due date, for a debit the
    announced collection date, if the step does not say."""
    np = ctx.next_step
    if np.on is not None:
        return np.on
    if np.kind == "instalment_due" and ctx.plan is not None:
        return ctx.plan.next_due
    if np.kind == "collection":
        return _collect_on(ctx)
    return None


def render(ctx: MessageContext, channel: str) -> Rendered:
    """One message for one channel; raises ``ValidationError`` on a bad context or when the
    rendered subject, SMS or envelope would disclose the debt to a bystander."""
    _check(ctx, channel)
    html_name, text_name = _LAYOUTS[channel]
    variables: dict[str, Any] = {
        "ctx": ctx,
        "step": ctx.step,
        "lang": ctx.language,
        "locale": LOCALES[ctx.language],
        "tone": ctx.tone,
        "supportive": ctx.tone == "supportive",
        "channel": channel,
        "multi": len(ctx.cases) > 1,
        "brand": ctx.brand,
        "agency": ctx.agency,
        "np": ctx.next_step,
        "pay": ctx.payment,
        "plan": ctx.plan,
        "dh": ctx.debt_help,
        "extra": ctx.extra,
        "collect_on": _collect_on(ctx),
        "next_on": _next_on(ctx),
        "next_amount": _next_amount(ctx),
        "envelope": envelope_lines(ctx),
        # letters and the formal notice always say which agency sends them (white label
        # covers the early, friendly messages only)
        "name_agency": channel == "post" or ctx.step == "formal_notice",
    }
    common = _env.get_template(f"{ctx.language}/common.j2").make_module(variables)
    words = _env.get_template(f"{ctx.language}/{ctx.step}.j2").make_module(variables)
    subject = _one_line(_call(words, "subject")) if channel == "email" else None
    # The wording is rendered here, in Python, to plain strings: a macro called from an
    # autoescaping template would come back marked safe and skip escaping, so a name
    # such as "<b>" would reach the HTML raw. Inserted as strings, the layouts escape it.
    texts = {name: _call(words, name) for name in ("title", "intro", "sms", "purpose")}
    texts.update(
        {
            name.removesuffix("_text"): _call(common, name)
            for name in (
                "greeting",
                "signoff",
                "on_behalf",
                "help_text",
                "next_text",
                "pay_text",
                "call_open",
                "call_identity",
                "call_options",
                "call_close",
            )
        }
    )
    variables.update(
        c=common,
        w=words,
        t=texts,
        subject=subject,
        outcomes=OUTCOMES,
        explanations=_explanations(ctx, common),
    )
    text = _squash(_env.get_template(text_name).render(variables))
    if channel == "sms":
        text = _one_line(text)
    html = _env.get_template(html_name).render(variables) if html_name else None
    problems = disclosure_problems(
        subject=subject,
        envelope_lines=envelope_lines(ctx) if channel == "post" else (),
        sms_text=text if channel == "sms" else None,
        language=ctx.language,
    )
    if problems:
        raise ValidationError(
            f"{ctx.language}/{ctx.step} ({channel}) would disclose the debt: "
            + "; ".join(problems),
            field="template",
        )
    return Rendered(
        step=ctx.step,
        channel=channel,
        language=ctx.language,
        tone=ctx.tone,
        text=text,
        subject=subject,
        html=html,
    )
