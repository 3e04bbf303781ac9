/* test_ml_data.c -- the data layer: LIBSVM and IDX readers accept good
 * files and refuse each kind of bad input with the file, the line (or byte
 * offset) and the reason; the real Fashion-MNIST loads; synthetic sets are
 * a pure function of their seed and have the promised shape (power-law
 * sparse features, unit rows); splits, scaling and sharding are exact.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <zlib.h>

#include "ml/data.h"
#include "tests/util_files.h"

#define ERRLEN 512

static char tmpdir[64];

static int setup(void **state)
{
    (void)state;
    return test_tmpdir(tmpdir, sizeof tmpdir, "ml-data");
}

static int teardown(void **state)
{
    (void)state;
    return test_rmtree(tmpdir);
}

/* Write bytes to tmpdir/name (gzip'd when gz), return the path. */
static const char *write_file(const char *name, const void *bytes, size_t len, int gz)
{
    static char path[8][128];
    static int slot;
    char *p = path[slot++ % 8];
    snprintf(p, 128, "%s/%s", tmpdir, name);
    if (gz) {
        gzFile f = gzopen(p, "wb");
        assert_non_null(f);
        assert_int_equal(gzwrite(f, bytes, (unsigned)len), (int)len);
        assert_int_equal(gzclose(f), Z_OK);
    } else {
        FILE *f = fopen(p, "wb");
        assert_non_null(f);
        assert_int_equal(fwrite(bytes, 1, len, f), len);
        fclose(f);
    }
    return p;
}

static void t_libsvm_good(void **state)
{
    (void)state;
    char err[ERRLEN];
    ml_dataset ds;
    assert_int_equal(ml_libsvm_load("tests/data/ml_small.libsvm", 0, 0, &ds, err, sizeof err), 0);
    assert_int_equal(ds.n, 4);
    assert_int_equal(ds.d, 7);
    assert_int_equal(ds.classes, 2);
    assert_true(ds.sparse);
    int32_t y[] = {1, 0, 1, 0};
    size_t rp[] = {0, 3, 5, 6, 13};
    for (int i = 0; i < 4; i++)
        assert_int_equal(ds.y[i], y[i]);
    for (int i = 0; i < 5; i++)
        assert_int_equal(ds.row_ptr[i], rp[i]);
    assert_int_equal(ds.col[2], 6);
    assert_true(ds.val[2] == -2.0f);
    assert_true(ds.val[5] == 0.3f);
    ml_dataset_free(&ds);
    /* a declared dimension wider than the file, and a cap on examples */
    assert_int_equal(ml_libsvm_load("tests/data/ml_small.libsvm", 10, 2, &ds, err, sizeof err), 0);
    assert_int_equal(ds.d, 10);
    assert_int_equal(ds.n, 2);
    ml_dataset_free(&ds);
    /* 0/1 labels are binary; class ids are used as given */
    const char *zero_one = "0 1:1\n1 2:1\n";
    assert_int_equal(ml_libsvm_parse(zero_one, strlen(zero_one), "b", 0, 0, &ds, err, sizeof err), 0);
    assert_int_equal(ds.classes, 2);
    assert_int_equal(ds.y[1], 1);
    ml_dataset_free(&ds);
    const char *ids = "3 1:1\n1 2:1\n2 3:1\n";
    assert_int_equal(ml_libsvm_parse(ids, strlen(ids), "m", 0, 0, &ds, err, sizeof err), 0);
    assert_int_equal(ds.classes, 4);
    assert_int_equal(ds.y[0], 3);
    ml_dataset_free(&ds);
    /* an example with no features, and a last line with no newline */
    const char *bare = "1\n-1 4:2";
    assert_int_equal(ml_libsvm_parse(bare, strlen(bare), "e", 0, 0, &ds, err, sizeof err), 0);
    assert_int_equal(ds.n, 2);
    assert_int_equal(ds.row_ptr[1], 0);
    assert_int_equal(ds.d, 4);
    ml_dataset_free(&ds);
}

