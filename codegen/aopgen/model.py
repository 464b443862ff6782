# SPDX-License-Identifier: MIT
"""The schema model: reads schema/*.yaml, checks every rule, and resolves names and paths."""
import os
import re
from urllib.parse import urlsplit

from .code_classes import read_code_classes
from .loader import LList, LMap, SchemaError, load

PRIMITIVES = {"string", "id", "datetime", "amount", "currency", "decimal"}
NEEDS_MAX = {"string", "id", "amount", "decimal"}
FLAGS = {"M", "O", "C", "ME", "CE"}
ROLES = {"sensitive", "idempotency_key", "amount", "merchant"}
STATUSES = {"S", "F", "U"}
# Who sends the request: the merchant to Alipay's gateway (an API call), or Alipay to the
# merchant's notify URL (an SPI, a notification), which reverses every role of the two messages.
DIRECTIONS = {"outbound", "inbound"}

C_KEYWORDS = set("""auto break case char const continue default do double else enum extern float for
goto if inline int long register restrict return short signed sizeof static struct switch typedef
union unsigned void volatile while _Alignas _Alignof _Atomic _Bool _Complex _Generic _Imaginary
_Noreturn _Static_assert _Thread_local bool true false NULL""".split())

KEYS = {
    "file": {"enums", "result_codes", "code_groups", "code_classes", "types", "function", "hosts"},
    "enum": {"doc", "values", "guess"},
    "code": {"id", "status", "meaning", "guess"},
    "code_class": {"meaning", "reason", "codes"},
    "type": {"doc", "fields", "guess"},
    "field": {"type", "max", "flag", "when", "outcome", "echo", "roles", "sample", "doc", "guess", "alias", "decides"},
    "cond": {"field", "equals"},
    "function": {"name", "c_name", "direction", "path", "deadline_ms", "doc", "request", "response", "result_codes",
                 "guess"},
    "message": {"fields", "one_of", "guess", "doc"},
    "fn_codes": {"groups", "codes", "guess"},
    "host": {"url", "guess"},
}

IDENT = re.compile(r"^[A-Za-z][A-Za-z0-9]*$")
ENUM_VALUE = re.compile(r"^[A-Za-z0-9_]+$")


def snake(name):
    s = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name)
    s = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", s)
    return s.lower()


def c_string(text):
    """A C string literal for text (UTF-8 bytes, escaped so no trigraph or hex run confuses)."""
    out = []
    for b in text.encode("utf-8"):
        ch = chr(b)
        if ch in '"\\':
            out.append("\\" + ch)
        elif 0x20 <= b < 0x7F and ch != "?":
            out.append(ch)
        else:
            out.append("\\%03o" % b)
    return '"' + "".join(out) + '"'


def json_key(name):
    return '"' + name + '":'


class Guess:
    def __init__(self, where, text, file, line):
        self.where, self.text, self.file, self.line = where, text, file, line


class Enum:
    def __init__(self, name, values, doc, file, line):
        self.name, self.values, self.doc, self.file, self.line = name, values, doc, file, line
        self.c = snake(name)
        self.C = self.c.upper()

    def sorted_indexes(self):
        return [i + 1 for i, _ in sorted(enumerate(self.values), key=lambda p: p[1].encode())]


class ResultCode:
    def __init__(self, code, id_, status, meaning):
        self.code, self.id, self.status, self.meaning = code, id_, status, meaning
        self.classes = []  # CodeClass, in bit order


class Cond:
    """`field equals value`, the field given by a path from the message root."""

    def __init__(self, path, equals, file, line):
        self.path, self.equals, self.file, self.line = path, equals, file, line
        self.fields = None  # resolved chain of Field


