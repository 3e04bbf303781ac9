/* test_ml_train.c -- the ML options and the serial trainer: every option
 * in the table is understood and bad values are refused with what was
 * expected; problems load from LIBSVM and IDX files with or without a test
 * file; the same seed gives the same bits; the evaluation callback sees
 * every point and can stop training; SGD with a decaying step reaches the
 * regularised optimum liblinear found; a reduced Fashion-MNIST run learns.
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

#include "ml/train.h"
#include "tests/util_files.h"

#define ERRLEN 512

static void set_all(ml_config *c, const char *const *kv)
{
    char err[ERRLEN];
    for (; kv[0]; kv += 2)
        if (ml_config_set(c, kv[0], kv[1], err, sizeof err) != 0)
            fail_msg("--%s %s: %s", kv[0], kv[1], err);
}

static void t_options(void **state)
{
    (void)state;
    char err[ERRLEN];
    ml_config c;
    ml_config_default(&c);
    /* a good value for every option of the table */
    static const char *const good[][2] = {
        {"dataset", "synth-dense:n=10,d=2,classes=2"}, {"data", "x.libsvm"}, {"test-data", "y.libsvm"},
        {"model", "mlp:8,4"}, {"epochs", "3"}, {"batch", "16"}, {"lr", "0.5"}, {"momentum", "0.9"},
        {"l2", "0"}, {"optimizer", "adagrad"}, {"schedule", "warmup:epochs=2,k=4"}, {"seed", "42"},
        {"eval-every", "0.5"}, {"train-size", "100"}, {"test-size", "10"}, {"test-fraction", "0.3"},
        {"scale", "standard"},
    };
    int n = 0;
    for (const ml_opt *o = ml_opts; o->name; o++, n++) {
        assert_non_null(o->arg);
        assert_non_null(o->help);
        size_t k;
        for (k = 0; k < sizeof good / sizeof good[0]; k++)
            if (!strcmp(good[k][0], o->name))
                break;
        if (k == sizeof good / sizeof good[0])
            fail_msg("option --%s has no test value", o->name);
        if (ml_config_set(&c, o->name, good[k][1], err, sizeof err) != 0)
            fail_msg("--%s %s: %s", o->name, good[k][1], err);
    }
    assert_int_equal(n, sizeof good / sizeof good[0]);
    assert_string_equal(c.model, "mlp:8,4");
    assert_int_equal(c.epochs, 3);
    assert_int_equal(c.batch, 16);
    assert_true(c.momentum == 0.9 && c.optimizer == ML_OPTIM_ADAGRAD && c.seed == 42);
    assert_true(c.scale == ML_SCALE_STANDARD && c.test_fraction == 0.3);
    assert_string_equal(c.data, "x.libsvm");
    assert_string_equal(c.dataset, ""); /* --data replaces --dataset */

    assert_int_equal(ml_config_set(&c, "workers", "4", err, sizeof err), 1);
    assert_int_equal(ml_config_set(&c, "backend", "sim", err, sizeof err), 1);
    static const struct { const char *key, *value, *want; } bad[] = {
        {"epochs", "x", "--epochs: 'x' is not a whole number"},
        {"epochs", "-1", "not a whole number"},
        {"batch", "0", "--batch: '0' is not a whole number in [1, "},
        {"lr", "-1", "--lr: '-1' is not a learning rate > 0"},
        {"lr", "nan", "not a learning rate"},
        {"momentum", "1", "below 1"},
        {"momentum", "0.999999999", "--momentum: '0.999999999' is not below 1 in single precision"},
        {"l2", "-0.1", "regularisation weight >= 0"},
        {"optimizer", "adam", "expected sgd or adagrad"},
        {"model", "cnn", "expected logreg, softmax, svm or mlp:H1,H2"},
        {"model", "mlp:0", "mlp:256,128"},
        {"schedule", "cosine", "expected constant, step:every=E,gamma=G"},
        {"scale", "log", "expected none, standard or maxabs"},
        {"test-fraction", "1", "fraction in (0, 1)"},
        {"dataset", "", "expected a value"},
        {"eval-every", "0", "a number of epochs > 0"},
        /* past the bounds, the message says them */
        {"lr", "1e30", "--lr: '1e30' is not a learning rate > 0 (1e-12 to 1e6)"},
        {"eval-every", "1e-12", "a number of epochs > 0 (1e-6 to 1e6)"},
        {"l2", "1e7", "regularisation weight >= 0 (at most 1e6)"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++)
        if (ml_config_set(&c, bad[k].key, bad[k].value, err, sizeof err) != -1 || !strstr(err, bad[k].want))
            fail_msg("--%s %s: '%s', expected '%s'", bad[k].key, bad[k].value, err, bad[k].want);
    /* a refused value leaves the setting as it was */
    assert_string_equal(c.model, "mlp:8,4");
    assert_true(c.momentum == 0.9 && c.test_fraction == 0.3 && c.epochs == 3);
    char desc[1024];
    ml_config_describe(&c, desc, sizeof desc);
    assert_non_null(strstr(desc, "model=mlp:8,4"));
    assert_non_null(strstr(desc, "optimizer=adagrad"));
}

