/* aop: the command line of the SDK. */
#include <string.h>

#include "cli.h"
#include "sandbox.h"

int main(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        cli_usage(argc < 2 ? stderr : stdout, NULL);
        return argc < 2 ? AOP_EXIT_USAGE : AOP_EXIT_S;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "sandbox")) return aop_sandbox_main(argc - 1, argv + 1);
    cli_opts_t o;
    int rc = cli_parse(cmd, argc - 1, argv + 1, &o);
    if (rc) return rc;
    if (o.help) {
        cli_usage(stdout, cmd);
        return AOP_EXIT_S;
    }
    if (!strcmp(cmd, "keygen")) return cmd_keygen(&o);
    if (!strcmp(cmd, "keycheck")) return cmd_keycheck(&o);
    return cmd_call(cmd, &o);
}
