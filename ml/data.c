/* data.c -- what every dataset shares: freeing, reading files through
 * zlib, subsets and splits, feature scaling, sharding across ranks, and
 * the table of named datasets (--dataset).
 *
 * Readers for the file formats live in libsvm.c and idx.c, generators in
 * synth.c; this file is the glue an algorithm calls.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <gsl/gsl_rng.h>
#include <zlib.h>

#include "core/files.h"
#include "core/units.h"
#include "ml/data.h"
#include "ml/internal.h"

void ml_dataset_free(ml_dataset *ds)
{
    free(ds->x);
    free(ds->row_ptr);
    free(ds->col);
    free(ds->val);
    free(ds->y);
    memset(ds, 0, sizeof *ds);
}

size_t ml_dataset_nnz(const ml_dataset *ds)
{
    return ds->sparse ? ds->row_ptr[ds->n] : ds->n * ds->d;
}

int ml_grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t ncap = *cap ? *cap : 16;
    while (ncap < need) {
        if (ncap > SIZE_MAX / 2)
            return -1;
        ncap *= 2;
    }
    if (!ml_mul_size(ncap, elem))
        return -1;
    void *q = realloc(*p, ncap * elem);
    if (!q)
        return -1;
    *p = q;
    *cap = ncap;
    return 0;
}

/* ---- limits on what one small file may make distlab allocate ---- */

int ml_limits_get(ml_limits *l, char *err, size_t errlen)
{
    l->input_bytes = ML_DEFAULT_INPUT_BYTES;
    l->features = ML_DEFAULT_FEATURES;
    const char *v = getenv("DISTLAB_DATA_LIMIT");
    char why[256];
    if (v && *v) {
        double bytes;
        if (units_size(v, &bytes, why, sizeof why) != 0 || bytes < 1)
            return ml_err(err, errlen, "$DISTLAB_DATA_LIMIT is '%s': expected a size of at least 1 byte, "
                          "e.g. 8GiB", v);
        l->input_bytes = bytes > (double)(SIZE_MAX / 2) ? SIZE_MAX / 2 : (size_t)bytes;
    }
    v = getenv("DISTLAB_MAX_FEATURES");
    if (v && *v) {
        long n;
        if (units_int(v, 1, UINT32_MAX, &n, why, sizeof why) != 0)
            return ml_err(err, errlen, "$DISTLAB_MAX_FEATURES is '%s': expected a whole number from 1 to "
                          "4294967295", v);
        l->features = (size_t)n;
    }
    return 0;
}

int ml_refuse_input_bytes(const char *path, const ml_limits *l, const char *where, char *err, size_t errlen)
{
    char size[32];
    units_fmt_size((double)l->input_bytes, size, sizeof size);
    return ml_err(err, errlen, "%s: %s, past the limit of %s (%zu bytes) on one data file's uncompressed "
                  "size; raise it with DISTLAB_DATA_LIMIT=SIZE (e.g. DISTLAB_DATA_LIMIT=16GiB)", path, where,
                  size, l->input_bytes);
}