static void t_libsvm_bad(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        size_t dim;
        const char *want;
    } cases[] = {
        {"1 1:1\n-1 2:1\n1 3:1 2:1\n", 0, "bad:3: index 2 after 3 (indices must be strictly increasing)"},
        {"1 1:1 1:2\n", 0, "bad:1: index 1 after 1"},
        {"1 0:1\n", 0, "bad:1: index 0"},
        {"1 -2:1\n", 0, "bad:1: negative index"},
        {"1 5:1\n", 4, "bad:1: index 5 is past the declared dimension 4"},
        {"1 2:nan\n", 0, "bad:1: value in '2:nan' is not a finite number"},
        {"1 2:-inf\n", 0, "not a finite number"},
        {"1 2:1e999\n", 0, "not a finite number"},
        {"1 2:1e39\n", 0, "overflows a float"},
        {"1 2:1x\n", 0, "not a finite number"},
        {"1 2:\n", 0, "missing value"},
        {"1 2\n", 0, "bad:1: feature '2' is not index:value"},
        {"\n\n2:1 3:1\n", 0, "bad:3: missing label"},
        {"abc 1:2\n", 0, "bad:1: label 'abc' is not a number"},
        {"1.5 1:2\n", 0, "not an integer"},
        {"nan 1:2\n", 0, "not a number"},
        {"1 99999999999:1\n", 0, "not a whole number below 2^32"},
        {"1 1:1\n-1 1:1\n0 1:1\n", 0, "bad:2: label -1: negative labels"},
        {"1 qid:x 1:1\n", 0, "bad query id"},
        {"", 0, "bad: no examples"},
        {"# nothing\n\n   \n", 0, "bad: no examples"},
        {"1 1:1111111111111111111111111111111111111111111111111111111111111111111\n", 0, "not a finite number"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        char err[ERRLEN] = "";
        ml_dataset ds;
        int rc = ml_libsvm_parse(cases[c].text, strlen(cases[c].text), "bad", cases[c].dim, 0, &ds,
                                 err, sizeof err);
        if (rc != -1 || !strstr(err, cases[c].want))
            fail_msg("case %zu: rc %d, message '%s', expected '%s'", c, rc, err, cases[c].want);
        assert_null(ds.y);
    }
    /* a NUL byte in the middle of a line */
    char err[ERRLEN];
    ml_dataset ds;
    const char nul[] = "1 1:1\n1 2:\0001\n";
    assert_int_equal(ml_libsvm_parse(nul, sizeof nul - 1, "bad", 0, 0, &ds, err, sizeof err), -1);
    assert_non_null(strstr(err, "bad:2: NUL byte"));
}

/* Issue 15, item 18: strtod read 3:0x10 as 16, and a folder given as a
 * data file was "truncated or corrupt gzip?". */
static void t_libsvm_hex_and_folders_refused(void **state)
{
    (void)state;
    static const char *const hex[] = {"1 3:0x10\n", "1 3:-0X1p4\n", "0x1 3:1\n"};
    for (size_t c = 0; c < sizeof hex / sizeof *hex; c++) {
        char err[ERRLEN] = "";
        ml_dataset ds;
        if (ml_libsvm_parse(hex[c], strlen(hex[c]), "hex", 0, 0, &ds, err, sizeof err) != -1 ||
            !strstr(err, "hex:1: ") || !strstr(err, "not a"))
            fail_msg("'%s' read, or refused as '%s'", hex[c], err);
    }
    char err[ERRLEN] = "";
    ml_dataset ds;
    assert_int_equal(ml_libsvm_load(tmpdir, 0, 0, &ds, err, sizeof err), -1);
    if (!strstr(err, "a folder, not a data file") || strstr(err, "gzip"))
        fail_msg("a folder as LIBSVM data: '%s'", err);
    /* an IDX file alone (no ",LABELS"): its magic says what it is */
    static const unsigned char labels[] = {0, 0, 8, 1, 0, 0, 0, 2, 3, 7};
    const char *idx = write_file("lonely.idx", labels, sizeof labels, 1);
    assert_int_equal(ml_libsvm_load(idx, 0, 0, &ds, err, sizeof err), -1);
    if (!strstr(err, "looks like an IDX file (magic 0x00000801)") || !strstr(err, "--data IMAGES,LABELS"))
        fail_msg("an IDX file as LIBSVM data: '%s'", err);
}

