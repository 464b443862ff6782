# SPDX-License-Identifier: MIT
"""Conformance cases derived from the schema: one per rule of every field of every message.

Each case starts from a valid sample request/response pair (echoes made consistent), changes one
thing, and states what validation must report: the status, the JSON path, and for responses
whether it fails the response (docs/protocol.md section 7) or is a warning."""
from .model import Cond, c_string

BAD_DATETIMES = ["2001-07-04 12:08:56+05:30", "2001-07-04T12:08:56", "2001-13-04T12:08:56Z",
                 "2001-07-04T25:08:56Z", "2001-07-04T12:08:56+0530", "2001-02-30T12:08:56Z"]
BAD_AMOUNTS = ["-1", "+1", "01", "1.00", "1e2", "12a", " 1"]
BAD_CURRENCIES = ["usd", "US", "USDD", "U1D"]
BAD_DECIMALS = ["6.", ".5", "6.1.2", "-1", "1e5"]
# Text may hold no control character: C0 (a tab, even), DEL and C1 (U+009B, CSI). A request
# refuses them; a response only warns.
CONTROLS = [("control_c0", "a\\011b"), ("control_del", "a\\177b"), ("control_c1", "a\\302\\233b")]
# kind -> (rule name, value expression, expected status); max-length rules are added separately.
FORMAT_RULES = {
    "datetime": [(f"bad_datetime_{i}", v, "AOP_E_BAD_DATETIME") for i, v in enumerate(BAD_DATETIMES)],
    "amount": [(f"bad_amount_{i}", v, "AOP_E_BAD_AMOUNT") for i, v in enumerate(BAD_AMOUNTS)],
    "currency": [(f"bad_currency_{i}", v, "AOP_E_BAD_CURRENCY") for i, v in enumerate(BAD_CURRENCIES)],
    "decimal": [(f"bad_decimal_{i}", v, "AOP_E_BAD_DECIMAL") for i, v in enumerate(BAD_DECIMALS)],
    "string": [("bad_utf8", "\\303(", "AOP_E_BAD_UTF8"), ("nul", "a\\000b", "AOP_E_BAD_UTF8")]
    + [(name, v, "AOP_E_CONTROL_CHAR") for name, v in CONTROLS],
}


def _walk(msg, prefix=()):
    for f in msg.fields:
        yield prefix + (f,)
        if f.sub is not None:
            yield from _walk(f.sub, prefix + (f,))


def _acc(var, chain):
    return f"{var}->" + ".".join(f.c for f in chain)


def _has_acc(var, chain):
    parent = ".".join(f.c for f in chain[:-1])
    return f"{var}->" + (parent + "." if parent else "") + "has_" + chain[-1].c


def _sample_value(root, path):
    from .model import resolve_path
    chain = resolve_path(root, path)
    return chain[-1].sample if chain else None


def _holds(root, cond):
    if cond is None:
        return False
    if cond == "always":
        return True
    return _sample_value(root, cond.path) == cond.equals


def sample_stmts(root, var="m"):
    """C statements that fill a root message with the schema's sample values."""
    out = []
    for chain in _walk(root):
        f = chain[-1]
        if f.has_flag:
            out.append(f"{_has_acc(var, chain)} = true;")
        if f.kind == "object" or f.sample is None:
            continue
        if f.kind == "enum":
            out.append(f"{_acc(var, chain)}.value = AOP_{f.enum.C}_{f.sample};")
        else:
            out.append(f"{_acc(var, chain)} = aop_str({c_string(f.sample)});")
    return out


def _set(var, chain, expr, f):
    if f.kind == "enum":
        return [f"{_acc(var, chain)}.value = 0;", f"{_acc(var, chain)}.text = {expr};"]
    return [f"{_acc(var, chain)} = {expr};"]


def _clear(var, chain, f):
    if f.kind == "object":
        return [f"{_has_acc(var, chain)} = false;"]
    if f.kind == "enum":
        return [f"{_acc(var, chain)}.value = 0;", f"{_acc(var, chain)}.text = AOP_STR_NULL;"]
    return [f"{_acc(var, chain)} = AOP_STR_NULL;"]


class Case:
    def __init__(self, fn_index, direction, name, stmts, expect, path, severity):
        self.fn_index, self.direction, self.name = fn_index, direction, name
        self.stmts, self.expect, self.path, self.severity = stmts, expect, path, severity


