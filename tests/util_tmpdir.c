/* util_tmpdir.c -- scratch folders for tests (see util_tmpdir.h). */
#define _XOPEN_SOURCE 700
#include "tests/util_tmpdir.h"

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>

int test_tmpdir(char *dir, size_t len, const char *tag)
{
    if ((size_t)snprintf(dir, len, "/tmp/distlab-%s-XXXXXX", tag) >= len) {
        errno = ENAMETOOLONG;
        return -1;
    }
    return mkdtemp(dir) ? 0 : -1;
}

static int remove_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st, (void)type, (void)ftw;
    return remove(path);
}

int test_rmtree(const char *dir)
{
    /* depth first, not following links */
    return nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}