class Field:
    def __init__(self, msg, name, spec, file, line):
        self.msg, self.name, self.file, self.line = msg, name, file, line
        self.c = snake(name)
        self.type_name = spec.get("type")
        self.max = spec.get("max")
        self.flag = spec.get("flag")
        self.roles = list(spec.get("roles") or [])
        self.sample = spec.get("sample")
        self.doc = spec.get("doc")
        self.guess_text = [spec["guess"]] if isinstance(spec.get("guess"), str) else []
        self.alias = spec.get("alias")
        self.echo_path = spec.get("echo")
        self.echo_line = spec.line_of("echo") if "echo" in spec else line
        self.when = None
        self.outcome = None  # None, "always" or a Cond
        self.kind = None     # primitive name, "enum" or "object"
        self.enum = None
        self.sub = None      # Message
        self.echo = None     # chain of request Fields
        self.nonempty = False  # type id: a string that is never "" (even when optional)
        # role amount: the Money's amount is at least 1 in what we send
        self.positive = "amount" in self.roles
        # role sensitive: aop_encode_ex can leave the member out of what it writes
        self.sensitive = "sensitive" in self.roles
        # a deciding member of a received request (an inbound function's): every rule of it, and
        # of its mandatory members, fails the message instead of being a warning
        self.decides = spec.get("decides") is True
        self.decides_given = "decides" in spec and spec.get("decides") is not None
        self.decides_line = spec.line_of("decides") if "decides" in spec else line

    @property
    def mandatory(self):
        return self.flag in ("M", "ME")

    @property
    def conditional(self):
        return self.flag in ("C", "CE")

    @property
    def has_flag(self):
        return self.kind == "object" and not self.mandatory

    @property
    def c_flag(self):
        return {"M": "AOP_FLAG_M", "ME": "AOP_FLAG_M", "O": "AOP_FLAG_O", "C": "AOP_FLAG_C",
                "CE": "AOP_FLAG_C"}[self.flag]

    @property
    def c_kind(self):
        return "AOP_KIND_" + ("OBJECT" if self.kind == "object" else self.kind.upper())

    @property
    def c_type(self):
        if self.kind == "object":
            return self.sub.c_type
        if self.kind == "enum":
            return "aop_enum_val_t"
        return "aop_str_t"


class Message:
    """A struct: a shared type, a request or response body, or a whole request or response."""

    def __init__(self, name, c, doc, file, line):
        self.name, self.c, self.doc, self.file, self.line = name, c, doc, file, line
        self.fields = []
        self.one_of = []   # lists of Field
        self.root = None   # "request" / "response" for whole messages
        self.function = None
        self.direction = None  # "request" or "response" for bodies and roots
        self.received = False  # a body or root the merchant receives (a response, or an inbound request)
        self.conds = []    # Cond objects needing generated functions (root messages only)
        self.guess_text = None

    @property
    def c_type(self):
        return f"aop_{self.c}_t"

    def field(self, name):
        for f in self.fields:
            if f.name == name:
                return f
        return None


class Host:
    def __init__(self, name, url, file, line):
        self.name, self.url, self.file, self.line = name, url, file, line
        parts = urlsplit(url) if isinstance(url, str) else None
        self.origin = f"{parts.scheme}://{parts.netloc}" if parts else ""
        self.prefix = parts.path if parts else ""


class Function:
    def __init__(self, spec, file, line):
        self.spec, self.file, self.line = spec, file, line
        self.name = spec.get("name")
        self.c = spec.get("c_name")
        self.direction = spec.get("direction", "outbound")
        self.inbound = self.direction == "inbound"
        self.path = spec.get("path")
        self.deadline_ms = spec.get("deadline_ms")
        self.doc = spec.get("doc")
        self.codes = []
        self.request = self.response = None
        self.request_body = self.response_body = None
        self.echo = []         # (response chain, request chain, mandatory)
        self.sensitive = []    # chains in the request
        self.idempotency_key = None
        self.amount = None
        self.merchant = None
        self.result_info = None