static void t_libsvm_files(void **state)
{
    (void)state;
    char err[ERRLEN];
    ml_dataset ds;
    const char *text = "+1 1:0.5 4:1\n-1 2:1\n";
    const char *gz = write_file("ok.libsvm.gz", text, strlen(text), 1);
    assert_int_equal(ml_libsvm_load(gz, 0, 0, &ds, err, sizeof err), 0);
    assert_int_equal(ds.n, 2);
    assert_int_equal(ds.d, 4);
    ml_dataset_free(&ds);
    /* a gzip stream cut short */
    char big[4096] = {0};
    for (size_t k = 0; k < sizeof big; k += 8)
        snprintf(big + k, 9, "1 %d:1\n", (int)(k % 9) + 1);
    const char *full = write_file("big.gz", big, sizeof big - 1, 1);
    FILE *f = fopen(full, "rb");
    unsigned char buf[8192];
    size_t len = fread(buf, 1, sizeof buf, f);
    fclose(f);
    const char *cut = write_file("cut.libsvm.gz", buf, len / 2, 0);
    assert_int_equal(ml_libsvm_load(cut, 0, 0, &ds, err, sizeof err), -1);
    assert_non_null(strstr(err, "cut.libsvm.gz: byte"));
    assert_non_null(strstr(err, "gzip"));
    assert_int_equal(ml_libsvm_load("/nonexistent/x.libsvm", 0, 0, &ds, err, sizeof err), -1);
    assert_non_null(strstr(err, "/nonexistent/x.libsvm: cannot open"));
    const char *empty = write_file("empty.libsvm", "", 0, 0);
    assert_int_equal(ml_libsvm_load(empty, 0, 0, &ds, err, sizeof err), -1);
    assert_non_null(strstr(err, "no examples"));
}

/* An IDX header: magic, then dims, big-endian. */
static size_t idx_header(unsigned char *p, uint32_t magic, const uint32_t *dims, int ndim)
{
    uint32_t words[4] = {magic, dims[0], ndim > 1 ? dims[1] : 0, ndim > 2 ? dims[2] : 0};
    for (int w = 0; w <= ndim; w++)
        for (int b = 0; b < 4; b++)
            p[4 * w + b] = (unsigned char)(words[w] >> (24 - 8 * b));
    return 4 + 4 * (size_t)ndim;
}

