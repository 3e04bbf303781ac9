/* util_tmpdir.h -- scratch folders for tests. */
#ifndef DISTLAB_TEST_UTIL_TMPDIR_H
#define DISTLAB_TEST_UTIL_TMPDIR_H

#include <stddef.h>

/* Make a fresh folder /tmp/distlab-TAG-XXXXXX and put its path in
 * dir[len]; returns 0, or -1 with errno set. */
int test_tmpdir(char *dir, size_t len, const char *tag);
/* Remove dir and everything under it; returns 0, or -1. */
int test_rmtree(const char *dir);

#endif