class Schema:
    def __init__(self):
        self.files = []
        self.enums = {}
        self.codes = {}
        self.groups = {}
        self.classes = []  # CodeClass, in bit order
        self.types = {}
        self.functions = []
        self.hosts = []
        self.guesses = []
        self.errors = []
        self.code_ids = {}

    # ---- helpers ----
    def err(self, file, line, msg):
        self.errors.append(SchemaError(file, line, msg))

    def check_keys(self, m, kind, what):
        if not isinstance(m, LMap):
            self.err(getattr(m, "file", "?"), getattr(m, "line", 0), f"{what} must be a mapping")
            return False
        for k in m:
            if k not in KEYS[kind]:
                allowed = ", ".join(sorted(KEYS[kind]))
                self.err(m.file, m.line_of(k), f"unknown key '{k}' in {what} (allowed: {allowed})")
        return True

    def guess(self, m, where):
        if isinstance(m, LMap) and "guess" in m:
            text = m["guess"]
            if not isinstance(text, str) or not text.strip():
                self.err(m.file, m.line_of("guess"), f"guess of {where} must be a non-empty text")
            else:
                self.guesses.append(Guess(where, text, m.file, m.line_of("guess")))

    def all_messages(self):
        out = list(self.types.values())
        for fn in self.functions:
            out += [fn.request_body, fn.request, fn.response_body, fn.response]
        return out


def load_schema(directory, display_dir=None):
    s = Schema()
    names = sorted(n for n in os.listdir(directory) if n.endswith(".yaml"))
    if not names:
        raise SchemaError(display_dir or directory, 0, "no *.yaml files")
    docs = []
    for n in names:
        shown = os.path.join(display_dir or os.path.basename(os.path.normpath(directory)), n)
        doc = load(os.path.join(directory, n), shown)
        s.files.append(shown)
        docs.append(doc)
        s.check_keys(doc, "file", "a schema file")
    for doc in docs:
        _read_enums(s, doc)
        _read_codes(s, doc)
        _read_hosts(s, doc)
    read_code_classes(s, docs)
    for doc in docs:
        _read_types(s, doc)
    for doc in docs:
        if "function" in doc:
            _read_function(s, doc["function"], doc.file, doc.line_of("function"))
    if not s.hosts:
        s.err(s.files[0], 1, "the schema defines no hosts (a top-level `hosts:` mapping)")
    if not s.errors:
        _resolve(s)
    if s.errors:
        raise SchemaErrors(s.errors)
    s.functions.sort(key=lambda f: f.name)
    return s


class SchemaErrors(Exception):
    def __init__(self, errors):
        super().__init__("\n".join(str(e) for e in errors))
        self.errors = errors


def _read_enums(s, doc):
    enums = doc.get("enums")
    if enums is None:
        return
    if not isinstance(enums, LMap):
        return s.err(doc.file, doc.line_of("enums"), "enums must be a mapping")
    for name, spec in enums.items():
        line = enums.line_of(name)
        if not s.check_keys(spec, "enum", f"enum {name}"):
            continue
        if not IDENT.match(name):
            s.err(doc.file, line, f"enum name '{name}' is not an identifier")
        values = spec.get("values")
        if not isinstance(values, list) or not values:
            s.err(doc.file, line, f"enum {name} needs a non-empty list of values")
            continue
        seen = set()
        for v in values:
            if not isinstance(v, str) or not ENUM_VALUE.match(v):
                s.err(doc.file, values.line, f"enum {name}: value {v!r} is not an identifier")
            elif v in ("UNKNOWN", "COUNT"):
                s.err(doc.file, values.line, f"enum {name}: {v} is reserved (value 0 and the count macro)")
            elif v in seen:
                s.err(doc.file, values.line, f"enum {name}: duplicate value {v}")
            seen.add(v)
        if name in s.enums or name in PRIMITIVES:
            s.err(doc.file, line, f"enum {name} is defined twice")
        s.enums[name] = Enum(name, [str(v) for v in values], spec.get("doc"), doc.file, line)
        s.guess(spec, f"enum {name}")


