/* SPDX-License-Identifier: MIT */
/* aop-sandbox: see sandbox.h and `aop-sandbox --help`. */
#include "sandbox.h"

int main(int argc, char **argv) { return aop_sandbox_main(argc, argv); }