def _mirror(fn, chain):
    """For a response chain under an echo field, the matching request chain (or None)."""
    for rs, rq, _ in fn.echo:
        if tuple(chain[:len(rs)]) == tuple(rs):
            return tuple(rq) + tuple(chain[len(rs):])
    return None


def _value_rules(f, positive=False):
    """(rule, C expression, expected status, valid-when-reading) for a value field; positive: the
    field is inside a request amount (an object with the role amount)."""
    rules = []
    if f.max is not None:
        fill = "'1'" if f.kind in ("amount", "decimal") else "'a'"
        rules.append(("at_max", f"rep({fill}, {f.max}, \"\")", "AOP_OK", True))
        rules.append(("over_max", f"rep({fill}, {f.max + 1}, \"\")", "AOP_E_TOO_LONG", False))
        if f.kind == "string":
            rules.append(("multibyte_at_max", f"rep('a', {f.max - 1}, \"\\303\\251\")", "AOP_OK", True))
            rules.append(("astral_over_max", f"rep('a', {f.max - 1}, \"\\360\\237\\230\\200\")",
                          "AOP_E_TOO_LONG", False))
    for name, value, expect in FORMAT_RULES.get(f.kind, []):
        length = len(value.encode().decode("unicode_escape").encode("latin-1"))
        rules.append((name, f"aop_strn(\"{value}\", {length})", expect, False))
    if f.kind == "datetime":
        rules.append(("datetime_fraction", "aop_str(\"2001-07-04T12:08:56.123Z\")", "AOP_OK", True))
        rules.append(("datetime_lower_case", "aop_str(\"2001-07-04t12:08:56z\")", "AOP_E_BAD_DATETIME", True))
    if f.kind == "amount":
        # "0" is a valid amount, except inside a request amount (role amount): at least 1
        zero = "AOP_E_AMOUNT_ZERO" if positive else "AOP_OK"
        rules.append(("zero", "aop_str(\"0\")", zero, True))
    if f.kind == "enum":
        rules.append(("bad_enum", "aop_str(\"NOT_A_VALUE\")", "AOP_E_BAD_ENUM", False))
        rules.append(("enum_wrong_case", f"aop_str({c_string(f.enum.values[0].lower() + 'x')})",
                      "AOP_E_BAD_ENUM", False))
    return rules


def _decisive(chain):
    """Whether every rule of the field fails a received message: a field marked `decides`, or a
    mandatory member of a decisive object."""
    f = chain[-1]
    return f.decides or (len(chain) > 1 and f.mandatory and _decisive(chain[:-1]))