static void t_problem_files(void **state)
{
    (void)state;
    char err[ERRLEN], dir[128], tr[200], te[200];
    assert_int_equal(test_tmpdir(dir, sizeof dir, "ml-train"), 0);
    ml_dataset a, b;
    assert_int_equal(ml_dataset_open("synth-sparse:n=300,d=60,nnz=6,test=100", 3, 0, 0, &a, &b, err, sizeof err), 0);
    snprintf(tr, sizeof tr, "%s/train.libsvm", dir);
    snprintf(te, sizeof te, "%s/test.libsvm", dir);
    assert_int_equal(ml_libsvm_write(&a, tr, err, sizeof err), 0);
    assert_int_equal(ml_libsvm_write(&b, te, err, sizeof err), 0);

    ml_config c;
    ml_problem p;
    ml_config_default(&c);
    set_all(&c, (const char *const[]){"data", tr, "test-data", te, "model", "logreg", NULL});
    assert_int_equal(ml_problem_load(&c, &p, err, sizeof err), 0);
    assert_int_equal(p.train.n, 300);
    assert_int_equal(p.test.n, 100);
    assert_int_equal(p.train.d, p.test.d); /* dimensions matched */
    assert_int_equal(ml_model_nparams(p.model), p.train.d + 1);
    /* the file round trip keeps the data */
    for (size_t k = 0; k < a.row_ptr[a.n]; k++)
        assert_true(p.train.col[k] == a.col[k] && p.train.val[k] == a.val[k]);
    assert_memory_equal(p.train.y, a.y, a.n * sizeof *a.y);
    ml_problem_free(&p);

    /* no test file: a seeded hold-out */
    set_all(&c, (const char *const[]){"data", tr, "test-fraction", "0.25", "scale", "maxabs", NULL});
    c.test_data[0] = '\0';
    assert_int_equal(ml_problem_load(&c, &p, err, sizeof err), 0);
    assert_int_equal(p.train.n, 225);
    assert_int_equal(p.test.n, 75);
    float mx = 0;
    for (size_t k = 0; k < p.train.row_ptr[p.train.n]; k++)
        mx = fmaxf(mx, fabsf(p.train.val[k]));
    assert_true(fabsf(mx - 1) < 1e-6f);
    ml_problem_free(&p);

    /* a missing file and a softmax-only problem for a binary model */
    set_all(&c, (const char *const[]){"data", "/nonexistent/train.libsvm", NULL});
    assert_int_equal(ml_problem_load(&c, &p, err, sizeof err), -1);
    assert_non_null(strstr(err, "/nonexistent/train.libsvm: cannot open"));
    set_all(&c, (const char *const[]){"dataset", "synth-dense:n=50,d=3,classes=3", "model", "svm", NULL});
    assert_int_equal(ml_problem_load(&c, &p, err, sizeof err), -1);
    assert_non_null(strstr(err, "binary"));

    /* IDX files through --data IMAGES,LABELS and the MNIST naming */
    if (access(ML_FASHION_MNIST_DIR "/t10k-images-idx3-ubyte.gz", R_OK) == 0) {
        set_all(&c, (const char *const[]){"data", ML_FASHION_MNIST_DIR "/t10k-images-idx3-ubyte.gz",
                                          "test-data", ML_FASHION_MNIST_DIR "/t10k-images-idx3-ubyte.gz,"
                                          ML_FASHION_MNIST_DIR "/t10k-labels-idx1-ubyte.gz",
                                          "model", "softmax", "train-size", "500", "test-size", "200", NULL});
        assert_int_equal(ml_problem_load(&c, &p, err, sizeof err), 0);
        assert_int_equal(p.train.n, 500);
        assert_int_equal(p.test.n, 200);
        assert_int_equal(p.train.d, 784);
        assert_int_equal(ml_model_classes(p.model), 10);
        ml_problem_free(&p);
    }
    ml_dataset_free(&a);
    ml_dataset_free(&b);
    assert_int_equal(test_rmtree(dir), 0);
}

