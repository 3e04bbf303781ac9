/* ml_bench.c -- speed and quality of the ML core against references.
 *
 *   ml_bench sparse     sparse SGD epoch (logreg, synth-sparse n=100000,
 *                       d=50000, nnz=80) vs a plain loop streaming the same
 *                       CSR arrays once (one sparse dot product per row);
 *                       serial SGD's fused step is judged, the two-call
 *                       path (loss_grad, then the optimizer) shown beside
 *   ml_bench mlp        MLP 784-256-128-10 forward+backward vs OpenBLAS
 *                       sgemm on the same shapes, in GFLOP/s
 *   ml_bench liblinear  SGD with a decaying step vs liblinear -s 0 (batch
 *                       solver, Debian's liblinear-tools) on the same
 *                       L2-regularised logistic regression
 *   ml_bench fashion    the full Fashion-MNIST runs: softmax and MLP accuracy
 *
 * Each mode prints "name value" lines; bench/ml.sh runs them all and turns
 * them into ratios. Timings are best-of-N thread CPU time on one core; the
 * Fashion-MNIST runs report the trainer's own wall-clock seconds.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <gsl/gsl_cblas.h>

#include "ml/train.h"

#define ERRLEN 512

/* CPU seconds of this thread (BLAS runs single-threaded in it): on a
 * machine shared with other jobs, time spent descheduled does not count. */
static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* ---- sparse ---- */

/* One SGD epoch over the examples in order, batches of B; returns seconds.
 * fused: serial SGD's step (ml_model_sgd_step, ml/train.c); otherwise the
 * two calls any optimizer takes, ml_model_loss_grad then
 * ml_optim_step_sparse (the same bits per example; a batch of several is
 * the same step up to rounding: model.h). */
static double sgd_epoch(ml_model *m, float *w, const ml_dataset *ds, const size_t *order, size_t B,
                        ml_optim *o, int fused)
{
    char err[ERRLEN];
    ml_grad g;
    double f, t0;
    ml_grad_init(&g, ml_model_nparams(m));
    t0 = now_s();
    for (size_t at = 0; at < ds->n; at += B) {
        size_t b = ds->n - at < B ? ds->n - at : B;
        int rc = fused ? ml_model_sgd_step(m, w, ds, order + at, b, 0.1f, &g, &f, err, sizeof err)
                       : ml_model_loss_grad(m, w, ds, order + at, b, &g, NULL, &f, err, sizeof err);
        if (rc < 0) {
            fprintf(stderr, "ml_bench: %s\n", err);
            exit(1);
        }
        if (!fused)
            ml_optim_step_sparse(o, w, g.index, g.value, g.nnz, 0.1f);
    }
    t0 = now_s() - t0;
    ml_grad_free(&g);
    return t0;
}