static void t_idx(void **state)
{
    (void)state;
    char err[ERRLEN];
    ml_dataset ds;
    unsigned char img[16 + 3 * 2 * 2 + 4] = {0}, lab[8 + 3 + 1] = {0};
    uint32_t idims[3] = {3, 2, 2}, ldims[1] = {3};
    size_t ih = idx_header(img, 0x803, idims, 3), lh = idx_header(lab, 0x801, ldims, 1);
    for (int k = 0; k < 12; k++)
        img[ih + k] = (unsigned char)(k * 23);
    lab[lh] = 4, lab[lh + 1] = 0, lab[lh + 2] = 9;
    const char *ip = write_file("img.gz", img, ih + 12, 1), *lp = write_file("lab", lab, lh + 3, 0);
    assert_int_equal(ml_idx_load(ip, lp, 0, &ds, err, sizeof err), 0);
    assert_int_equal(ds.n, 3);
    assert_int_equal(ds.d, 4);
    assert_int_equal(ds.classes, 10);
    assert_false(ds.sparse);
    assert_true(fabsf(ds.x[11] - (11 * 23) / 255.0f) < 1e-7f);
    assert_int_equal(ds.y[2], 9);
    ml_dataset_free(&ds);
    assert_int_equal(ml_idx_load(ip, lp, 2, &ds, err, sizeof err), 0);
    assert_int_equal(ds.n, 2);
    ml_dataset_free(&ds);

    /* refusals, each with the byte offset */
    const char *p = write_file("swapped", img, ih + 12, 0);
    assert_int_equal(ml_idx_load(lp, p, 0, &ds, err, sizeof err), -1);
    assert_non_null(strstr(err, "byte 0: magic number 0x00000801, expected 0x00000803"));
    p = write_file("short", img, ih + 7, 0);
    assert_int_equal(ml_idx_load(p, lp, 0, &ds, err, sizeof err), -1);
    assert_non_null(strstr(err, "short: byte 23: data truncated"));
    p = write_file("long", img, ih + 13, 0);
    assert_int_equal(ml_idx_load(p, lp, 0, &ds, err, sizeof err), -1);
    assert_non_null(strstr(err, "long: byte 28: 1 unexpected bytes"));
    p = write_file("head", img, 9, 0);
    assert_int_equal(ml_idx_load(p, lp, 0, &ds, err, sizeof err), -1);
    assert_non_null(strstr(err, "file ends inside the 16-byte header"));
    ldims[0] = 2;
    lh = idx_header(lab, 0x801, ldims, 1);
    p = write_file("lab2", lab, lh + 2, 0);
    assert_int_equal(ml_idx_load(ip, p, 0, &ds, err, sizeof err), -1);
    assert_non_null(strstr(err, "2 labels for the 3 images"));
    /* a truncated gzip */
    FILE *f = fopen(ip, "rb");
    unsigned char gz[256];
    size_t len = fread(gz, 1, sizeof gz, f);
    fclose(f);
    p = write_file("cut.gz", gz, len - 6, 0);
    assert_int_equal(ml_idx_load(p, lp, 0, &ds, err, sizeof err), -1);
    assert_non_null(strstr(err, "gzip"));
}

/* Small files that would make distlab allocate without bound are refused
 * at the limits, before the allocation, with the file, the line or byte,
 * the limit and how to raise it; raising the limit lets them through. */
