/* SPDX-License-Identifier: MIT */
/* The PostgreSQL server of the tests (tests/support/postgres.sh, started by the CTest fixture
 * postgres; its URI in AOP_PG_STATE/uri), for the suites that run on it: an administrative
 * connection, and a journal in a schema of its own, so that tests running at once never see each
 * other's entries. Each asserts (Criterion) that it worked, saying why when the server is not
 * there. Only the PostgreSQL suites link it (and libpq). */
#ifndef AOP_TEST_PG_SUPPORT_H
#define AOP_TEST_PG_SUPPORT_H

#include <libpq-fe.h>

#include "aop/journal.h"

/* A connection to the server as the tests' administrator (PQfinish it). */
PGconn *aop_test_pg_admin(void);
/* Runs sql (a command: no rows) on a connection of its own; NOTICEs are not shown. */
void aop_test_pg_exec(const char *sql);
/* A new schema (its name, prefix_PID_N, in schema[64]) and a journal whose search_path is it. */
aop_journal_t *aop_test_pg_journal(const char *prefix, char schema[64]);
/* Drops schema and all in it ("": nothing to drop). */
void aop_test_pg_drop(const char *schema);

#endif
