# SPDX-License-Identifier: MIT
"""Edits of the schema show up in the generated header, model and conformance cases."""
import re
import sys
import unittest

sys.dont_write_bytecode = True

from . import support  # noqa: E402
from aopgen.cases import build_cases, expected_case_count  # noqa: E402

REQUEST = r"^  request:"
RESPONSE = r"^  response:"
H, C, CASES = "include/aop/protocol.h", "aop_model.c", "tests/conformance_cases.c"


def field(name):
    return r"^\s+" + re.escape(name) + r": \{"


def bound(header, macro):
    m = re.search(r"^#define " + macro + r" (\d+)$", header, re.M)
    return int(m.group(1)) if m else None


class SchemaChangeTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.base = support.render(support.load_real_schema())
        cls.base_count = support.expected_cases_macro(cls.base[CASES])

    def setUp(self):
        self.s = support.SchemaCopy(self)

    def generate(self):
        """Generates the edited copy; checks the cases file is self-consistent; returns the texts."""
        schema = self.s.load()
        self.assertEqual(expected_case_count(schema), len(build_cases(schema)))
        out = self.s.generate()
        rows = support.case_rows(out[CASES])
        self.assertEqual(len(rows), support.expected_cases_macro(out[CASES]), "EXPECTED_CASES vs cases[]")
        self.assertEqual(len(rows), len(build_cases(schema)))
        names = [r[0] for r in rows]
        self.assertEqual(len(names), len(set(names)), "case names are unique")
        return out

    def test_baseline(self):
        self.assertEqual(bound(self.base[H], "AOP_OFFLINE_PAY_REQUEST_BODY_SETTLE_CONTRACT_ID_MAX"), 64)
        self.assertIn("settle_contract_id", self.base[H])
        self.assertEqual(len(support.case_rows(self.base[CASES])), self.base_count)

    def test_rename_and_new_max(self):
        self.s.sub_line("pay.yaml", field("settleContractId"), r"settleContractId: \{type: id, max: \d+",
                        "settlementContractId: {type: id, max: 80", after=REQUEST)
        out = self.generate()
        h, c, cases = out[H], out[C], out[CASES]
        # header: the member and the bound macro follow the new name and length
        self.assertEqual(bound(h, "AOP_OFFLINE_PAY_REQUEST_BODY_SETTLEMENT_CONTRACT_ID_MAX"), 80)
        self.assertIsNone(bound(h, "AOP_OFFLINE_PAY_REQUEST_BODY_SETTLE_CONTRACT_ID_MAX"))
        self.assertRegex(h, r"aop_str_t settlement_contract_id; /\*\*< JSON \"settlementContractId\", id: text of 1 "
                            r"to 80 UTF-16 units, never empty, no control character\. Optional\. ")
        for rel in (H, C, CASES):
            self.assertNotIn("settle_contract_id", out[rel], rel)
            self.assertNotIn("settleContractId", out[rel], rel)
        # model: the descriptor names the JSON key and the C member, with the new max
        self.assertIn('"settlementContractId"', c)
        self.assertIn("offsetof(aop_offline_pay_request_body_t, settlement_contract_id)", c)
        # cases: renamed, the length rules at the new max, and the same count as before
        prefix = "offline_pay_request_body_settlement_contract_id_"
        rows = {r[0]: r for r in support.case_rows(cases)}
        self.assertEqual(rows[prefix + "over_max"][4], "AOP_E_TOO_LONG")
        self.assertEqual(rows[prefix + "over_max"][5], "request.body.settlementContractId")
        self.assertIn("rep('a', 80, \"\")", support.mutate_body(cases, prefix + "at_max"))
        self.assertIn("rep('a', 81, \"\")", support.mutate_body(cases, prefix + "over_max"))
        self.assertIn("rq->body.settlement_contract_id =", support.mutate_body(cases, prefix + "over_max"))
        self.assertEqual(support.expected_cases_macro(cases), self.base_count)
        # nothing else moved: the other functions' cases are the same
        other = [r for r in support.case_rows(cases) if not r[0].startswith("offline_pay_request_")]
        base_other = [r for r in support.case_rows(self.base[CASES]) if not r[0].startswith("offline_pay_request_")]
        self.assertEqual([r[0] for r in other], [r[0] for r in base_other])

    def test_max_of_shared_type(self):
        old = bound(self.base[H], "AOP_MONEY_VALUE_MAX")
        self.assertIsNotNone(old)
        self.s.sub_line("types.yaml", field("value"), r"max: \d+", f"max: {old + 2}", after=r"^  Money:")
        out = self.generate()
        self.assertEqual(bound(out[H], "AOP_MONEY_VALUE_MAX"), old + 2)
        body = support.mutate_body(out[CASES], "refund_request_body_refund_amount_value_over_max")
        self.assertIn(f"rep('1', {old + 3}, \"\")", body)
        self.assertEqual(support.expected_cases_macro(out[CASES]), self.base_count)

    def test_optional_to_mandatory_adds_missing_and_empty(self):
        self.s.sub_line("pay.yaml", field("extendInfo"), r"flag: O", "flag: M", after=REQUEST)
        out = self.generate()
        self.assertEqual(support.expected_cases_macro(out[CASES]), self.base_count + 2)
        rows = {r[0]: r for r in support.case_rows(out[CASES])}
        self.assertEqual(rows["offline_pay_request_body_extend_info_missing"][4], "AOP_E_MISSING")
        self.assertEqual(rows["offline_pay_request_body_extend_info_empty"][4], "AOP_E_EMPTY")
        self.assertRegex(out[H], r"extend_info; /\*\*< JSON text\. JSON \"extendInfo\", text of at most 2048 UTF-16 "
                                 r"units, no control character when sent\. Mandatory\. ")

    def test_optional_id_to_mandatory_adds_missing_only(self):
        # an id already has its "empty" case while optional
        self.assertIn('"offline_pay_request_body_settle_contract_id_empty"', self.base[CASES])
        self.s.sub_line("pay.yaml", field("settleContractId"), r"flag: O", "flag: M", after=REQUEST)
        out = self.generate()
        self.assertEqual(support.expected_cases_macro(out[CASES]), self.base_count + 1)
        rows = {r[0]: r for r in support.case_rows(out[CASES])}
        self.assertEqual(rows["offline_pay_request_body_settle_contract_id_missing"][4], "AOP_E_MISSING")

    def test_removed_field_removes_its_cases(self):
        self.s.remove_line("pay.yaml", field("userLoginId"), after=RESPONSE)
        out = self.generate()
        # an optional string: at_max, over_max, multibyte_at_max, astral_over_max, bad_utf8, nul,
        # control_c0, control_del, control_c1
        self.assertEqual(support.expected_cases_macro(out[CASES]), self.base_count - 9)
        self.assertNotIn("user_login_id", out[H])
        self.assertNotIn("user_login_id", out[CASES])

    def test_new_result_code(self):
        self.s.sub_line("pay.yaml", r"^    codes: \[", r"\[", "[ORDER_NOT_EXIST, ")
        out = self.generate()
        self.assertIn("const aop_result_table_t aop_offline_pay_codes = {\n    .count = 34,\n"
                      "    .by_code = offline_pay_by_code,\n    .n_ids = 31,\n", out["aop_codes.c"])

    def test_generation_is_deterministic_after_edit(self):
        self.s.sub_line("pay.yaml", field("settleContractId"), r"flag: O", "flag: M", after=REQUEST)
        first = support.render(self.s.load())
        second = support.render(self.s.load())
        self.assertEqual(first, second)
