/* util_distlab.h -- for tests that run the distlab command itself. */
#ifndef DISTLAB_TEST_UTIL_DISTLAB_H
#define DISTLAB_TEST_UTIL_DISTLAB_H

#include <stddef.h>

/* The binary: $DISTLAB (make check sets it), else distlab next to the
 * tests/ folder of the running test binary. NULL when it is not there. */
const char *test_distlab(void);

/* Run "distlab ARGS" with stdout and stderr together into out (cap bytes,
 * NUL-terminated); returns the exit status, or -1 if it did not exit. */
int test_distlab_run(char *out, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Each case's "distlab PREFIX ARGS" must exit 2 and say `says`; fails the
 * calling cmocka test otherwise. */
typedef struct test_refusal {
    const char *args, *says;
} test_refusal;
void test_distlab_refuses(const char *prefix, const test_refusal *cases, size_t n);

#endif
