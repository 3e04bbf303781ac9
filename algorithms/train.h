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
 * Time in the records is the job's work clock (rt_work_now): simulated
 * seconds in sim, wall seconds on real sockets, less the time set aside.
 * Evaluation is not part of training: it is never charged with
 * rt_compute, and it runs aside (rt_aside_begin/end), so the time it took
 * (wall time on real sockets; none in sim) is not in the clock.
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
    int quiet;            /* never call progress */
    /* Called by the reporter at each evaluation point it records (NULL:
     * nobody listens); the command line draws its progress line with it. */
    void (*progress)(void *ctx, double epoch, int epochs, double train_loss, double time_s);
    void *progress_ctx;
    /* Fault injection (--kill-rank): called by every training rank at the
     * start of each of its steps (train_step_begin). Nonzero: the rank was
     * made to fail there -- the hook itself makes that visible (its process
     * exits, its connections are aborted, or its simulated host goes
     * down) -- and leaves at once, saying goodbye to no one. NULL: none. */
    int (*crash)(void *ctx, rt *r, long step);
    void *crash_ctx;
    /* Checkpoints (--checkpoint-every, --resume; algorithms whose
     * descriptor says checkpoints = 1): every checkpoint_every epochs
     * (0: never) each rank hands its state's bytes to save; at the start
     * load gives a rank the bytes it saved last (NULL: a fresh start). The
     * command line keeps them in the run folder. */
    double checkpoint_every;
    int (*save)(void *ctx, rt *r, long step, const void *buf, size_t len);
    const void *(*load)(void *ctx, rt *r, size_t *len);
    /* Where load's bytes came from (a file's name), for the messages that
     * refuse them (train_resume_refuse); NULL: not said. */
    const char *(*source)(void *ctx, rt *r);
    /* The step load's bytes were saved at, every rank's the same (the
     * command line reads it from the files' names), or 0 when not known:
     * a checkpoint that says another step is refused (one rank resuming
     * elsewhere deadlocked the others). */
    long resume_step;
    void *checkpoint_ctx;
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

/* A rank begins its step-th step (minibatch, counted from 0 in its own
 * loop): nonzero when setup->crash made it fail here, with the error set;
 * it must then return that code at once. */
int train_step_begin(const train_setup *setup, rt *r, long step);

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
/* Go on from a saved place (pass >= s->pass, pos <= s->n): the passes
 * between are replayed, so the next batches are the ones a shard that
 * got there by train_shard_next would give. */
void train_shard_seek(train_shard *s, long pass, size_t pos);

/* ---- evaluation: when, what, and where ----
 *
 * Every training algorithm evaluates the same way, with three services:
 *   - the schedule: is an evaluation point due (train_schedule: every
 *     --eval-every epochs, the first at 0; kept by any rank that must
 *     decide it, as all the ranks of a synchronous algorithm do together);
 *   - snapshots: any rank keeps a copy of the weights it holds at a point,
 *     with the time and progress it stamps them with (train_snaps);
 *   - the evaluation, on the reporter: it measures a model and records the
 *     point (train_eval), after gathering the ranks' snapshots
 *     (train_snaps_gather) where the model lives in pieces.
 * A point's time is whatever the caller stamped it with, usually the
 * work clock (rt_work_now): evaluating, and exchanges made only to
 * evaluate, run aside from training (rt_aside_begin/end). */

/* Points every `every` units (epochs, or examples: the caller's choice),
 * the first at 0. */
typedef struct train_schedule {
    double every, next;
} train_schedule;

/* Every ml->eval_every_epochs (1 when unset) times unit: unit 1 counts in
 * epochs, unit n (training examples) in examples. */
void train_schedule_init(train_schedule *s, const ml_config *ml, double unit);
/* Is a point due at x (within 1e-9)? When it is, the next one is the first
 * multiple of `every` past x. */
int train_schedule_due(train_schedule *s, double x);

/* Copies of weights, each with meta_doubles values the algorithm keeps
 * with it; the first is always the time it was taken (seconds). */
typedef struct train_snaps {
    size_t n;           /* floats per snapshot */
    int meta_doubles;   /* values per snapshot, time_s first */
    int count, cap;
    double *meta;       /* count x meta_doubles */
    float *w;           /* count x n */
} train_snaps;

void train_snaps_init(train_snaps *s, size_t n, int meta_doubles);
/* Keep a copy of w[0..n) with meta. Grows as needed. */
int train_snaps_take(rt *r, train_snaps *s, const float *w, const double *meta);
/* Room for another point before the end: the last of TRAIN_MAX_POINTS is
 * kept for the final state. */
int train_snaps_room(const train_snaps *s);
void train_snaps_free(train_snaps *s);

