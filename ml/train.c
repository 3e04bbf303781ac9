/* train.c -- ML options, problem loading and the serial trainer.
 *
 * Every training verb shares these, so a serial run and a 64-worker
 * parameter-server run read the same data, build the same model and
 * report the same evaluation points; only the algorithm differs.
 */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gsl/gsl_rng.h>

#include "ml/internal.h"
#include "ml/train.h"
#include "core/units.h"

const ml_opt ml_opts[] = {
    {"dataset", "NAME", "fashion-mnist, synth-sparse:n=N,d=D,nnz=K or synth-dense:n=N,d=D,classes=C"},
    {"data", "FILE", "training data: LIBSVM text, or IDX images[,labels] (plain or .gz); at most 1GiB "
                     "uncompressed and 2^24 features unless $DISTLAB_DATA_LIMIT=SIZE, $DISTLAB_MAX_FEATURES=N say more"},
    {"test-data", "FILE", "test data in the same format (default: hold out --test-fraction)"},
    {"model", "MODEL", "logreg | softmax | svm | mlp:H1,H2,... (default softmax)"},
    {"epochs", "E", "passes over the training set (default 10)"},
    {"batch", "B", "examples per minibatch (default 64)"},
    {"lr", "X", "base learning rate (default 0.1)"},
    {"momentum", "M", "SGD momentum in [0,1) (default 0)"},
    {"l2", "L", "L2 regularisation on every parameter (default 1e-4)"},
    {"optimizer", "sgd|adagrad", "update rule (default sgd)"},
    {"schedule", "SPEC", "constant | step:every=E,gamma=G | inv:t0=E | warmup:epochs=E,k=K[,every=E,gamma=G]"},
    {"seed", "N", "seed of every random choice: data order, init, synthetic data (default 1)"},
    {"eval-every", "E", "evaluate every E epochs, fractions allowed (default 1)"},
    {"train-size", "N", "use at most N training examples (default all)"},
    {"test-size", "N", "use at most N test examples (default all)"},
    {"test-fraction", "F", "fraction held out for testing when there is no test set (default 0.2)"},
    {"scale", "none|standard|maxabs", "feature scaling fitted on the training set (default none)"},
    {NULL, NULL, NULL},
};

void ml_config_default(ml_config *c)
{
    memset(c, 0, sizeof *c);
    strcpy(c->dataset, "fashion-mnist");
    strcpy(c->model, "softmax");
    strcpy(c->schedule, "constant");
    c->epochs = 10;
    c->batch = 64;
    c->lr = 0.1;
    c->l2 = 1e-4;
    c->seed = 1;
    c->eval_every_epochs = 1;
    c->test_fraction = 0.2;
}

static int set_str(char *dst, size_t cap, const char *key, const char *value, char *err,
                   size_t errlen)
{
    if (!*value)
        return ml_err(err, errlen, "--%s: expected a value", key);
    if (strlen(value) >= cap)
        return ml_err(err, errlen, "--%s: value longer than %zu characters", key, cap - 1);
    strcpy(dst, value);
    return 0;
}

static int set_real(double *dst, const char *key, const char *value, double lo, double hi,
                    const char *what, char *err, size_t errlen)
{
    const char *end;
    double v;
    if (units_decimal(value, &v, &end) != 0 || *end || v < lo || v > hi)
        return ml_err(err, errlen, "--%s: '%s' is not %s", key, value, what);
    *dst = v;
    return 0;
}

static int set_count(uint64_t *dst, const char *key, const char *value, uint64_t lo,
                     uint64_t hi, char *err, size_t errlen)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(value, &end, 10);
    if (end == value || *end || errno || !(value[0] >= '0' && value[0] <= '9') || v < lo || v > hi)
        return ml_err(err, errlen, "--%s: '%s' is not a whole number in [%llu, %llu]", key, value,
                      (unsigned long long)lo, (unsigned long long)hi);
    *dst = v;
    return 0;
}