int ml_read_file_max(const char *path, size_t max, char **buf, size_t *len, int *more, char *err,
                     size_t errlen)
{
    enum { CHUNK = 1 << 20 };
    char *b = NULL;
    size_t n = 0, cap = 0;
    *buf = NULL;
    *len = 0;
    *more = 0;
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) /* gzread would say "corrupt gzip?" */
        return ml_err(err, errlen, "%s: a folder, not a data file (LIBSVM text or IDX, plain or .gz)",
                      path);
    char why[512];
    if (files_check_regular(path, why, sizeof why) != 0) /* a FIFO blocked gzopen */
        return ml_err(err, errlen, "%s", why);
    gzFile f = gzopen(path, "rb");
    if (!f)
        return ml_err(err, errlen, "%s: cannot open: %s", path, errno ? strerror(errno) : "out of memory");
    gzbuffer(f, 1 << 17);
    for (;;) {
        /* one byte past max, to tell "exactly max" from "more" */
        size_t want = max + 1 - n < CHUNK ? max + 1 - n : CHUNK;
        if (n + want + 1 > cap) { /* doubling, but never past what max needs */
            size_t ncap = cap > (max + 2) / 2 ? max + 2 : cap * 2 > n + want + 1 ? cap * 2 : n + want + 1;
            char *q = realloc(b, ncap);
            if (!q) {
                ml_err(err, errlen, "%s: out of memory after %zu bytes", path, n);
                goto fail;
            }
            b = q;
            cap = ncap;
        }
        int got = gzread(f, b + n, (unsigned)want);
        if (got < 0) {
            int code;
            const char *msg = gzerror(f, &code);
            ml_err(err, errlen, "%s: byte %zu of the uncompressed data: %s (truncated or corrupt gzip?)",
                   path, n, code == Z_ERRNO ? strerror(errno) : msg);
            goto fail;
        }
        if (got == 0)
            break;
        n += (size_t)got;
        if (n > max) {
            n = max;
            *more = 1;
            break;
        }
    }
    int code;
    const char *msg = gzerror(f, &code);
    if (code != Z_OK) {
        ml_err(err, errlen, "%s: byte %zu of the uncompressed data: %s (truncated or corrupt gzip?)",
               path, n, msg);
        goto fail;
    }
    gzclose(f);
    b[n] = '\0';
    *buf = b;
    *len = n;
    return 0;
fail:
    gzclose(f);
    free(b);
    return -1;
}

int ml_read_file(const char *path, char **buf, size_t *len, char *err, size_t errlen)
{
    ml_limits l;
    int more;
    if (ml_limits_get(&l, err, errlen) < 0 || ml_read_file_max(path, l.input_bytes, buf, len, &more, err, errlen) < 0)
        return -1;
    if (!more)
        return 0;
    /* where it stopped, as a person would look for it */
    size_t lines = 1;
    for (const char *p = *buf; (p = memchr(p, '\n', (size_t)(*buf + *len - p))) != NULL; p++)
        lines++;
    free(*buf);
    *buf = NULL;
    *len = 0;
    char where[96];
    snprintf(where, sizeof where, "line %zu: more than the first %zu bytes", lines, l.input_bytes);
    return ml_refuse_input_bytes(path, &l, where, err, errlen);
}

/* ---- subsets and splits ---- */

int ml_dataset_subset(const ml_dataset *ds, const size_t *idx, size_t count, ml_dataset *out,
                      char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    out->n = count;
    out->d = ds->d;
    out->classes = ds->classes;
    out->sparse = ds->sparse;
    out->y = malloc((count ? count : 1) * sizeof *out->y);
    if (!out->y)
        goto nomem;
    for (size_t i = 0; i < count; i++) {
        if (idx[i] >= ds->n) {
            ml_err(err, errlen, "subset: example %zu of %zu does not exist", idx[i], ds->n);
            goto fail;
        }
        out->y[i] = ds->y[idx[i]];
    }
    if (!ds->sparse) {
        out->x = malloc((count * ds->d + 1) * sizeof *out->x);
        if (!out->x)
            goto nomem;
        for (size_t i = 0; i < count; i++)
            memcpy(out->x + i * ds->d, ds->x + idx[i] * ds->d, ds->d * sizeof *out->x);
        return 0;
    }
    size_t z = 0;
    for (size_t i = 0; i < count; i++)
        z += ds->row_ptr[idx[i] + 1] - ds->row_ptr[idx[i]];
    out->row_ptr = malloc((count + 1) * sizeof *out->row_ptr);
    out->col = malloc((z ? z : 1) * sizeof *out->col);
    out->val = malloc((z ? z : 1) * sizeof *out->val);
    if (!out->row_ptr || !out->col || !out->val)
        goto nomem;
    z = 0;
    for (size_t i = 0; i < count; i++) {
        size_t b = ds->row_ptr[idx[i]], e = ds->row_ptr[idx[i] + 1];
        out->row_ptr[i] = z;
        memcpy(out->col + z, ds->col + b, (e - b) * sizeof *out->col);
        memcpy(out->val + z, ds->val + b, (e - b) * sizeof *out->val);
        z += e - b;
    }
    out->row_ptr[count] = z;
    return 0;
nomem:
    ml_err(err, errlen, "subset: out of memory for %zu examples", count);
fail:
    ml_dataset_free(out);
    return -1;
}

