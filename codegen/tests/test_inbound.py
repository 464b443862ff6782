# SPDX-License-Identifier: MIT
"""The direction of a function (`direction: inbound`, Alipay calls the merchant): the roles of its
two messages are reversed in every output, `decides` marks the deciding members of the received
request, and the checks that keep those keys where they mean something."""
import os
import re
import sys
import unittest

sys.dont_write_bytecode = True

from . import support  # noqa: E402
from . import test_bad_schema  # noqa: E402

H, M, F, CASES, CALLS, SAMPLES = ("include/aop/protocol.h", "aop_model.c", "aop_functions.c",
                                  "tests/conformance_cases.c", "include/aop/calls.h", "tests/samples.h")
NOTIFY = "notify_pay.yaml"


def case(cases_c, name):
    """(expect, path, severity) of a generated conformance case."""
    for row in support.case_rows(cases_c):
        if row[0] == name:
            return row[4], row[5], row[6]
    raise AssertionError(f"no case {name}")


class RealSchemaTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.schema = support.load_real_schema()
        cls.out = support.render(cls.schema)

    def test_the_notification_is_inbound_and_the_calls_are_not(self):
        inbound = [fn.name for fn in self.schema.functions if fn.inbound]
        self.assertEqual(inbound, ["alipay.intl.acquiring.offline.notify.pay"])
        fn = next(f for f in self.schema.functions if f.inbound)
        self.assertTrue(fn.request.received and fn.request_body.received)
        self.assertFalse(fn.response.received or fn.response_body.received)
        for other in self.schema.functions:
            if not other.inbound:
                self.assertFalse(other.request.received, other.name)
                self.assertTrue(other.response.received, other.name)

    def test_tables_keep_the_calls_apart(self):
        h, f = self.out[H], self.out[F]
        self.assertIn("#define AOP_FUNCTION_COUNT 4\n", h)
        self.assertIn("#define AOP_INBOUND_FUNCTION_COUNT 1\n", h)
        table = re.search(r"aop_functions\[AOP_FUNCTION_COUNT\] = \{\n(.*?)\};", f, re.S).group(1)
        self.assertNotIn("notify", table)
        inbound = re.search(r"aop_inbound_functions\[AOP_INBOUND_FUNCTION_COUNT\] = \{\n(.*?)\};", f, re.S).group(1)
        self.assertEqual(inbound.split(), ["&aop_fn_notify_pay,"])
        desc = re.search(r"const aop_function_desc_t aop_fn_notify_pay = \{\n(.*?)\};", f, re.S).group(1)
        self.assertIn(".inbound = true,", desc)
        self.assertNotIn(".path", desc)
        self.assertNotIn(".deadline_ms", desc)
        self.assertNotIn("aop_notify_pay(", self.out[CALLS], "aop_call() refuses an inbound function: no typed call")
        self.assertIn("&aop_fn_notify_pay,", self.out[SAMPLES], "its messages have samples and cases")

    def test_typed_decoders_follow_the_direction(self):
        h = self.out[H]

        def strict(fn_c, direction):
            m = re.search(r"aop_decode\(&aop_" + fn_c + "_" + direction + r'_desc, doc, tok, buf, m, "'
                          + direction + r'", (true|false),', h)
            return m.group(1) == "true"

        self.assertTrue(strict("offline_pay", "request"))
        self.assertFalse(strict("offline_pay", "response"))
        self.assertFalse(strict("notify_pay", "request"), "the merchant receives the notification")
        self.assertTrue(strict("notify_pay", "response"), "and sends the answer")

    def test_deciding_members_reach_the_descriptors(self):
        model_c = self.out[M]
        for name in ("resultInfo", "acquirementId", "merchantTransId", "orderAmount"):
            self.assertIn(".decides = true,", support.descriptor(model_c, "notify_pay_request_body", name), name)
        for name in ("merchantId", "payAmount", "paymentTime", "extendInfo"):
            self.assertNotIn(".decides", support.descriptor(model_c, "notify_pay_request_body", name), name)
        self.assertEqual(model_c.count(".decides = true,"), 4, "on the notification's deciding members only")

    def test_rules_of_a_deciding_member_fail_the_notification(self):
        c = self.out[CASES]
        self.assertEqual(case(c, "notify_pay_request_body_merchant_trans_id_over_max"),
                         ("AOP_E_TOO_LONG", "request.body.merchantTransId", "FATAL"))
        self.assertEqual(case(c, "notify_pay_request_body_order_amount_currency_bad_currency_0"),
                         ("AOP_E_BAD_CURRENCY", "request.body.orderAmount.currency", "FATAL"))
        self.assertEqual(case(c, "notify_pay_request_body_order_amount_value_missing"),
                         ("AOP_E_MISSING", "request.body.orderAmount.value", "FATAL"))
        self.assertEqual(case(c, "notify_pay_request_body_result_info_result_code_control_c0"),
                         ("AOP_E_CONTROL_CHAR", "request.body.resultInfo.resultCode", "FATAL"))
        self.assertEqual(case(c, "notify_pay_request_body_acquirement_id_missing"),
                         ("AOP_E_MISSING", "request.body.acquirementId", "FATAL"))

    def test_the_rest_of_a_notification_is_a_warning(self):
        c = self.out[CASES]
        # absent, a deciding member fails only by its outcome: with no orderAmount a query decides
        self.assertEqual(case(c, "notify_pay_request_body_order_amount_missing"),
                         ("AOP_E_MISSING", "request.body.orderAmount", "WARNING"))
        self.assertEqual(case(c, "notify_pay_request_body_result_info_result_msg_control_c0"),
                         ("AOP_E_CONTROL_CHAR", "request.body.resultInfo.resultMsg", "WARNING"))
        self.assertEqual(case(c, "notify_pay_request_body_pay_amount_value_bad_amount_0"),
                         ("AOP_E_BAD_AMOUNT", "request.body.payAmount.value", "WARNING"))
        self.assertEqual(case(c, "notify_pay_request_head_req_msg_id_over_max"),
                         ("AOP_E_TOO_LONG", "request.head.reqMsgId", "WARNING"))

    def test_the_answer_is_sent_strictly(self):
        c = self.out[CASES]
        self.assertEqual(case(c, "notify_pay_response_body_result_info_result_msg_control_c0"),
                         ("AOP_E_CONTROL_CHAR", "response.body.resultInfo.resultMsg", "ERROR"))
        self.assertEqual(case(c, "notify_pay_response_head_req_msg_id_missing"),
                         ("AOP_E_MISSING", "response.head.reqMsgId", "ERROR"))
        self.assertEqual(case(c, "notify_pay_response_echo_head_req_msg_id"),
                         ("AOP_E_ECHO_MISMATCH", "response.head.reqMsgId", "ERROR"))
        # the calls' messages keep their roles
        self.assertEqual(case(c, "offline_pay_request_body_merchant_trans_id_over_max")[2], "ERROR")
        self.assertEqual(case(c, "offline_pay_response_body_acquirement_id_over_max")[2], "WARNING")

    def test_docs_name_the_direction(self):
        h = self.out[H]
        self.assertIn("alipay.intl.acquiring.offline.notify.pay, inbound: Alipay sends the request", h)
        self.assertIn("A deciding member: when present, a value breaking any rule", h)
        self.assertIn("fails the notification", h)