typedef struct points {
    int n, stop_at;
    ml_eval_point pt[64];
} points;

static int record(const ml_eval_point *pt, void *arg)
{
    points *p = arg;
    if (p->n < 64)
        p->pt[p->n] = *pt;
    p->n++;
    return p->stop_at && p->n >= p->stop_at;
}

/* Same config, same bits: parameters and every evaluation point. */
static void t_determinism(void **state)
{
    (void)state;
    char err[ERRLEN];
    static const char *const runs[][12] = {
        {"dataset", "synth-dense:n=600,d=12,classes=4", "model", "mlp:16,8", "momentum", "0.9", NULL},
        {"dataset", "synth-sparse:n=600,d=300,nnz=10", "model", "logreg", "optimizer", "adagrad", NULL},
        {"dataset", "synth-sparse:n=600,d=300,nnz=10", "model", "svm", "batch", "1", NULL},
        {"dataset", "synth-dense:n=600,d=12,classes=4", "model", "softmax", "schedule", "warmup:epochs=1,k=4", NULL},
    };
    for (size_t r = 0; r < sizeof runs / sizeof runs[0]; r++) {
        ml_train_result res[3];
        points pts[3] = {{0}};
        for (int k = 0; k < 3; k++) {
            ml_config c;
            ml_config_default(&c);
            set_all(&c, runs[r]);
            set_all(&c, (const char *const[]){"epochs", "3", "eval-every", "0.5", NULL});
            if (k == 2)
                c.seed = 2;
            if (ml_train_serial(&c, record, &pts[k], &res[k], err, sizeof err) != 0)
                fail_msg("%s: %s", runs[r][3], err);
        }
        assert_int_equal(pts[0].n, 7); /* step 0, then every half epoch */
        assert_int_equal(res[0].nparams, res[1].nparams);
        assert_memory_equal(res[0].params, res[1].params, res[0].nparams * sizeof(float));
        for (int i = 0; i < pts[0].n; i++) {
            assert_true(pts[0].pt[i].train_loss == pts[1].pt[i].train_loss);
            assert_true(pts[0].pt[i].test_accuracy == pts[1].pt[i].test_accuracy);
            assert_int_equal(pts[0].pt[i].step, pts[1].pt[i].step);
        }
        assert_memory_not_equal(res[0].params, res[2].params, res[0].nparams * sizeof(float));
        /* it learned something */
        assert_true(pts[0].pt[6].train_loss < pts[0].pt[0].train_loss);
        printf("# %s %s: objective %.4f -> %.4f, test accuracy %.3f, bit-identical on rerun\n",
               runs[r][1], runs[r][3], pts[0].pt[0].train_loss, pts[0].pt[6].train_loss,
               pts[0].pt[6].test_accuracy);
        for (int k = 0; k < 3; k++)
            ml_train_result_free(&res[k]);
    }
}