int ml_dataset_split(const ml_dataset *ds, size_t n_first, uint64_t seed, ml_dataset *a,
                     ml_dataset *b, char *err, size_t errlen)
{
    memset(a, 0, sizeof *a);
    memset(b, 0, sizeof *b);
    if (n_first > ds->n)
        return ml_err(err, errlen, "split: %zu examples asked of %zu", n_first, ds->n);
    size_t *perm = malloc((ds->n ? ds->n : 1) * sizeof *perm);
    if (!perm)
        return ml_err(err, errlen, "split: out of memory");
    for (size_t i = 0; i < ds->n; i++)
        perm[i] = i;
    if (seed) {
        gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
        if (!rng) {
            free(perm);
            return ml_err(err, errlen, "split: out of memory");
        }
        gsl_rng_set(rng, (unsigned long)seed);
        for (size_t i = ds->n; i > 1; i--) {
            size_t j = gsl_rng_uniform_int(rng, i);
            size_t t = perm[i - 1];
            perm[i - 1] = perm[j];
            perm[j] = t;
        }
        gsl_rng_free(rng);
    }
    int rc = ml_dataset_subset(ds, perm, n_first, a, err, errlen);
    if (rc == 0 && (rc = ml_dataset_subset(ds, perm + n_first, ds->n - n_first, b, err, errlen)) < 0)
        ml_dataset_free(a);
    free(perm);
    return rc;
}

int ml_dataset_match_dims(ml_dataset *a, ml_dataset *b, char *err, size_t errlen)
{
    if (a->d == b->d)
        return 0;
    if (!a->sparse || !b->sparse)
        return ml_err(err, errlen, "datasets have %zu and %zu features (dense sets must agree)",
                      a->d, b->d);
    a->d = b->d = a->d > b->d ? a->d : b->d;
    return 0;
}

/* ---- scaling ---- */

void ml_scaler_free(ml_scaler *s)
{
    free(s->shift);
    free(s->mul);
    memset(s, 0, sizeof *s);
}

int ml_scaler_fit(ml_scaler *s, const ml_dataset *train, ml_scale_kind kind, char *err,
                  size_t errlen)
{
    size_t d = train->d;
    double *sum = NULL, *sum2 = NULL;
    memset(s, 0, sizeof *s);
    s->d = d;
    s->shift = calloc(d ? d : 1, sizeof *s->shift);
    s->mul = malloc((d ? d : 1) * sizeof *s->mul);
    sum = calloc(d ? d : 1, sizeof *sum);
    sum2 = calloc(d ? d : 1, sizeof *sum2);
    if (!s->shift || !s->mul || !sum || !sum2) {
        ml_err(err, errlen, "scale: out of memory for %zu features", d);
        goto fail;
    }
    for (size_t j = 0; j < d; j++)
        s->mul[j] = 1.0f;
    if (kind == ML_SCALE_NONE || train->n == 0)
        goto done;
    /* sum: sum of x (standard) or max |x| (maxabs); sum2: sum of x^2 */
    for (size_t i = 0; i < train->n; i++) {
        size_t b = train->sparse ? train->row_ptr[i] : i * d;
        size_t e = train->sparse ? train->row_ptr[i + 1] : (i + 1) * d;
        for (size_t k = b; k < e; k++) {
            size_t j = train->sparse ? train->col[k] : k - b;
            double v = train->sparse ? train->val[k] : train->x[k];
            if (j >= d)
                continue;
            if (kind == ML_SCALE_MAXABS) {
                if (fabs(v) > sum[j])
                    sum[j] = fabs(v);
            } else {
                sum[j] += v;
                sum2[j] += v * v;
            }
        }
    }
    for (size_t j = 0; j < d; j++) {
        if (kind == ML_SCALE_MAXABS) {
            s->mul[j] = sum[j] > 0 ? (float)(1.0 / sum[j]) : 1.0f;
            continue;
        }
        double mean = sum[j] / (double)train->n;
        double var = sum2[j] / (double)train->n - mean * mean;
        if (train->sparse)
            var = sum2[j] / (double)train->n; /* second moment: no centering */
        else
            s->shift[j] = (float)mean;
        s->mul[j] = var > 1e-12 ? (float)(1.0 / sqrt(var)) : 1.0f;
    }
done:
    free(sum);
    free(sum2);
    return 0;
fail:
    free(sum);
    free(sum2);
    ml_scaler_free(s);
    return -1;
}