static void t_limits(void **state)
{
    (void)state;
    char err[ERRLEN];
    ml_dataset ds;
    unsetenv("DISTLAB_DATA_LIMIT");
    unsetenv("DISTLAB_MAX_FEATURES");

    /* one LIBSVM index of 2^32-1: weights for four billion features */
    const char *huge = "1 1:1\n-1 4294967295:1\n";
    const char *hp = write_file("huge-index.libsvm", huge, strlen(huge), 0);
    assert_int_equal(ml_libsvm_load(hp, 0, 0, &ds, err, sizeof err), -1);
    if (!strstr(err, "huge-index.libsvm:2: index 4294967295 is past the limit of 16777216 features; "
                     "raise it with DISTLAB_MAX_FEATURES=N"))
        fail_msg("%s", err);
    setenv("DISTLAB_MAX_FEATURES", "4294967295", 1);
    assert_int_equal(ml_libsvm_load(hp, 0, 0, &ds, err, sizeof err), 0);
    assert_true(ds.d == 4294967295u);
    ml_dataset_free(&ds);
    setenv("DISTLAB_MAX_FEATURES", "100", 1);
    ml_dataset train, test;
    assert_int_equal(ml_dataset_open("synth-dense:n=10,d=101,classes=2", 1, 0, 0, &train, &test, err,
                                     sizeof err), -1);
    assert_non_null(strstr(err, "d=101 is past the limit of 100 features"));
    setenv("DISTLAB_MAX_FEATURES", "many", 1);
    assert_int_equal(ml_libsvm_load(hp, 0, 0, &ds, err, sizeof err), -1);
    assert_non_null(strstr(err, "$DISTLAB_MAX_FEATURES is 'many'"));
    unsetenv("DISTLAB_MAX_FEATURES");

    /* a gzip of 1 MiB of text, read with a 64 KiB limit */
    size_t big = 1 << 20;
    char *text = malloc(big);
    assert_non_null(text);
    for (size_t k = 0; k < big; k += 8)
        memcpy(text + k, "1 1:1 \n\n", 8);
    const char *gp = write_file("inflates.libsvm.gz", text, big, 1);
    setenv("DISTLAB_DATA_LIMIT", "64KiB", 1);
    assert_int_equal(ml_libsvm_load(gp, 0, 0, &ds, err, sizeof err), -1);
    if (!strstr(err, "inflates.libsvm.gz: line 16385: more than the first 65536 bytes, past the limit of "
                     "64 KiB (65536 bytes) on one data file's uncompressed size; raise it with DISTLAB_DATA_LIMIT"))
        fail_msg("%s", err);
    setenv("DISTLAB_DATA_LIMIT", "2MiB", 1);
    assert_int_equal(ml_libsvm_load(gp, 0, 0, &ds, err, sizeof err), 0);
    ml_dataset_free(&ds);
    setenv("DISTLAB_DATA_LIMIT", "lots", 1);
    assert_int_equal(ml_libsvm_load(gp, 0, 0, &ds, err, sizeof err), -1);
    assert_non_null(strstr(err, "$DISTLAB_DATA_LIMIT is 'lots'"));

    /* synthetic sets: their bytes against the same limit, before making them */
    ml_dataset tr, te;
    setenv("DISTLAB_DATA_LIMIT", "64KiB", 1);
    assert_int_equal(ml_dataset_open("synth-dense:n=1000,d=100,classes=2", 1, 0, 0, &tr, &te, err, sizeof err), -1);
    if (!strstr(err, "synth-dense: (n + test) x d x 4 bytes = 468.75 KiB of examples, past the limit of 64 KiB"))
        fail_msg("%s", err);
    assert_int_equal(ml_dataset_open("synth-sparse:n=1000,d=100,nnz=10", 1, 0, 0, &tr, &te, err, sizeof err), -1);
    if (!strstr(err, "synth-sparse: (n + test) x nnz x 8 bytes = 93.75 KiB") || !strstr(err, "DISTLAB_DATA_LIMIT="))
        fail_msg("%s", err);
    assert_int_equal(ml_dataset_open("synth-dense:n=100,d=100,classes=2", 1, 0, 0, &tr, &te, err, sizeof err), 0);
    ml_dataset_free(&tr);
    ml_dataset_free(&te);

    /* IDX: refused at the header that announces 1 MiB past a 64 KiB limit;
     * data past what the header announces is not read whole */
    unsigned char lab[8 + 4] = {0};
    uint32_t ldims[1] = {4};
    size_t lh = idx_header(lab, 0x801, ldims, 1);
    const char *lp = write_file("lab4", lab, lh + 4, 0);
    uint32_t idims[3] = {4, 512, 512};
    size_t ih = idx_header((unsigned char *)text, 0x803, idims, 3);
    memset(text + ih, 7, big - ih);
    const char *ip = write_file("img-1mib.gz", text, ih + (size_t)4 * 512 * 512, 1);
    setenv("DISTLAB_DATA_LIMIT", "64KiB", 1);
    assert_int_equal(ml_idx_load(ip, lp, 0, &ds, err, sizeof err), -1);
    if (!strstr(err, "img-1mib.gz: byte 16: the header announces 1048576 bytes of data, past the limit of 64 KiB"))
        fail_msg("%s", err);
    setenv("DISTLAB_DATA_LIMIT", "2MiB", 1);
    setenv("DISTLAB_MAX_FEATURES", "1000", 1);
    assert_int_equal(ml_idx_load(ip, lp, 0, &ds, err, sizeof err), -1);
    assert_non_null(strstr(err, "512 x 512 pixels per image is past the limit of 1000 features"));
    unsetenv("DISTLAB_MAX_FEATURES");
    assert_int_equal(ml_idx_load(ip, lp, 0, &ds, err, sizeof err), 0);
    ml_dataset_free(&ds);
    uint32_t small[3] = {4, 1, 1};
    ih = idx_header((unsigned char *)text, 0x803, small, 3);
    ip = write_file("img-trailing.gz", text, big, 1);
    assert_int_equal(ml_idx_load(ip, lp, 0, &ds, err, sizeof err), -1);
    assert_non_null(strstr(err, "img-trailing.gz: byte 20: more than 4096 unexpected bytes after the data"));
    unsetenv("DISTLAB_DATA_LIMIT");
    free(text);
}