int ml_config_set(ml_config *c, const char *key, const char *value, char *err, size_t errlen)
{
    uint64_t u;
    int rc;
    if (!strcmp(key, "dataset")) {
        if ((rc = set_str(c->dataset, sizeof c->dataset, key, value, err, errlen)) == 0)
            c->data[0] = '\0';
        return rc;
    }
    if (!strcmp(key, "data")) {
        if ((rc = set_str(c->data, sizeof c->data, key, value, err, errlen)) == 0)
            c->dataset[0] = '\0';
        return rc;
    }
    if (!strcmp(key, "test-data"))
        return set_str(c->test_data, sizeof c->test_data, key, value, err, errlen);
    if (!strcmp(key, "model")) {
        ml_model *m;
        /* check the spelling now; shapes come later from the data */
        if (ml_model_create(value, 1, 2, 0, &m, err, errlen) < 0)
            return -1;
        ml_model_free(m);
        return set_str(c->model, sizeof c->model, key, value, err, errlen);
    }
    if (!strcmp(key, "epochs"))
        return (rc = set_count(&u, key, value, 0, 1000000, err, errlen)) ? rc : (c->epochs = (long)u, 0);
    if (!strcmp(key, "batch"))
        return (rc = set_count(&u, key, value, 1, 1 << 20, err, errlen)) ? rc : (c->batch = u, 0);
    if (!strcmp(key, "seed"))
        return (rc = set_count(&u, key, value, 0, UINT64_MAX, err, errlen)) ? rc : (c->seed = u, 0);
    if (!strcmp(key, "train-size"))
        return (rc = set_count(&u, key, value, 1, SIZE_MAX, err, errlen)) ? rc : (c->train_size = u, 0);
    if (!strcmp(key, "test-size"))
        return (rc = set_count(&u, key, value, 1, SIZE_MAX, err, errlen)) ? rc : (c->test_size = u, 0);
    if (!strcmp(key, "lr"))
        return set_real(&c->lr, key, value, 1e-12, 1e6, "a learning rate > 0 (1e-12 to 1e6)", err, errlen);
    if (!strcmp(key, "momentum")) {
        /* checked in the precision the optimizers keep it in (float):
         * 0.999999999 is below 1 as a double but rounds to 1 as a float */
        double m;
        if ((rc = set_real(&m, key, value, 0, nextafter(1.0, 0.0), "a momentum in [0, 1) (below 1)", err, errlen)))
            return rc;
        if (!((float)m < 1.0f))
            return ml_err(err, errlen, "--momentum: '%s' is not below 1 in single precision, the "
                          "optimizer's: it rounds to 1 (at most %.8f)", value, (double)nextafterf(1.0f, 0.0f));
        c->momentum = m;
        return 0;
    }
    if (!strcmp(key, "l2"))
        return set_real(&c->l2, key, value, 0, 1e6, "a regularisation weight >= 0 (at most 1e6)", err, errlen);
    if (!strcmp(key, "eval-every"))
        return set_real(&c->eval_every_epochs, key, value, 1e-6, 1e6, "a number of epochs > 0 (1e-6 to 1e6)",
                        err, errlen);
    if (!strcmp(key, "test-fraction"))
        return set_real(&c->test_fraction, key, value, DBL_MIN, nextafter(1.0, 0.0),
                        "a fraction in (0, 1)", err, errlen);
    if (!strcmp(key, "optimizer")) {
        if (!strcmp(value, "sgd"))
            c->optimizer = ML_OPTIM_SGD;
        else if (!strcmp(value, "adagrad"))
            c->optimizer = ML_OPTIM_ADAGRAD;
        else
            return ml_err(err, errlen, "--optimizer: '%s' (expected sgd or adagrad)", value);
        return 0;
    }
    if (!strcmp(key, "schedule")) {
        ml_schedule s;
        if (ml_schedule_parse(&s, value, 1.0, err, errlen) < 0)
            return -1;
        return set_str(c->schedule, sizeof c->schedule, key, value, err, errlen);
    }
    if (!strcmp(key, "scale")) {
        if (!strcmp(value, "none"))
            c->scale = ML_SCALE_NONE;
        else if (!strcmp(value, "standard"))
            c->scale = ML_SCALE_STANDARD;
        else if (!strcmp(value, "maxabs"))
            c->scale = ML_SCALE_MAXABS;
        else
            return ml_err(err, errlen, "--scale: '%s' (expected none, standard or maxabs)", value);
        return 0;
    }
    return 1;
}

void ml_config_describe(const ml_config *c, char *buf, size_t len)
{
    static const char *const scales[] = {"none", "standard", "maxabs"};
    snprintf(buf, len,
             "data=%s%s%s model=%s epochs=%ld batch=%zu lr=%g momentum=%g l2=%g optimizer=%s "
             "schedule=%s seed=%llu scale=%s",
             c->data[0] ? c->data : c->dataset, c->test_data[0] ? " test-data=" : "",
             c->test_data, c->model, c->epochs, c->batch, c->lr, c->momentum, c->l2,
             c->optimizer == ML_OPTIM_ADAGRAD ? "adagrad" : "sgd", c->schedule,
             (unsigned long long)c->seed, scales[c->scale]);
}

/* ---- loading ---- */