def build_cases(schema, _ref=None):
    cases = []
    for fi, fn in enumerate(schema.functions):
        for direction in ("request", "response"):
            root = getattr(fn, direction)
            received = root.received
            var = "rq" if direction == "request" else "rs"
            cases.append(Case(fi, direction, f"{fn.c}_{direction}_valid", [], "AOP_OK", "", "ok"))
            for chain in _walk(root):
                if len(chain) == 1:
                    continue  # head and body themselves
                f = chain[-1]
                path = ".".join([direction] + [x.name for x in chain])
                label = f"{fn.c}_{direction}_" + "_".join(x.c for x in chain)
                outcome = _holds(root, f.outcome)
                decisive = received and _decisive(chain)
                mirror = _mirror(fn, chain) if direction == "response" else None

                def add(rule, stmts, expect, severity, echo_ok=True):
                    if mirror is not None and echo_ok:
                        stmts = stmts + [s.replace(_acc("rs", chain), _acc("rq", mirror), 1)
                                         .replace(_has_acc("rs", chain), _has_acc("rq", mirror), 1)
                                         for s in stmts]
                    cases.append(Case(fi, direction, f"{label}_{rule}", stmts, expect, path, severity))

                def judged(expect, fatal_when_outcome):
                    if not received:
                        return "error"
                    return "fatal" if (outcome and fatal_when_outcome) or decisive else "warning"

                required = f.mandatory or (f.conditional and f.when is not None and _holds(root, f.when))
                if required and (f.kind != "object" or f.has_flag):
                    stmts = _clear(var, chain, f)
                    if direction == "response" and f.echo_path and f.flag == "ME" and received:
                        add("missing", stmts, "AOP_E_ECHO_MISMATCH", "fatal", echo_ok=False)
                    else:
                        # below an echoed object the request loses the value too, so only the
                        # missing value is judged, not the echo; a decisive field that is absent
                        # fails only by its outcome condition (a mandatory member of a present
                        # decisive object fails always)
                        missing_fatal = outcome or (f.mandatory and len(chain) > 2 and _decisive(chain[:-1]))
                        add("missing", stmts, "AOP_E_MISSING",
                            "error" if not received else "fatal" if missing_fatal else "warning",
                            echo_ok=f.echo_path is None)
                if f.kind == "object":
                    continue
                if (f.mandatory or f.nonempty) and f.kind != "enum":
                    # an id (type id) is never empty, even when optional
                    add("empty", _set(var, chain, "aop_strn(\"\", 0)", f), "AOP_E_EMPTY", judged(None, False))
                positive = not received and any(x.positive for x in chain[:-1])
                for rule, expr, expect, read_ok in _value_rules(f, positive):
                    if expect == "AOP_OK" or (received and read_ok):
                        add(rule, _set(var, chain, expr, f), "AOP_OK", "ok")
                    else:
                        fatal = expect == "AOP_E_BAD_ENUM"
                        add(rule, _set(var, chain, expr, f), expect, judged(expect, fatal))
            if direction == "request":
                body = fn.request_body
                for group in body.one_of:
                    stmts = []
                    for f in group:
                        stmts += _clear("rq", (_root_body(fn), f), f)
                    path = f"request.body.{group[0].name}"
                    name = f"{fn.c}_request_one_of_" + "_".join(f.c for f in group)
                    cases.append(Case(fi, "request", name, stmts, "AOP_E_ONE_OF_REQUIRED", path,
                                      "warning" if received else "error"))
        for rs, rq, _ in fn.echo:
            last = rs[-1]
            path = ".".join(["response"] + [x.name for x in rs])
            if last.kind == "object":
                stmts = [f"{_acc('rs', rs)}.value = aop_str(\"987654321\");"]
            else:
                # what the merchant sends is validated first: a changed value that fits every field
                changed = "echo-changed" if fn.response.received else "changed"
                stmts = [f"{_acc('rs', rs)} = aop_str(\"{changed}\");"]
            name = f"{fn.c}_response_echo_" + "_".join(x.c for x in rs)
            cases.append(Case(fi, "response", name, stmts, "AOP_E_ECHO_MISMATCH", path,
                              "fatal" if fn.response.received else "error"))
    return cases


def _root_body(fn):
    return fn.request.fields[1]


def expected_case_count(schema):
    """What the schema implies, counted independently of build_cases."""
    per_kind = {
        # at/over max, multibyte at max, astral over max; bad UTF-8, NUL; the control characters
        "string": lambda f: 4 + 2 + len(CONTROLS),
        # at/over max, the bad amounts, zero (refused in a request amount, else valid)
        "amount": lambda f: 2 + len(BAD_AMOUNTS) + 1,
        "decimal": lambda f: 2 + len(BAD_DECIMALS),
        "currency": lambda f: len(BAD_CURRENCIES),
        "datetime": lambda f: len(BAD_DATETIMES) + 2,
        "enum": lambda f: 2,
        "object": lambda f: 0,
    }
    total = 0
    for fn in schema.functions:
        total += 2 + len(fn.echo) + len(fn.request_body.one_of)
        for root in (fn.request, fn.response):
            for chain in _walk(root):
                f = chain[-1]
                if len(chain) == 1:
                    continue
                total += per_kind[f.kind](f)
                if (f.mandatory or f.type_name == "id") and f.kind not in ("enum", "object"):
                    total += 1  # empty
                if f.kind == "object" and not f.has_flag:
                    continue
                if f.mandatory:
                    total += 1
                elif f.conditional and f.when is not None and _holds(root, f.when):
                    total += 1
    return total


TRICKY_UNITS = 16  # UTF-16 units of AOP_TRICKY


def tricky_stmts(root, var="m"):
    """Statements giving every free-text string field (max >= 16) the tricky value."""
    out = []
    for chain in _walk(root):
        f = chain[-1]
        if f.kind == "string" and f.max >= TRICKY_UNITS and not f.echo_path:
            out.append(f"{_acc(var, chain)} = aop_str(AOP_TRICKY);")
    return out
