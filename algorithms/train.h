/* train.h -- what every training algorithm shares: its setup, the result
 * slot a rank fills, minibatches from a rank's shard, and evaluation.
 *
 * A training algorithm is a rank function (job_main) that receives a
 * train_setup: the ML configuration, the loaded problem (read-only, shared
 * by every rank), and a pointer to the algorithm's own options. The rank
 * that reports (setup->reporter, usually rank 0) evaluates the model at
 * the evaluation points and writes them, with the final parameters, into
 * its result slot (train_out); `distlab run` turns that into metrics.csv,
 * model.bin and summary.json. No rank writes files.
 *
 * Time in the records is the job's clock (rt_now): simulated seconds in
 * sim, wall seconds on real sockets. Evaluation is not part of training:
 * it is never charged with rt_compute, and on real sockets the wall time
 * it took is subtracted.
 */
#ifndef DISTLAB_TRAIN_H
#define DISTLAB_TRAIN_H

#include <stddef.h>
#include <stdint.h>

#include "algorithms/runtime.h"
#include "ml/train.h"

#define TRAIN_MAX_POINTS 1024
#define TRAIN_EXTRA 4  /* extra metric columns an algorithm may add */
#define TRAIN_STATS 16 /* named totals an algorithm may report */
#define TRAIN_TRAIN_LOSS_MAX 10000 /* train_loss uses at most this many examples */

typedef struct train_point {
    double time_s;
    double epoch;
    long step;
    double train_loss;     /* regularised objective on (up to 10,000) training examples */
    double test_loss;
    double test_accuracy;
    double extra[TRAIN_EXTRA];
} train_point;

typedef struct train_setup {
    const ml_config *ml;
    const ml_problem *prob;
    int workers;          /* ranks computing gradients */
    int reporter;         /* the rank that evaluates and fills its slot */
    int quiet;            /* no progress line */
    const void *algo;     /* the algorithm's own options */
    int nextra;           /* extra metric columns used */
    const char *extra_names[TRAIN_EXTRA];
    int nstats;           /* stats the reporter fills */
    const char *stat_names[TRAIN_STATS];
} train_setup;

/* The head of a rank's result slot; the final parameters follow it. */
typedef struct train_out {
    int npoints;
    int truncated;        /* more evaluation points than TRAIN_MAX_POINTS */
    train_point points[TRAIN_MAX_POINTS];
    double stats[TRAIN_STATS];
    size_t nparams;
} train_out;

size_t train_out_bytes(size_t nparams);
float *train_out_params(train_out *o);

/* ---- minibatches ---- */

/* A rank's share of the training set, visited in a fresh order each pass. */
typedef struct train_shard {
    size_t *idx;
    size_t n, pos;
    uint64_t seed;
    long pass;
} train_shard;

/* Contiguous shard `part` of `parts` of the training set; seed decides
 * every visiting order. */
int train_shard_init(train_shard *s, const ml_dataset *train, int part, int parts, uint64_t seed);
void train_shard_free(train_shard *s);
/* The next up to `batch` example indices into out; a pass ends at the end
 * of the shard (the last batch of a pass may be smaller). Returns how many. */
size_t train_shard_next(train_shard *s, size_t batch, size_t *out);

/* ---- evaluation, on the reporting rank ---- */

typedef struct train_eval {
    rt *r;
    const train_setup *setup;
    ml_model *model;        /* the rank's own model (scratch buffers) */
    ml_dataset train_part;  /* the examples train_loss is measured on */
    double excluded_s;      /* wall time spent evaluating (real backend) */
    double next_epoch;      /* when the next evaluation is due */
    train_out *out;
    void *progress;
} train_eval;

int train_eval_init(train_eval *e, rt *r, const train_setup *setup, ml_model *model);
/* Evaluate now if `epoch` has reached the next evaluation point (always
 * at the first call and when force is set). extra: nextra values or NULL. */
int train_eval_maybe(train_eval *e, const float *params, double epoch, long step,
                     const double *extra, int force);
/* The job's clock less the time spent evaluating. */
double train_eval_clock(const train_eval *e);
/* Copy the final parameters into the slot and close. */
void train_eval_finish(train_eval *e, const float *params, size_t nparams);
void train_eval_free(train_eval *e);

/* Each rank's own model, shaped like the problem's (scratch buffers are
 * per rank), with feature frequencies for sparse L2. */
int train_model_create(rt *r, const train_setup *setup, ml_model **out);

/* The optimizer over parameters [0, nparams) and the learning-rate
 * schedule that the ML options ask for; the error says which was wrong. */
int train_optimizer_init(rt *r, const ml_config *ml, size_t nparams, ml_optim *optim,
                         ml_schedule *sched);

/* Charge flops and keep going on error: returns the first error code. */
int train_charge(rt *r, double flops);

#endif
