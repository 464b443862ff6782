/* SPDX-License-Identifier: MIT */
/* A library built with AOP_JOURNAL_SQLITE=OFF (no SQLite): aop_journal_open_sqlite() stays in the
 * ABI, so libaop.so exports the same symbols whatever the build's options, and says the store
 * was left out. Compiled only in such a build (CMakeLists.txt). */
#include "aop/error.h"
#include "aop/journal.h"

#include <stddef.h>

aop_status_t aop_journal_open_sqlite(const char *path, aop_journal_t **out, aop_error_t *err) {
    (void)path;
    if (out) *out = NULL;
    return aop_error_set(err, AOP_E_CONFIG, NULL, -1,
                         "this libaop was built without the SQLite journal (AOP_JOURNAL_SQLITE=OFF); "
                         "use aop_journal_open_custom");
}