def _read_codes(s, doc):
    codes = doc.get("result_codes")
    if codes is not None:
        if not isinstance(codes, LMap):
            return s.err(doc.file, doc.line_of("result_codes"), "result_codes must be a mapping")
        ids = s.code_ids
        for code, spec in codes.items():
            line = codes.line_of(code)
            if not s.check_keys(spec, "code", f"result code {code}"):
                continue
            if not re.match(r"^[A-Z][A-Z0-9_]*$", code):
                s.err(doc.file, line, f"result code '{code}' is not UPPER_SNAKE_CASE")
            status = spec.get("status")
            if status not in STATUSES:
                s.err(doc.file, line, f"result code {code}: status must be S, F or U, not {status!r}")
            id_ = spec.get("id")
            if id_ is not None:
                if not isinstance(id_, str) or not re.match(r"^[0-9]{8}$", id_):
                    s.err(doc.file, line, f"result code {code}: id must be a quoted 8-digit string")
                elif id_ in ids:
                    s.err(doc.file, line, f"result code {code}: id {id_} is already used by {ids[id_]}")
                else:
                    ids[id_] = code
            meaning = spec.get("meaning")
            if not isinstance(meaning, str) or not meaning:
                s.err(doc.file, line, f"result code {code}: meaning is required")
            if code in s.codes:
                s.err(doc.file, line, f"result code {code} is defined twice")
            s.codes[code] = ResultCode(code, id_, status, meaning)
            s.guess(spec, f"result code {code}")
    groups = doc.get("code_groups")
    if groups is not None:
        for g, lst in groups.items():
            s.groups[g] = (lst, doc.file, groups.line_of(g))


def _read_hosts(s, doc):
    hosts = doc.get("hosts")
    if hosts is None:
        return
    if not isinstance(hosts, LMap):
        return s.err(doc.file, doc.line_of("hosts"), "hosts must be a mapping")
    for name, spec in hosts.items():
        line = hosts.line_of(name)
        if not s.check_keys(spec, "host", f"host {name}"):
            continue
        if not re.match(r"^[a-z][a-z0-9_]*$", name):
            s.err(doc.file, line, f"host name '{name}' must be snake_case")
        if any(h.name == name for h in s.hosts):
            s.err(doc.file, line, f"host {name} is defined twice")
        url = spec.get("url")
        parts = urlsplit(url) if isinstance(url, str) else None
        if not parts or parts.scheme != "https" or not parts.hostname:
            s.err(doc.file, line, f"host {name}: url must be an https URL")
        elif parts.query or parts.fragment or "@" in parts.netloc or url.endswith("/") or "//" in parts.path:
            s.err(doc.file, line, f"host {name}: url is scheme://host[/prefix] with no trailing '/', "
                  "query, fragment or user")
        elif not re.match(r"^[\x21-\x7e]+$", url) or '"' in url or "\\" in url:
            s.err(doc.file, line, f"host {name}: url holds a character that needs quoting")
        s.hosts.append(Host(name, url, doc.file, line))
        s.guess(spec, f"host {name}")


MAX_FIELDS = 64  # the decoder tracks the fields it has seen in a 64-bit mask


def _read_fields(s, msg, fields, file, line, where):
    if not isinstance(fields, LMap) or not fields:
        s.err(file, line, f"{where}: fields must be a non-empty mapping")
        return
    if len(fields) > MAX_FIELDS:
        s.err(file, line, f"{where}: more than {MAX_FIELDS} fields")
    c_names = {}
    for name, spec in fields.items():
        fline = fields.line_of(name)
        if not s.check_keys(spec, "field", f"field {where}.{name}"):
            continue
        if not IDENT.match(name):
            s.err(file, fline, f"field name '{name}' is not an identifier")
            continue
        f = Field(msg, name, spec, file, fline)
        if f.c in C_KEYWORDS:
            s.err(file, fline, f"field '{name}' becomes the C keyword '{f.c}'")
        other = c_names.get(f.c)
        if other:
            s.err(file, fline, f"field '{name}' clashes with '{other}' after conversion to C ('{f.c}')")
        c_names[f.c] = name
        if f.type_name is None:
            s.err(file, fline, f"field {where}.{name} has no type")
        if f.flag not in FLAGS:
            s.err(file, fline, f"field {where}.{name}: flag must be one of M, O, C, ME, CE, not {f.flag!r}")
        for r in f.roles:
            if r not in ROLES:
                s.err(file, fline, f"field {where}.{name}: unknown role '{r}' (known: {', '.join(sorted(ROLES))})")
        if f.max is not None and (not isinstance(f.max, int) or isinstance(f.max, bool) or f.max <= 0):
            s.err(file, fline, f"field {where}.{name}: max must be a positive integer")
        for key in ("when", "outcome"):
            v = spec.get(key)
            if v is None or v == "always" and key == "outcome":
                setattr(f, key, v)
                continue
            if s.check_keys(v, "cond", f"{key} of {where}.{name}"):
                if not isinstance(v.get("field"), str) or "equals" not in v:
                    s.err(file, fline, f"{key} of {where}.{name} needs `field` and `equals`")
                else:
                    setattr(f, key, Cond(v["field"], str(v["equals"]), file, v.line))
        s.guess(spec, f"field {where}.{name}")
        msg.fields.append(f)