static int bench_sparse(void)
{
    char err[ERRLEN];
    ml_dataset ds;
    ml_synth_sparse p = {100000, 50000, 80, 1.0, 0.1, 0.0};
    if (ml_synth_sparse_make(&p, 1, &ds, err, sizeof err) < 0)
        goto fail;
    size_t z = ds.row_ptr[ds.n];
    float *w = calloc(ds.d + 1, sizeof *w);
    size_t *order = malloc(ds.n * sizeof *order), *shuffled = malloc(ds.n * sizeof *shuffled);
    for (size_t i = 0; i < ds.n; i++)
        order[i] = shuffled[i] = i;
    for (size_t i = ds.n; i > 1; i--) { /* a fixed permutation, no RNG needed */
        size_t j = (i * 2654435761u) % i, t = shuffled[i - 1];
        shuffled[i - 1] = shuffled[j];
        shuffled[j] = t;
    }
    for (size_t j = 0; j <= ds.d; j++)
        w[j] = 0.001f * (float)(j % 7);
    double sink = 0, stream_best = 1e9;
    printf("sparse_nnz %zu\n", z);
    size_t batches[] = {1, 16};
    for (int bi = 0; bi < 2; bi++) {
        for (int sh = 0; sh < 2; sh++) {
            ml_model *m;
            ml_optim o;
            if (ml_model_create("logreg", ds.d, 2, 1e-4, &m, err, sizeof err) < 0 ||
                ml_model_set_freq(m, &ds, err, sizeof err) < 0 ||
                ml_model_stream_freq(m, &ds, err, sizeof err) < 0 ||
                ml_optim_init(&o, ML_OPTIM_SGD, ds.d + 1, 0, 0, err, sizeof err) < 0)
                goto fail;
            /* SGD epochs alternate with the reference, best of 5 each */
            double t = 1e9, t2 = 1e9, ref = 1e9;
            for (int rep = 0; rep < 5; rep++) {
                /* ---- reference: stream row_ptr/col/val once, a dot product per row ---- */
                double t0 = now_s();
                for (size_t i = 0; i < ds.n; i++) {
                    float s = 0;
                    for (size_t k = ds.row_ptr[i]; k < ds.row_ptr[i + 1]; k++)
                        s += ds.val[k] * w[ds.col[k]];
                    sink += s;
                }
                t0 = now_s() - t0;
                ref = t0 < ref ? t0 : ref;
                double e = sgd_epoch(m, w, &ds, sh ? shuffled : order, batches[bi], &o, 1);
                t = e < t ? e : t;
                e = sgd_epoch(m, w, &ds, sh ? shuffled : order, batches[bi], &o, 0);
                t2 = e < t2 ? e : t2;
            }
            stream_best = ref < stream_best ? ref : stream_best;
            printf("sparse_sgd_b%zu%s_nnz_per_s %.4g\n", batches[bi], sh ? "_shuffled" : "",
                   (double)z / t);
            printf("sparse_sgd_b%zu%s_over_stream %.3f\n", batches[bi], sh ? "_shuffled" : "",
                   ref / t);
            printf("sparse_twocall_b%zu%s_over_stream %.3f\n", batches[bi], sh ? "_shuffled" : "",
                   ref / t2);
            ml_optim_free(&o);
            ml_model_free(m);
        }
    }
    printf("sparse_stream_nnz_per_s %.4g\n", (double)z / stream_best);
    fprintf(stderr, "(checksum %g)\n", sink);
    free(w);
    free(order);
    free(shuffled);
    ml_dataset_free(&ds);
    return 0;
fail:
    fprintf(stderr, "ml_bench sparse: %s\n", err);
    return 1;
}

/* ---- mlp ---- */

static int bench_mlp(void)
{
    char err[ERRLEN];
    size_t batches[] = {64, 256};
    for (int bi = 0; bi < 2; bi++) {
        size_t B = batches[bi], nb = 32;
        ml_dataset ds;
        ml_synth_dense p = {B * nb, 784, 10, 3.0};
        ml_model *m;
        ml_grad g;
        if (ml_synth_dense_make(&p, 2, &ds, err, sizeof err) < 0 ||
            ml_model_create("mlp:256,128", 784, 10, 1e-4, &m, err, sizeof err) < 0)
            goto fail;
        size_t P = ml_model_nparams(m);
        float *w = malloc(P * sizeof *w);
        ml_model_init_params(m, w, 3);
        ml_grad_init(&g, P);
        size_t *idx = malloc(ds.n * sizeof *idx);
        for (size_t i = 0; i < ds.n; i++)
            idx[i] = i;
        size_t wd[4] = {784, 256, 128, 10};
        float *a[4], *dl[4], *gw = malloc(P * sizeof *gw);
        for (int l = 0; l < 4; l++) {
            a[l] = calloc(B * wd[l], sizeof(float));
            dl[l] = calloc(B * wd[l], sizeof(float));
        }
        memcpy(a[0], ds.x, B * 784 * sizeof(float));
        /* the two alternate, best of 7 each, so a busy machine hits both alike */
        double best = 1e9, flops = 0, loss, f, gbest = 1e9, gflops = 0;
        for (int rep = 0; rep < 7; rep++) {
            double t0 = now_s();
            flops = 0;
            for (size_t k = 0; k < nb; k++) {
                if (ml_model_loss_grad(m, w, &ds, idx + k * B, B, &g, &loss, &f, err, sizeof err) < 0)
                    goto fail;
                flops += f;
            }
            t0 = now_s() - t0;
            best = t0 < best ? t0 : best;
            /* ---- reference: the same sgemm calls, nothing else ---- */
            t0 = now_s();
            gflops = 0;
            for (size_t k = 0; k < nb; k++) {
                for (int l = 1; l <= 3; l++) {
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)B, (int)wd[l],
                                (int)wd[l - 1], 1.0f, a[l - 1], (int)wd[l - 1], w, (int)wd[l], 0.0f,
                                a[l], (int)wd[l]);
                    gflops += 2.0 * B * wd[l - 1] * wd[l];
                }
                for (int l = 3; l >= 1; l--) {
                    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)wd[l - 1], (int)wd[l],
                                (int)B, 1.0f, a[l - 1], (int)wd[l - 1], dl[l], (int)wd[l], 0.0f, gw,
                                (int)wd[l]);
                    gflops += 2.0 * B * wd[l - 1] * wd[l];
                    if (l > 1) {
                        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)B, (int)wd[l - 1],
                                    (int)wd[l], 1.0f, dl[l], (int)wd[l], w, (int)wd[l], 0.0f,
                                    dl[l - 1], (int)wd[l - 1]);
                        gflops += 2.0 * B * wd[l - 1] * wd[l];
                    }
                }
            }
            t0 = now_s() - t0;
            gbest = t0 < gbest ? t0 : gbest;
        }
        printf("mlp_b%zu_gflops %.4g\n", B, flops / best * 1e-9);
        printf("sgemm_b%zu_gflops %.4g\n", B, gflops / gbest * 1e-9);
        for (int l = 0; l < 4; l++) {
            free(a[l]);
            free(dl[l]);
        }
        free(gw);
        free(w);
        free(idx);
        ml_grad_free(&g);
        ml_model_free(m);
        ml_dataset_free(&ds);
    }
    return 0;