class RefusedTest(unittest.TestCase):
    """Refusals of the direction and of what a received message may carry (assertRefused: in-process
    and CLI, file and line)."""
    setUp = test_bad_schema.BadSchemaTest.setUp
    assertRefused = test_bad_schema.BadSchemaTest.assertRefused

    def test_unknown_direction(self):
        n = self.s.sub_line(NOTIFY, r"^  direction: inbound$", "inbound", "sideways")
        self.assertRefused(NOTIFY, n, "function direction must be outbound")

    def test_inbound_has_no_path_or_deadline(self):
        n = self.s.insert_after(NOTIFY, r"^  direction: inbound$", "  path: /notify.htm\n  deadline_ms: 1000")
        self.assertRefused(NOTIFY, n, "an inbound function has no path")
        self.assertRefused(NOTIFY, n + 1, "an inbound function has no deadline_ms")

    def test_outbound_needs_its_path(self):
        n = self.s.find_line("pay.yaml", r"^  name: ")
        self.s.remove_line("pay.yaml", r"^  path: ")
        self.assertRefused("pay.yaml", n, "function: path is required")

    def test_decides_only_on_a_received_request(self):
        s = self.s
        s.sub_line("pay.yaml", r"^      merchantTransId: \{", r"flag: ME,", "flag: ME, decides: true,",
                   after=r"^  request:")
        s.sub_line("pay.yaml", r"^      userId: \{", r"flag: O,", "flag: O, decides: true,", after=r"^  response:")
        s.sub_line(NOTIFY, r"^      resultInfo: \{type: ResultInfo, flag: M\}", r"flag: M", "flag: M, decides: true",
                   after=r"^  response:")
        errors = [str(e) for e in s.errors()]
        self.assertEqual(sum("`decides: true` marks a deciding member" in e for e in errors), 3, errors)

    def test_decides_not_on_a_shared_type(self):
        n = self.s.sub_line("types.yaml", r"^      currency: \{", r"flag: M,", "flag: M, decides: true,",
                            after=r"^  Money:")
        self.assertRefused("types.yaml", n, "a shared type's field may not have `decides`")

    def test_decides_is_true_or_absent(self):
        n = self.s.sub_line(NOTIFY, r"^      merchantTransId: \{", r"decides: true", "decides: \"true\"")
        self.assertRefused(NOTIFY, n, "`decides: true` marks a deciding member")

    def test_no_roles_on_a_received_request(self):
        n = self.s.sub_line(NOTIFY, r"^      merchantTransId: \{", r"flag: M,", "flag: M, roles: [idempotency_key],")
        self.assertRefused(NOTIFY, n, "roles concern what the merchant sends")

    def test_no_outcome_on_a_sent_message(self):
        s = self.s
        s.sub_line(NOTIFY, r"^      resultInfo: \{type: ResultInfo, flag: M\}", r"flag: M", "flag: M, outcome: always",
                   after=r"^  response:")
        s.sub_line("refund.yaml", r"^      refundReason: \{", r"flag: O,", "flag: O, outcome: always,")
        errors = [str(e) for e in s.errors()]
        self.assertEqual(sum("`outcome` judges what the merchant receives" in e for e in errors), 2, errors)

    def test_a_second_inbound_function_without_a_path_is_no_clash(self):
        s = self.s
        text = s.read(NOTIFY).replace("name: alipay.intl.acquiring.offline.notify.pay",
                                      "name: alipay.intl.acquiring.offline.notify.refund")
        s.write("notify_refund.yaml", text.replace("c_name: notify_pay", "c_name: notify_refund"))
        out = s.generate()
        self.assertIn("#define AOP_INBOUND_FUNCTION_COUNT 2\n", out[H])
        self.assertIn("#define AOP_FUNCTION_COUNT 4\n", out[H])

    def test_no_inbound_function_makes_no_inbound_table(self):
        s = self.s
        os.remove(s.path(NOTIFY))
        out = s.generate()
        self.assertIn("#define AOP_INBOUND_FUNCTION_COUNT 0\n", out[H])
        self.assertNotIn("aop_inbound_functions[", out[H] + out[F])


if __name__ == "__main__":
    unittest.main()