def _read_types(s, doc):
    types = doc.get("types")
    if types is None:
        return
    for name, spec in types.items():
        line = types.line_of(name)
        if not s.check_keys(spec, "type", f"type {name}"):
            continue
        if not IDENT.match(name):
            s.err(doc.file, line, f"type name '{name}' is not an identifier")
        if name in s.types or name in s.enums or name in PRIMITIVES:
            s.err(doc.file, line, f"type {name} is defined twice")
        m = Message(name, snake(name), spec.get("doc"), doc.file, line)
        m.guess_text = spec.get("guess") if isinstance(spec.get("guess"), str) else None
        _read_fields(s, m, spec.get("fields"), doc.file, line, name)
        for f in m.fields:
            if f.when is not None or isinstance(f.outcome, Cond) or f.echo_path is not None and name != "ResponseHead":
                s.err(f.file, f.line, f"field {name}.{f.name}: a shared type's field may not have a `when`, "
                      "an outcome condition or (outside ResponseHead) an echo: their paths depend on the message")
            if f.decides_given:
                s.err(f.file, f.decides_line, f"field {name}.{f.name}: a shared type's field may not have "
                      "`decides`: put it on the field of the request that holds the type (its mandatory "
                      "members decide with it)")
        s.types[name] = m
        s.guess(spec, f"type {name}")