fail:
    fprintf(stderr, "ml_bench mlp: %s\n", err);
    return 1;
}

/* ---- liblinear ---- */

/* The problem the convex comparison (and tests/test_ml_train.c) uses. */
#define CONVEX_DATASET "synth-sparse:n=5000,d=2000,nnz=20,flip=0.05,test=1000"
#define CONVEX_L2 1e-3

/* liblinear's weights from its model file: d values, then the bias
 * weight (-B 1). Its first label is the positive class. */
static int read_liblinear_model(const char *path, size_t d, float *w)
{
    FILE *f = fopen(path, "r");
    char line[256];
    int first = 0, in_w = 0;
    size_t k = 0;
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f)) {
        if (!strncmp(line, "label ", 6))
            first = atoi(line + 6);
        else if (!strncmp(line, "w", 1) && (line[1] == '\n' || line[1] == '\r'))
            in_w = 1;
        else if (in_w && k <= d)
            w[k++] = (float)(first == 1 ? atof(line) : -atof(line));
    }
    fclose(f);
    return k == d + 1 ? 0 : -1;
}

static int bench_liblinear(void)
{
    char err[ERRLEN], dir[] = "/tmp/ml_bench.XXXXXX", data[128], model[128], cmd[512];
    ml_dataset train, test;
    ml_model *m;
    if (!mkdtemp(dir))
        return 1;
    if (ml_dataset_open(CONVEX_DATASET, 1, 0, 0, &train, &test, err, sizeof err) < 0 ||
        ml_model_create("logreg", train.d, 2, CONVEX_L2, &m, err, sizeof err) < 0)
        goto fail;
    snprintf(data, sizeof data, "%s/train.libsvm", dir);
    snprintf(model, sizeof model, "%s/train.model", dir);
    if (ml_libsvm_write(&train, data, err, sizeof err) < 0)
        goto fail;
    /* liblinear minimises 1/2 |w|^2 + C sum loss = C n (mean loss + |w|^2 / (2 C n)) */
    double C = 1.0 / (CONVEX_L2 * (double)train.n);
    snprintf(cmd, sizeof cmd, "liblinear-train -q -s 0 -B 1 -e 1e-10 -c %.17g %s %s", C, data, model);
    if (system(cmd) != 0) {
        fprintf(stderr, "ml_bench liblinear: '%s' failed (apt-get install liblinear-tools)\n", cmd);
        return 1;
    }
    float *w = calloc(train.d + 1, sizeof *w);
    double f_lib, f_sgd = 0;
    if (read_liblinear_model(model, train.d, w) < 0 ||
        ml_model_objective(m, w, &train, &f_lib, NULL, err, sizeof err) < 0)
        goto fail;
    printf("liblinear_objective %.9g\n", f_lib);
    ml_config c;
    ml_config_default(&c);
    const char *opts[][2] = {{"dataset", CONVEX_DATASET}, {"model", "logreg"}, {"l2", "1e-3"},
                             {"lr", "1"}, {"schedule", "inv:t0=2"}, {"batch", "8"},
                             {"epochs", "100"}, {"eval-every", "100"}, {"seed", "1"}};
    for (size_t k = 0; k < sizeof opts / sizeof opts[0]; k++)
        if (ml_config_set(&c, opts[k][0], opts[k][1], err, sizeof err) != 0)
            goto fail;
    ml_train_result r;
    if (ml_train_serial(&c, NULL, NULL, &r, err, sizeof err) < 0)
        goto fail;
    f_sgd = r.last.train_loss;
    printf("sgd_objective %.9g\n", f_sgd);
    printf("sgd_over_liblinear_gap %.3e\n", (f_sgd - f_lib) / f_lib);
    ml_train_result_free(&r);
    free(w);
    ml_model_free(m);
    ml_dataset_free(&train);
    ml_dataset_free(&test);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : 1;
fail:
    fprintf(stderr, "ml_bench liblinear: %s\n", err);
    return 1;
}

