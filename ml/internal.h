/* internal.h -- small helpers shared by the files of ml/, not part of its
 * interface: the error-buffer writer and checked allocation sizes.
 */
#ifndef DISTLAB_ML_INTERNAL_H
#define DISTLAB_ML_INTERNAL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include "ml/data.h"

/* Write a message into the caller's buffer (when it has one); returns -1 so
 * callers can `return ml_err(err, errlen, "...")`. */
static inline int __attribute__((format(printf, 3, 4)))
ml_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* a*b, or 0 when it would overflow size_t (callers treat 0 as too large). */
static inline size_t ml_mul_size(size_t a, size_t b)
{
    size_t r;
    if (__builtin_mul_overflow(a, b, &r))
        return 0;
    return r;
}

/* Make p (of *cap elements of size elem) hold at least need elements,
 * growing by doubling. Returns 0, or -1 when out of memory. */
int ml_grow(void **p, size_t *cap, size_t need, size_t elem);

/* Read a whole file, plain or gzip'd, through zlib into a malloc'd buffer
 * (*len bytes, plus a NUL after them); a file whose uncompressed size is
 * past the input limit (ml_limits) is refused without reading the rest. */
int ml_read_file(const char *path, char **buf, size_t *len, char *err, size_t errlen);
/* The first max bytes at most; *more says whether there were others. */
int ml_read_file_max(const char *path, size_t max, char **buf, size_t *len, int *more, char *err,
                     size_t errlen);
/* The message for a file past the input limit; where says what was seen. */
int ml_refuse_input_bytes(const char *path, const ml_limits *l, const char *where, char *err, size_t errlen);

#endif