def _read_function(s, spec, file, line):
    if not s.check_keys(spec, "function", "function"):
        return
    fn = Function(spec, file, line)
    if fn.direction not in DIRECTIONS:
        s.err(file, spec.line_of("direction"), f"function direction must be outbound (the merchant calls "
              f"Alipay's gateway, the default) or inbound (Alipay sends the request to the merchant), "
              f"not {fn.direction!r}")
    for key in ("name", "c_name") + (() if fn.inbound else ("path",)):
        if not isinstance(spec.get(key), str) or not spec.get(key):
            s.err(file, spec.line_of(key), f"function: {key} is required")
    if fn.c and not re.match(r"^[a-z][a-z0-9_]*$", fn.c):
        s.err(file, spec.line_of("c_name"), f"function c_name '{fn.c}' must be snake_case")
    if fn.inbound:
        # the merchant's notify URL and how long Alipay waits are the merchant's and Alipay's
        for key in ("path", "deadline_ms"):
            if key in spec:
                s.err(file, spec.line_of(key), f"an inbound function has no {key}: Alipay sends its request "
                      "to the notify URL the merchant gave with the contract")
    else:
        _check_outbound_path(s, fn, spec, file)
    for other in s.functions:
        if other.name == fn.name or other.c == fn.c or (fn.path is not None and other.path == fn.path):
            s.err(file, line, f"function {fn.name} repeats the name, c_name or path of {other.name}")
    for direction in ("request", "response"):
        m = spec.get(direction)
        if not s.check_keys(m, "message", f"{fn.name} {direction}"):
            return
        body = Message(f"{fn.name} {direction} body", f"{fn.c}_{direction}_body", m.get("doc"), file, m.line)
        body.direction = direction
        body.received = (direction == "response") != fn.inbound
        body.guess_text = m.get("guess") if isinstance(m.get("guess"), str) else None
        _read_fields(s, body, m.get("fields"), file, m.line, f"{direction}.body")
        s.guess(m, f"{fn.name} {direction}")
        for group in m.get("one_of") or []:
            chosen = []
            for n in group:
                f = body.field(n)
                if f is None:
                    s.err(file, getattr(group, "line", m.line), f"one_of names '{n}', which is not a field of {direction}.body")
                else:
                    chosen.append(f)
            if len(chosen) < 2 or len(chosen) > 4:
                s.err(file, getattr(group, "line", m.line), "a one_of group names 2 to 4 fields")
            body.one_of.append(chosen)
        root = Message(f"{fn.name} {direction}", f"{fn.c}_{direction}", fn.doc, file, m.line)
        root.root = root.direction = direction
        root.received = body.received
        root.function = body.function = fn
        setattr(fn, f"{direction}_body", body)
        setattr(fn, direction, root)
    codes = spec.get("result_codes")
    if s.check_keys(codes, "fn_codes", f"{fn.name} result_codes"):
        names = []
        for g in codes.get("groups") or []:
            if g not in s.groups:
                s.err(file, codes.line_of("groups"), f"unknown code group '{g}'")
            else:
                names += list(s.groups[g][0])
        names += list(codes.get("codes") or [])
        seen = set()
        for n in names:
            if n not in s.codes:
                s.err(file, codes.line_of("codes"), f"unknown result code '{n}'")
            elif n in seen:
                s.err(file, codes.line_of("codes"), f"result code {n} is listed twice")
            else:
                fn.codes.append(s.codes[n])
            seen.add(n)
        s.guess(codes, f"{fn.name} result codes")
    s.guess(spec, f"function {fn.name}")
    s.functions.append(fn)


def _check_outbound_path(s, fn, spec, file):
    if fn.path and not re.match(r"^(/[A-Za-z0-9._~-]+)+$", str(fn.path)):
        s.err(file, spec.line_of("path"), "function path must be /segment/... (letters, digits, . _ ~ -)")
    for h in s.hosts:
        if h.prefix and isinstance(fn.path, str) and (fn.path + "/").startswith(h.prefix + "/"):
            s.err(file, spec.line_of("path"), f"function path starts with '{h.prefix}', the path prefix of "
                  f"host {h.name} ({h.file}:{h.line}); the prefix belongs to the host's url only")
    if not isinstance(fn.deadline_ms, int) or fn.deadline_ms <= 0:
        s.err(file, spec.line_of("deadline_ms"), "function deadline_ms must be a positive integer")


def _resolve_type(s, f, where):
    t = f.type_name
    if t in PRIMITIVES:
        f.kind = "string" if t == "id" else t
        f.nonempty = t == "id"
        if t in NEEDS_MAX and f.max is None:
            s.err(f.file, f.line, f"field {where}: type {t} needs a max length")
        if t not in NEEDS_MAX and f.max is not None:
            s.err(f.file, f.line, f"field {where}: type {t} takes no max length")
    elif t in s.enums:
        f.kind, f.enum = "enum", s.enums[t]
    elif t in s.types:
        f.kind, f.sub = "object", s.types[t]
    else:
        known = ", ".join(sorted(PRIMITIVES | set(s.enums) | set(s.types)))
        s.err(f.file, f.line, f"field {where}: unknown type '{t}' (known: {known})")
        return
    if f.kind in ("enum", "object") and f.max is not None:
        s.err(f.file, f.line, f"field {where}: type {t} takes no max length")
    if f.sample is not None and f.kind == "object":
        s.err(f.file, f.line, f"field {where}: an object field takes no sample (its type's fields have them)")
    if f.sample is not None and not isinstance(f.sample, str):
        s.err(f.file, f.line, f"field {where}: sample must be a string (quote it)")
    elif f.nonempty and f.sample == "":
        s.err(f.file, f.line, f"field {where}: an id is never empty, and neither is its sample")
    if f.kind not in ("object",) and f.sample is None and f.mandatory:
        s.err(f.file, f.line, f"field {where}: a mandatory field needs a sample")
    if f.alias is not None and (not isinstance(f.alias, str) or not IDENT.match(f.alias)):
        s.err(f.file, f.line, f"field {where}: alias must be an identifier")


