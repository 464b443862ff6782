# SPDX-License-Identifier: MIT
"""The pay function's result-code table matches the seed: 14 common + 19 pay-specific codes."""
import os
import re
import sys
import unittest

sys.dont_write_bytecode = True

from . import support  # noqa: E402

PAY = "alipay.intl.acquiring.offline.pay"

# code: (id or None, status), as the seed (seed/offline-pay-api.txt, SPEC.md section 5) lists them.
COMMON = {
    "SUCCESS": ("00000000", "S"),
    "PROCESS_FAIL": ("00000019", "F"),
    "UNKNOWN_EXCEPTION": ("00000901", "U"),
    "PARAM_ILLEGAL": ("00000004", "F"),
    "INVALID_SIGNATURE": ("00000007", "F"),
    "KEY_NO_FOUND": ("00000008", "F"),
    "NO_INTERFACE_DEF": ("00000013", "F"),
    "API_IS_INVALID": ("00000014", "F"),
    "OAUTH_FAILED": ("00000016", "F"),
    "ACCESS_DENIED": ("00000021", "F"),
    "CLIENT_FORBIDDEN_ACCESS_API": ("12014152", "F"),
    "UNKNOWN_CLIENT": ("12014155", "F"),
    "INVALID_CLIENT_STATUS": ("12014156", "F"),
    "REQUEST_TRAFFIC_EXCEED_LIMIT": ("00000024", "F"),
}
PAY_SPECIFIC = {
    "REPEAT_REQ_INCONSISTENT": ("00000025", "F"),
    "RISK_REJECT": ("00000011", "F"),
    "QUERY_CONTRACT_VALUE_NULL": (None, "F"),
    "CONTRACT_STATUS_INVALID": (None, "F"),
    "USER_NOT_EXIST": ("12002005", "F"),
    "USER_STATUS_ABNORMAL": ("12002006", "F"),
    "CURRENCY_NOT_SUPPORT": ("12005001", "F"),
    "AMOUNT_EXCEED_LIMIT": ("12005104", "F"),
    "COUNT_EXCEED_LIMIT": ("12005128", "F"),
    "USER_BALANCE_NOT_ENOUGH": ("12006004", "F"),
    "IDENTITY_CODE_INVALID": ("12005131", "F"),
    "IDENTITY_CODE_NOT_SUPPORT": ("12005132", "F"),
    "PAYMENT_IN_PROCESS": ("12005124", "U"),
    "ORDER_IS_CLOSED": ("12005100", "F"),
    "ORDER_STATUS_INVALID": ("12005003", "F"),
    "USER_AMOUNT_EXCEED_LIMIT": ("12002046", "F"),
    "USER_REALNAME_STATUS_INVALID": ("12002004", "F"),
    "USER_NO_PAYMENT_INSTRUMENT": ("12002010", "F"),
    "USER_BALANCE_PAY_OFF": ("12002003", "F"),
}
SEED = {**COMMON, **PAY_SPECIFIC}
NO_ID = {"QUERY_CONTRACT_VALUE_NULL", "CONTRACT_STATUS_INVALID"}

RC_LINE = re.compile(r'^static const aop_result_code_t rc_(\w+) = \{\n'
                     r'    \.code = "(\w+)",\n'
                     r'    \.id = (NULL|"(\d{8})"),\n'
                     r'    \.status = \'([SFU])\',\n'
                     r'    \.meaning = "(.*)",\n'
                     r'\};$', re.M)


def parse_codes_c(text, fn_c, fn_name):
    """(every rc_ definition, the function's by_code list, its by_id list, its table line)."""
    rcs = {}
    for var, code, _, id_, status, _meaning in RC_LINE.findall(text):
        assert var == code.lower(), (var, code)
        rcs[code] = (id_ or None, status)
    start = text.index(f"/* {fn_name} */\n")
    end = text.index(f"const aop_result_table_t aop_{fn_c}_codes", start)
    block = text[start:end]

    def refs(name):
        m = re.search(r"static const aop_result_code_t \*const " + name + r"\[(\d+)\] = \{\n(.*?)\};", block, re.S)
        assert m, name
        items = re.findall(r"^    &rc_(\w+),$", m.group(2), re.M)
        assert int(m.group(1)) == len(items), name
        return items

    table = text[end:text.index("\n};", end) + 3]
    return rcs, refs(f"{fn_c}_by_code"), refs(f"{fn_c}_by_id"), table


class PayCodesTest(unittest.TestCase):
    def test_seed_counts(self):
        self.assertEqual((len(COMMON), len(PAY_SPECIFIC), len(SEED)), (14, 19, 33))

    def test_schema_pay_table(self):
        schema = support.load_real_schema()
        fn = next(f for f in schema.functions if f.name == PAY)
        got = {c.code: (c.id, c.status) for c in fn.codes}
        self.assertEqual(len(fn.codes), 33)
        self.assertEqual(got, SEED)
        for code in NO_ID:
            self.assertIsNone(schema.codes[code].id, code)
        for code in SEED:
            self.assertTrue(schema.codes[code].meaning, code)

    def _check_codes_c(self, text, where):
        rcs, by_code, by_id, table = parse_codes_c(text, "offline_pay", PAY)
        for code, (id_, status) in SEED.items():
            self.assertEqual(rcs.get(code), (id_, status), f"{where}: rc_{code.lower()}")
        for code in NO_ID:
            self.assertIn(f'rc_{code.lower()} = {{\n    .code = "{code}",\n    .id = NULL,\n    .status = \'F\',',
                          text, where)
        codes = [c.upper() for c in by_code]
        self.assertEqual(len(codes), 33, where)
        self.assertEqual(set(codes), set(SEED), where)
        self.assertEqual(codes, sorted(codes, key=str.encode), f"{where}: by_code is sorted by bytes")
        id_codes = [c.upper() for c in by_id]
        self.assertEqual(len(id_codes), 31, where)
        self.assertEqual(set(id_codes), set(SEED) - NO_ID, where)
        ids = [SEED[c][0] for c in id_codes]
        self.assertEqual(ids, sorted(ids), f"{where}: by_id is sorted by id")
        self.assertEqual(table, "const aop_result_table_t aop_offline_pay_codes = {\n"
                                "    .count = 33,\n    .by_code = offline_pay_by_code,\n"
                                "    .n_ids = 31,\n    .by_id = offline_pay_by_id,\n};", where)
        # the table of every code holds the pay codes too, the two without id not in by_id
        all_block = text[text.index("/* Every code of the schema. */"):text.index("const aop_result_table_t aop_all_codes")]
        by_id_all = all_block[all_block.index("all_by_id"):]
        for code in SEED:
            self.assertIn(f"&rc_{code.lower()},", all_block, where)
        for code in NO_ID:
            self.assertNotIn(f"&rc_{code.lower()},", by_id_all, where)

    def test_committed_aop_codes_c(self):
        with open(os.path.join(support.GENERATED_DIR, "aop_codes.c"), encoding="utf-8") as f:
            self._check_codes_c(f.read(), "generated/aop_codes.c")

    def test_rendered_aop_codes_c(self):
        self._check_codes_c(support.render(support.load_real_schema())["aop_codes.c"], "rendered aop_codes.c")

    def test_header_defines_every_code(self):
        header = support.render(support.load_real_schema())["include/aop/protocol.h"]
        for code in SEED:
            self.assertIn(f'#define AOP_RC_{code} "{code}"\n', header)
