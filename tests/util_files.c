/* util_files.c -- scratch folders and files for tests (see util_files.h). */
#define _XOPEN_SOURCE 700
#include "tests/util_files.h"

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

int test_read_file(const char *path, char *buf, size_t cap, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    *n = fread(buf, 1, cap, f);
    int rc = ferror(f) || fgetc(f) != EOF ? -1 : 0; /* more than cap is an error too */
    fclose(f);
    return rc;
}
