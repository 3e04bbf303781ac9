/* util_distlab.c -- find and run the distlab command from a test. */
#define _GNU_SOURCE
#include "tests/util_distlab.h"

#include <libgen.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

const char *test_distlab(void)
{
    static char path[PATH_MAX];
    const char *env = getenv("DISTLAB");
    if (env && *env) {
        snprintf(path, sizeof path, "%s", env);
    } else {
        char self[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
        if (n <= 0)
            return NULL;
        self[n] = '\0';
        snprintf(path, sizeof path, "%.*s/../distlab", PATH_MAX - 16, dirname(self));
    }
    return access(path, X_OK) == 0 ? path : NULL;
}

int test_distlab_run(char *out, size_t cap, const char *fmt, ...)
{
    const char *bin = test_distlab();
    char args[4096], cmd[PATH_MAX + 4200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    out[0] = '\0';
    if (!bin)
        return -1;
    snprintf(cmd, sizeof cmd, "%s %s 2>&1", bin, args);
    FILE *p = popen(cmd, "r");
    if (!p)
        return -1;
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = '\0';
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

void test_distlab_refuses(const char *prefix, const test_refusal *cases, size_t n)
{
    if (!test_distlab())
        fail_msg("no distlab binary (set DISTLAB)");
    for (size_t c = 0; c < n; c++) {
        char out[4096];
        int st = test_distlab_run(out, sizeof out, "%s %s", prefix, cases[c].args);
        if (st != 2 || !strstr(out, cases[c].says))
            fail_msg("distlab %s %s: exit status %d, expected 2 and '%s' in: %s", prefix,
                     cases[c].args, st, cases[c].says, out);
    }
}
