# SPDX-License-Identifier: MIT
"""The request rules of the schema (type id, role amount, hosts and their path prefix, control
characters) reach the model, the descriptors, the conformance cases and the header's docs; bad
values are refused with `schema/FILE:LINE: message`."""
import re
import sys
import unittest

sys.dont_write_bytecode = True

from . import support  # noqa: E402
from . import test_bad_schema  # noqa: E402

REQUEST = r"^  request:"
RESPONSE = r"^  response:"
H, C, F, CASES = "include/aop/protocol.h", "aop_model.c", "aop_functions.c", "tests/conformance_cases.c"


def field(name):
    return r"^\s+" + re.escape(name) + r": \{"


def rows_of(out):
    return {r[0]: r for r in support.case_rows(out[CASES])}


class BadRuleTest(unittest.TestCase):
    """Refusals of the new keys (assertRefused: in-process and CLI, file and line)."""

    setUp = test_bad_schema.BadSchemaTest.setUp
    assertRefused = test_bad_schema.BadSchemaTest.assertRefused

    def test_host_url_not_https(self):
        n = self.s.sub_line("hosts.yaml", r"^  production:", r"https://", "http://")
        self.assertRefused("hosts.yaml", n, "host production", "https URL")

    def test_host_url_trailing_slash(self):
        n = self.s.sub_line("hosts.yaml", r"^  production:", r'/api"', '/api/"')
        self.assertRefused("hosts.yaml", n, "host production", "no trailing '/'")

    def test_host_url_with_query(self):
        n = self.s.sub_line("hosts.yaml", r"^  north_america:", r'/api"', '/api?x=1"')
        self.assertRefused("hosts.yaml", n, "host north_america", "query")

    def test_function_path_with_the_host_prefix(self):
        n = self.s.sub_line("pay.yaml", r"^  path:", r"path: /", "path: /api/")
        self.assertRefused("pay.yaml", n, "starts with '/api'", "host production", "schema/hosts.yaml:")

    def test_function_path_bad_character(self):
        n = self.s.sub_line("refund.yaml", r"^  path:", r"\.htm$", ".htm?x=1")
        self.assertRefused("refund.yaml", n, "function path must be /segment/")

    def test_no_hosts(self):
        self.s.write("hosts.yaml", "# no hosts any more\nenums: {}\n")
        self.assertRefused("enums.yaml", 1, "defines no hosts")

    def test_id_with_empty_sample(self):
        n = self.s.sub_line("refund.yaml", field("merchantRefundId"), r'sample: "\d+"', 'sample: ""',
                            after=REQUEST)
        self.assertRefused("refund.yaml", n, "request.body.merchantRefundId", "an id is never empty")

    def test_amount_role_on_an_id(self):
        n = self.s.sub_line("refund.yaml", field("merchantRefundId"), r"roles: \[idempotency_key\]",
                            "roles: [idempotency_key, amount]", after=REQUEST)
        self.assertRefused("refund.yaml", n, "an amount must be of type Money")


class RuleCasesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.base = support.render(support.load_real_schema())
        cls.base_count = support.expected_cases_macro(cls.base[CASES])
        cls.rows = rows_of(cls.base)

    def setUp(self):
        self.s = support.SchemaCopy(self)

    def test_control_characters(self):
        for rule in ("control_c0", "control_del", "control_c1"):
            rq = self.rows[f"refund_request_body_refund_reason_{rule}"]
            self.assertEqual((rq[4], rq[5], rq[6]), ("AOP_E_CONTROL_CHAR", "request.body.refundReason", "ERROR"))
            rs = self.rows[f"offline_pay_response_body_user_login_id_{rule}"]
            self.assertEqual((rs[4], rs[6]), ("AOP_E_CONTROL_CHAR", "WARNING"))
            # even in a field that decides the outcome, a control character only warns
            rc = self.rows[f"refund_response_body_result_info_result_code_{rule}"]
            self.assertEqual((rc[4], rc[6]), ("AOP_E_CONTROL_CHAR", "WARNING"))
        self.assertIn(r'"a\302\233b"', support.mutate_body(self.base[CASES], "refund_request_body_refund_reason_control_c1"))
        # no control rule on the formatted kinds (their formats refuse them already)
        self.assertNotIn("refund_request_body_refund_amount_currency_control_c0", self.rows)

    def test_amount_zero(self):
        rq = self.rows["refund_request_body_refund_amount_value_zero"]
        self.assertEqual((rq[4], rq[5], rq[6]), ("AOP_E_AMOUNT_ZERO", "request.body.refundAmount.value", "ERROR"))
        rq = self.rows["offline_pay_request_body_order_order_amount_value_zero"]
        self.assertEqual((rq[4], rq[6]), ("AOP_E_AMOUNT_ZERO", "ERROR"))
        rs = self.rows["refund_response_body_refund_amount_value_zero"]
        self.assertEqual((rs[4], rs[6]), ("AOP_OK", "OK"))
        self.assertIn(".positive = true", support.descriptor(self.base[C], "refund_request_body", "refundAmount"))
        self.assertNotIn(".positive", support.descriptor(self.base[C], "refund_response_body", "refundAmount"))

    def test_amount_role_removed(self):
        self.s.sub_line("refund.yaml", field("refundAmount"), r", roles: \[amount\]", "", after=REQUEST)
        out = self.s.generate()
        self.assertEqual(support.expected_cases_macro(out[CASES]), self.base_count)
        rq = rows_of(out)["refund_request_body_refund_amount_value_zero"]
        self.assertEqual((rq[4], rq[6]), ("AOP_OK", "OK"))
        self.assertNotIn(".positive", support.descriptor(out[C], "refund_request_body", "refundAmount"))

    def test_id_adds_empty(self):
        self.assertNotIn("offline_pay_response_body_user_login_id_empty", self.rows)
        self.s.sub_line("pay.yaml", field("userLoginId"), r"type: string", "type: id", after=RESPONSE)
        out = self.s.generate()
        self.assertEqual(support.expected_cases_macro(out[CASES]), self.base_count + 1)
        rs = rows_of(out)["offline_pay_response_body_user_login_id_empty"]
        self.assertEqual((rs[4], rs[6]), ("AOP_E_EMPTY", "WARNING"))
        d = support.descriptor(out[C], "offline_pay_response_body", "userLoginId")
        self.assertIn(".kind = AOP_KIND_STRING", d)
        self.assertIn(".nonempty = true", d)
        # an optional id of a request: "" is an error
        rq = self.rows["offline_pay_query_request_body_merchant_trans_id_empty"]
        self.assertEqual((rq[4], rq[5], rq[6]), ("AOP_E_EMPTY", "request.body.merchantTransId", "ERROR"))

    def test_hosts_table(self):
        f = self.base[F]
        self.assertIn('.name = "production",\n        .url = AOP_HOST_PRODUCTION,\n'
                      '        .origin = "https://open-sea.alipay.com",\n        .prefix = "/api",', f)
        self.assertIn('.origin = "https://isupergw.alipaydev.com",\n        .prefix = "/isupergw",', f)
        self.assertIn('#define AOP_HOST_PRODUCTION "https://open-sea.alipay.com/api"\n', self.base[H])
        self.assertIn("#define AOP_HOST_COUNT 3\n", self.base[H])
        self.assertIn('.path = "/alipay/intl/acquiring/offline/pay.htm",', f)
        self.s.append("hosts.yaml", '  local: {url: "https://localhost:8443"}\n')
        out = self.s.generate()
        self.assertIn("#define AOP_HOST_COUNT 4\n", out[H])
        self.assertIn('.origin = "https://localhost:8443",\n        .prefix = "",', out[F])


class HeaderDocsTest(unittest.TestCase):
    """Every public symbol of the generated header has a Doxygen comment."""

    def test_every_symbol_documented(self):
        h = support.render(support.load_real_schema())[H]
        self.assertIn("@file protocol.h", h)
        h = h.replace('#ifdef __cplusplus\nextern "C" {\n#endif', "").replace("#ifdef __cplusplus\n}\n#endif", "")
        lines = h.split("\n")
        undocumented = []
        depth = 0
        for i, ln in enumerate(lines):
            prev = lines[i - 1].rstrip() if i else ""
            starts = re.match(r"^(typedef|extern|static inline|const |#define )", ln)
            if starts and depth == 0 and not ln.startswith(("#define AOP_PROTOCOL_H",)):
                if not (prev.startswith("/**") or prev.startswith(" *") or prev.startswith("/*")) \
                        or not prev.endswith("*/"):
                    undocumented.append(ln)
                elif prev.startswith("/*") and not prev.startswith("/**"):
                    undocumented.append(ln)
            if depth == 1 and ln.strip() and not ln.startswith("}") and re.search(r"[;,]( |$)", ln):
                if "/**<" not in ln and "return " not in ln:
                    undocumented.append(ln)
            depth += ln.count("{") - ln.count("}")
        self.assertEqual(undocumented, [])

    def test_member_docs_follow_the_schema(self):
        h = support.render(support.load_real_schema())[H]
        self.assertRegex(h, r"aop_str_t identity_code; /\*\*< The scanned wallet code, a live credential\. "
                            r"JSON \"identityCode\", text of at most 65535 UTF-16 units.*Mandatory\. "
                            r"SENSITIVE: a credential")
        self.assertRegex(h, r"acquirement_id; /\*\*< Unique Alipay transaction id\. JSON \"acquirementId\", id: "
                            r".*Conditional: required when body\.resultInfo\.resultCode is SUCCESS\. Decides the "
                            r"outcome when body\.resultInfo\.resultStatus is S")
        self.assertRegex(h, r"merchant_trans_id; /\*\*< JSON \"merchantTransId\".*Echo: must equal the request's "
                            r"body\.merchantTransId\.")
        self.assertRegex(h, r"value; /\*\*< JSON \"value\", amount in minor units.*\[guess\] at most 16 digits\.")
        self.assertIn(r"(\$1.00 is", h)  # Doxygen commands escaped


if __name__ == "__main__":
    unittest.main()