/* ---- fashion-mnist ---- */

static int print_point(const ml_eval_point *pt, void *arg)
{
    fprintf(stderr, "  %s epoch %5.2f  %6.1f s  train objective %.4f  test loss %.4f  test accuracy %.4f\n",
            (const char *)arg, pt->epoch, pt->time_s, pt->train_loss, pt->test_loss, pt->test_accuracy);
    return 0;
}

static int bench_fashion(void)
{
    char err[ERRLEN];
    static const struct {
        const char *name;
        const char *opts[16]; /* key, value, ..., NULL */
    } runs[] = {
        {"softmax", {"model", "softmax", "epochs", "30", "batch", "32", "lr", "0.2", "l2", "0",
                     "schedule", "inv:t0=1", "eval-every", "5", NULL}},
        {"mlp", {"model", "mlp:256,128", "epochs", "20", "lr", "0.05", "momentum", "0.9", "l2",
                 "1e-4", "schedule", "step:every=8,gamma=0.2", "eval-every", "4", NULL}},
    };
    for (size_t r = 0; r < sizeof runs / sizeof runs[0]; r++) {
        ml_config c;
        ml_train_result res;
        ml_config_default(&c);
        for (int k = 0; runs[r].opts[k]; k += 2)
            if (ml_config_set(&c, runs[r].opts[k], runs[r].opts[k + 1], err, sizeof err) != 0)
                goto fail;
        char desc[512];
        ml_config_describe(&c, desc, sizeof desc);
        fprintf(stderr, "%s: %s\n", runs[r].name, desc);
        if (ml_train_serial(&c, print_point, (void *)runs[r].name, &res, err, sizeof err) < 0)
            goto fail;
        printf("fashion_%s_test_accuracy %.4f\n", runs[r].name, res.last.test_accuracy);
        printf("fashion_%s_train_seconds %.1f\n", runs[r].name, res.last.time_s);
        ml_train_result_free(&res);
    }
    return 0;
fail:
    fprintf(stderr, "ml_bench fashion: %s\n", err);
    return 1;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: ml_bench sparse|mlp|liblinear|fashion\n");
        return 2;
    }
    if (!strcmp(argv[1], "sparse"))
        return bench_sparse();
    if (!strcmp(argv[1], "mlp"))
        return bench_mlp();
    if (!strcmp(argv[1], "liblinear"))
        return bench_liblinear();
    if (!strcmp(argv[1], "fashion"))
        return bench_fashion();
    fprintf(stderr, "ml_bench: unknown mode '%s' (expected sparse, mlp, liblinear or fashion)\n", argv[1]);
    return 2;
}