/* A data file: IDX when its name says so ("IMAGES,LABELS", or a name with
 * "-images-idx3-ubyte" whose labels file follows the MNIST naming),
 * LIBSVM text otherwise. */
static int load_file(const char *path, size_t dim, size_t max, ml_dataset *out, char *err,
                     size_t errlen)
{
    const char *comma = strchr(path, ',');
    const char *tag = strstr(path, "-images-idx3-ubyte");
    if (!comma && !tag)
        return ml_libsvm_load(path, dim, max, out, err, errlen);
    char images[1024], labels[1024];
    if (strlen(path) >= sizeof images)
        return ml_err(err, errlen, "%s: path too long", path);
    if (comma) {
        snprintf(images, sizeof images, "%.*s", (int)(comma - path), path);
        snprintf(labels, sizeof labels, "%s", comma + 1);
    } else {
        snprintf(images, sizeof images, "%s", path);
        snprintf(labels, sizeof labels, "%.*s-labels-idx1-ubyte%s", (int)(tag - path), path,
                 tag + strlen("-images-idx3-ubyte"));
    }
    return ml_idx_load(images, labels, max, out, err, errlen);
}

void ml_problem_free(ml_problem *p)
{
    ml_dataset_free(&p->train);
    ml_dataset_free(&p->test);
    ml_model_free(p->model);
    p->model = NULL;
}

int ml_problem_load(const ml_config *c, ml_problem *p, char *err, size_t errlen)
{
    ml_dataset all = {0};
    ml_scaler sc = {0};
    memset(p, 0, sizeof *p);
    if (c->data[0]) {
        if (load_file(c->data, 0, c->test_data[0] ? c->train_size : 0, &all, err, errlen) < 0)
            goto fail;
        if (c->test_data[0]) {
            p->train = all;
            memset(&all, 0, sizeof all);
            if (load_file(c->test_data, 0, c->test_size, &p->test, err, errlen) < 0)
                goto fail;
        } else {
            size_t ntest = (size_t)floor(c->test_fraction * (double)all.n);
            if (ntest == 0 || ntest == all.n) {
                ml_err(err, errlen, "%s: %zu examples cannot be split with test fraction %g",
                       c->data, all.n, c->test_fraction);
                goto fail;
            }
            if (ml_dataset_split(&all, all.n - ntest, c->seed ? c->seed : 1, &p->train, &p->test,
                                 err, errlen) < 0)
                goto fail;
            ml_dataset_free(&all);
        }
    } else if (c->test_data[0]) { /* it was left unread, and the built-in's own test set used */
        ml_err(err, errlen, "--test-data %s goes with --data FILE; --dataset %s has its own test set", c->test_data,
               c->dataset);
        goto fail;
    } else if (ml_dataset_open(c->dataset, c->seed, c->train_size, c->test_size, &p->train,
                               &p->test, err, errlen) < 0) {
        goto fail;
    }
    if (c->train_size && c->train_size < p->train.n)
        p->train.n = c->train_size;
    if (c->test_size && c->test_size < p->test.n)
        p->test.n = c->test_size;
    if (ml_dataset_match_dims(&p->train, &p->test, err, errlen) < 0)
        goto fail;
    int k = p->train.classes > p->test.classes ? p->train.classes : p->test.classes;
    p->train.classes = p->test.classes = k;
    if (c->scale != ML_SCALE_NONE) {
        if (ml_scaler_fit(&sc, &p->train, c->scale, err, errlen) < 0 ||
            ml_scaler_apply(&sc, &p->train, err, errlen) < 0 ||
            ml_scaler_apply(&sc, &p->test, err, errlen) < 0)
            goto fail;
        ml_scaler_free(&sc);
    }
    if (ml_model_create(c->model, p->train.d, k, c->l2, &p->model, err, errlen) < 0 ||
        ml_model_set_freq(p->model, &p->train, err, errlen) < 0)
        goto fail;
    return 0;
fail:
    ml_scaler_free(&sc);
    ml_dataset_free(&all);
    ml_problem_free(p);
    return -1;
}

/* ---- the serial trainer ---- */