static void t_fashion_mnist(void **state)
{
    (void)state;
    char err[ERRLEN];
    ml_dataset train, test;
    if (access(ML_FASHION_MNIST_DIR "/train-images-idx3-ubyte.gz", R_OK) != 0)
        skip(); /* make deps installs dataset-fashion-mnist */
    assert_int_equal(ml_dataset_open("fashion-mnist", 1, 1000, 300, &train, &test, err, sizeof err), 0);
    assert_int_equal(train.n, 1000);
    assert_int_equal(test.n, 300);
    assert_int_equal(train.d, 784);
    assert_int_equal(train.classes, 10);
    assert_int_equal(train.y[0], 9); /* the first training image is an ankle boot */
    float lo = 1, hi = 0;
    for (size_t k = 0; k < train.n * train.d; k++) {
        lo = fminf(lo, train.x[k]);
        hi = fmaxf(hi, train.x[k]);
    }
    assert_true(lo == 0.0f && hi == 1.0f);
    ml_dataset_free(&train);
    ml_dataset_free(&test);
}

static void t_synth(void **state)
{
    (void)state;
    char err[ERRLEN];
    ml_dataset a, b, c;
    ml_synth_sparse p = {2000, 5000, 20, 1.0, 0.1, 0.0};
    assert_int_equal(ml_synth_sparse_make(&p, 7, &a, err, sizeof err), 0);
    assert_int_equal(ml_synth_sparse_make(&p, 7, &b, err, sizeof err), 0);
    assert_int_equal(ml_synth_sparse_make(&p, 8, &c, err, sizeof err), 0);
    size_t z = a.row_ptr[a.n];
    assert_int_equal(z, 2000 * 20);
    assert_memory_equal(a.col, b.col, z * sizeof *a.col);
    assert_memory_equal(a.val, b.val, z * sizeof *a.val);
    assert_memory_equal(a.y, b.y, a.n * sizeof *a.y);
    assert_memory_not_equal(a.col, c.col, z * sizeof *a.col);
    size_t *count = calloc(a.d, sizeof *count), pos = 0;
    for (size_t i = 0; i < a.n; i++) {
        double norm2 = 0;
        for (size_t k = a.row_ptr[i]; k < a.row_ptr[i + 1]; k++) {
            if (k > a.row_ptr[i])
                assert_true(a.col[k] > a.col[k - 1]);
            norm2 += (double)a.val[k] * a.val[k];
            count[a.col[k]]++;
        }
        assert_true(fabs(norm2 - 1) < 1e-5);
        pos += (size_t)a.y[i];
    }
    /* power law: the head is in most rows, the tail is rare */
    size_t tail = 0;
    for (size_t j = 2500; j < 5000; j++)
        tail += count[j];
    printf("# synth-sparse: feature 0 in %zu of 2000 rows, feature 9 in %zu, features 2500+ in %zu "
           "entries; %zu positive labels\n", count[0], count[9], tail, pos);
    assert_true(count[0] > count[9] && count[9] > count[999]);
    assert_true(count[0] > 1000);
    assert_true(tail < z / 10);
    assert_true(pos > 500 && pos < 1500);
    free(count);
    ml_dataset_free(&a);
    ml_dataset_free(&b);
    ml_dataset_free(&c);

    ml_synth_dense q = {500, 10, 4, 3.0};
    assert_int_equal(ml_synth_dense_make(&q, 3, &a, err, sizeof err), 0);
    assert_int_equal(ml_synth_dense_make(&q, 3, &b, err, sizeof err), 0);
    assert_memory_equal(a.x, b.x, 500 * 10 * sizeof *a.x);
    assert_memory_equal(a.y, b.y, 500 * sizeof *a.y);
    int seen[4] = {0};
    for (size_t i = 0; i < a.n; i++) {
        assert_true(a.y[i] >= 0 && a.y[i] < 4);
        seen[a.y[i]] = 1;
    }
    assert_true(seen[0] && seen[1] && seen[2] && seen[3]);
    ml_dataset_free(&a);
    ml_dataset_free(&b);

    assert_int_equal(ml_synth_sparse_make(&(ml_synth_sparse){10, 10, 6, 1, 0, 0}, 1, &a, err, sizeof err), -1);
    assert_non_null(strstr(err, "at most d/2"));
}

