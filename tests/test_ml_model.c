/* test_ml_model.c -- every model's gradient matches finite differences of
 * its loss (dense and sparse data, with L2), the sparse L2 estimate is
 * exact over a full pass, every flop count equals its documented formula,
 * the parameter layout is the documented one, serial SGD's fused step
 * gives the bits of the gradient and optimizer calls, and the MLP's layer pieces
 * compose (a layer split by output units gives the same activations), and
 * the process keeps every CPU it was started with (model.c runs the
 * libraries' initialisers on one CPU so that OpenBLAS starts no thread).
 */
#define _GNU_SOURCE /* sched_getaffinity */
#include <sched.h>
#include <setjmp.h>
#include <sys/wait.h>
#include <unistd.h>
#include <stdarg.h>
#include <stddef.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ml/data.h"
#include "ml/model.h"
#include "ml/optim.h"

#define ERRLEN 512

static void make_dense(ml_dataset *ds, size_t n, size_t d, int classes, uint64_t seed)
{
    char err[ERRLEN];
    ml_synth_dense p = {n, d, classes, 3.0};
    assert_int_equal(ml_synth_dense_make(&p, seed, ds, err, sizeof err), 0);
}

static void make_sparse(ml_dataset *ds, size_t n, size_t d, size_t nnz, uint64_t seed)
{
    char err[ERRLEN];
    ml_synth_sparse p = {n, d, nnz, 1.0, 0.1, 0.0};
    assert_int_equal(ml_synth_sparse_make(&p, seed, ds, err, sizeof err), 0);
}

/* Regularised batch objective: the loss the gradient should differentiate
 * (a dense gradient's L2 term is exact; run sparse checks with l2 = 0). */
static double batch_objective(ml_model *m, const float *params, const ml_dataset *ds,
                              const size_t *idx, size_t batch)
{
    char err[ERRLEN];
    double loss, acc;
    assert_int_equal(ml_model_evaluate(m, params, ds, idx, batch, &loss, &acc, NULL, NULL, err,
                                       sizeof err), 0);
    double norm2 = 0;
    for (size_t k = 0; k < ml_model_nparams(m); k++)
        norm2 += (double)params[k] * params[k];
    return loss + 0.5 * ml_model_l2(m) * norm2;
}

/* Largest relative error between the model's gradient and central
 * differences, over every parameter. The MLP uses a smaller step so the
 * differences do not straddle a ReLU kink. */
static double grad_check_batch(const char *spec, const ml_dataset *ds, double l2, int dense_only,
                               uint64_t seed, size_t batch)
{
    char err[ERRLEN];
    ml_model *m;
    ml_grad g;
    assert_int_equal(ml_model_create(spec, ds->d, ds->classes, l2, &m, err, sizeof err), 0);
    size_t P = ml_model_nparams(m);
    float *params = malloc(P * sizeof *params), *ana = malloc(P * sizeof *ana);
    assert_non_null(params);
    assert_non_null(ana);
    ml_model_init_params(m, params, seed);
    /* linear models start at zero: move them somewhere generic */
    for (size_t k = 0; k < P; k++)
        params[k] += 0.3f * sinf((float)(k * 7 + 1));
    assert_int_equal(ml_grad_init(&g, P), 0);
    g.dense_only = dense_only;
    size_t idx[6] = {3, 0, 5, 6, 9, 11};
    double loss, flops;
    assert_int_equal(ml_model_loss_grad(m, params, ds, idx, batch, &g, &loss, &flops, err, sizeof err), 0);
    ml_grad_to_dense(&g, ana);
    double worst = 0;
    const float h = strncmp(spec, "mlp", 3) ? 1e-2f : 1e-3f;
    for (size_t k = 0; k < P; k++) {
        float keep = params[k];
        params[k] = keep + h;
        double up = batch_objective(m, params, ds, idx, batch);
        params[k] = keep - h;
        double down = batch_objective(m, params, ds, idx, batch);
        params[k] = keep;
        double num = (up - down) / (2.0 * h);
        double rel = fabs(num - ana[k]) / fmax(1e-2, fabs(num) + fabs(ana[k]));
        if (rel > worst)
            worst = rel;
    }
    printf("# gradient check %-12s %s data%s, batch %zu, l2=%g: max relative error %.2e over %zu params\n",
           spec, ds->sparse ? "sparse" : "dense", dense_only ? " (dense grad)" : "", batch, l2, worst, P);
    free(params);
    free(ana);
    ml_grad_free(&g);
    ml_model_free(m);
    return worst;
}

