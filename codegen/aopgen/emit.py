# SPDX-License-Identifier: MIT
"""Renders the model into generated/ (files rewritten only when their content changes)."""
import os

import jinja2

from .cases import build_cases, expected_case_count, sample_stmts, tricky_stmts
from .docs import escape, field_doc, message_doc, sentence
from .model import Cond, c_string, json_key, snake

# The descriptor format the templates write; runtime/include/aop/model.h's
# AOP_MODEL_FORMAT_VERSION must equal it (the generated header #errors otherwise). Bump both
# when aop_field_desc_t, aop_msg_desc_t, aop_function_desc_t, aop_result_code_t or their meaning
# changes.
FORMAT_VERSION = 4

TEMPLATES = os.path.join(os.path.dirname(__file__), "templates")
OUTPUTS = [
    ("protocol.h.j2", "include/aop/protocol.h"),
    ("calls.h.j2", "include/aop/calls.h"),
    ("aop_model.c.j2", "aop_model.c"),
    ("aop_codes.c.j2", "aop_codes.c"),
    ("aop_functions.c.j2", "aop_functions.c"),
    ("conformance_cases.c.j2", "tests/conformance_cases.c"),
    ("samples.h.j2", "tests/samples.h"),
    ("tricky.h.j2", "tests/tricky.h"),
    ("roundtrip_cases.c.j2", "tests/roundtrip_cases.c"),
    ("emit_samples.c.j2", "tests/emit_samples.c"),
    ("messages.cmake.j2", "tests/messages.cmake"),
]


def _env():
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["cstr"] = c_string
    env.filters["json_key"] = json_key
    env.filters["snake"] = snake
    env.filters["doc"] = escape
    env.filters["sentence"] = sentence
    return env


def ordered_messages(schema):
    """Shared types in dependency order, then each function's bodies and roots."""
    out, seen = [], set()

    def visit(m):
        if m.name in seen:
            return
        seen.add(m.name)
        for f in m.fields:
            if f.sub is not None:
                visit(f.sub)
        out.append(m)

    for m in schema.types.values():
        visit(m)
    for fn in schema.functions:
        for m in (fn.request_body, fn.request, fn.response_body, fn.response):
            visit(m)
    return out


def access(chain):
    return ".".join(f.c for f in chain)


def json_path(root, chain):
    return ".".join([root] + [f.name for f in chain])


class Ref:
    """An aop_field_ref_t initializer for a chain of fields from a root message."""

    def __init__(self, root_msg, chain):
        self.path = json_path(root_msg.root, chain)
        self.offset = f"offsetof({root_msg.c_type}, {access(chain)})"
        optional = [i for i, f in enumerate(chain) if f.has_flag]
        if len(optional) > 1:
            raise ValueError(f"{self.path}: more than one optional object on the path is not supported")
        if optional:
            i = optional[0]
            prefix = access(chain[:i])
            has = (prefix + "." if prefix else "") + "has_" + chain[i].c
            self.has_offset = f"(int32_t)offsetof({root_msg.c_type}, {has})"
        else:
            self.has_offset = "-1"
        last = chain[-1]
        self.kind = last.c_kind
        self.sub = f"&aop_{last.sub.c}_desc" if last.sub is not None else "NULL"
        self.c_access = access(chain)
        self.chain = chain


def classes_expr(code):
    """The initializer of a code's aop_result_code_t.classes: its classes' bits, or 0."""
    return " | ".join(c.macro for c in code.classes) or "0"


def cond_expr(cond, var="m"):
    """C expression testing a resolved Cond on a root message pointer."""
    guards, parts = [], []
    for f in cond.fields[:-1]:
        if f.has_flag:
            guards.append(f"{var}->{'.'.join(parts + ['has_' + f.c])}")
        parts.append(f.c)
    last = cond.fields[-1]
    acc = f"{var}->{'.'.join(parts + [last.c])}"
    if last.kind == "enum":
        test = f"{acc}.value == AOP_{last.enum.C}_{cond.equals}"
    else:
        test = f"aop_str_eq_cstr({acc}, {c_string(cond.equals)})"
    return " && ".join(guards + [test])