void ml_train_result_free(ml_train_result *r)
{
    free(r->params);
    memset(r, 0, sizeof *r);
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int evaluate(ml_problem *p, const float *params, ml_eval_point *pt, char *err,
                    size_t errlen)
{
    double acc;
    if (ml_model_objective(p->model, params, &p->train, &pt->train_loss, NULL, err, errlen) < 0)
        return -1;
    if (p->test.n == 0) {
        pt->test_loss = pt->test_accuracy = NAN;
        return 0;
    }
    if (ml_model_evaluate(p->model, params, &p->test, NULL, p->test.n, &pt->test_loss, &acc,
                          NULL, NULL, err, errlen) < 0)
        return -1;
    pt->test_accuracy = acc;
    return 0;
}

int ml_train_serial(const ml_config *c, ml_eval_fn cb, void *arg, ml_train_result *res,
                    char *err, size_t errlen)
{
    ml_problem p;
    ml_grad g = {0};
    ml_optim o = {0};
    ml_schedule sched;
    gsl_rng *rng = NULL;
    size_t *order = NULL;
    float *params = NULL;
    memset(res, 0, sizeof *res);
    if (ml_schedule_parse(&sched, c->schedule, c->lr, err, errlen) < 0)
        return -1;
    if (ml_problem_load(c, &p, err, errlen) < 0)
        return -1;
    size_t n = p.train.n, P = ml_model_nparams(p.model);
    if (n == 0) {
        ml_err(err, errlen, "no training examples");
        goto fail;
    }
    params = malloc(P * sizeof *params);
    order = malloc(n * sizeof *order);
    rng = gsl_rng_alloc(gsl_rng_mt19937);
    if (!params || !order || !rng || ml_grad_init(&g, P) < 0) {
        ml_err(err, errlen, "train: out of memory for %zu parameters", P);
        goto fail;
    }
    if (ml_optim_init(&o, c->optimizer, P, 0, (float)c->momentum, err, errlen) < 0)
        goto fail;
    ml_model_init_params(p.model, params, c->seed);
    int plain_sgd = o.kind == ML_OPTIM_SGD && !o.state; /* no momentum */
    if (plain_sgd && ml_model_stream_freq(p.model, &p.train, err, errlen) < 0)
        goto fail;
    gsl_rng_set(rng, (unsigned long)(c->seed + 1));
    for (size_t i = 0; i < n; i++)
        order[i] = i;

    size_t B = c->batch < n ? c->batch : n;
    long steps_per_epoch = (long)((n + B - 1) / B), step = 0;
    long eval_steps = (long)llround(c->eval_every_epochs * (double)steps_per_epoch);
    if (eval_steps < 1)
        eval_steps = 1;
    double train_s = 0, flops = 0;
    ml_eval_point pt = {0};
    int stop = 0;
    if (evaluate(&p, params, &pt, err, errlen) < 0)
        goto fail;
    if (cb)
        stop = cb(&pt, arg);
    for (long e = 0; e < c->epochs && !stop; e++) {
        /* ---- a fresh order each epoch (Fisher-Yates, GSL's stream) ---- */
        for (size_t i = n; i > 1; i--) {
            size_t j = gsl_rng_uniform_int(rng, i), t = order[i - 1];
            order[i - 1] = order[j];
            order[j] = t;
        }
        for (size_t at = 0; at < n && !stop; at += B) {
            double t0 = now_s(), f;
            size_t b = n - at < B ? n - at : B;
            float lr = (float)ml_schedule_lr(&sched, (double)step / (double)steps_per_epoch);
            if (plain_sgd) { /* gradient and update in one call (model.h: the same step) */
                if (ml_model_sgd_step(p.model, params, &p.train, order + at, b, lr, &g, &f, err,
                                      errlen) < 0)
                    goto fail;
                flops += f;
            } else {
                if (ml_model_loss_grad(p.model, params, &p.train, order + at, b, &g, NULL, &f,
                                       err, errlen) < 0)
                    goto fail;
                flops += f;
                if (g.sparse)
                    flops += ml_optim_step_sparse(&o, params, g.index, g.value, g.nnz, lr);
                else
                    flops += ml_optim_step(&o, params, g.dense, 0, P, lr);
            }
            step++;
            train_s += now_s() - t0;
            int last = e == c->epochs - 1 && at + b >= n;
            if (step % eval_steps == 0 || last) {
                pt.time_s = train_s;
                pt.step = step;
                pt.epoch = (double)step / (double)steps_per_epoch;
                if (evaluate(&p, params, &pt, err, errlen) < 0)
                    goto fail;
                if (cb)
                    stop = cb(&pt, arg);
            }
        }
    }
    res->last = pt;
    res->train_flops = flops;
    res->nparams = P;
    res->params = params;
    params = NULL;
    ml_problem_free(&p);
    ml_grad_free(&g);
    ml_optim_free(&o);
    gsl_rng_free(rng);
    free(order);
    return 0;
fail:
    ml_problem_free(&p);
    ml_grad_free(&g);
    ml_optim_free(&o);
    if (rng)
        gsl_rng_free(rng);
    free(order);
    free(params);
    return -1;
}