int ml_scaler_apply(const ml_scaler *s, ml_dataset *ds, char *err, size_t errlen)
{
    if (!ds->sparse && ds->d != s->d)
        return ml_err(err, errlen, "scale: fitted on %zu features, applied to %zu", s->d, ds->d);
    if (ds->sparse) {
        size_t z = ds->row_ptr[ds->n];
        for (size_t k = 0; k < z; k++)
            if (ds->col[k] < s->d)
                ds->val[k] = (ds->val[k] - s->shift[ds->col[k]]) * s->mul[ds->col[k]];
        return 0;
    }
    for (size_t i = 0; i < ds->n; i++)
        for (size_t j = 0; j < ds->d; j++)
            ds->x[i * ds->d + j] = (ds->x[i * ds->d + j] - s->shift[j]) * s->mul[j];
    return 0;
}

/* ---- sharding ---- */

size_t ml_shard_count(size_t n, int rank, int nranks, ml_shard_kind kind)
{
    if (nranks <= 0 || rank < 0 || rank >= nranks)
        return 0;
    size_t r = (size_t)rank, p = (size_t)nranks;
    if (kind == ML_SHARD_STRIDED)
        return n / p + (r < n % p);
    return (r + 1) * n / p - r * n / p;
}

size_t ml_shard_indices(size_t n, int rank, int nranks, ml_shard_kind kind, size_t *idx)
{
    size_t count = ml_shard_count(n, rank, nranks, kind);
    size_t r = (size_t)rank, p = (size_t)nranks;
    for (size_t k = 0; k < count; k++)
        idx[k] = kind == ML_SHARD_STRIDED ? r + k * p : r * n / p + k;
    return count;
}

/* ---- named datasets ---- */

/* Parse "key=value,key=value" after a "synth-...:" prefix into doubles,
 * for the keys listed in keys[] (NULL-terminated); vals keep their
 * defaults for keys not given. */
static int spec_parse(const char *name, const char *spec, const char *const *keys,
                      double *vals, char *err, size_t errlen)
{
    const char *p = spec;
    while (*p) {
        const char *eq = strchr(p, '=');
        const char *comma = strchr(p, ',');
        if (!comma)
            comma = p + strlen(p);
        if (!eq || eq > comma)
            return ml_err(err, errlen, "%s: '%.*s' is not key=value", name, (int)(comma - p), p);
        int k;
        for (k = 0; keys[k]; k++)
            if (strlen(keys[k]) == (size_t)(eq - p) && memcmp(keys[k], p, (size_t)(eq - p)) == 0)
                break;
        if (!keys[k]) {
            char known[256] = "";
            for (int i = 0; keys[i]; i++)
                snprintf(known + strlen(known), sizeof known - strlen(known), "%s%s",
                         i ? ", " : "", keys[i]);
            return ml_err(err, errlen, "%s: unknown key '%.*s' (expected %s)", name,
                          (int)(eq - p), p, known);
        }
        char num[64];
        size_t len = (size_t)(comma - eq - 1);
        const char *end;
        if (len == 0 || len >= sizeof num)
            return ml_err(err, errlen, "%s: %s needs a number", name, keys[k]);
        memcpy(num, eq + 1, len);
        num[len] = '\0';
        double v;
        if (units_decimal(num, &v, &end) != 0 || *end || v < 0)
            return ml_err(err, errlen, "%s: %s=%s is not a number >= 0", name, keys[k], num);
        vals[k] = v;
        p = *comma ? comma + 1 : comma;
    }
    return 0;
}

