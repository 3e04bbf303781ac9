/* libsvm.c -- the LIBSVM/SVMlight text reader.
 *
 * Sparse public datasets (RCV1, news20, url, the Hogwild! benchmarks) come
 * in this format, so it is the door for real sparse data. The parser works
 * on a buffer in memory, so the same code reads files and runs under the
 * fuzzer (fuzz/fuzz_libsvm.c). It never trusts the input: every token is
 * bounded, every number checked (integral labels, 1-based strictly
 * increasing indices, finite values), and every refusal names the file,
 * the line and what was wrong.
 *
 * Format reference: https://www.csie.ntu.edu.tw/~cjlin/libsvmtools/datasets/
 * and SVMlight's documentation (qid:N tokens, '#' comments).
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ml/data.h"
#include "ml/internal.h"
#include "core/units.h"

#define TOKEN_MAX 64 /* longest number we accept, in characters */

/* The parser's growing arrays. */
typedef struct libsvm_acc {
    size_t n, row_cap, label_cap, line_cap;
    size_t *row_ptr;
    int64_t *label;
    size_t *label_line; /* the line of each label, for late label errors */
    size_t z, col_cap, val_cap;
    uint32_t *col;
    float *val;
} libsvm_acc;

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* Copy [p, q) into tok as a C string; -1 when it does not fit. */
static int token_copy(const char *p, const char *q, char tok[TOKEN_MAX])
{
    size_t len = (size_t)(q - p);
    if (len >= TOKEN_MAX)
        return -1;
    memcpy(tok, p, len);
    tok[len] = '\0';
    return 0;
}

/* A finite decimal double filling the whole token (units_decimal): strtod's
 * hex form (3:0x10 as 16) is no LIBSVM number, and likely a file that is
 * not one. */
static int parse_real(const char *tok, double *out)
{
    const char *end;
    double v;
    if (units_decimal(tok, &v, &end) != 0 || *end != '\0')
        return -1;
    *out = v;
    return 0;
}