static void t_open(void **state)
{
    (void)state;
    char err[ERRLEN];
    ml_dataset tr, te;
    assert_int_equal(ml_dataset_open("synth-dense:n=100,d=5,classes=3,test=40", 2, 0, 0, &tr, &te, err, sizeof err), 0);
    assert_int_equal(tr.n, 100);
    assert_int_equal(te.n, 40);
    assert_int_equal(tr.classes, 3);
    ml_dataset_free(&tr);
    ml_dataset_free(&te);
    assert_int_equal(ml_dataset_open("synth-sparse:n=100,d=400,nnz=8", 2, 50, 0, &tr, &te, err, sizeof err), 0);
    assert_int_equal(tr.n, 50);
    assert_int_equal(te.n, 20);
    assert_true(tr.sparse);
    ml_dataset_free(&tr);
    ml_dataset_free(&te);
    static const struct { const char *name, *want; } bad[] = {
        {"synth-sparse:n=10", "n, d and nnz are required"},
        {"synth-sparse:n=10,d=100,nnz=5,foo=1", "unknown key 'foo'"},
        {"synth-dense:n=10,d=x,classes=2", "d=x is not a number"},
        {"synth-dense:n=10,d=3,classes=1", "classes (2..65536)"},
        {"mnist", "unknown dataset 'mnist'"},
    };
    for (size_t c = 0; c < sizeof bad / sizeof bad[0]; c++) {
        if (ml_dataset_open(bad[c].name, 1, 0, 0, &tr, &te, err, sizeof err) != -1 || !strstr(err, bad[c].want))
            fail_msg("'%s': message '%s', expected '%s'", bad[c].name, err, bad[c].want);
    }
}

static void t_split_scale(void **state)
{
    (void)state;
    char err[ERRLEN];
    ml_dataset ds, a, b;
    ml_synth_dense q = {200, 6, 3, 3.0};
    assert_int_equal(ml_synth_dense_make(&q, 4, &ds, err, sizeof err), 0);
    for (size_t i = 0; i < ds.n; i++) /* tag each example in feature 0 */
        ds.x[i * ds.d] = (float)i;
    assert_int_equal(ml_dataset_split(&ds, 150, 9, &a, &b, err, sizeof err), 0);
    assert_int_equal(a.n, 150);
    assert_int_equal(b.n, 50);
    int *seen = calloc(ds.n, sizeof *seen);
    for (size_t i = 0; i < a.n; i++)
        seen[(size_t)a.x[i * a.d]]++;
    for (size_t i = 0; i < b.n; i++) {
        size_t id = (size_t)b.x[i * b.d];
        seen[id]++;
        assert_int_equal(b.y[i], ds.y[id]);
        assert_memory_equal(b.x + i * b.d, ds.x + id * ds.d, ds.d * sizeof *ds.x);
    }
    for (size_t i = 0; i < ds.n; i++)
        assert_int_equal(seen[i], 1);
    assert_true(a.x[0] != 0.0f || a.x[a.d] != 1.0f); /* shuffled */
    free(seen);

    ml_scaler s;
    assert_int_equal(ml_scaler_fit(&s, &a, ML_SCALE_STANDARD, err, sizeof err), 0);
    assert_int_equal(ml_scaler_apply(&s, &a, err, sizeof err), 0);
    for (size_t j = 0; j < a.d; j++) {
        double m = 0, v = 0;
        for (size_t i = 0; i < a.n; i++)
            m += a.x[i * a.d + j];
        m /= (double)a.n;
        for (size_t i = 0; i < a.n; i++)
            v += (a.x[i * a.d + j] - m) * (a.x[i * a.d + j] - m);
        v /= (double)a.n;
        assert_true(fabs(m) < 1e-4 && fabs(v - 1) < 1e-3);
    }
    ml_scaler_free(&s);
    assert_int_equal(ml_scaler_fit(&s, &b, ML_SCALE_MAXABS, err, sizeof err), 0);
    assert_int_equal(ml_scaler_apply(&s, &b, err, sizeof err), 0);
    float mx = 0;
    for (size_t k = 0; k < b.n * b.d; k++)
        mx = fmaxf(mx, fabsf(b.x[k]));
    assert_true(fabsf(mx - 1) < 1e-6f);
    ml_scaler_free(&s);
    ml_dataset_free(&a);
    ml_dataset_free(&b);
    ml_dataset_free(&ds);

    /* sparse standardisation keeps zeros and gives unit second moment */
    ml_synth_sparse p = {300, 40, 5, 1.0, 0.1, 0.0};
    assert_int_equal(ml_synth_sparse_make(&p, 5, &ds, err, sizeof err), 0);
    size_t z = ds.row_ptr[ds.n];
    assert_int_equal(ml_scaler_fit(&s, &ds, ML_SCALE_STANDARD, err, sizeof err), 0);
    assert_int_equal(ml_scaler_apply(&s, &ds, err, sizeof err), 0);
    assert_int_equal(ds.row_ptr[ds.n], z);
    double m2 = 0;
    for (size_t k = 0; k < z; k++)
        if (ds.col[k] == 0)
            m2 += (double)ds.val[k] * ds.val[k];
    assert_true(fabs(m2 / (double)ds.n - 1) < 1e-4);
    ml_scaler_free(&s);
    ml_dataset_free(&ds);
}