/* Far above what fits in memory, far below where size arithmetic wraps. */
#define SYNTH_MAX 1e10

/* d against the feature limit: every model allocates weights per feature. */
static int check_features(const char *what, double d, char *err, size_t errlen)
{
    ml_limits l;
    if (ml_limits_get(&l, err, errlen) < 0)
        return -1;
    if (d > (double)l.features)
        return ml_err(err, errlen, "%s: d=%.0f is past the limit of %zu features; raise it with "
                      "DISTLAB_MAX_FEATURES=N", what, d, l.features);
    return 0;
}

/* The examples a synthetic set holds, against the limit on one data
 * file's bytes: the same memory, the same limit (n=100000,d=10000 is 4 GB). */
static int check_synth_bytes(const char *what, double bytes, const char *shape, char *err, size_t errlen)
{
    ml_limits l;
    if (ml_limits_get(&l, err, errlen) < 0)
        return -1;
    if (bytes <= (double)l.input_bytes)
        return 0;
    char size[32], limit[32];
    units_fmt_size(bytes, size, sizeof size);
    units_fmt_size((double)l.input_bytes, limit, sizeof limit);
    return ml_err(err, errlen, "%s: %s = %s of examples, past the limit of %s (%zu bytes) on one data set; "
                  "raise it with DISTLAB_DATA_LIMIT=SIZE (e.g. DISTLAB_DATA_LIMIT=16GiB)", what, shape, size,
                  limit, l.input_bytes);
}

