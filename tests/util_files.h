/* util_files.h -- scratch folders and files for tests. */
#ifndef DISTLAB_TEST_UTIL_FILES_H
#define DISTLAB_TEST_UTIL_FILES_H

#include <stddef.h>

/* Make a fresh folder /tmp/distlab-TAG-XXXXXX and put its path in
 * dir[len]; returns 0, or -1 with errno set. */
int test_tmpdir(char *dir, size_t len, const char *tag);
/* Remove dir and everything under it; returns 0, or -1. */
int test_rmtree(const char *dir);
/* Read path into buf, its size into *n; 0, or -1 when it cannot be read
 * or holds more than cap bytes. */
int test_read_file(const char *path, char *buf, size_t cap, size_t *n);

#endif