static double grad_check(const char *spec, const ml_dataset *ds, double l2, int dense_only,
                         uint64_t seed)
{
    return grad_check_batch(spec, ds, l2, dense_only, seed, 6);
}

static void t_gradcheck_dense(void **state)
{
    (void)state;
    ml_dataset bin, multi;
    make_dense(&bin, 16, 7, 2, 11);
    make_dense(&multi, 16, 7, 4, 12);
    assert_true(grad_check("logreg", &bin, 0.1, 0, 1) < 2e-3);
    assert_true(grad_check("svm", &bin, 0.1, 0, 1) < 2e-3);
    assert_true(grad_check("softmax", &multi, 0.1, 0, 1) < 2e-3);
    assert_true(grad_check("mlp:5,4", &multi, 0.1, 0, 3) < 5e-3);
    ml_dataset_free(&bin);
    ml_dataset_free(&multi);
}

static void t_gradcheck_sparse(void **state)
{
    (void)state;
    ml_dataset sp;
    make_sparse(&sp, 16, 20, 4, 13);
    /* without L2 the sparse gradient is the exact batch gradient */
    assert_true(grad_check("logreg", &sp, 0, 0, 1) < 2e-3);
    assert_true(grad_check("svm", &sp, 0, 0, 1) < 2e-3);
    assert_true(grad_check("softmax", &sp, 0, 0, 1) < 2e-3);
    /* a batch of one takes its own path (no merging of features) */
    assert_true(grad_check_batch("logreg", &sp, 0, 0, 1, 1) < 2e-3);
    assert_true(grad_check_batch("svm", &sp, 0, 0, 1, 1) < 2e-3);
    assert_true(grad_check_batch("softmax", &sp, 0, 0, 1, 1) < 2e-3);
    /* a dense gradient on sparse data carries the exact L2 term */
    assert_true(grad_check("logreg", &sp, 0.1, 1, 1) < 2e-3);
    assert_true(grad_check("softmax", &sp, 0.1, 1, 1) < 2e-3);
    assert_true(grad_check("mlp:6", &sp, 0.1, 0, 2) < 5e-3);
    ml_dataset_free(&sp);
}

/* Over one batch holding the whole set, the frequency-scaled sparse L2
 * term sums to exactly l2 * w on every feature the set has. */
static void t_sparse_l2_unbiased(void **state)
{
    (void)state;
    char err[ERRLEN];
    ml_dataset sp;
    make_sparse(&sp, 40, 30, 5, 21);
    const char *specs[] = {"logreg", "softmax"};
    for (int s = 0; s < 2; s++) {
        ml_model *m;
        ml_dataset ds = sp;
        int32_t *y = NULL;
        if (s == 1) { /* three classes for softmax */
            y = malloc(sp.n * sizeof *y);
            for (size_t i = 0; i < sp.n; i++)
                y[i] = (int32_t)(i % 3);
            ds.y = y;
            ds.classes = 3;
        }
        assert_int_equal(ml_model_create(specs[s], ds.d, ds.classes, 0.5, &m, err, sizeof err), 0);
        assert_int_equal(ml_model_set_freq(m, &ds, err, sizeof err), 0);
        size_t P = ml_model_nparams(m);
        float *params = malloc(P * sizeof *params), *a = malloc(P * sizeof *a);
        size_t *idx = malloc(ds.n * sizeof *idx);
        for (size_t k = 0; k < P; k++)
            params[k] = 0.2f * cosf((float)k);
        for (size_t i = 0; i < ds.n; i++)
            idx[i] = i;
        ml_grad gs, gd;
        double loss, f;
        assert_int_equal(ml_grad_init(&gs, P), 0);
        assert_int_equal(ml_grad_init(&gd, P), 0);
        gd.dense_only = 1;
        assert_int_equal(ml_model_loss_grad(m, params, &ds, idx, ds.n, &gs, &loss, &f, err, sizeof err), 0);
        assert_int_equal(ml_model_loss_grad(m, params, &ds, idx, ds.n, &gd, &loss, &f, err, sizeof err), 0);
        assert_true(gs.sparse);
        assert_false(gd.sparse);
        assert_true(gs.nnz < P);
        ml_grad_to_dense(&gs, a);
        double worst = 0;
        for (size_t k = 0; k < gs.nnz; k++) { /* every touched parameter */
            size_t j = gs.index[k];
            worst = fmax(worst, fabs(a[j] - gd.dense[j]));
        }
        printf("# sparse L2 estimate %s: max |sparse - exact| over a full pass %.2e\n", specs[s], worst);
        assert_true(worst < 2e-6);
        ml_grad_free(&gs);
        ml_grad_free(&gd);
        free(params);
        free(a);
        free(idx);
        free(y);
        ml_model_free(m);
    }
    ml_dataset_free(&sp);
}

