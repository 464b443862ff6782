# SPDX-License-Identifier: MIT
"""Doxygen comments of the generated header, built from the schema (doc, JSON name, type, flag,
condition, length, roles, echo, guess)."""
import re

KIND_TEXT = {
    "datetime": "RFC 3339 date-time",
    "currency": "ISO 4217 currency code (three upper-case letters)",
}


def escape(text):
    """Text safe inside a C comment and as Doxygen prose (no comment end, no commands)."""
    text = " ".join(str(text).split())
    text = text.replace("*/", "* /").replace("/*", "/ *")
    return re.sub(r"([\\@&$#<>%])", r"\\\1", text)


def sentence(text):
    text = escape(text)
    return text if text.endswith((".", "!", "?")) else text + "."


def cond_text(cond):
    return f"{cond.path} is {cond.equals}"


def type_text(f):
    t = f.type_name
    if t == "id":
        return f"id: text of 1 to {f.max} UTF-16 units, never empty, no control character"
    if t == "string":
        return f"text of at most {f.max} UTF-16 units, no control character when sent"
    if t == "amount":
        return f"amount in minor units: at most {f.max} digits, no sign, no leading zero"
    if t == "decimal":
        return f"decimal digits[.digits], at most {f.max} characters"
    if t in KIND_TEXT:
        return KIND_TEXT[t]
    if f.kind == "enum":
        return f"enum {t} (aop_{f.enum.c}_t)"
    return f"object {t} ({f.sub.c_type})"


def flag_text(f):
    if f.flag in ("M", "ME"):
        return "Mandatory."
    if f.flag == "O":
        return "Optional."
    groups = [g for g in f.msg.one_of if f in g]
    if f.when is not None:
        return f"Conditional: required when {escape(cond_text(f.when))}."
    if groups:
        return "Conditional: at least one of " + " / ".join(x.name for x in groups[0]) + "."
    return "Conditional."


def field_doc(f):
    """One paragraph for a struct member."""
    parts = []
    if f.doc:
        parts.append(sentence(f.doc))
    parts.append(f"JSON \"{f.name}\", {escape(type_text(f))}.")
    parts.append(flag_text(f))
    m = f.msg
    judged = "the notification" if m.function is not None and m.function.inbound and m.direction == "request" \
        else "the response"
    sent = m.function is not None and not m.received  # judged strictly: no outcome of its own
    if sent:
        pass
    elif f.outcome == "always":
        parts.append(f"Decides the outcome: a missing or wrongly typed value fails {judged}.")
    elif f.outcome is not None:
        parts.append("Decides the outcome when " + escape(cond_text(f.outcome))
                     + f": a missing or wrongly typed value then fails {judged}.")
    if f.decides:
        parts.append(f"A deciding member: when present, a value breaking any rule (its mandatory members' "
                     f"included) fails {judged} instead of being a warning.")
    if f.echo_path:
        parts.append(f"Echo: must equal the request's {escape(f.echo_path)}.")
    elif f.flag in ("ME", "CE"):
        parts.append("Echoed by the response.")
    if f.alias:
        parts.append(f"Also read as \"{escape(f.alias)}\".")
    roles = {
        "sensitive": "SENSITIVE: a credential, masked in logs and events, and left out by aop_encode_ex() "
                     "with AOP_ENCODE_OMIT_SENSITIVE.",
        "idempotency_key": "Idempotency key: reuse it to retry the same operation.",
        "amount": "Request amount: its value is at least 1 minor unit.",
        "merchant": "Filled with the client's default merchantId when not set.",
    }
    parts += [roles[r] for r in f.roles]
    if f.kind == "object" and f.has_flag:
        parts.append(f"Present when has_{f.c} is true.")
    if f.kind == "string" or f.kind in ("amount", "decimal", "datetime", "currency"):
        parts.append("A view; ptr NULL = absent.")
    for g in getattr(f, "guess_text", None) or []:
        parts.append(f"[guess] {sentence(g)}")
    return " ".join(parts)


def message_doc(m):
    parts = []
    if m.root:
        if m.function.inbound:
            parts.append(f"Inbound: {'Alipay sends this request to the merchant' if m.root == 'request' else 'the merchant sends this response to Alipay'}.")
        parts.append(f"The whole {m.root} of {m.function.name}: head, then body"
                     + (" (the JSON object under \"response\")." if m.root == "response" else
                        " (the JSON object under \"request\")."))
        if m.doc:
            parts.append(sentence(m.doc))
    elif m.function is not None:
        parts.append(f"Body of the {m.direction} of {m.function.name}.")
        if m.doc:
            parts.append(sentence(m.doc))
        for g in m.one_of:
            parts.append("At least one of " + " / ".join(f.name for f in g) + " is required.")
    else:
        parts.append(sentence(m.doc or f"The shared type {m.name}"))
        parts.append(f"JSON object (schema type {m.name}).")
    if getattr(m, "guess_text", None):
        parts.append(f"[guess] {sentence(m.guess_text)}")
    return " ".join(parts)
