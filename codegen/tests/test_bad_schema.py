# SPDX-License-Identifier: MIT
"""Bad schemas are refused with `schema/FILE:LINE: message`, both in-process and by the command line.

Each test copies the real schema/, breaks one line of one file, and asserts the file name and the
exact number of that line."""
import os
import re
import sys
import unittest

import yaml

sys.dont_write_bytecode = True

from . import support  # noqa: E402

REQUEST = r"^  request:"
RESPONSE = r"^  response:"


def field(name):
    """Pattern of the line that starts a field in a flow mapping."""
    return r"^\s+" + re.escape(name) + r": \{"


class BadSchemaTest(unittest.TestCase):
    def setUp(self):
        self.s = support.SchemaCopy(self)

    def assertRefused(self, file, line, *parts):
        """load_schema and the CLI both report `schema/file:line:` with every part in the message."""
        shown = f"schema/{file}"
        errors = self.s.errors()
        listing = "\n".join(str(e) for e in errors)
        hits = [e for e in errors if e.file == shown and e.line == line and all(p in e.message for p in parts)]
        self.assertTrue(hits, f"expected {shown}:{line}: ...{' ... '.join(parts)}...; got:\n{listing}")
        self.assertTrue(str(hits[0]).startswith(f"{shown}:{line}: "), str(hits[0]))
        r = support.run_cli("--schema", self.s.dir, "--out", self.s.out)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertEqual(r.stdout, "")
        lines = r.stderr.splitlines()
        self.assertTrue(lines, "nothing on stderr")
        for ln in lines:
            self.assertRegex(ln, r"^schema/[\w.]+\.yaml:\d+: \S", "every stderr line is file:line: message")
        self.assertTrue(any(ln.startswith(f"{shown}:{line}: ") and all(p in ln for p in parts) for ln in lines),
                        r.stderr)
        self.assertFalse(os.path.exists(self.s.out), "a refused schema writes nothing")
        return hits[0]

    # ---- YAML level ----
    def test_unknown_key(self):
        n = self.s.sub_line("pay.yaml", field("productCode"), r"\bflag:", "flg:", after=REQUEST)
        self.assertRefused("pay.yaml", n, "unknown key 'flg'", "productCode", "allowed:")

    def test_unknown_key_in_function(self):
        n = self.s.sub_line("refund.yaml", r"^  deadline_ms:", r"deadline_ms:", "deadline:")
        self.assertRefused("refund.yaml", n, "unknown key 'deadline'")

    def test_duplicate_yaml_key(self):
        first = self.s.find_line("pay.yaml", r"^  deadline_ms:")
        n = self.s.insert_after("pay.yaml", r"^  deadline_ms:", "  deadline_ms: 9000")
        # what the generator's loader guards against: PyYAML alone keeps the last value silently
        self.assertEqual(yaml.safe_load(self.s.read("pay.yaml"))["function"]["deadline_ms"], 9000)
        self.assertRefused("pay.yaml", n, "duplicate key 'deadline_ms'", f"first at line {first}")

    def test_duplicate_key_in_flow_mapping(self):
        n = self.s.sub_line("pay_query.yaml", field("merchantId"), r"flag: M", "flag: M, flag: O", after=REQUEST)
        self.assertRefused("pay_query.yaml", n, "duplicate key 'flag'")

    def test_duplicate_result_code_same_file(self):
        first = self.s.find_line("result_codes.yaml", r"^  RISK_REJECT:")
        n = self.s.insert_after("result_codes.yaml", r"^  RISK_REJECT:",
                                '  RISK_REJECT: {id: "99999999", status: F, meaning: Again.}')
        self.assertRefused("result_codes.yaml", n, "duplicate key 'RISK_REJECT'", f"first at line {first}")

    # ---- types ----
    def test_unknown_type(self):
        n = self.s.sub_line("pay.yaml", field("order"), r"type: \w+", "type: Ordr", after=REQUEST)
        self.assertRefused("pay.yaml", n, "unknown type 'Ordr'", "known:")

    def test_string_without_max(self):
        n = self.s.sub_line("pay.yaml", field("identityCode"), r"max: \d+, ", "", after=REQUEST)
        self.assertRefused("pay.yaml", n, "request.body.identityCode", "type string needs a max length")

    def test_id_without_max(self):
        n = self.s.sub_line("pay.yaml", field("merchantId"), r"max: \d+, ", "", after=REQUEST)
        self.assertRefused("pay.yaml", n, "request.body.merchantId", "type id needs a max length")

    def test_amount_without_max(self):
        n = self.s.sub_line("types.yaml", field("value"), r"max: \d+, ", "", after=r"^  Money:")
        self.assertRefused("types.yaml", n, "Money.value", "type amount needs a max length")

    def test_max_on_datetime(self):
        n = self.s.sub_line("types.yaml", field("reqTime"), r"type: datetime", "type: datetime, max: 20",
                            after=r"^  RequestHead:")
        self.assertRefused("types.yaml", n, "RequestHead.reqTime", "takes no max length")

    # ---- result codes ----
    def test_duplicate_result_code_in_another_file(self):
        self.s.append("types.yaml", '\nresult_codes:\n  RISK_REJECT: {id: "99999999", status: F, meaning: Again.}\n')
        n = self.s.find_line("types.yaml", r"^  RISK_REJECT:")
        self.assertRefused("types.yaml", n, "result code RISK_REJECT is defined twice")

    def test_duplicate_result_code_id(self):
        text = self.s.read("result_codes.yaml")
        with_ids = re.findall(r'^  (\w+): \{id: "(\d{8})"', text, re.M)
        self.assertGreaterEqual(len(with_ids), 2)
        (first_code, first_id), (last_code, _) = with_ids[0], with_ids[-1]
        n = self.s.sub_line("result_codes.yaml", r"^  " + last_code + r":", r'id: "\d{8}"', f'id: "{first_id}"')
        self.assertRefused("result_codes.yaml", n, f"result code {last_code}", f"id {first_id} is already used by {first_code}")

    def test_duplicate_result_code_id_in_another_file(self):
        # KNOWN GENERATOR BUG: _read_codes keeps the id -> code map per file, so a code defined in
        # another file may reuse an id; aop_codes.c then holds two codes with one id in all_by_id.
        # Remove expectedFailure once fixed.
        first_id = re.search(r'^  \w+: \{id: "(\d{8})"', self.s.read("result_codes.yaml"), re.M).group(1)
        self.s.append("types.yaml", f'\nresult_codes:\n  EXTRA_CODE: {{id: "{first_id}", status: F, meaning: x.}}\n')
        n = self.s.find_line("types.yaml", r"^  EXTRA_CODE:")
        self.assertRefused("types.yaml", n, f"id {first_id} is already used")

    def test_bad_result_code_status(self):
        n = self.s.sub_line("result_codes.yaml", r"^  RISK_REJECT:", r"status: F", "status: X")
        self.assertRefused("result_codes.yaml", n, "RISK_REJECT", "status must be S, F or U")

    def test_unknown_result_code_in_function(self):
        n = self.s.sub_line("pay.yaml", r"^    codes: \[", r"\[", "[NO_SUCH_CODE, ")
        self.assertRefused("pay.yaml", n, "unknown result code 'NO_SUCH_CODE'")

    # ---- conditions and echoes ----
    def test_when_names_missing_field(self):
        n = self.s.sub_line("pay.yaml", r"when: \{field: body\.resultInfo\.resultCode",
                            r"body\.resultInfo\.resultCode", "body.resultInfo.resultKode", after=RESPONSE)
        self.assertRefused("pay.yaml", n, "'body.resultInfo.resultKode'", "not a field of the response")

    def test_outcome_equals_unknown_enum_value(self):
        # acquirementId's outcome condition sits on the field's second line: that line is reported
        n = self.s.sub_line("pay.yaml", r"outcome: \{field: body\.resultInfo\.resultStatus, equals: S\}",
                            r"equals: S\}", "equals: X}", after=(RESPONSE, field("acquirementId")))
        self.assertGreater(n, self.s.find_line("pay.yaml", field("acquirementId"), after=RESPONSE))
        self.assertRefused("pay.yaml", n, "outcome condition", "'X' is not a value of ResultStatusEnum")

    def test_echo_names_missing_request_field(self):
        n = self.s.sub_line("refund.yaml", field("merchantRefundId"), r"echo: body\.merchantRefundId",
                            "echo: body.merchantRefundID", after=RESPONSE)
        self.assertRefused("refund.yaml", n, "echo names 'body.merchantRefundID'", "not a field of the request")

    def test_echo_of_another_type(self):
        n = self.s.sub_line("pay_query.yaml", field("merchantTransId"), r"echo: body\.merchantTransId",
                            "echo: body.merchantId", after=RESPONSE)
        self.s.sub_line("pay_query.yaml", field("merchantId"), r"type: id, max: \d+",
                        "type: SiteEnum", after=REQUEST)
        self.assertRefused("pay_query.yaml", n, "echo of 'body.merchantId' has another type")

    def test_echo_error_points_at_the_echo_line(self):
        # KNOWN WEAKNESS: echo errors are reported at the field's first line, not at the line of
        # its `echo:` key; pay.yaml's response merchantTransId spans two lines, echo on the second.
        n = self.s.sub_line("pay.yaml", r"echo: body\.merchantTransId", r"echo: body\.merchantTransId",
                            "echo: body.merchantTransID", after=(RESPONSE, field("merchantTransId")))
        self.assertRefused("pay.yaml", n, "echo names 'body.merchantTransID'")

    def test_conditional_without_when(self):
        n = self.s.sub_line("refund.yaml", field("refundId"), r"when: \{[^}]*\},? *", "", after=RESPONSE)
        self.assertRefused("refund.yaml", n, "response.body.refundId", "needs `when` or a one_of group")

    # ---- names ----
    def test_field_name_is_c_keyword(self):
        n = self.s.sub_line("pay.yaml", field("settleContractId"), r"settleContractId:", "int:", after=REQUEST)
        self.assertRefused("pay.yaml", n, "field 'int' becomes the C keyword 'int'")

    def test_field_name_becomes_c_keyword(self):
        n = self.s.sub_line("pay.yaml", field("settleContractId"), r"settleContractId:", "Default:", after=REQUEST)
        self.assertRefused("pay.yaml", n, "field 'Default' becomes the C keyword 'default'")

    def test_field_name_not_identifier(self):
        n = self.s.sub_line("pay.yaml", field("settleContractId"), r"settleContractId:", "settle_contract_id:",
                            after=REQUEST)
        self.assertRefused("pay.yaml", n, "field name 'settle_contract_id' is not an identifier")

    def test_fields_clash_after_snake_case(self):
        # merchantId and MerchantId are different JSON names but both become merchant_id
        n = self.s.sub_line("pay.yaml", field("settleContractId"), r"settleContractId:", "MerchantId:", after=REQUEST)
        self.assertRefused("pay.yaml", n, "field 'MerchantId' clashes with 'merchantId'", "('merchant_id')")

    def test_fields_clash_in_shared_type(self):
        # snake("OSType") == "os_type" == snake("osType")
        n = self.s.sub_line("types.yaml", field("userAgent"), r"userAgent:", "OSType:", after=r"^  EnvInfo:")
        self.assertRefused("types.yaml", n, "field 'OSType' clashes with 'osType'", "('os_type')")

    def test_field_clashes_with_has_flag_declared_before(self):
        # an optional object gets a `has_<name>` member: a field hasEnvInfo before envInfo clashes
        self.s.sub_line("pay.yaml", field("settleContractId"), r"settleContractId:", "hasEnvInfo:", after=REQUEST)
        n = self.s.find_line("pay.yaml", field("envInfo"), after=REQUEST)
        self.assertRefused("pay.yaml", n, "field 'envInfo' clashes with 'hasEnvInfo'", "('env_info')")

    def test_field_clashes_with_has_flag_declared_after(self):
        # KNOWN GENERATOR BUG: the has_ clash check only looks backwards (a `has_x` field seen
        # before `x`), so hasEnvInfo declared AFTER the optional object envInfo is accepted and
        # aop_offline_pay_request_body_t gets two members named has_env_info (does not compile).
        n = self.s.sub_line("pay.yaml", field("extendInfo"), r"extendInfo:", "hasEnvInfo:", after=REQUEST)
        self.assertRefused("pay.yaml", n, "hasEnvInfo", "clashes")

    # ---- enums, flags, samples ----
    def test_enum_value_unknown(self):
        n = self.s.sub_line("enums.yaml", r"^    values: \[", r"\[", "[UNKNOWN, ", after=r"^  SiteEnum:")
        self.assertRefused("enums.yaml", n, "enum SiteEnum: UNKNOWN is reserved")

    def test_enum_value_duplicate(self):
        n = self.s.sub_line("enums.yaml", r"^    values: \[", r"\]", ", S]", after=r"^  ResultStatusEnum:")
        self.assertRefused("enums.yaml", n, "enum ResultStatusEnum: duplicate value S")

    def test_bad_flag(self):
        n = self.s.sub_line("pay.yaml", field("codeType"), r"flag: \w+", "flag: X", after=REQUEST)
        self.assertRefused("pay.yaml", n, "request.body.codeType", "flag must be one of M, O, C, ME, CE, not 'X'")

    def test_missing_flag(self):
        n = self.s.sub_line("pay_cancel.yaml", field("merchantId"), r"flag: \w+, ", "", after=REQUEST)
        self.assertRefused("pay_cancel.yaml", n, "request.body.merchantId", "flag must be one of")

    def test_mandatory_field_without_sample(self):
        n = self.s.sub_line("pay.yaml", field("productCode"), r", sample: \w+", "", after=REQUEST)
        self.assertRefused("pay.yaml", n, "request.body.productCode", "a mandatory field needs a sample")

    def test_sample_not_a_string(self):
        n = self.s.sub_line("types.yaml", field("value"), r'sample: "100"', "sample: 100", after=r"^  Money:")
        self.assertRefused("types.yaml", n, "Money.value", "sample must be a string")

    def test_bad_role(self):
        n = self.s.sub_line("pay.yaml", field("identityCode"), r"roles: \[sensitive\]", "roles: [secret]",
                            after=REQUEST)
        self.assertRefused("pay.yaml", n, "unknown role 'secret'")

    def test_every_error_is_reported(self):
        # two unrelated mistakes in two files: both are listed, not only the first
        a = self.s.sub_line("pay.yaml", field("codeType"), r"flag: \w+", "flag: X", after=REQUEST)
        b = self.s.sub_line("refund.yaml", field("merchantId"), r"flag: \w+", "flag: Y", after=REQUEST)
        got = {(e.file, e.line) for e in self.s.errors()}
        self.assertIn(("schema/pay.yaml", a), got)
        self.assertIn(("schema/refund.yaml", b), got)