static void t_shard(void **state)
{
    (void)state;
    size_t ns[] = {0, 1, 10, 13, 1000};
    for (size_t a = 0; a < sizeof ns / sizeof ns[0]; a++) {
        size_t n = ns[a];
        for (int P = 1; P <= 7; P++) {
            for (int kind = 0; kind < 2; kind++) {
                int *hits = calloc(n + 1, sizeof *hits);
                size_t *idx = malloc((n + 1) * sizeof *idx), lo = n, hi = 0;
                for (int r = 0; r < P; r++) {
                    size_t c = ml_shard_indices(n, r, P, (ml_shard_kind)kind, idx);
                    assert_int_equal(c, ml_shard_count(n, r, P, (ml_shard_kind)kind));
                    lo = c < lo ? c : lo;
                    hi = c > hi ? c : hi;
                    for (size_t k = 0; k < c; k++) {
                        assert_true(idx[k] < n);
                        if (k)
                            assert_true(idx[k] > idx[k - 1]);
                        if (kind == ML_SHARD_CONTIGUOUS && k)
                            assert_int_equal(idx[k], idx[k - 1] + 1);
                        if (kind == ML_SHARD_STRIDED)
                            assert_int_equal(idx[k] % (size_t)P, (size_t)r);
                        hits[idx[k]]++;
                    }
                }
                for (size_t i = 0; i < n; i++)
                    assert_int_equal(hits[i], 1);
                assert_true(hi - lo <= 1);
                free(hits);
                free(idx);
            }
        }
    }
    assert_int_equal(ml_shard_count(10, 3, 3, ML_SHARD_CONTIGUOUS), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_libsvm_good),
        cmocka_unit_test(t_libsvm_bad),
        cmocka_unit_test(t_libsvm_hex_and_folders_refused),
        cmocka_unit_test(t_libsvm_files),
        cmocka_unit_test(t_idx),
        cmocka_unit_test(t_limits),
        cmocka_unit_test(t_fashion_mnist),
        cmocka_unit_test(t_synth),
        cmocka_unit_test(t_open),
        cmocka_unit_test(t_split_scale),
        cmocka_unit_test(t_shard),
    };
    return cmocka_run_group_tests_name("ml data", tests, setup, teardown);
}