def _context(schema):
    messages = ordered_messages(schema)
    conds, names = [], {}
    for fn in schema.functions:
        for root in (fn.request, fn.response):
            for c in root.conds:
                key = (root.c, c.path, c.equals)
                if key not in names:
                    names[key] = f"cond_{root.c}_{len(names)}"
                    conds.append(c)
                c.c_name, c.root = names[key], root

    def cond_name(c):
        if c is None:
            return "NULL"
        if c == "always":
            return "aop_cond_always"
        return c.c_name

    codes_sorted = sorted(schema.codes.values(), key=lambda c: c.code.encode())
    ids_sorted = sorted((c for c in codes_sorted if c.id), key=lambda c: c.id)
    functions = []
    for fn in schema.functions:
        functions.append({
            "fn": fn,
            "codes": sorted(fn.codes, key=lambda c: c.code.encode()),
            "echo": [(Ref(fn.request, rq), Ref(fn.response, rs), mand) for rs, rq, mand in fn.echo],
            "sensitive": [Ref(fn.request, ch) for ch in fn.sensitive],
            "idempotency_key": Ref(fn.request, fn.idempotency_key) if fn.idempotency_key else None,
            "amount": Ref(fn.request, fn.amount) if fn.amount else None,
            "merchant": Ref(fn.request, fn.merchant) if fn.merchant else None,
            "result_info": Ref(fn.response, fn.result_info),
        })
    bounds = []
    for m in messages:
        if m.root:
            continue
        where = m.name if m.function is None else f"{m.function.name} {m.direction}.body"
        for f in m.fields:
            if f.max is not None:
                bounds.append({"name": f"AOP_{m.c.upper()}_{f.c.upper()}_MAX", "value": f.max,
                               "where": f"{where}.{f.name}",
                               "unit": "digits" if f.kind == "amount" else "UTF-16 code units"})
    cases = build_cases(schema, Ref)
    return {
        "schema": schema,
        "files": schema.files,
        "messages": messages,
        "enums": sorted(schema.enums.values(), key=lambda e: e.name),
        "conds": conds,
        "cond_name": cond_name,
        "cond_expr": cond_expr,
        "codes": codes_sorted,
        "classes": schema.classes,
        "classes_expr": classes_expr,
        "codes_by_id": ids_sorted,
        "functions": functions,
        # aop_functions[]: what aop_call() calls; an inbound function (Alipay calls the merchant)
        # has its own table
        "api_functions": [item for item in functions if not item["fn"].inbound],
        "inbound_functions": [item for item in functions if item["fn"].inbound],
        "bounds": bounds,
        "guesses": sorted(schema.guesses, key=lambda g: (g.file, g.line)),
        "cases": cases,
        "expected_cases": expected_case_count(schema),
        "format_version": FORMAT_VERSION,
        "field_doc": field_doc,
        "message_doc": message_doc,
        "sample_stmts": sample_stmts,
        "tricky_stmts": tricky_stmts,
        "isinstance": isinstance,
        "Cond": Cond,
    }


def render(schema):
    env = _env()
    ctx = _context(schema)
    return {out: env.get_template(tpl).render(**ctx) for tpl, out in OUTPUTS}


def generate(schema, out_dir, check=False):
    """Writes the files whose content changed; returns the list of changed paths."""
    changed = []
    for rel, text in render(schema).items():
        path = os.path.join(out_dir, rel)
        try:
            with open(path, encoding="utf-8") as f:
                if f.read() == text:
                    continue
        except FileNotFoundError:
            pass
        changed.append(path)
        if check:
            continue
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = path + ".tmp"
        with open(tmp, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
        os.replace(tmp, path)
    return changed