/* One sparse gradient from a fresh model (frequencies from freq_of, or
 * none), into idx/val. */
static size_t fresh_grad(const char *spec, const ml_dataset *ds, const ml_dataset *freq_of,
                         const float *params, const size_t *idx, size_t batch, uint32_t *gi,
                         float *gv)
{
    char err[ERRLEN];
    ml_model *m;
    ml_grad g;
    double loss, f;
    assert_int_equal(ml_model_create(spec, ds->d, ds->classes, 0.3, &m, err, sizeof err), 0);
    if (freq_of)
        assert_int_equal(ml_model_set_freq(m, freq_of, err, sizeof err), 0);
    assert_int_equal(ml_grad_init(&g, ml_model_nparams(m)), 0);
    assert_int_equal(ml_model_loss_grad(m, params, ds, idx, batch, &g, &loss, &f, err, sizeof err), 0);
    assert_true(g.sparse);
    memcpy(gi, g.index, g.nnz * sizeof *gi);
    memcpy(gv, g.value, g.nnz * sizeof *gv);
    size_t nnz = g.nnz;
    ml_grad_free(&g);
    ml_model_free(m);
    return nnz;
}

/* A binary model keeps each feature's L2 factor for the batch size it last
 * saw: a model that has seen other batch sizes and other frequencies gives
 * the bits of a fresh one, and with no loss asked for (NULL) the same
 * gradient as with it. */
static void t_sparse_cached_factors(void **state)
{
    (void)state;
    char err[ERRLEN];
    ml_dataset sp, half;
    make_sparse(&sp, 40, 30, 5, 23);
    half = sp;
    half.n = 7; /* other frequencies: the first 7 examples only */
    const char *specs[] = {"logreg", "svm"};
    for (int s = 0; s < 2; s++) {
        ml_model *m;
        ml_grad g;
        double loss, f;
        assert_int_equal(ml_model_create(specs[s], sp.d, 2, 0.3, &m, err, sizeof err), 0);
        size_t P = ml_model_nparams(m);
        float *params = malloc(P * sizeof *params), *want_v = malloc(P * 6 * sizeof *want_v);
        uint32_t *want_i = malloc(P * 6 * sizeof *want_i);
        for (size_t k = 0; k < P; k++)
            params[k] = 0.2f * cosf((float)(3 * k + 1));
        assert_int_equal(ml_grad_init(&g, P), 0);
        size_t idx[7] = {4, 1, 9, 30, 22, 17, 2};
        /* batch sizes 1, 5, 1, 5 on frequencies of the whole set, then 5, 1 on those of half */
        for (int step = 0; step < 6; step++) {
            const ml_dataset *freq = step < 4 ? &sp : &half;
            size_t b = step % 2 || step == 4 ? 5 : 1; /* step 4: new frequencies, same size */
            if (step == 0 || step == 4)
                assert_int_equal(ml_model_set_freq(m, freq, err, sizeof err), 0);
            size_t want = fresh_grad(specs[s], &sp, freq, params, idx + step % 3, b, want_i, want_v);
            assert_int_equal(ml_model_loss_grad(m, params, &sp, idx + step % 3, b, &g,
                                                step % 3 ? NULL : &loss, &f, err, sizeof err), 0);
            assert_int_equal(g.nnz, want);
            assert_memory_equal(g.index, want_i, want * sizeof *want_i);
            assert_memory_equal(g.value, want_v, want * sizeof *want_v);
        }
        ml_grad_free(&g);
        free(params);
        free(want_v);
        free(want_i);
        ml_model_free(m);
    }
    ml_dataset_free(&sp);
}

/* Serial SGD's step on a binary model's sparse batch of several, written
 * the plain way (what ml_model_sgd_step's fused path must give, bit for
 * bit): each margin z_i = b + the row's dot product in four partial sums
 * (element k into sum k mod 4, combined (s0 + s1) + (s2 + s3)), dz_i =
 * dLoss/dz / B (0 below FLT_MIN), then for each nonzero in batch order
 * w_j -= lr (dz_i x_ij + reg_j w_j), with w_j as the batch found it and
 * reg_j = (float)(l2 / B) n / f_j (f_j counted in freq_of; 1 without),
 * then b -= lr (sum_i dz_i + l2 b). */
