/* SPDX-License-Identifier: MIT */
/* aop: the command line of the SDK. */
#include <string.h>

#include "aop/version.h"
#include "cli.h"

int main(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        cli_usage(argc < 2 ? stderr : stdout, NULL);
        return argc < 2 ? AOP_EXIT_USAGE : AOP_EXIT_S;
    }
    /* An option first (aop --help, aop --version) is parsed as the options of no command. */
    const char *cmd = argv[1][0] == '-' ? "" : argv[1];
    /* another program's options share this parser: not a command of aop */
    if (cli_program(cmd))
        return cli_fail(AOP_EXIT_USAGE, AOP_E_INVALID_ARG, NULL, "'%s' is not a command of aop: run %s", cmd,
                        cli_program(cmd));
    if (!strcmp(cmd, "sandbox")) return cli_exec_sandbox(argc - 1, argv + 1);
    int skip = *cmd ? 1 : 0; /* argv[skip] is the (last) command word, or the program's name */
    static const char *const journal_cmds[] = {"journal close", "journal prune", "journal backup"};
    for (size_t i = 0; i < sizeof journal_cmds / sizeof *journal_cmds; i++)
        if (!strcmp(cmd, "journal") && argc > 2 && !strcmp(argv[2], journal_cmds[i] + 8)) {
            cmd = journal_cmds[i];
            skip = 2;
        }
    cli_opts_t o;
    int rc = cli_parse(cmd, argc - skip, argv + skip, &o);
    if (rc) return rc;
    if (o.help) {
        cli_usage(stdout, cmd);
        return AOP_EXIT_S;
    }
    if (o.version) {
        printf("aop %s\n", aop_version());
        return AOP_EXIT_S;
    }
    if (!*cmd) {
        cli_usage(stderr, NULL);
        return AOP_EXIT_USAGE;
    }
    if (!strcmp(cmd, "keygen")) return cmd_keygen(&o);
    if (!strcmp(cmd, "keycheck")) return cmd_keycheck(&o);
    if (!strcmp(cmd, "recover")) return cmd_recover(&o);
    if (!strcmp(cmd, "journal")) return cmd_journal(&o);
    if (!strcmp(cmd, "journal close")) return cmd_journal_close(&o);
    if (!strcmp(cmd, "journal prune")) return cmd_journal_prune(&o);
    if (!strcmp(cmd, "journal backup")) return cmd_journal_backup(&o);
    return cmd_call(cmd, &o);
}