static int open_synth(const char *name, uint64_t seed, size_t train_max, size_t test_max,
                      ml_dataset *train, ml_dataset *test, char *err, size_t errlen)
{
    ml_dataset all;
    double ntest, n;
    int rc;
    if (strncmp(name, "synth-sparse:", 13) == 0) {
        static const char *const keys[] = {"n", "d", "nnz", "alpha", "noise", "flip", "test", NULL};
        double v[] = {0, 0, 0, 1.0, 0.1, 0.0, -1};
        if (spec_parse("synth-sparse", name + 13, keys, v, err, errlen) < 0)
            return -1;
        if (v[0] < 1 || v[1] < 1 || v[2] < 1)
            return ml_err(err, errlen, "synth-sparse: n, d and nnz are required (e.g. "
                                       "synth-sparse:n=100000,d=50000,nnz=80)");
        if (v[0] > SYNTH_MAX || v[1] > SYNTH_MAX || v[2] > SYNTH_MAX || v[6] > SYNTH_MAX)
            return ml_err(err, errlen, "synth-sparse: n, d, nnz and test must be at most %.0f",
                          SYNTH_MAX);
        n = floor(v[0]);
        ntest = v[6] < 0 ? floor(n / 5) : floor(v[6]);
        if (ntest < 1)
            return ml_err(err, errlen, "synth-sparse: test=%g leaves no test examples", v[6]);
        if (check_features("synth-sparse", v[1], err, errlen) < 0 ||
            check_synth_bytes("synth-sparse", (n + ntest) * v[2] * 8, "(n + test) x nnz x 8 bytes", err,
                              errlen) < 0)
            return -1;
        ml_synth_sparse p = {(size_t)(n + ntest), (size_t)v[1], (size_t)v[2], v[3], v[4], v[5]};
        rc = ml_synth_sparse_make(&p, seed, &all, err, errlen);
    } else {
        static const char *const keys[] = {"n", "d", "classes", "sep", "test", NULL};
        double v[] = {0, 0, 0, 3.0, -1};
        if (spec_parse("synth-dense", name + 12, keys, v, err, errlen) < 0)
            return -1;
        if (v[0] < 1 || v[1] < 1 || v[2] < 2 || v[2] > 65536)
            return ml_err(err, errlen, "synth-dense: n, d and classes (2..65536) are required "
                                       "(e.g. synth-dense:n=10000,d=100,classes=10)");
        if (v[0] > SYNTH_MAX || v[1] > SYNTH_MAX || v[4] > SYNTH_MAX)
            return ml_err(err, errlen, "synth-dense: n, d and test must be at most %.0f", SYNTH_MAX);
        n = floor(v[0]);
        ntest = v[4] < 0 ? floor(n / 5) : floor(v[4]);
        if (ntest < 1)
            return ml_err(err, errlen, "synth-dense: test=%g leaves no test examples", v[4]);
        if (check_features("synth-dense", v[1], err, errlen) < 0 ||
            check_synth_bytes("synth-dense", (n + ntest) * floor(v[1]) * 4, "(n + test) x d x 4 bytes", err,
                              errlen) < 0)
            return -1;
        ml_synth_dense p = {(size_t)(n + ntest), (size_t)v[1], (int)v[2], v[3]};
        rc = ml_synth_dense_make(&p, seed, &all, err, errlen);
    }
    if (rc < 0)
        return -1;
    /* The examples are i.i.d., so the first n train and the rest test. */
    rc = ml_dataset_split(&all, (size_t)n, 0, train, test, err, errlen);
    ml_dataset_free(&all);
    if (rc < 0)
        return -1;
    if (train_max && train_max < train->n)
        train->n = train_max;
    if (test_max && test_max < test->n)
        test->n = test_max;
    return 0;
}

int ml_dataset_open(const char *name, uint64_t seed, size_t train_max, size_t test_max,
                    ml_dataset *train, ml_dataset *test, char *err, size_t errlen)
{
    memset(train, 0, sizeof *train);
    memset(test, 0, sizeof *test);
    if (strcmp(name, "fashion-mnist") == 0) {
        const char *dir = ML_FASHION_MNIST_DIR;
        char ip[512], lp[512];
        snprintf(ip, sizeof ip, "%s/train-images-idx3-ubyte.gz", dir);
        snprintf(lp, sizeof lp, "%s/train-labels-idx1-ubyte.gz", dir);
        if (ml_idx_load(ip, lp, train_max, train, err, errlen) < 0)
            goto missing;
        snprintf(ip, sizeof ip, "%s/t10k-images-idx3-ubyte.gz", dir);
        snprintf(lp, sizeof lp, "%s/t10k-labels-idx1-ubyte.gz", dir);
        if (ml_idx_load(ip, lp, test_max, test, err, errlen) < 0) {
            ml_dataset_free(train);
            goto missing;
        }
        int k = train->classes > test->classes ? train->classes : test->classes;
        train->classes = test->classes = k;
        return 0;
    }
    if (strncmp(name, "synth-sparse:", 13) == 0 || strncmp(name, "synth-dense:", 12) == 0)
        return open_synth(name, seed, train_max, test_max, train, test, err, errlen);
    return ml_err(err, errlen,
                  "unknown dataset '%s' (expected fashion-mnist, synth-sparse:n=N,d=D,nnz=K or "
                  "synth-dense:n=N,d=D,classes=C)", name);
missing:
    if (err && strlen(err) + 1 < errlen)
        snprintf(err + strlen(err), errlen - strlen(err),
                 " (fashion-mnist comes from the Debian package dataset-fashion-mnist: make deps)");
    return -1;
}