static void plain_sgd_batch(int svm, double l2, const ml_dataset *ds, const ml_dataset *freq_of,
                            float *w, const size_t *idx, size_t B, float lr)
{
    size_t d = ds->d;
    float *w0 = malloc((d + 1) * sizeof *w0), *reg = malloc(d * sizeof *reg);
    float *dz = malloc(B * sizeof *dz);
    memcpy(w0, w, (d + 1) * sizeof *w0);
    for (size_t j = 0; j < d; j++) {
        size_t f = 0;
        if (freq_of)
            for (size_t k = 0; k < freq_of->row_ptr[freq_of->n]; k++)
                f += freq_of->col[k] == j;
        float inv = f ? (float)((double)freq_of->n / (double)f) : 1.0f;
        reg[j] = (float)(l2 / (double)B) * inv;
    }
    float sum = 0;
    for (size_t i = 0; i < B; i++) {
        size_t r = idx[i];
        float part[4] = {0, 0, 0, 0};
        for (size_t k = ds->row_ptr[r]; k < ds->row_ptr[r + 1]; k++)
            part[(k - ds->row_ptr[r]) % 4] += ds->val[k] * w0[ds->col[k]];
        float z = (part[0] + part[1]) + (part[2] + part[3]) + w0[d];
        float s = ds->y[r] ? 1.0f : -1.0f, t = s * z, e = expf(-fabsf(t)), g;
        if (svm)
            g = t < 1 ? -s : 0;
        else
            g = -s * (t > 0 ? e / (1.0f + e) : 1.0f / (1.0f + e));
        double v = g * (1.0f / (float)B);
        dz[i] = fabs(v) < FLT_MIN ? 0.0f : (float)v;
    }
    for (size_t i = 0; i < B; i++) {
        size_t r = idx[i];
        sum += dz[i];
        for (size_t k = ds->row_ptr[r]; k < ds->row_ptr[r + 1]; k++) {
            uint32_t j = ds->col[k];
            w[j] -= lr * (dz[i] * ds->val[k] + reg[j] * w0[j]);
        }
    }
    w[d] -= lr * (sum + (float)l2 * w0[d]);
    free(w0);
    free(reg);
    free(dz);
}

/* ml_model_sgd_step gives the bits of ml_model_loss_grad followed by a
 * momentum-free ml_optim_step(_sparse), step after step: the binary
 * models' fused path on sparse data with one example (frequencies set or
 * not; a weight at -0 and one the updates drive far), and the general path
 * (softmax, dense data, a dense-only gradient), with the same flop counts.
 * A binary model's sparse batch of several takes one step per nonzero
 * instead of one per merged feature: those steps give plain_sgd_batch's
 * bits, and the two-call step's result up to rounding (batches whose rows
 * share features, so merged ones), with 2 flops per nonzero for the update. */