def resolve_path(root, path):
    """Chain of Fields for a dotted path from a root message, or None."""
    chain, msg = [], root
    for part in path.split("."):
        if msg is None:
            return None
        f = msg.field(part)
        if f is None:
            return None
        chain.append(f)
        msg = f.sub
    return chain


def _resolve_cond(s, root, cond, where):
    chain = resolve_path(root, cond.path)
    if chain is None:
        s.err(cond.file, cond.line, f"{where} names '{cond.path}', which is not a field of the {root.root}")
        return
    last = chain[-1]
    if last.kind == "object":
        s.err(cond.file, cond.line, f"{where}: '{cond.path}' is an object, not a value")
    elif last.kind == "enum" and cond.equals not in last.enum.values:
        s.err(cond.file, cond.line, f"{where}: '{cond.equals}' is not a value of {last.enum.name}")
    cond.fields = chain
    root.conds.append(cond)


def _walk(msg, prefix=()):
    for f in msg.fields:
        yield prefix + (f,)
        if f.sub is not None:
            yield from _walk(f.sub, prefix + (f,))


def _resolve(s):
    for m in s.types.values():
        for f in m.fields:
            _resolve_type(s, f, f"{m.name}.{f.name}")
    for fn in s.functions:
        for body in (fn.request_body, fn.response_body):
            for f in body.fields:
                _resolve_type(s, f, f"{body.direction}.body.{f.name}")
    if s.errors:
        return
    _check_recursion(s)
    if s.errors:
        return
    _check_members(s)
    head_types = {"request": "RequestHead", "response": "ResponseHead"}
    for fn in s.functions:
        for direction in ("request", "response"):
            root, body = getattr(fn, direction), getattr(fn, f"{direction}_body")
            if head_types[direction] not in s.types:
                s.err(fn.file, fn.line, f"type {head_types[direction]} is required for every {direction}")
                return
            head = Field(root, "head", {"type": head_types[direction], "flag": "M"}, fn.file, fn.line)
            head.kind, head.sub = "object", s.types[head_types[direction]]
            bodyf = Field(root, "body", {"type": body.name, "flag": "M"}, fn.file, fn.line)
            bodyf.kind, bodyf.sub = "object", body
            bodyf.outcome = "always"  # no body, no resultInfo: nothing can decide the outcome
            root.fields = [head, bodyf]
        for direction in ("request", "response"):
            root = getattr(fn, direction)
            for chain in _walk(root):
                f = chain[-1]
                where = f"{fn.name} {direction}.{'.'.join(x.name for x in chain)}"
                if f.when is not None:
                    _resolve_cond(s, root, f.when, f"condition of {where}")
                if isinstance(f.outcome, Cond):
                    _resolve_cond(s, root, f.outcome, f"outcome condition of {where}")
                if (f.conditional and f.when is None and f.echo_path is None
                        and not any(f in g for g in f.msg.one_of)):
                    s.err(f.file, f.line, f"{where}: a C/CE field needs `when` or a one_of group")
                if f.outcome is not None and f.msg is getattr(fn, f"{direction}_body") and not root.received:
                    s.err(f.file, f.line, f"{where}: `outcome` judges what the merchant receives; this "
                          f"{direction} is sent (validated strictly, every rule decides)")
                if f.decides_given and not (f.decides and root.received and direction == "request"):
                    s.err(f.file, f.decides_line, f"{where}: `decides: true` marks a deciding member of a "
                          "received request (a function with direction: inbound); a response keeps "
                          "docs/protocol.md section 7's rules")
                if direction == "request":
                    if f.echo_path is not None:
                        s.err(f.file, f.line, f"{where}: echo belongs on the response field")
                    if fn.inbound and f.roles:
                        s.err(f.file, f.line, f"{where}: roles concern what the merchant sends; the request "
                              "of an inbound function is received")
                        continue
                    for r in f.roles:
                        _add_role(s, fn, r, chain, where)
                    continue
                if f.echo_path is not None:
                    req_chain = resolve_path(fn.request, f.echo_path)
                    if req_chain is None:
                        s.err(f.file, f.echo_line, f"{where}: echo names '{f.echo_path}', which is not a field of the request")
                    elif req_chain[-1].type_name != f.type_name:
                        s.err(f.file, f.echo_line, f"{where}: echo of '{f.echo_path}' has another type")
                    else:
                        fn.echo.append((chain, req_chain, f.flag == "ME"))
                elif f.flag in ("ME", "CE"):
                    s.err(f.file, f.line, f"{where}: an ME/CE response field needs `echo: <request path>`")
                if f.roles:
                    s.err(f.file, f.line, f"{where}: roles belong on request fields")
                if f.type_name == "ResultInfo" and len(chain) == 2:
                    fn.result_info = chain
        if fn.result_info is None:
            s.err(fn.file, fn.line, f"{fn.name}: the response body needs a ResultInfo field")


