# SPDX-License-Identifier: MIT
"""Result-code classes (`code_classes:`): the real schema's, how they are generated, and every
malformed declaration refused with `schema/FILE:LINE: message`."""
import re
import sys
import unittest

sys.dont_write_bytecode = True

from . import support  # noqa: E402
from . import test_bad_schema as bad  # noqa: E402  (its assertRefused, not its tests)

CREDENTIAL = {"INVALID_SIGNATURE", "KEY_NO_FOUND", "UNKNOWN_CLIENT", "ACCESS_DENIED",
              "CLIENT_FORBIDDEN_ACCESS_API", "INVALID_CLIENT_STATUS", "OAUTH_FAILED",
              "NO_INTERFACE_DEF", "API_IS_INVALID", "PARAM_ILLEGAL"}
THROTTLED = {"REQUEST_TRAFFIC_EXCEED_LIMIT"}
CLASSES_OF = re.compile(r'^    \.code = "(\w+)",\n(?:    .*\n){3}    \.classes = (.*),\n\};$', re.M)
THROTTLED_LINE = r"^    codes: \[REQUEST_TRAFFIC_EXCEED_LIMIT\]"


def rendered_classes(codes_c):
    """{code: the initializer of its .classes} of every rc_ definition of an aop_codes.c."""
    return dict(CLASSES_OF.findall(codes_c))


class RealClassesTest(unittest.TestCase):
    def test_declared_classes(self):
        schema = support.load_real_schema()
        self.assertEqual([(c.name, c.bit) for c in schema.classes], [("credential", 0), ("throttled", 1)])
        got = {c.name: {rc.code for rc in c.codes} for c in schema.classes}
        self.assertEqual(got, {"credential": CREDENTIAL, "throttled": THROTTLED})
        self.assertEqual(schema.codes["PROCESS_FAIL"].classes, [], "PROCESS_FAIL means no retry")
        for c in schema.classes:
            self.assertTrue(c.meaning.strip() and c.reason.strip(), c.name)
        self.assertIn("PROCESS_FAIL", schema.classes[1].reason, "the throttled class says why not PROCESS_FAIL")

    def test_every_code_carries_its_classes(self):
        schema = support.load_real_schema()
        got = rendered_classes(support.render(schema)["aop_codes.c"])
        self.assertEqual(set(got), set(schema.codes), "every rc_ has .classes")
        for code, init in got.items():
            want = ("AOP_RC_CLASS_CREDENTIAL" if code in CREDENTIAL
                    else "AOP_RC_CLASS_THROTTLED" if code in THROTTLED else "0")
            self.assertEqual(init, want, code)

    def test_header_macros(self):
        header = support.render(support.load_real_schema())["include/aop/protocol.h"]
        self.assertIn("#define AOP_RC_CLASS_CREDENTIAL (1u << 0)\n", header)
        self.assertIn("#define AOP_RC_CLASS_THROTTLED (1u << 1)\n", header)
        doc = re.search(r"^/\*\* Result-code class throttled \(bit 1\): (.*) \*/$", header, re.M)
        self.assertTrue(doc, "the throttled macro is documented")
        self.assertIn("No retry", doc.group(1))
        self.assertIn("Codes: REQUEST_TRAFFIC_EXCEED_LIMIT.", doc.group(1))


class ClassEditsTest(unittest.TestCase):
    def setUp(self):
        self.s = support.SchemaCopy(self)

    def test_a_code_in_two_classes_has_both_bits(self):
        self.s.append("result_codes.yaml", "  no_retry: {meaning: M., reason: R., codes: [PROCESS_FAIL, KEY_NO_FOUND]}\n")
        got = rendered_classes(self.s.generate()["aop_codes.c"])
        self.assertEqual(got["KEY_NO_FOUND"], "AOP_RC_CLASS_CREDENTIAL | AOP_RC_CLASS_NO_RETRY")
        self.assertEqual(got["PROCESS_FAIL"], "AOP_RC_CLASS_NO_RETRY")

    def test_bits_follow_files_then_declaration_order(self):
        # pay_cancel.yaml sorts before result_codes.yaml: its class takes bit 0
        self.s.append("pay_cancel.yaml", "code_classes:\n  later: {meaning: M., reason: R., codes: [PROCESS_FAIL]}\n")
        self.assertEqual([(c.name, c.bit) for c in self.s.load().classes],
                         [("later", 0), ("credential", 1), ("throttled", 2)])

    def test_a_class_added_at_the_end_keeps_the_other_bits(self):
        self.s.append("result_codes.yaml", "  later: {meaning: M., reason: R., codes: [PROCESS_FAIL]}\n")
        header = self.s.generate()["include/aop/protocol.h"]
        for macro, bit in (("CREDENTIAL", 0), ("THROTTLED", 1), ("LATER", 2)):
            self.assertIn(f"#define AOP_RC_CLASS_{macro} (1u << {bit})\n", header)