/* Decimal digits only, value 0..UINT32_MAX; returns -1 on anything else. */
static int parse_index(const char *p, const char *q, uint64_t *out)
{
    if (p == q || q - p > 10)
        return -1;
    uint64_t v = 0;
    for (; p < q; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    if (v > UINT32_MAX)
        return -1;
    *out = v;
    return 0;
}

/* Parse one line [p, end) (no newline in it). Adds an example unless the
 * line is blank or a comment. Returns 0 or -1 with the message set. */
static int parse_line(libsvm_acc *a, const char *p, const char *end, size_t dim, size_t max_features,
                      const char *name, size_t line, char *err, size_t errlen)
{
    const char *hash = memchr(p, '#', (size_t)(end - p));
    if (hash)
        end = hash;
    const char *nul = memchr(p, '\0', (size_t)(end - p));
    if (nul)
        return ml_err(err, errlen, "%s:%zu: NUL byte in the line", name, line);
    while (p < end && is_space(*p))
        p++;
    if (p == end)
        return 0;

    /* ---- the label ---- */
    char tok[TOKEN_MAX];
    const char *q = p;
    while (q < end && !is_space(*q))
        q++;
    if (memchr(p, ':', (size_t)(q - p)))
        return ml_err(err, errlen, "%s:%zu: missing label (the line starts with a feature '%.*s')",
                      name, line, (int)(q - p > 40 ? 40 : q - p), p);
    double label;
    if (token_copy(p, q, tok) < 0 || parse_real(tok, &label) < 0)
        return ml_err(err, errlen, "%s:%zu: label '%.*s' is not a number", name, line,
                      (int)(q - p > 40 ? 40 : q - p), p);
    if (label != floor(label) || fabs(label) > 1e9)
        return ml_err(err, errlen,
                      "%s:%zu: label %g is not an integer class id (regression is not supported)",
                      name, line, label);
    if (ml_grow((void **)&a->row_ptr, &a->row_cap, a->n + 2, sizeof *a->row_ptr) < 0 ||
        ml_grow((void **)&a->label, &a->label_cap, a->n + 1, sizeof *a->label) < 0 ||
        ml_grow((void **)&a->label_line, &a->line_cap, a->n + 1, sizeof *a->label_line) < 0)
        goto nomem;
    a->label[a->n] = (int64_t)label;
    a->label_line[a->n] = line;
    a->row_ptr[a->n] = a->z;
    p = q;

    /* ---- features ---- */
    uint64_t prev = 0;
    int first = 1;
    for (;;) {
        while (p < end && is_space(*p))
            p++;
        if (p == end)
            break;
        q = p;
        while (q < end && !is_space(*q))
            q++;
        const char *colon = memchr(p, ':', (size_t)(q - p));
        int tlen = (int)(q - p > 40 ? 40 : q - p);
        if (!colon)
            return ml_err(err, errlen, "%s:%zu: feature '%.*s' is not index:value", name, line,
                          tlen, p);
        if (first && colon - p == 3 && memcmp(p, "qid", 3) == 0) {
            uint64_t qid;
            if (parse_index(colon + 1, q, &qid) < 0)
                return ml_err(err, errlen, "%s:%zu: bad query id '%.*s'", name, line, tlen, p);
            first = 0;
            p = q;
            continue;
        }
        first = 0;
        uint64_t index;
        if (p < colon && *p == '-')
            return ml_err(err, errlen, "%s:%zu: negative index in '%.*s'", name, line, tlen, p);
        if (parse_index(p, colon, &index) < 0)
            return ml_err(err, errlen, "%s:%zu: index in '%.*s' is not a whole number below 2^32",
                          name, line, tlen, p);
        if (index == 0)
            return ml_err(err, errlen, "%s:%zu: index 0 in '%.*s' (indices are 1-based)", name,
                          line, tlen, p);
        if (index <= prev)
            return ml_err(err, errlen,
                          "%s:%zu: index %llu after %llu (indices must be strictly increasing)",
                          name, line, (unsigned long long)index, (unsigned long long)prev);
        if (dim && index > dim)
            return ml_err(err, errlen, "%s:%zu: index %llu is past the declared dimension %zu",
                          name, line, (unsigned long long)index, dim);
        if (index > max_features) /* every model would allocate weights up to it */
            return ml_err(err, errlen, "%s:%zu: index %llu is past the limit of %zu features; raise it "
                          "with DISTLAB_MAX_FEATURES=N", name, line, (unsigned long long)index, max_features);
        double v;
        if (colon + 1 == q)
            return ml_err(err, errlen, "%s:%zu: missing value after '%.*s'", name, line, tlen, p);
        if (token_copy(colon + 1, q, tok) < 0 || parse_real(tok, &v) < 0)
            return ml_err(err, errlen, "%s:%zu: value in '%.*s' is not a finite number (decimal)", name,
                          line, tlen, p);
        if (!isfinite((float)v))
            return ml_err(err, errlen, "%s:%zu: value in '%.*s' overflows a float", name, line,
                          tlen, p);
        if (ml_grow((void **)&a->col, &a->col_cap, a->z + 1, sizeof *a->col) < 0 ||
            ml_grow((void **)&a->val, &a->val_cap, a->z + 1, sizeof *a->val) < 0)
            goto nomem;
        a->col[a->z] = (uint32_t)(index - 1);
        a->val[a->z] = (float)v;
        a->z++;
        prev = index;
        p = q;
    }
    a->n++;
    a->row_ptr[a->n] = a->z;
    return 0;
nomem:
    return ml_err(err, errlen, "%s:%zu: out of memory", name, line);
}

/* Map the raw integer labels to 0..classes-1 (see data.h). */
static int map_labels(const libsvm_acc *a, const char *name, int32_t *y, int *classes,
                      char *err, size_t errlen)
{
    int pm_one = 1;
    int64_t max = 0;
    for (size_t i = 0; i < a->n; i++) {
        if (a->label[i] != 1 && a->label[i] != -1)
            pm_one = 0;
        if (a->label[i] > max)
            max = a->label[i];
    }
    if (pm_one) {
        for (size_t i = 0; i < a->n; i++)
            y[i] = a->label[i] > 0;
        *classes = 2;
        return 0;
    }
    for (size_t i = 0; i < a->n; i++) {
        if (a->label[i] < 0)
            return ml_err(err, errlen,
                          "%s:%zu: label %lld: negative labels are allowed only in a -1/+1 file",
                          name, a->label_line[i], (long long)a->label[i]);
        if (a->label[i] > 65535)
            return ml_err(err, errlen, "%s:%zu: class id %lld is too large (at most 65535)", name,
                          a->label_line[i], (long long)a->label[i]);
        y[i] = (int32_t)a->label[i];
    }
    *classes = max + 1 < 2 ? 2 : (int)max + 1;
    return 0;
}

int ml_libsvm_parse(const char *buf, size_t len, const char *name, size_t dim,
                    size_t max_examples, ml_dataset *out, char *err, size_t errlen)
{
    libsvm_acc a = {0};
    ml_limits lim;
    memset(out, 0, sizeof *out);
    if (ml_limits_get(&lim, err, errlen) < 0)
        goto fail;
    if (dim > UINT32_MAX) {
        ml_err(err, errlen, "%s: declared dimension %zu is above 2^32-1", name, dim);
        goto fail;
    }
    const char *p = buf, *end = buf + len;
    size_t line = 0;
    while (p < end && (!max_examples || a.n < max_examples)) {
        line++;
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *eol = nl ? nl : end;
        if (parse_line(&a, p, eol, dim, lim.features, name, line, err, errlen) < 0)
            goto fail;
        p = nl ? nl + 1 : end;
    }
    if (a.n == 0) {
        ml_err(err, errlen, "%s: no examples (the file is empty or holds only comments)", name);
        goto fail;
    }
    out->y = malloc(a.n * sizeof *out->y);
    if (!out->y) {
        ml_err(err, errlen, "%s: out of memory", name);
        goto fail;
    }
    if (map_labels(&a, name, out->y, &out->classes, err, errlen) < 0)
        goto fail;
    size_t d = dim;
    for (size_t k = 0; !dim && k < a.z; k++)
        if ((size_t)a.col[k] + 1 > d)
            d = (size_t)a.col[k] + 1;
    out->n = a.n;
    out->d = d;
    out->sparse = 1;
    out->row_ptr = a.row_ptr;
    out->col = a.col;
    out->val = a.val;
    free(a.label);
    free(a.label_line);
    return 0;
fail:
    free(out->y);
    free(a.row_ptr);
    free(a.label);
    free(a.label_line);
    free(a.col);
    free(a.val);
    memset(out, 0, sizeof *out);
    return -1;
}

int ml_libsvm_load(const char *path, size_t dim, size_t max_examples, ml_dataset *out,
                   char *err, size_t errlen)
{
    char *buf;
    size_t len;
    memset(out, 0, sizeof *out);
    if (ml_read_file(path, &buf, &len, err, errlen) < 0)
        return -1;
    /* an IDX file's magic: 0, 0, a type (0x08: unsigned bytes), 1 to 15
     * dimensions; as text it would be "a NUL byte in the line" */
    const unsigned char *u = (const unsigned char *)buf;
    if (len >= 4 && u[0] == 0 && u[1] == 0 && u[2] >= 0x08 && u[2] <= 0x0e && u[3] >= 1 && u[3] <= 15) {
        ml_err(err, errlen, "%s: looks like an IDX file (magic 0x%02x%02x%02x%02x), not LIBSVM text: "
               "give --data IMAGES,LABELS (e.g. --data train-images-idx3-ubyte.gz,"
               "train-labels-idx1-ubyte.gz)", path, u[0], u[1], u[2], u[3]);
        free(buf);
        return -1;
    }
    int rc = ml_libsvm_parse(buf, len, path, dim, max_examples, out, err, errlen);
    free(buf);
    return rc;
}

int ml_libsvm_write(const ml_dataset *ds, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return ml_err(err, errlen, "%s: cannot create: %s", path, strerror(errno));
    for (size_t i = 0; i < ds->n; i++) {
        fprintf(f, "%d", ds->classes == 2 ? 2 * ds->y[i] - 1 : ds->y[i]);
        size_t b = ds->sparse ? ds->row_ptr[i] : i * ds->d;
        size_t e = ds->sparse ? ds->row_ptr[i + 1] : (i + 1) * ds->d;
        for (size_t k = b; k < e; k++) {
            float v = ds->sparse ? ds->val[k] : ds->x[k];
            size_t j = ds->sparse ? ds->col[k] : k - b;
            if (v != 0)
                fprintf(f, " %zu:%.9g", j + 1, v);
        }
        fputc('\n', f);
    }
    if (ferror(f) | fclose(f))
        return ml_err(err, errlen, "%s: write failed", path);
    return 0;
}