static void t_sgd_step_same_bits(void **state)
{
    (void)state;
    char err[ERRLEN];
    ml_dataset sp, sp7, dn;
    make_sparse(&sp, 60, 25, 8, 31); /* 8 of 25 features a row: batches repeat many */
    make_sparse(&sp7, 60, 25, 7, 33); /* 7: a margin's last three in the first three sums */
    make_dense(&dn, 30, 6, 2, 5);
    /* freq: the set the frequencies come from; stream: ml_model_stream_freq
     * on it too (the last such case steps on another set: looked up) */
    struct {
        const char *spec;
        const ml_dataset *ds, *freq;
        int dense_only, stream;
    } cases[] = {{"logreg", &sp, &sp, 0, 0},    {"logreg", &sp, NULL, 0, 0},
                 {"svm", &sp, &sp, 0, 0},       {"logreg", &sp7, &sp7, 0, 0},
                 {"svm", &sp7, NULL, 0, 0},     {"logreg", &sp, &sp, 0, 1},
                 {"svm", &sp7, &sp7, 0, 1},     {"logreg", &sp7, &sp, 0, 1},
                 {"logreg", &sp, &sp, 1, 0},    {"logreg", &dn, NULL, 0, 0},
                 {"softmax", &sp, &sp, 0, 0}};
    size_t batches[] = {1, 1, 5, 16, 1, 3, 60};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        ml_model *m;
        ml_optim o;
        ml_grad g, h;
        assert_int_equal(ml_model_create(cases[c].spec, cases[c].ds->d, 2, 0.05, &m, err, sizeof err), 0);
        if (cases[c].freq)
            assert_int_equal(ml_model_set_freq(m, cases[c].freq, err, sizeof err), 0);
        if (cases[c].stream)
            assert_int_equal(ml_model_stream_freq(m, cases[c].freq, err, sizeof err), 0);
        size_t P = ml_model_nparams(m), n = cases[c].ds->n;
        float *a = malloc(P * sizeof *a), *b = malloc(P * sizeof *b), *two = malloc(P * sizeof *two);
        for (size_t k = 0; k < P; k++)
            a[k] = b[k] = 0.3f * sinf((float)(5 * k + 2));
        a[1] = b[1] = -0.0f;
        assert_int_equal(ml_optim_init(&o, ML_OPTIM_SGD, P, 0, 0, err, sizeof err), 0);
        assert_int_equal(ml_grad_init(&g, P), 0);
        assert_int_equal(ml_grad_init(&h, P), 0);
        g.dense_only = h.dense_only = cases[c].dense_only;
        int binary_sparse = cases[c].ds->sparse && !cases[c].dense_only && strcmp(cases[c].spec, "softmax");
        size_t *idx = malloc(n * sizeof *idx);
        for (size_t i = 0; i < n; i++)
            idx[i] = (i * 7 + 3) % n;
        size_t at = 0, per_nonzero = 0;
        double worst = 0;
        for (int step = 0; step < 40; step++) {
            size_t bs = batches[step % 7] < n ? batches[step % 7] : n;
            if (at + bs > n)
                at = 0;
            float lr = step % 2 ? 0.7f : 2.5f;
            double fa, fb;
            assert_int_equal(ml_model_sgd_step(m, a, cases[c].ds, idx + at, bs, lr, &g, &fa, err,
                                               sizeof err), 0);
            memcpy(two, b, P * sizeof *two);
            assert_int_equal(ml_model_loss_grad(m, two, cases[c].ds, idx + at, bs, &h, NULL, &fb, err,
                                                sizeof err), 0);
            if (binary_sparse && bs > 1) {
                size_t z = 0;
                for (size_t i = 0; i < bs; i++)
                    z += cases[c].ds->row_ptr[idx[at + i] + 1] - cases[c].ds->row_ptr[idx[at + i]];
                assert_true(fa == fb + 2.0 * (double)(z + 1));
                ml_optim_step_sparse(&o, two, h.index, h.value, h.nnz, lr);
                plain_sgd_batch(!strcmp(cases[c].spec, "svm"), 0.05, cases[c].ds,
                                cases[c].freq, b, idx + at, bs, lr);
                for (size_t k = 0; k < P; k++) {
                    double diff = fabs((double)a[k] - two[k]) / (1.0 + fabs(two[k]));
                    worst = diff > worst ? diff : worst;
                }
                assert_true(worst < 2e-6);
                per_nonzero++;
            } else {
                fb += h.sparse ? ml_optim_step_sparse(&o, two, h.index, h.value, h.nnz, lr)
                               : ml_optim_step(&o, two, h.dense, 0, P, lr);
                memcpy(b, two, P * sizeof *b);
                assert_true(fa == fb);
            }
            assert_memory_equal(a, b, P * sizeof *a);
            at += bs;
        }
        if (binary_sparse)
            assert_true(per_nonzero > 10);
        printf("# %s on %s data%s%s: 40 steps, the same bits", cases[c].spec,
               cases[c].ds == &sp7 ? "sparse (7 a row)" : cases[c].ds->sparse ? "sparse" : "dense",
               !cases[c].freq ? "" : cases[c].freq != cases[c].ds ? ", another set's frequencies"
                                   : cases[c].stream ? ", frequencies streamed" : ", frequencies",
               cases[c].dense_only ? ", dense-only gradient" : "");
        if (per_nonzero)
            printf(" (%zu of them batches stepped per nonzero: at most %.1e from the two-call step)",
                   per_nonzero, worst);
        printf("\n");
        free(idx);
        free(a);
        free(b);
        free(two);
        ml_grad_free(&g);
        ml_grad_free(&h);
        ml_optim_free(&o);
        ml_model_free(m);
    }
    ml_dataset_free(&sp);
    ml_dataset_free(&sp7);
    ml_dataset_free(&dn);
}

/* The masked (branch-free, four at a time) ReLU passes give what the
 * plain definitions give, bit for bit, on -0, NaN, tiny and huge values,
 * at every length around the width of four. */