class BadClassTest(unittest.TestCase):
    assertRefused = bad.BadSchemaTest.assertRefused

    def setUp(self):
        self.s = support.SchemaCopy(self)

    def test_unknown_key(self):
        n = self.s.sub_line("result_codes.yaml", THROTTLED_LINE, r"codes:", "code:")
        self.assertRefused("result_codes.yaml", n, "unknown key 'code'", "code class throttled",
                           "allowed: codes, meaning, reason")

    def test_unknown_code(self):
        n = self.s.sub_line("result_codes.yaml", THROTTLED_LINE, r"EXCEED_LIMIT", "EXCEEDS")
        self.assertRefused("result_codes.yaml", n, "code class throttled", "unknown result code 'REQUEST_TRAFFIC_EXCEEDS'")

    def test_code_listed_twice(self):
        n = self.s.sub_line("result_codes.yaml", THROTTLED_LINE, r"\]", ", REQUEST_TRAFFIC_EXCEED_LIMIT]")
        self.assertRefused("result_codes.yaml", n, "code class throttled",
                           "result code REQUEST_TRAFFIC_EXCEED_LIMIT is listed twice")

    def test_duplicate_class_in_the_same_file(self):
        first = self.s.find_line("result_codes.yaml", r"^  throttled:")
        n = self.s.append("result_codes.yaml", "  throttled: {meaning: M., reason: R., codes: [PROCESS_FAIL]}\n")
        self.assertRefused("result_codes.yaml", n, "duplicate key 'throttled'", f"first at line {first}")

    def test_duplicate_class_in_another_file(self):
        n = self.s.append("pay_cancel.yaml", "code_classes:\n  throttled: {meaning: M., reason: R., codes: [PROCESS_FAIL]}\n")
        self.assertEqual(n, self.s.find_line("pay_cancel.yaml", r"^code_classes:"))
        later = self.s.find_line("result_codes.yaml", r"^  throttled:")
        self.assertRefused("result_codes.yaml", later, "code class throttled is defined twice",
                           f"first at schema/pay_cancel.yaml:{n + 1}")

    def test_names_that_are_no_c_identifier(self):
        for name in ("Throttled", "retry-later", "2nd", "th rottled"):
            with self.subTest(name=name):
                self.s = support.SchemaCopy(self)
                n = self.s.sub_line("result_codes.yaml", r"^  throttled:", r"throttled", name)
                self.assertRefused("result_codes.yaml", n, f"code class name '{name}' is not a lower-case C identifier")

    def test_meaning_and_reason_are_required(self):
        n = self.s.append("result_codes.yaml", "  later: {meaning: M., codes: [PROCESS_FAIL]}\n")
        self.assertRefused("result_codes.yaml", n, "code class later", "`reason` is required")
        self.s = support.SchemaCopy(self)
        n = self.s.append("result_codes.yaml", "  later: {meaning: '  ', reason: R., codes: [PROCESS_FAIL]}\n")
        self.assertRefused("result_codes.yaml", n, "code class later", "`meaning` is required")

    def test_codes_must_be_a_non_empty_list(self):
        for codes in ("[]", "PROCESS_FAIL"):
            with self.subTest(codes=codes):
                self.s = support.SchemaCopy(self)
                n = self.s.append("result_codes.yaml", f"  later: {{meaning: M., reason: R., codes: {codes}}}\n")
                self.assertRefused("result_codes.yaml", n, "code class later", "`codes` must be a non-empty list")

    def test_code_classes_must_be_a_mapping(self):
        n = self.s.append("hosts.yaml", "code_classes: [credential]\n")
        self.assertRefused("hosts.yaml", n, "code_classes must be a mapping")

    def test_a_class_macro_may_not_be_a_code_macro(self):
        self.s.insert_after("result_codes.yaml", r"^  RISK_REJECT:", "  CLASS_THROTTLED: {status: F, meaning: Clash.}")
        n = self.s.find_line("result_codes.yaml", r"^  throttled:")
        self.assertRefused("result_codes.yaml", n, "AOP_RC_CLASS_THROTTLED is also the macro of result code CLASS_THROTTLED")

    def test_at_most_sixteen_classes(self):
        def extra(count):
            return "".join(f"  extra{i}: {{meaning: M., reason: R., codes: [PROCESS_FAIL]}}\n" for i in range(count))
        self.s.append("result_codes.yaml", extra(14))
        self.assertEqual(len(self.s.load().classes), 16, "16 classes still fit")
        self.s = support.SchemaCopy(self)
        first = self.s.append("result_codes.yaml", extra(15))
        self.assertRefused("result_codes.yaml", first + 14, "code class extra14", "at most 16 code classes")


if __name__ == "__main__":
    unittest.main()