static void t_callback(void **state)
{
    (void)state;
    char err[ERRLEN];
    ml_config c;
    ml_train_result res;
    points p = {0};
    ml_config_default(&c);
    set_all(&c, (const char *const[]){"dataset", "synth-dense:n=100,d=4,classes=2", "model", "logreg",
                                      "epochs", "4", "batch", "10", "eval-every", "1", NULL});
    assert_int_equal(ml_train_serial(&c, record, &p, &res, err, sizeof err), 0);
    assert_int_equal(p.n, 5);
    for (int i = 0; i < 5; i++) {
        assert_true(p.pt[i].epoch == i);
        assert_int_equal(p.pt[i].step, 10 * i);
        if (i)
            assert_true(p.pt[i].time_s >= p.pt[i - 1].time_s);
    }
    assert_true(res.train_flops > 0);
    ml_train_result_free(&res);
    points q = {.stop_at = 2};
    assert_int_equal(ml_train_serial(&c, record, &q, &res, err, sizeof err), 0);
    assert_int_equal(q.n, 2);
    assert_int_equal(res.last.step, 10);
    ml_train_result_free(&res);
}

/* liblinear -s 0 -B 1 -c 1/(l2 n) on this problem (bench/ml_bench liblinear
 * recomputes it with Debian's liblinear-tools 2.3.0): the regularised
 * optimum of mean logistic loss + l2/2 |w|^2. */
#define CONVEX_DATASET "synth-sparse:n=5000,d=2000,nnz=20,flip=0.05,test=1000"
#define LIBLINEAR_OBJECTIVE 0.602352434

static void t_convex_optimum(void **state)
{
    (void)state;
    char err[ERRLEN];
    ml_config c;
    ml_train_result res;
    ml_config_default(&c);
    set_all(&c, (const char *const[]){"dataset", CONVEX_DATASET, "model", "logreg", "l2", "1e-3",
                                      "lr", "1", "schedule", "inv:t0=2", "batch", "8",
                                      "epochs", "100", "eval-every", "100", "seed", "1", NULL});
    assert_int_equal(ml_train_serial(&c, NULL, NULL, &res, err, sizeof err), 0);
    double gap = (res.last.train_loss - LIBLINEAR_OBJECTIVE) / LIBLINEAR_OBJECTIVE;
    printf("# convex: SGD objective %.9f, liblinear %.9f, gap %.2e\n", res.last.train_loss,
           LIBLINEAR_OBJECTIVE, gap);
    assert_true(gap < 0.005);
    assert_true(gap > -1e-6); /* nothing beats the optimum: same objective */
    ml_train_result_free(&res);
}

static void t_fashion_reduced(void **state)
{
    (void)state;
    char err[ERRLEN];
    if (access(ML_FASHION_MNIST_DIR "/train-images-idx3-ubyte.gz", R_OK) != 0)
        skip();
    static const char *const runs[][8] = {
        {"model", "softmax", "lr", "0.05", NULL},
        {"model", "mlp:64", "momentum", "0.9", "lr", "0.05", NULL},
    };
    const double want[] = {0.75, 0.80};
    for (int r = 0; r < 2; r++) {
        ml_config c;
        ml_train_result res;
        ml_config_default(&c);
        set_all(&c, (const char *const[]){"dataset", "fashion-mnist", "train-size", "10000",
                                          "test-size", "2000", "epochs", "3", "eval-every", "3", NULL});
        set_all(&c, runs[r]);
        assert_int_equal(ml_train_serial(&c, NULL, NULL, &res, err, sizeof err), 0);
        printf("# fashion-mnist 10000/2000, 3 epochs, %s: test accuracy %.4f (want >= %.2f)\n",
               runs[r][1], res.last.test_accuracy, want[r]);
        assert_true(res.last.test_accuracy >= want[r]);
        ml_train_result_free(&res);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_options),
        cmocka_unit_test(t_problem_files),
        cmocka_unit_test(t_determinism),
        cmocka_unit_test(t_callback),
        cmocka_unit_test(t_convex_optimum),
        cmocka_unit_test(t_fashion_reduced),
    };
    return cmocka_run_group_tests_name("ml training", tests, NULL, NULL);
}
