# SPDX-License-Identifier: MIT
"""Result-code classes (`code_classes:`): named sets of result codes that the runtime acts on
(credential refusals, throttling), one bit each in aop_result_code_t.classes."""
import re

from .loader import LList, LMap

# aop_result_code_t.classes is an unsigned, which C guarantees 16 bits of.
MAX_CLASSES = 16
CLASS_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


class CodeClass:
    def __init__(self, name, meaning, reason, codes, bit, file, line):
        self.name, self.meaning, self.reason, self.codes = name, meaning, reason, codes
        self.bit, self.file, self.line = bit, file, line
        self.macro = "AOP_RC_CLASS_" + name.upper()


def _text(s, spec, key, where, file, line):
    v = spec.get(key)
    if not isinstance(v, str) or not v.strip():
        s.err(file, spec.line_of(key) if key in spec else line, f"{where}: `{key}` is required (a non-empty text)")
        return None
    return v


def read_code_classes(s, docs):
    """Reads every file's `code_classes:`, once all result codes are known (a class may name the
    codes of another file). A class's bit is its position, files in name order: a new class goes
    at the end so the bits of the others, compiled into callers, stay."""
    for doc in docs:
        classes = doc.get("code_classes")
        if classes is None:
            continue
        if not isinstance(classes, LMap):
            s.err(doc.file, doc.line_of("code_classes"), "code_classes must be a mapping of class name to "
                  "{meaning, reason, codes}")
            continue
        for name, spec in classes.items():
            _read_class(s, doc.file, classes.line_of(name), name, spec)


def _read_class(s, file, line, name, spec):
    where = f"code class {name}"
    if not CLASS_NAME.match(name):
        s.err(file, line, f"code class name '{name}' is not a lower-case C identifier ([a-z][a-z0-9_]*)")
    first = next((c for c in s.classes if c.name == name), None)
    if first is not None:
        s.err(file, line, f"{where} is defined twice (first at {first.file}:{first.line})")
    if not s.check_keys(spec, "code_class", where):
        return
    meaning = _text(s, spec, "meaning", where, file, line)
    reason = _text(s, spec, "reason", where, file, line)
    codes = spec.get("codes")
    codes_line = spec.line_of("codes")
    members = []
    if not isinstance(codes, LList) or not codes:
        s.err(file, codes_line, f"{where}: `codes` must be a non-empty list of result codes")
    else:
        for code in codes:
            if not isinstance(code, str) or code not in s.codes:
                s.err(file, codes.line, f"{where}: unknown result code {code!r}")
            elif s.codes[code] in members:
                s.err(file, codes.line, f"{where}: result code {code} is listed twice")
            else:
                members.append(s.codes[code])
    clash = s.codes.get("CLASS_" + name.upper())
    if clash is not None:
        s.err(file, line, f"{where}: its macro AOP_RC_CLASS_{name.upper()} is also the macro of "
              f"result code CLASS_{name.upper()}")
    if first is not None:
        return
    if len(s.classes) == MAX_CLASSES:
        s.err(file, line, f"{where}: at most {MAX_CLASSES} code classes (one bit each of an unsigned)")
        return
    cls = CodeClass(name, meaning, reason, members, len(s.classes), file, line)
    s.classes.append(cls)
    for rc in members:
        rc.classes.append(cls)