/* What the reporter holds after train_snaps_gather: every rank's
 * snapshots and its end-of-run totals. */
typedef struct train_gathered {
    int S;
    size_t P;
    int npoints;          /* the points every rank has (the last: each one's final) */
    train_snaps *snaps;   /* S; [0] is borrowed from the reporter */
    unsigned char *totals;
    size_t totals_bytes;
} train_gathered;

/* Ranks 0..S-1 hold snapshots of their key ranges (train_range of P over
 * S); rank 0 gathers them all, with each rank's totals (totals_bytes of
 * the algorithm's own, may be 0). Wire, from each rank s > 0 to rank 0:
 * [count as a double, totals], then the count x meta_doubles values, then
 * the count x m floats. On ranks other than 0, g is left empty. */
int train_snaps_gather(rt *r, train_snaps *mine, int S, size_t P, const void *totals,
                       size_t totals_bytes, train_gathered *g);
/* Point i (0..npoints-1; the last uses every rank's final snapshot):
 * the whole P floats into `whole`, and the latest of the ranks' times. */
double train_gathered_point(const train_gathered *g, int i, float *whole);
/* Rank s's values and totals for point i. */
const double *train_gathered_meta(const train_gathered *g, int i, int s);
const void *train_gathered_totals(const train_gathered *g, int s);
void train_gathered_free(train_gathered *g);

/* Measuring and recording, on the reporting rank. */
typedef struct train_eval {
    rt *r;
    const train_setup *setup;
    ml_model *model;        /* the rank's own model (scratch buffers) */
    ml_dataset train_part;  /* the examples train_loss is measured on */
    train_schedule sched;   /* in epochs */
    train_out *out;
    double clock_base;      /* added to the work clock: a resumed run's
                               time goes on from its checkpoint's */
} train_eval;

int train_eval_init(train_eval *e, rt *r, const train_setup *setup, ml_model *model);
/* Is a point due at this epoch (the reporter's own schedule)? */
int train_eval_due(train_eval *e, double epoch);
/* The clock points are stamped with: the work clock, rt_work_now. */
double train_eval_clock(const train_eval *e);
/* Fill pt's train_loss, test_loss and test_accuracy from params (aside
 * from training); the rest of pt is the caller's. */
int train_eval_measure(train_eval *e, const float *params, train_point *pt);
/* Append a measured point to the slot (extra beyond setup->nextra is
 * zeroed) and report progress. */
int train_eval_record(train_eval *e, const train_point *pt);
/* Measure params and record them as the point `at` (time, epoch, step and
 * extra as the caller stamped them). */
int train_eval_point(train_eval *e, const float *params, const train_point *at);
/* The same, stamped now (train_eval_clock); extra: nextra values or NULL. */
int train_eval_now(train_eval *e, const float *params, double epoch, long step,
                   const double *extra);
/* Copy the final parameters into the slot. */
void train_eval_finish(train_eval *e, const float *params, size_t nparams);
void train_eval_free(train_eval *e);

/* The rank's result slot (every rank has one; the reporter's carries the
 * points). */
train_out *train_slot(rt *r);

/* ---- key ranges: how S servers split P parameters ---- */

/* Server s of S holds [*lo, *hi) = [s P / S, (s+1) P / S). */
void train_range(size_t P, int S, int s, size_t *lo, size_t *hi);
/* The part of [a0, a1) that server s holds (empty when *lo >= *hi). */
void train_range_overlap(size_t P, int S, int s, size_t a0, size_t a1, size_t *lo, size_t *hi);
/* The server holding key k: the largest s with s P / S <= k. */
int train_range_owner(size_t P, int S, size_t k);

/* Each rank's own model, shaped like the problem's (scratch buffers are
 * per rank), with feature frequencies for sparse L2. */
int train_model_create(rt *r, const train_setup *setup, ml_model **out);

/* The optimizer over parameters [first, first + count) (NULL: none) and
 * the learning-rate schedule that the ML options ask for; the error says
 * which was wrong. */
int train_optimizer_init(rt *r, const ml_config *ml, size_t first, size_t count, ml_optim *optim,
                         ml_schedule *sched);

/* ---- a data-parallel worker ----
 * What a rank of synchronous SGD or local SGD sets up alike: its model,
 * the serial run's starting weights (the same seed everywhere), minibatch
 * indices, a dense gradient (exact L2, as the serial baseline), shard
 * `part` of `parts`, the optimizer over every parameter and the schedule,
 * and on the reporter the evaluation. */