static void t_relu_masks(void **state)
{
    (void)state;
    const float vals[] = {1.5f, -2.0f, -0.0f, 0.0f, NAN, -NAN, 1e-40f, -1e-40f, INFINITY, -INFINITY, 3.0f};
    const size_t nv = sizeof vals / sizeof vals[0];
    for (size_t n = 1; n <= nv; n++) {
        float in[16], b[16], out[16], delta[16], want[16];
        for (size_t k = 0; k < n; k++) {
            in[k] = vals[(k * 7) % nv];
            b[k] = 0;
        }
        /* forward: a batch of n one-input examples, weight 1, bias 0 */
        float one = 1.0f;
        ml_dense_forward(in, n, 1, &one, 1, b, 1, 1, out);
        for (size_t k = 0; k < n; k++) {
            float x = 0.0f + in[k];
            want[k] = x > 0 ? x : 0;
        }
        assert_memory_equal(out, want, n * sizeof *out);
        for (size_t k = 0; k < n; k++) {
            delta[k] = vals[(k * 3 + 1) % nv];
            want[k] = in[k] <= 0 ? 0 : delta[k];
        }
        ml_relu_backward(in, n, delta);
        assert_memory_equal(delta, want, n * sizeof *delta);
    }
}

/* The formulas of model.h, written out again here. */
static double expected_flops(const char *spec, size_t B, size_t Z, size_t K, size_t P,
                             const size_t *w, int L, int grad, int sparse)
{
    double b = (double)B, z = (double)Z, k = (double)K, p = (double)P;
    if (!strcmp(spec, "logreg") || !strcmp(spec, "svm"))
        return 2 * z + 2 * b + (grad ? 2 * z + 2 * b + (sparse ? 3 * (z + b) : 2 * p) : 0);
    if (!strcmp(spec, "softmax"))
        return 2 * z * k + 4 * b * k + (grad ? 2 * z * k + 2 * b * k + (sparse ? 3 * (z + b) * k : 2 * p) : 0);
    double f = 3 * b * k, g = b * k + 2 * p;
    for (int l = 1; l <= L; l++) {
        double mm = 2 * b * (double)w[l - 1] * (double)w[l], bn = b * (double)w[l];
        f += mm + bn + (l < L ? bn : 0);
        g += mm + bn + (l >= 2 ? mm : 0) + (l < L ? bn : 0);
    }
    return grad ? f + g : f;
}

static void t_flops(void **state)
{
    (void)state;
    char err[ERRLEN];
    ml_dataset dense, multi, sp;
    make_dense(&dense, 30, 9, 2, 5);
    make_dense(&multi, 30, 9, 5, 6);
    make_sparse(&sp, 30, 40, 6, 7);
    struct { const char *spec; ml_dataset *ds; } cases[] = {
        {"logreg", &dense}, {"svm", &dense}, {"softmax", &multi}, {"mlp:8,6", &multi},
        {"logreg", &sp}, {"svm", &sp}, {"softmax", &sp}, {"mlp:5", &dense},
    };
    size_t idx[7] = {1, 2, 3, 5, 8, 13, 21};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        ml_model *m;
        ml_dataset *ds = cases[c].ds;
        assert_int_equal(ml_model_create(cases[c].spec, ds->d, ds->classes, 0.01, &m, err, sizeof err), 0);
        size_t P = ml_model_nparams(m), K = strncmp(cases[c].spec, "mlp", 3) && strcmp(cases[c].spec, "softmax") ? 1 : (size_t)ds->classes;
        float *params = calloc(P, sizeof *params);
        ml_model_init_params(m, params, 9);
        ml_grad g;
        assert_int_equal(ml_grad_init(&g, P), 0);
        double loss, acc, f, fe;
        assert_int_equal(ml_model_loss_grad(m, params, ds, idx, 7, &g, &loss, &f, err, sizeof err), 0);
        size_t Z = 0;
        for (int i = 0; i < 7; i++)
            Z += ds->sparse ? ds->row_ptr[idx[i] + 1] - ds->row_ptr[idx[i]] : ds->d;
        size_t w[4] = {ds->d, 0, 0, 0};
        int L = ml_model_layers(m);
        for (int l = 1; l <= L; l++) {
            size_t nin, nout, wo, bo;
            ml_model_layer(m, l, &nin, &nout, &wo, &bo);
            w[l] = nout;
        }
        int mlp = !strncmp(cases[c].spec, "mlp", 3);
        double want = expected_flops(cases[c].spec, 7, mlp ? 7 * ds->d : Z, K, P, w, L, 1, g.sparse);
        assert_true(fabs(f - want) <= 1e-9 * want);
        assert_int_equal(ml_model_evaluate(m, params, ds, idx, 7, &loss, &acc, NULL, &fe, err, sizeof err), 0);
        want = expected_flops(cases[c].spec, 7, mlp ? 7 * ds->d : Z, K, P, w, L, 0, 0);
        assert_true(fabs(fe - want) <= 1e-9 * want);
        printf("# flops %-8s %s: loss_grad %.0f, forward %.0f (formula agrees)\n", cases[c].spec,
               ds->sparse ? "sparse" : "dense", f, fe);
        free(params);
        ml_grad_free(&g);
        ml_model_free(m);
    }
    ml_dataset_free(&dense);
    ml_dataset_free(&multi);
    ml_dataset_free(&sp);
}

