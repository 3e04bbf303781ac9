/* train.c -- shards, minibatches and evaluation shared by the training
 * algorithms (see train.h). */
#include "algorithms/train.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/job.h"
#include "core/progress.h"

size_t train_out_bytes(size_t nparams) { return sizeof(train_out) + nparams * sizeof(float); }

float *train_out_params(train_out *o) { return (float *)(o + 1); }

/* ---- shards ---- */

/* splitmix64: a small, fast, well-mixed generator for visiting orders. */
static uint64_t mix(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static void shuffle(train_shard *s)
{
    uint64_t x = s->seed ^ (0xD1B54A32D192ED03ull * (uint64_t)(s->pass + 1));
    for (size_t i = s->n; i > 1; i--) {
        size_t j = (size_t)(mix(&x) % i);
        size_t t = s->idx[i - 1];
        s->idx[i - 1] = s->idx[j];
        s->idx[j] = t;
    }
}

int train_shard_init(train_shard *s, const ml_dataset *train, int part, int parts, uint64_t seed)
{
    memset(s, 0, sizeof *s);
    s->n = ml_shard_count(train->n, part, parts, ML_SHARD_CONTIGUOUS);
    s->idx = malloc((s->n ? s->n : 1) * sizeof *s->idx);
    if (!s->idx)
        return -1;
    ml_shard_indices(train->n, part, parts, ML_SHARD_CONTIGUOUS, s->idx);
    s->seed = seed * 0x9E3779B97F4A7C15ull + (uint64_t)part;
    shuffle(s);
    return 0;
}

void train_shard_free(train_shard *s)
{
    free(s->idx);
    memset(s, 0, sizeof *s);
}

size_t train_shard_next(train_shard *s, size_t batch, size_t *out)
{
    if (s->n == 0)
        return 0;
    if (s->pos == s->n) {
        s->pos = 0;
        s->pass++;
        shuffle(s);
    }
    size_t k = s->n - s->pos < batch ? s->n - s->pos : batch;
    memcpy(out, s->idx + s->pos, k * sizeof *out);
    s->pos += k;
    return k;
}

/* ---- models ---- */

int train_model_create(rt *r, const train_setup *setup, ml_model **out)
{
    const ml_problem *p = setup->prob;
    char err[512];
    if (ml_model_create(setup->ml->model, p->train.d, p->train.classes, setup->ml->l2, out, err,
                        sizeof err) != 0)
        return rt_fail(r, RT_EINVAL, "model: %s", err);
    if (p->train.sparse && ml_model_set_freq(*out, &p->train, err, sizeof err) != 0) {
        ml_model_free(*out);
        *out = NULL;
        return rt_fail(r, RT_EINVAL, "model: %s", err);
    }
    return RT_OK;
}

int train_optimizer_init(rt *r, const ml_config *ml, size_t nparams, ml_optim *optim,
                         ml_schedule *sched)
{
    char err[512];
    if (ml_optim_init(optim, ml->optimizer, nparams, 0, (float)ml->momentum, err, sizeof err) != 0)
        return rt_fail(r, RT_EINVAL, "%s", err);
    if (ml_schedule_parse(sched, ml->schedule, ml->lr, err, sizeof err) != 0)
        return rt_fail(r, RT_EINVAL, "schedule: %s", err);
    return RT_OK;
}

int train_charge(rt *r, double flops) { return flops > 0 ? rt_compute(r, flops) : RT_OK; }

/* ---- evaluation ---- */

int train_eval_init(train_eval *e, rt *r, const train_setup *setup, ml_model *model)
{
    memset(e, 0, sizeof *e);
    e->r = r;
    e->setup = setup;
    e->model = model;
    e->out = job_slot(r);
    const ml_dataset *train = &setup->prob->train;
    size_t n = train->n < TRAIN_TRAIN_LOSS_MAX ? train->n : TRAIN_TRAIN_LOSS_MAX;
    size_t *idx = malloc((n ? n : 1) * sizeof *idx);
    if (!idx)
        return rt_fail(r, RT_ENOMEM, "evaluation: out of memory");
    /* an even spread over the whole set, not just its head */
    for (size_t i = 0; i < n; i++)
        idx[i] = (size_t)((double)i * (double)train->n / (double)n);
    char err[512];
    int rc = ml_dataset_subset(train, idx, n, &e->train_part, err, sizeof err);
    free(idx);
    if (rc != 0)
        return rt_fail(r, RT_ENOMEM, "evaluation: %s", err);
    e->progress = progress_open(stderr, rt_backend(r)[0] == 's' ? "simulated" : "wall",
                                setup->quiet ? PROGRESS_QUIET : 0);
    return RT_OK;
}

double train_eval_clock(const train_eval *e) { return rt_now(e->r) - e->excluded_s; }

int train_eval_maybe(train_eval *e, const float *params, double epoch, long step,
                     const double *extra, int force)
{
    if (!force && e->out->npoints > 0 && epoch + 1e-9 < e->next_epoch)
        return RT_OK;
    double every = e->setup->ml->eval_every_epochs > 0 ? e->setup->ml->eval_every_epochs : 1;
    while (e->next_epoch <= epoch + 1e-9)
        e->next_epoch += every;
    double t0 = rt_now(e->r);
    train_point pt = {.time_s = t0 - e->excluded_s, .epoch = epoch, .step = step};
    char err[512];
    double flops;
    const ml_dataset *test = &e->setup->prob->test;
    if (ml_model_objective(e->model, params, &e->train_part, &pt.train_loss, &flops, err,
                           sizeof err) != 0 ||
        ml_model_evaluate(e->model, params, test, NULL, test->n, &pt.test_loss,
                          &pt.test_accuracy, NULL, &flops, err, sizeof err) != 0)
        return rt_fail(e->r, RT_EINVAL, "evaluation: %s", err);
    for (int i = 0; i < e->setup->nextra && i < TRAIN_EXTRA; i++)
        pt.extra[i] = extra ? extra[i] : NAN;
    if (e->out->npoints < TRAIN_MAX_POINTS)
        e->out->points[e->out->npoints++] = pt;
    else
        e->out->truncated = 1;
    progress_update(e->progress, epoch, (int)e->setup->ml->epochs, pt.train_loss, pt.time_s);
    /* evaluation is not training: on the wall clock, take its time out */
    if (rt_backend(e->r)[0] == 'r')
        e->excluded_s += rt_now(e->r) - t0;
    return RT_OK;
}

void train_eval_finish(train_eval *e, const float *params, size_t nparams)
{
    e->out->nparams = nparams;
    memcpy(train_out_params(e->out), params, nparams * sizeof *params);
}

void train_eval_free(train_eval *e)
{
    progress_close(e->progress);
    e->progress = NULL;
    ml_dataset_free(&e->train_part);
}