typedef struct train_worker {
    ml_model *model;
    size_t P;
    float *params;
    size_t *batch;        /* ml->batch indices */
    ml_grad grad;
    train_shard shard;
    ml_optim optim;
    ml_schedule sched;
    train_eval eval;
    int reporting;        /* eval is set up (this rank reports) */
    train_schedule checkpoints; /* when the next checkpoint is due */
} train_worker;

/* Checkpoints of a synchronous worker (setup->save, setup->load): its
 * step, weights, optimizer state and place in its shard, and on the
 * reporter the points recorded so far and the clock they reached -- all a
 * step needs, so a resumed run ends with the bits of one never stopped.
 * train_worker_resume: at the start, the step to go on from (0 when there
 * is nothing to load); RT_EINPUT (train_resume_refuse) when the saved
 * bytes are damaged, not finite or not this run's.
 * train_worker_checkpoint: at the start of a step, after its evaluation;
 * saves when one is due. */
int train_worker_resume(train_worker *w, rt *r, const train_setup *setup, long *step);
int train_worker_checkpoint(train_worker *w, rt *r, const train_setup *setup, long step,
                            double epoch);
/* The same with extra_len bytes of the algorithm's own state kept beside
 * (resume: read back into extra; a checkpoint with another length is not
 * this run's). The reporter's stats are kept too. */
int train_worker_checkpoint_with(train_worker *w, rt *r, const train_setup *setup, long step,
                                 double epoch, const void *extra, size_t extra_len);
int train_worker_resume_with(train_worker *w, rt *r, const train_setup *setup, long *step,
                             void *extra, size_t extra_len);
/* Refuse the bytes load gave this rank (damaged, not finite, of another
 * run): the message says where they came from (setup->source), and the
 * code, RT_EINPUT, makes the job's failure bad input (exit 2). */
int train_resume_refuse(rt *r, const train_setup *setup, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The index of the first of n floats that is a NaN or an infinity, or -1. */
long train_first_nonfinite(const float *v, size_t n);

/* who names the algorithm in an error. */
int train_worker_init(train_worker *w, rt *r, const train_setup *setup, int part, int parts,
                      const char *who);
void train_worker_free(train_worker *w);
/* Steps in an epoch when W workers take minibatches of b of n examples:
 * ceil(n / (W b)), at least 1. */
long train_steps_per_epoch(size_t n, int W, size_t b);

/* ---- an algorithm, described once ----
 *
 * Everything the command line needs to know about a training algorithm
 * besides how its flags map to its options struct: its own options (for
 * --help and parsing), its metric columns and summary stats, the shape of
 * its job, the check of its options against the problem, and its rank
 * function. cli/run_NAME.c maps flags to fields and adds its summary
 * fields; cli/verb_run.c does the rest from this table. */

/* An option: name (without "--"), argument (NULL for a flag), help; the
 * same shape as the ML options' (ml/train.h). */
typedef ml_opt train_opt;

/* Which ranks a job has and what they do. */
typedef struct train_shape {
    int ranks;            /* of the job */
    int reporter;         /* the rank that evaluates */
    int first, count;     /* the ranks --stragglers draws from: [first, first + count) */
} train_shape;

typedef struct train_algo {
    const char *name;
    const char *summary;
    const train_opt *opts;           /* its own options, NULL-terminated; may be NULL */
    int default_workers;
    int nextra;                      /* extra metric columns (train_point.extra) */
    const char *const *extra_names;
    int nstats;                      /* summary stats (train_out.stats) */
    const char *const *stat_names;
    /* The job's ranks for these options and workers; NULL: `workers`
     * ranks, rank 0 reports, any rank may straggle. */
    void (*shape)(const void *opts, int workers, train_shape *out);
    /* Options checked against the problem (setup complete): 0, or -1 with
     * err saying what is wrong; NULL: nothing to check. The rank function
     * runs it too, for callers that start the job themselves. */
    int (*check)(const train_setup *setup, char *err, size_t errlen);
    int (*rank)(rt *r, void *setup);
    int checkpoints;                 /* it takes --checkpoint-every and --resume */
} train_algo;

/* The shape of algo's job (its shape function, or the default). */
train_shape train_algo_shape(const train_algo *algo, const void *opts, int workers);
/* Name setup's extra columns and stats as algo says. */
void train_setup_columns(train_setup *setup, const train_algo *algo);
/* algo's check, as a rank sees it: RT_OK or RT_EINVAL with the message. */
int train_algo_check(rt *r, const train_algo *algo, const train_setup *setup);

/* Charge flops of a model's forward and backward work (RT_WORK_MODEL),
 * or of element-wise work (RT_WORK_VECTOR: optimizer steps, averaging,
 * the L2 term, accumulating); nothing when flops is 0. */
int train_charge(rt *r, double flops);
int train_charge_vector(rt *r, double flops);

#endif