static void t_layout(void **state)
{
    (void)state;
    char err[ERRLEN];
    ml_model *m;
    assert_int_equal(ml_model_create("mlp:256,128", 784, 10, 0, &m, err, sizeof err), 0);
    assert_int_equal(ml_model_nparams(m), (784 + 1) * 256 + (256 + 1) * 128 + (128 + 1) * 10);
    assert_int_equal(ml_model_layers(m), 3);
    size_t nin, nout, wo, bo;
    ml_model_layer(m, 2, &nin, &nout, &wo, &bo);
    assert_int_equal(nin, 256);
    assert_int_equal(nout, 128);
    assert_int_equal(wo, (784 + 1) * 256);
    assert_int_equal(bo, wo + 256 * 128);
    ml_model_free(m);
    assert_int_equal(ml_model_create("softmax", 50, 7, 0, &m, err, sizeof err), 0);
    assert_int_equal(ml_model_nparams(m), 51 * 7);
    ml_model_layer(m, 1, &nin, &nout, &wo, &bo);
    assert_int_equal(bo, 350);
    ml_model_free(m);
    assert_int_equal(ml_model_create("svm", 50, 2, 0, &m, err, sizeof err), 0);
    assert_int_equal(ml_model_nparams(m), 51);
    ml_model_free(m);
    /* refusals say what was expected */
    assert_int_equal(ml_model_create("logreg", 50, 3, 0, &m, err, sizeof err), -1);
    assert_non_null(strstr(err, "binary"));
    assert_int_equal(ml_model_create("mlp:", 50, 3, 0, &m, err, sizeof err), -1);
    assert_non_null(strstr(err, "mlp:256,128"));
    assert_int_equal(ml_model_create("mlp:4,x", 50, 3, 0, &m, err, sizeof err), -1);
    assert_int_equal(ml_model_create("tree", 50, 3, 0, &m, err, sizeof err), -1);
    assert_non_null(strstr(err, "expected logreg"));
}

/* A layer computed as two halves of its output units (what a
 * model-parallel rank does) equals the whole layer, forward and backward. */
static void t_layer_split(void **state)
{
    (void)state;
    enum { B = 5, NIN = 7, NOUT = 6, H = 4 };
    float in[B * NIN], W[NIN * NOUT], b[NOUT], out[B * NOUT], half[B * NOUT];
    for (int k = 0; k < B * NIN; k++)
        in[k] = sinf((float)k);
    for (int k = 0; k < NIN * NOUT; k++)
        W[k] = cosf((float)k * 0.7f);
    for (int k = 0; k < NOUT; k++)
        b[k] = 0.1f * (float)k - 0.2f;
    double f = ml_dense_forward(in, B, NIN, W, NOUT, b, NOUT, 1, out);
    assert_true(f == 2.0 * B * NIN * NOUT + 2.0 * B * NOUT);
    float lo[B * H], hi[B * (NOUT - H)];
    ml_dense_forward(in, B, NIN, W, NOUT, b, H, 1, lo);
    ml_dense_forward(in, B, NIN, W + H, NOUT, b + H, NOUT - H, 1, hi);
    for (int i = 0; i < B; i++) {
        memcpy(half + i * NOUT, lo + i * H, H * sizeof(float));
        memcpy(half + i * NOUT + H, hi + i * (NOUT - H), (NOUT - H) * sizeof(float));
    }
    for (int k = 0; k < B * NOUT; k++)
        assert_true(fabsf(half[k] - out[k]) < 1e-5f);
    /* backward: gW of the halves are column blocks of the whole; din sums */
    float dout[B * NOUT], gW[NIN * NOUT], gb[NOUT], din[B * NIN];
    for (int k = 0; k < B * NOUT; k++)
        dout[k] = 0.05f * (float)(k % 5) - 0.1f;
    ml_dense_backward(in, B, NIN, W, NOUT, NOUT, dout, gW, gb, din);
    float dlo[B * H], dhi[B * (NOUT - H)], gW2[NIN * NOUT], gb2[NOUT], din1[B * NIN], din2[B * NIN];
    for (int i = 0; i < B; i++) {
        memcpy(dlo + i * H, dout + i * NOUT, H * sizeof(float));
        memcpy(dhi + i * (NOUT - H), dout + i * NOUT + H, (NOUT - H) * sizeof(float));
    }
    ml_dense_backward(in, B, NIN, W, NOUT, H, dlo, gW2, gb2, din1);
    ml_dense_backward(in, B, NIN, W + H, NOUT, NOUT - H, dhi, gW2 + H, gb2 + H, din2);
    for (int k = 0; k < NIN * NOUT; k++)
        assert_true(fabsf(gW2[k] - gW[k]) < 1e-5f);
    for (int k = 0; k < NOUT; k++)
        assert_true(fabsf(gb2[k] - gb[k]) < 1e-5f);
    for (int k = 0; k < B * NIN; k++)
        assert_true(fabsf(din1[k] + din2[k] - din[k]) < 1e-5f);
}

