# SPDX-License-Identifier: MIT
"""The role sensitive reaches the field descriptors (`.sensitive = true`), where aop_encode_ex
finds the members it leaves out; on no other field."""
import re
import sys
import unittest

sys.dont_write_bytecode = True

from . import support  # noqa: E402

TABLE = re.compile(r"^static const aop_field_desc_t (\w+)_fields\[\d+\] = \{\n(.*?)^\};$", re.M | re.S)
ENTRY = re.compile(r'\{\n        \.name = "(\w+)",\n(.*?)\n    \},', re.S)


def sensitive_fields(model_c):
    """[(descriptor, JSON name)] of every field descriptor that has .sensitive = true."""
    out = []
    for table, body in TABLE.findall(model_c):
        for name, rest in ENTRY.findall(body):
            if ".sensitive = true," in rest:
                out.append((table, name))
    return out


class SensitiveFlagTest(unittest.TestCase):
    def test_only_the_identity_code(self):
        model_c = support.render(support.load_real_schema())["aop_model.c"]
        self.assertGreater(len(TABLE.findall(model_c)), 20, "the descriptor tables were found")
        self.assertEqual(sensitive_fields(model_c), [("offline_pay_request_body", "identityCode")])

    def test_the_role_on_another_field_flags_it(self):
        s = support.SchemaCopy(self)
        s.sub_line("pay_query.yaml", r"^      merchantTransId: \{", r"flag: CE,", "flag: CE, roles: [sensitive],",
                   after=r"^  request:")
        got = sensitive_fields(s.generate()["aop_model.c"])
        self.assertEqual(sorted(got), [("offline_pay_query_request_body", "merchantTransId"),
                                       ("offline_pay_request_body", "identityCode")])


if __name__ == "__main__":
    unittest.main()
