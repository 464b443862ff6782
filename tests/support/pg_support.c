/* SPDX-License-Identifier: MIT */
/* The tests' PostgreSQL server (pg_support.h). */
#include "pg_support.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* The server's URI, as postgres.sh wrote it. */
static void base_uri(char *out, size_t cap) {
    FILE *f = fopen(AOP_PG_STATE "/uri", "r");
    cr_assert_not_null(f, "no PostgreSQL: %s/uri is missing, so the fixture postgres_start did not start the "
                          "server (its output says why)", AOP_PG_STATE);
    cr_assert_not_null(fgets(out, (int)cap, f));
    fclose(f);
    out[strcspn(out, "\n")] = '\0';
}

PGconn *aop_test_pg_admin(void) {
    char base[512];
    base_uri(base, sizeof base);
    PGconn *c = PQconnectdb(base);
    cr_assert_eq(PQstatus(c), CONNECTION_OK, "PostgreSQL at %s: %s", base, PQerrorMessage(c));
    return c;
}

void aop_test_pg_exec(const char *sql) {
    PGconn *c = aop_test_pg_admin();
    PGresult *r = PQexec(c, "SET client_min_messages = warning"); /* no NOTICE of a cascade */
    PQclear(r);
    r = PQexec(c, sql);
    cr_assert_eq(PQresultStatus(r), PGRES_COMMAND_OK, "%s: %s", sql, PQerrorMessage(c));
    PQclear(r);
    PQfinish(c);
}

aop_journal_t *aop_test_pg_journal(const char *prefix, char schema[64]) {
    static unsigned n;
    snprintf(schema, 64, "%s_%d_%u", prefix, (int)getpid(), n++);
    char sql[128], base[512], uri[700];
    snprintf(sql, sizeof sql, "CREATE SCHEMA %s", schema);
    aop_test_pg_exec(sql);
    base_uri(base, sizeof base);
    snprintf(uri, sizeof uri, "%s&options=-csearch_path%%3D%s", base, schema);
    aop_journal_t *j = NULL;
    aop_error_t err;
    cr_assert_eq(aop_journal_open(uri, &j, &err), AOP_OK, "%s", err.msg);
    return j;
}

void aop_test_pg_drop(const char *schema) {
    if (!schema[0]) return;
    char sql[128];
    snprintf(sql, sizeof sql, "DROP SCHEMA %s CASCADE", schema);
    aop_test_pg_exec(sql);
}