/* Predictions agree with accuracy, and a bad label or example is refused. */
static void t_evaluate(void **state)
{
    (void)state;
    char err[ERRLEN];
    ml_dataset ds;
    make_dense(&ds, 50, 4, 3, 8);
    ml_model *m;
    assert_int_equal(ml_model_create("softmax", 4, 3, 0, &m, err, sizeof err), 0);
    float params[15];
    for (int k = 0; k < 15; k++)
        params[k] = 0.3f * sinf((float)k * 1.3f);
    int32_t pred[50];
    double loss, acc;
    assert_int_equal(ml_model_evaluate(m, params, &ds, NULL, 50, &loss, &acc, pred, NULL, err, sizeof err), 0);
    int right = 0;
    for (int i = 0; i < 50; i++)
        right += pred[i] == ds.y[i];
    assert_true(fabs(acc - right / 50.0) < 1e-12);
    assert_true(loss > 0);
    size_t bad = 50;
    assert_int_equal(ml_model_evaluate(m, params, &ds, &bad, 1, &loss, &acc, NULL, NULL, err, sizeof err), -1);
    ds.y[0] = 7;
    assert_int_equal(ml_model_evaluate(m, params, &ds, NULL, 50, &loss, &acc, NULL, NULL, err, sizeof err), -1);
    assert_non_null(strstr(err, "label 7"));
    ml_model_free(m);
    ml_dataset_free(&ds);
}

/* This program, started again on every online CPU, must run on all of
 * them by main: the start-up narrowing must have been undone. (This
 * process's own mask would not do as the reference: it went through the
 * same start-up.) */
static void t_cpus_given_back(void **state)
{
    (void)state;
    cpu_set_t all;
    CPU_ZERO(&all);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    for (long c = 0; c < n && c < CPU_SETSIZE; c++)
        CPU_SET((int)c, &all);
    int fd[2];
    assert_int_equal(pipe(fd), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        cpu_set_t got;
        char want[16];
        char ok = sched_setaffinity(0, sizeof all, &all) == 0 &&
                  sched_getaffinity(0, sizeof got, &got) == 0 && CPU_COUNT(&got) >= 2;
        if (write(fd[1], &ok, 1) != 1 || !ok)
            _exit(0);
        snprintf(want, sizeof want, "%d", CPU_COUNT(&got));
        setenv("TEST_ML_MODEL_CPUS", want, 1);
        unsetenv("OPENBLAS_NUM_THREADS"); /* else model.c leaves the start alone */
        execl("/proc/self/exe", "test_ml_model", (char *)NULL);
        _exit(127);
    }
    close(fd[1]);
    char ok = 0;
    ssize_t got = read(fd[0], &ok, 1);
    close(fd[0]);
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    if (got != 1 || !ok)
        skip(); /* one CPU only: nothing to narrow */
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
}

int main(void)
{
    const char *cpus = getenv("TEST_ML_MODEL_CPUS");
    if (cpus) { /* started by t_cpus_given_back */
        cpu_set_t mine;
        return sched_getaffinity(0, sizeof mine, &mine) == 0 && CPU_COUNT(&mine) == atoi(cpus) ? 0 : 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_gradcheck_dense),
        cmocka_unit_test(t_gradcheck_sparse),
        cmocka_unit_test(t_sparse_l2_unbiased),
        cmocka_unit_test(t_sparse_cached_factors),
        cmocka_unit_test(t_sgd_step_same_bits),
        cmocka_unit_test(t_relu_masks),
        cmocka_unit_test(t_flops),
        cmocka_unit_test(t_layout),
        cmocka_unit_test(t_layer_split),
        cmocka_unit_test(t_evaluate),
        cmocka_unit_test(t_cpus_given_back),
    };
    return cmocka_run_group_tests_name("ml models", tests, NULL, NULL);
}