def _add_role(s, fn, role, chain, where):
    f = chain[-1]
    if role == "sensitive":
        if f.kind == "object":
            s.err(f.file, f.line, f"{where}: only a value can be sensitive")
        fn.sensitive.append(chain)
    elif role == "idempotency_key":
        if fn.idempotency_key is not None:
            s.err(f.file, f.line, f"{where}: a second idempotency_key")
        if f.kind != "string":
            s.err(f.file, f.line, f"{where}: an idempotency_key must be a string")
        fn.idempotency_key = chain
    elif role == "merchant":
        if fn.merchant is not None or f.kind != "string":
            s.err(f.file, f.line, f"{where}: one string field per request may have the merchant role")
        fn.merchant = chain
    elif role == "amount":
        if fn.amount is not None:
            s.err(f.file, f.line, f"{where}: a second amount")
        if f.type_name != "Money":
            s.err(f.file, f.line, f"{where}: an amount must be of type Money")
        fn.amount = chain


def _check_members(s):
    """C members of every struct, has_ flags included, and the bound macros are unique."""
    messages = list(s.types.values())
    for fn in s.functions:
        messages += [fn.request_body, fn.response_body]
    macros = {}
    for m in messages:
        members = {}
        for f in m.fields:
            if f.has_flag:
                other = members.get("has_" + f.c)
                if other and other is not f:
                    s.err(f.file, f.line, f"field '{f.name}' clashes with '{other.name}' after conversion to C ('{f.c}')")
                members["has_" + f.c] = f
            other = members.get(f.c)
            if other and other is not f:
                s.err(f.file, f.line, f"field '{f.name}' clashes with '{other.name}' after conversion to C ('{f.c}')")
            members[f.c] = f
            if f.max is not None and m.function is None:
                macro = f"AOP_{m.c.upper()}_{f.c.upper()}_MAX"
                if macro in macros:
                    s.err(f.file, f.line, f"field '{f.name}' makes the macro {macro}, as {macros[macro]} does")
                macros[macro] = f"{m.name}.{f.name}"
    c_types = {}
    for m in messages + [fn.request for fn in s.functions] + [fn.response for fn in s.functions]:
        if m.c in c_types:
            s.err(m.file, m.line, f"'{m.name}' and '{c_types[m.c]}' both become the C type {m.c_type}")
        c_types[m.c] = m.name
    for e in s.enums.values():
        if e.c in c_types:
            s.err(e.file, e.line, f"enum '{e.name}' and '{c_types[e.c]}' both become aop_{e.c}_t")
        c_types[e.c] = e.name


def _check_recursion(s):
    def visit(m, stack):
        if m.name in stack:
            s.err(m.file, m.line, f"type {m.name} contains itself")
            return
        for f in m.fields:
            if f.sub is not None:
                visit(f.sub, stack | {m.name})

    for m in s.types.values():
        visit(m, frozenset())
