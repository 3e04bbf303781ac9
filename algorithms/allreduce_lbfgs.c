/* allreduce_lbfgs.c -- the hybrid learner of Agarwal, Chapelle, Dudik and
 * Langford: online passes with adaptive per-feature steps on each shard,
 * a per-feature weighted average through allreduce, then batch L-BFGS
 * warm-started from that average, its every loss and gradient summed by
 * allreduce.
 * reference: Agarwal et al., "A Reliable Effective Terascale Linear
 * Learning System", JMLR 15, 2014 (arXiv 1110.4198), sections 3-4;
 * Duchi, Hazan & Singer 2011 for AdaGrad; liblbfgs for L-BFGS.
 *
 * W = workers (one shard of the training set each, n_s examples, N in
 * all), P = parameters, m = L-BFGS corrections.
 *
 *   1. online: each worker runs --warmstart passes of minibatch AdaGrad
 *      over its shard (step lr g / sqrt(G), G the running sum of squared
 *      gradients, per feature), starting from the common weights.
 *                                   (compute: the shard's loss_grad flops)
 *   2. after each pass, the weights are averaged per feature, weighted by
 *      how much each worker saw of it (the paper's non-uniform average):
 *      w_j = sum_k G_kj w_kj / sum_k G_kj (0 where no worker saw j).
 *                                   (one allreduce of 2P floats)
 *   3. L-BFGS from that average, every rank running the same liblbfgs
 *      iterate in lockstep. An evaluation at x: each worker's shard loss
 *      and gradient, scaled by n_s / N, one allreduce, plus the L2 term
 *      once: f = sum_s (n_s/N) loss_s + l2/2 ||x||^2.
 *                                   (compute: the shard's loss_grad flops;
 *                                    one allreduce of P + 3W floats)
 *      Preconditioned, as the paper's Algorithm 2: the first evaluation
 *      also sums the Hessian's diagonal H_jj (P more floats), and L-BFGS
 *      runs on y = x / D, D_j = c / sqrt(H_jj), c chosen so that its
 *      first step is the diagonal Newton step (--precondition off: D = 1).
 *      Every rank gets the same bits from the allreduce, so every rank's
 *      liblbfgs takes the same steps and stops at the same iteration.
 *      The loss goes through the float allreduce exactly: each worker puts
 *      its double as three floats (hi + mid + lo) in a slot of its own and
 *      zeros in the others, so the sum only adds zeros to them.
 *
 * Time of one L-BFGS evaluation on p ranks: the shard's loss_grad
 * (logreg: ~ 4 Z / W + 2 P flops for Z stored nonzeros), the tree
 * allreduce of P + 3W floats (2 ceil(log2 p) messages, collectives.h),
 * and liblbfgs' vector work, (4m + 10) P flops repeated on every rank:
 * the last two do not shrink with W, which is where the speedup against
 * workers bends.
 *
 * Budget: --epochs counts passes over the data: the --warmstart online
 * passes, then epochs - warmstart L-BFGS evaluations (each one pass; the
 * line search may take a few past the budget to finish its iteration).
 * --warmstart 0 is L-BFGS from zero, --warmstart E = --epochs online
 * only (iterative averaging after every pass).
 *
 * Speculative execution (--speculative on), as Hadoop runs the paper's
 * jobs: a rank W (the tracker, doing no training) hears a heartbeat from
 * every worker after each of ALB_CHUNKS chunks of the first online pass,
 * and answers it. When a shard's progress falls behind the mean of all
 * shards by ALB_GAP of a pass (Hadoop's rule, 20%), the tracker hands a
 * copy of that shard's task to a free rank: a spare (ranks W+1 .. W+S,
 * --spares S, default none) or else a worker that has finished its own
 * first pass (Hadoop's free slot); each runs at most one backup, and a
 * worker that wins one owns two shards. Both copies compute the same
 * bits; the first to finish wins, and the other hears "stop" within two
 * chunks (heartbeats are pipelined: a chunk never waits for a round
 * trip, the answer to one beat is read at the next). From then on the
 * winner owns the shard: it
 * makes the shard's later passes and evaluations, and sends its share to
 * the shard's worker, which adds it in the collectives (so the sums, and
 * the model bits, do not depend on who won). The tracker (and any spare)
 * joins every allreduce with zeros and follows the same L-BFGS iterate; a
 * rank without a shard is charged only for its part in the collectives
 * (charge_replicated). Cost without stragglers: the heartbeats, and the
 * extra rank(s) in each allreduce. The paper's point is the same: slow
 * nodes are replaced before the allreduce tree is built, after the
 * first pass.
 */
#include "algorithms/allreduce_lbfgs.h"

#include <lbfgs.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { TAG_BEAT = 0x6800, TAG_BEAT_REPLY, TAG_ASSIGN, TAG_PLAN, TAG_SHARE };
enum { BEAT_CONTINUE = 0, BEAT_STOP = 1 };

#define ALB_CHUNKS 16 /* heartbeats per first pass */
#define ALB_GAP 0.2   /* speculate below the mean progress less this share of a pass */

alb_opts alb_opts_default(void)
{
    return (alb_opts){.warmstart = 1, .spares = 0, .algo = ALLREDUCE_TREE, .precondition = 1,
                      .lbfgs_m = 10, .lbfgs_epsilon = 1e-5};
}

static const train_opt opts[] = {
    {"warmstart", "PASSES", "online AdaGrad passes before L-BFGS (0: L-BFGS from zero; default 1)"},
    {"speculative", "on|off", "back up slow shards' first pass on spare ranks (default off)"},
    {"spares", "S", "with --speculative on: ranks kept free for backups (default 0: the workers that finished)"},
    {"allreduce", "ring|tree|rd|rabenseifner", "how the sums are made (default tree)"},
    {"segment", "SIZE", "ring: pipeline messages in segments of this size (default: none)"},
    {"precondition", "on|off", "L-BFGS scaled by the Hessian's diagonal at its start (default on)"},
    {"lbfgs-m", "M", "L-BFGS corrections kept (default 10)"},
    {"lbfgs-epsilon", "E", "L-BFGS stops at ||g|| < E max(1, ||x||) (default 1e-5)"},
    {NULL, NULL, NULL},
};

static const char *const col_names[ALB_COLS] = {"phase"};
static const char *const stat_names[ALB_STATS] = {
    "online_passes", "lbfgs_evaluations", "lbfgs_iterations", "lbfgs_status", "backups",
    "backup_wins",
};

int alb_ranks(const alb_opts *o, int workers)
{
    return workers + (o->speculative ? 1 + o->spares : 0);
}

static void shape(const void *opt, int workers, train_shape *sh)
{
    /* stragglers are drawn among the workers: the tracker and the spares
     * stand for the machines a scheduler keeps free */
    *sh = (train_shape){.ranks = alb_ranks(opt, workers), .reporter = 0, .first = 0,
                        .count = workers};
}

/* ---- checking the options ---- */

static void lbfgs_params(const alb_opts *o, lbfgs_parameter_t *p)
{
    lbfgs_parameter_init(p);
    p->m = o->lbfgs_m;
    p->epsilon = o->lbfgs_epsilon;
}

int alb_check(const train_setup *setup, char *err, size_t errlen)
{
    const alb_opts *o = setup->algo;
    const ml_config *ml = setup->ml;
    ml_model_kind kind = ml_model_kind_of(setup->prob->model);
    if (kind != ML_MODEL_LOGREG && kind != ML_MODEL_SOFTMAX) {
        snprintf(err, errlen, "--model %s: allreduce-lbfgs trains a linear model with a smooth "
                 "loss, logreg or softmax (L-BFGS needs a differentiable objective)", ml->model);
        return -1;
    }
    if (o->warmstart < 0 || o->warmstart > ml->epochs) {
        snprintf(err, errlen, "--warmstart %ld: between 0 and --epochs (%ld), the passes over the "
                 "data the run may make", o->warmstart, ml->epochs);
        return -1;
    }
    if (o->speculative && o->warmstart < 1) {
        snprintf(err, errlen, "--speculative on backs up the first online pass; it needs "
                 "--warmstart 1 or more");
        return -1;
    }
    if (o->speculative && (o->spares < 0 || o->spares > setup->workers)) {
        snprintf(err, errlen, "--spares %d: between 0 and the workers (%d)", o->spares,
                 setup->workers);
        return -1;
    }
    if (o->lbfgs_m < 1) {
        snprintf(err, errlen, "--lbfgs-m %d: L-BFGS keeps at least 1 correction", o->lbfgs_m);
        return -1;
    }
    if (!(o->lbfgs_epsilon >= 0) || !isfinite(o->lbfgs_epsilon)) {
        snprintf(err, errlen, "--lbfgs-epsilon %g: a finite tolerance >= 0", o->lbfgs_epsilon);
        return -1;
    }
    if ((size_t)setup->workers > setup->prob->train.n) {
        snprintf(err, errlen, "--workers %d: more workers than the %zu training examples",
                 setup->workers, setup->prob->train.n);
        return -1;
    }
    return 0;
}

/* ---- one rank's state ---- */

/* A shard's online task: its visiting order and AdaGrad sums, and the
 * weights of its current pass. */
typedef struct alb_task {
    int shard;            /* -1: none */
    train_shard order;
    ml_optim ada;
    float *w;             /* P */
    size_t *ex, nex;      /* the shard's examples in order, for the L-BFGS sums */
} alb_task;

/* A rank runs at most two tasks: its own shard (a worker) and one backup. */
enum { ALB_OWN = 0, ALB_BACKUP = 1, ALB_TASKS };

typedef struct alb {
    rt *r;
    const train_setup *setup;
    const alb_opts *o;
    const ml_dataset *train;
    int W, me, ranks;
    size_t P, N;
    ml_model *model;      /* the online passes: l2 as configured */
    ml_model *data;       /* the L-BFGS sums: data loss only (l2 = 0); L2 is added once */
    float *w;             /* P: the common weights */
    float *buf;           /* 2P + 3W: what goes through the allreduce */
    float *share;         /* 2P + 3: a shard's share of an evaluation [grad][loss][diag] */
    size_t *batch;        /* ml->batch */
    ml_grad grad, dgrad;
    alb_task task[ALB_TASKS]; /* the shards I own (shard -1: none) */
    int *owner;           /* W: who owns each shard (speculative), else NULL */
    train_eval eval;
    int reporting;
    long passes, evals;
    long steps;           /* --kill-rank's count: online minibatches, then evaluations */
    int iterations, backups, wins, rc;
} alb;

static int task_init(alb *a, alb_task *t, int shard)
{
    char err[256];
    memset(t, 0, sizeof *t);
    t->shard = shard;
    t->w = malloc(a->P * sizeof *t->w);
    if (!t->w || train_shard_init(&t->order, a->train, shard, a->W, a->setup->ml->seed) != 0)
        return rt_fail(a->r, RT_ENOMEM, "allreduce-lbfgs: out of memory for shard %d", shard);
    if (ml_optim_init(&t->ada, ML_OPTIM_ADAGRAD, a->P, 0, 0, err, sizeof err) != 0)
        return rt_fail(a->r, RT_ENOMEM, "allreduce-lbfgs: %s", err);
    t->nex = ml_shard_count(a->N, shard, a->W, ML_SHARD_CONTIGUOUS);
    t->ex = malloc((t->nex ? t->nex : 1) * sizeof *t->ex);
    if (!t->ex)
        return rt_fail(a->r, RT_ENOMEM, "allreduce-lbfgs: out of memory for shard %d", shard);
    ml_shard_indices(a->N, shard, a->W, ML_SHARD_CONTIGUOUS, t->ex);
    return RT_OK;
}

static void task_free(alb_task *t)
{
    train_shard_free(&t->order);
    ml_optim_free(&t->ada);
    free(t->w);
    free(t->ex);
    memset(t, 0, sizeof *t);
    t->shard = -1;
}

static int alb_init(alb *a, rt *r, const train_setup *setup)
{
    const ml_config *ml = setup->ml;
    char err[512];
    int rc;
    memset(a, 0, sizeof *a);
    a->r = r;
    a->setup = setup;
    a->o = setup->algo;
    a->train = &setup->prob->train;
    a->W = setup->workers;
    a->me = rt_rank(r);
    a->ranks = rt_size(r);
    a->N = a->train->n;
    for (int k = 0; k < ALB_TASKS; k++)
        a->task[k].shard = -1;
    if ((rc = train_model_create(r, setup, &a->model)))
        return rc;
    if (ml_model_create(ml->model, a->train->d, a->train->classes, 0.0, &a->data, err,
                        sizeof err) != 0)
        return rt_fail(r, RT_EINVAL, "model: %s", err);
    a->P = ml_model_nparams(a->model);
    size_t nbuf = 2 * a->P + 3 * (size_t)a->W; /* the largest: an evaluation with the diagonal */
    a->w = malloc(a->P * sizeof *a->w);
    a->buf = malloc(nbuf * sizeof *a->buf);
    a->share = malloc((2 * a->P + 3) * sizeof *a->share);
    a->batch = malloc(ml->batch * sizeof *a->batch);
    if (!a->w || !a->buf || !a->share || !a->batch || ml_grad_init(&a->grad, a->P) != 0 ||
        ml_grad_init(&a->dgrad, a->P) != 0)
        return rt_fail(r, RT_ENOMEM, "allreduce-lbfgs: out of memory for %zu parameters", a->P);
    /* the online pass takes sparse steps on sparse data; the sums are dense */
    a->grad.dense_only = !a->train->sparse;
    a->dgrad.dense_only = 1;
    ml_model_init_params(a->model, a->w, ml->seed);
    if (a->me < a->W) {
        if ((rc = task_init(a, &a->task[ALB_OWN], a->me)))
            return rc;
    }
    if (a->me == setup->reporter) {
        if ((rc = train_eval_init(&a->eval, r, setup, a->model)))
            return rc;
        a->reporting = 1;
    }
    return RT_OK;
}

static void alb_free(alb *a)
{
    if (a->reporting)
        train_eval_free(&a->eval);
    for (int k = 0; k < ALB_TASKS; k++)
        task_free(&a->task[k]);
    ml_model_free(a->model);
    ml_model_free(a->data);
    ml_grad_free(&a->grad);
    ml_grad_free(&a->dgrad);
    free(a->w);
    free(a->buf);
    free(a->share);
    free(a->batch);
    free(a->owner);
}

/* Who owns shard s: its worker, unless a backup won it. */
static int owner_of(const alb *a, int s)
{
    return a->owner ? a->owner[s] : s;
}

/* Charge the math every rank repeats to stay in step (the average's
 * division, an evaluation's assembly, L-BFGS's vector work) only where
 * it is needed: a rank that owns no shard -- the tracker, an idle spare,
 * a worker whose backup won -- stands for a machine that only passes
 * messages (a replaced Hadoop task does not run at all), so its copy of
 * the iterate costs nothing. */
static int owns_a_shard(const alb *a)
{
    return a->task[ALB_OWN].shard >= 0 || a->task[ALB_BACKUP].shard >= 0;
}

static int charge_replicated(alb *a, double flops)
{
    return owns_a_shard(a) ? train_charge_vector(a->r, flops) : RT_OK;
}

static int record(alb *a, double phase)
{
    if (!a->reporting)
        return RT_OK;
    double extra[ALB_COLS] = {phase};
    return train_eval_now(&a->eval, a->w, (double)(a->passes + a->evals), a->iterations, extra);
}

/* ---- 1. an online pass over a task's shard ---- */

/* Heartbeats are pipelined so that no chunk waits for a round trip: at
 * the end of chunk c the task collects the tracker's answer to beat c-1
 * (long arrived, unless the tracker is swamped), then sends beat c. The
 * last beat's answer is awaited before the pass returns. */
typedef struct beats {
    int32_t beat[2], reply;
    rt_request *req[2]; /* the beat's send, the answer's receive */
} beats;

/* The answer to the outstanding beat, if any: 1 when it says stop (the
 * other copy won), 0 to go on, < 0 on error. */
static int beat_answer(alb *a, beats *b)
{
    if (!b->req[0] && !b->req[1])
        return 0;
    int rc = rt_waitall(a->r, 2, b->req, NULL);
    if (rc)
        return rt_fail(a->r, rc, "allreduce-lbfgs: heartbeat of shard %d: %s", b->beat[0],
                       rt_error(a->r));
    return b->reply == BEAT_STOP;
}

/* Beat for chunk `chunk` (of ALB_CHUNKS) done, after collecting the
 * previous answer: 1 when told to stop, 0 to go on, < 0 on error. */
static int heartbeat(alb *a, beats *b, int shard, int chunk)
{
    int rc = beat_answer(a, b);
    if (rc)
        return rc;
    b->beat[0] = shard;
    b->beat[1] = chunk;
    if ((rc = rt_irecv(a->r, a->W, TAG_BEAT_REPLY, &b->reply, sizeof b->reply, &b->req[1])) ||
        (rc = rt_isend(a->r, a->W, TAG_BEAT, b->beat, sizeof b->beat, &b->req[0]))) {
        rt_waitall(a->r, 2, b->req, NULL);
        return rt_fail(a->r, rc, "allreduce-lbfgs: heartbeat of shard %d: %s", shard,
                       rt_error(a->r));
    }
    return chunk == ALB_CHUNKS ? beat_answer(a, b) : 0;
}

/* One pass of minibatch AdaGrad over t's shard from the common weights,
 * into t->w; with_beats: a heartbeat after each chunk. Returns 1 when
 * told to stop, 0 when the pass is done, < 0 on error. */
static int online_pass(alb *a, alb_task *t, int with_beats)
{
    const ml_config *ml = a->setup->ml;
    char err[512];
    int rc;
    memcpy(t->w, a->w, a->P * sizeof *t->w);
    size_t nb = (t->order.n + ml->batch - 1) / ml->batch, done = 0;
    int chunk = 0;
    beats hb = {.req = {NULL, NULL}};
    while (done < nb) {
        if ((rc = train_step_begin(a->setup, a->r, a->steps++))) {
            rt_waitall(a->r, 2, hb.req, NULL);
            return rc;
        }
        size_t b = train_shard_next(&t->order, ml->batch, a->batch);
        double loss, flops;
        if (ml_model_loss_grad(a->model, t->w, a->train, a->batch, b, &a->grad, &loss, &flops,
                               err, sizeof err) != 0) {
            rt_waitall(a->r, 2, hb.req, NULL);
            return rt_fail(a->r, RT_EINVAL, "online pass, shard %d: %s", t->shard, err);
        }
        float lr = (float)ml->lr;
        flops += a->grad.sparse
                     ? ml_optim_step_sparse(&t->ada, t->w, a->grad.index, a->grad.value,
                                            a->grad.nnz, lr)
                     : ml_optim_step(&t->ada, t->w, a->grad.dense, 0, a->P, lr);
        if ((rc = train_charge(a->r, flops))) {
            rt_waitall(a->r, 2, hb.req, NULL);
            return rc;
        }
        done++;
        while (with_beats && chunk < ALB_CHUNKS && done * ALB_CHUNKS >= nb * (size_t)(chunk + 1))
            if ((rc = heartbeat(a, &hb, t->shard, ++chunk)))
                return rc;
    }
    /* an empty shard (more chunks than batches) still reports its end */
    while (with_beats && chunk < ALB_CHUNKS)
        if ((rc = heartbeat(a, &hb, t->shard, ++chunk)))
            return rc;
    return 0;
}

/* A shard's share (len floats) goes to the worker that adds it in the
 * collectives: into dst when that is me, else a message to it. */
static int hand_over(alb *a, const alb_task *t, const float *src, size_t len, float *dst)
{
    if (t->shard == a->me) {
        if (src != dst)
            memcpy(dst, src, len * sizeof *dst);
        return RT_OK;
    }
    int rc = rt_send(a->r, t->shard, TAG_SHARE, src, len * sizeof *src);
    return rc ? rt_fail(a->r, rc, "allreduce-lbfgs: shard %d's share: %s", t->shard,
                        rt_error(a->r))
              : RT_OK;
}

/* A worker whose shard another rank won receives the shard's share. */
static int take_over(alb *a, float *dst, size_t len)
{
    if (a->me >= a->W || owner_of(a, a->me) == a->me)
        return RT_OK;
    int rc = rt_recv(a->r, owner_of(a, a->me), TAG_SHARE, dst, len * sizeof *dst, NULL);
    return rc ? rt_fail(a->r, rc, "allreduce-lbfgs: my shard's share: %s", rt_error(a->r))
              : RT_OK;
}

/* ---- 2. the weighted average: w_j = sum G_kj w_kj / sum G_kj ---- */
static int average(alb *a)
{
    size_t P = a->P;
    int rc;
    if (a->ranks == 1) { /* one model is its own average */
        memcpy(a->w, a->task[ALB_OWN].w, P * sizeof *a->w);
        return RT_OK;
    }
    memset(a->buf, 0, 2 * P * sizeof *a->buf);
    /* each shard's owner builds [G w, G]: into buf for its own shard, in
     * share[] for another's worker */
    for (int k = 0; k < ALB_TASKS; k++) {
        const alb_task *t = &a->task[k];
        if (t->shard < 0)
            continue;
        float *out = t->shard == a->me ? a->buf : a->share;
        const float *G = t->ada.state;
        for (size_t i = 0; i < P; i++) {
            out[i] = G[i] * t->w[i];
            out[P + i] = G[i];
        }
        if ((rc = train_charge_vector(a->r, (double)P)) || (rc = hand_over(a, t, out, 2 * P, a->buf)))
            return rc;
    }
    if ((rc = take_over(a, a->buf, 2 * P)) ||
        (rc = allreduce(a->r, a->o->algo, a->buf, 2 * P, &a->o->coll)))
        return rc;
    for (size_t i = 0; i < P; i++)
        a->w[i] = a->buf[P + i] > 0 ? a->buf[i] / a->buf[P + i] : 0.0f;
    return charge_replicated(a, (double)P);
}

/* ---- 3. one evaluation of the objective, summed over the shards ---- */

static void split3(double v, float *out)
{
    float hi = (float)v;
    double rest = v - (double)hi;
    float mid = (float)rest;
    out[0] = hi;
    out[1] = mid;
    out[2] = (float)(rest - (double)mid);
}

/* Task t's share of an evaluation at a->w, into share[]: its gradient
 * and (with > 0) Hessian diagonal scaled by n_s / N, and its loss as
 * three floats: [grad P][loss 3][diag with]. */
static int shard_share(alb *a, const alb_task *t, size_t with)
{
    size_t P = a->P;
    double loss = 0, flops = 0, hflops = 0;
    char err[512];
    if (t->nex > 0 && ml_model_loss_grad(a->data, a->w, a->train, t->ex, t->nex, &a->dgrad,
                                         &loss, &flops, err, sizeof err) != 0)
        return rt_fail(a->r, RT_EINVAL, "allreduce-lbfgs: shard %d: %s", t->shard, err);
    if (with && t->nex > 0 &&
        ml_model_hessian_diag(a->data, a->w, a->train, t->ex, t->nex, a->share + P + 3, &hflops,
                              err, sizeof err) != 0)
        return rt_fail(a->r, RT_EINVAL, "allreduce-lbfgs: shard %d: %s", t->shard, err);
    double share = (double)t->nex / (double)a->N;
    float fs = (float)share;
    for (size_t i = 0; i < P; i++)
        a->share[i] = t->nex > 0 ? a->dgrad.dense[i] * fs : 0.0f;
    for (size_t i = 0; i < with; i++)
        a->share[P + 3 + i] = t->nex > 0 ? a->share[P + 3 + i] * fs : 0.0f;
    split3(share * loss, a->share + P);
    return train_charge(a->r, flops + hflops + (double)(P + with));
}

/* A worker's buffer takes its shard's share: the gradient at 0, the loss
 * in its own slot, the diagonal after the W slots. */
static void place_share(alb *a, const float *sh, size_t with)
{
    size_t P = a->P;
    memcpy(a->buf, sh, P * sizeof *a->buf);
    memcpy(a->buf + P + 3 * (size_t)a->me, sh + P, 3 * sizeof *a->buf);
    memcpy(a->buf + P + 3 * (size_t)a->W, sh + P + 3, with * sizeof *a->buf);
}

/* f and g at x, and with hdiag (not NULL) the Hessian's diagonal of the
 * whole objective there, L2 included: one pass over each shard, one
 * allreduce of P + 3W (+ P) floats laid out [grad][W loss slots][diag]. */
static int evaluate_at(alb *a, const double *x, double *f, double *g, double *hdiag)
{
    const ml_config *ml = a->setup->ml;
    size_t P = a->P, with = hdiag ? P : 0, len = P + 3 + with;
    int rc = train_step_begin(a->setup, a->r, a->steps++);
    if (rc)
        return rc;
    for (size_t i = 0; i < P; i++)
        a->w[i] = (float)x[i];
    size_t n = P + 3 * (size_t)a->W + with;
    memset(a->buf, 0, n * sizeof *a->buf);
    for (int k = 0; k < ALB_TASKS; k++) {
        const alb_task *t = &a->task[k];
        if (t->shard < 0)
            continue;
        if ((rc = shard_share(a, t, with)))
            return rc;
        if (t->shard == a->me)
            place_share(a, a->share, with);
        else if ((rc = hand_over(a, t, a->share, len, NULL)))
            return rc;
    }
    if (a->me < a->W && owner_of(a, a->me) != a->me) {
        if ((rc = take_over(a, a->share, len)))
            return rc;
        place_share(a, a->share, with);
    }
    if (a->ranks > 1 && (rc = allreduce(a->r, a->o->algo, a->buf, n, &a->o->coll)))
        return rc;
    double loss = 0, reg = 0;
    for (int k = 0; k < a->W; k++) {
        const float *t = a->buf + P + 3 * (size_t)k;
        loss += ((double)t[0] + (double)t[1]) + (double)t[2];
    }
    for (size_t i = 0; i < P; i++) {
        g[i] = (double)a->buf[i] + ml->l2 * x[i];
        reg += x[i] * x[i];
    }
    for (size_t i = 0; i < with; i++)
        hdiag[i] = (double)a->buf[P + 3 * (size_t)a->W + i] + ml->l2;
    *f = loss + 0.5 * ml->l2 * reg;
    return charge_replicated(a, 4.0 * (double)P + (double)with);
}

/* L-BFGS runs on y with x = D y, D = diag(H)^(-1/2) at the start (the
 * paper's preconditioned L-BFGS; D = 1 without --precondition): then
 * f(D y) has gradient D g, and the start's evaluation, made with the
 * diagonal, is liblbfgs' first. */
typedef struct alb_lbfgs {
    alb *a;
    double *D;            /* P, or NULL: identity */
    double *xs;           /* P: x = D y */
    double f0, *g0;       /* the start's f and gradient (in y), handed out once */
} alb_lbfgs;

static void to_x(const alb_lbfgs *l, const double *y, double *x, size_t P)
{
    for (size_t i = 0; i < P; i++)
        x[i] = l->D ? l->D[i] * y[i] : y[i];
}

static lbfgsfloatval_t lbfgs_evaluate(void *inst, const lbfgsfloatval_t *y, lbfgsfloatval_t *g,
                                      const int n, const lbfgsfloatval_t step)
{
    (void)step;
    alb_lbfgs *l = inst;
    alb *a = l->a;
    double f = NAN;
    if (l->g0) { /* liblbfgs starts where the diagonal was measured */
        memcpy(g, l->g0, (size_t)n * sizeof *g);
        free(l->g0);
        l->g0 = NULL;
        return l->f0;
    }
    to_x(l, y, l->xs, (size_t)n);
    if (!a->rc)
        a->rc = evaluate_at(a, l->xs, &f, g, NULL);
    a->evals++;
    for (int i = 0; i < n && l->D; i++)
        g[i] *= l->D[i];
    return a->rc ? NAN : f;
}

static int lbfgs_progress(void *inst, const lbfgsfloatval_t *y, const lbfgsfloatval_t *g,
                          const lbfgsfloatval_t fx, const lbfgsfloatval_t xnorm,
                          const lbfgsfloatval_t gnorm, const lbfgsfloatval_t step, int n, int k,
                          int ls)
{
    (void)g;
    (void)fx;
    (void)xnorm;
    (void)gnorm;
    (void)step;
    (void)ls;
    alb_lbfgs *l = inst;
    alb *a = l->a;
    a->iterations = k;
    /* the two-loop recursion and the line search's vector updates */
    a->rc = a->rc ? a->rc : charge_replicated(a, (4.0 * a->o->lbfgs_m + 10) * (double)n);
    to_x(l, y, l->xs, (size_t)n);
    for (int i = 0; i < n && !a->rc; i++)
        a->w[i] = (float)l->xs[i];
    if (!a->rc)
        a->rc = record(a, 2);
    return a->rc || a->passes + a->evals >= a->setup->ml->epochs;
}

static int run_lbfgs(alb *a, int *status)
{
    size_t P = a->P;
    alb_lbfgs l = {.a = a};
    int rc = RT_OK;
    lbfgsfloatval_t *y = lbfgs_malloc((int)P), fx;
    l.xs = malloc(P * sizeof *l.xs);
    if (a->o->precondition) {
        l.D = malloc(P * sizeof *l.D);
        l.g0 = malloc(P * sizeof *l.g0);
    }
    if (!y || !l.xs || (a->o->precondition && (!l.D || !l.g0))) {
        rc = rt_fail(a->r, RT_ENOMEM, "allreduce-lbfgs: out of memory for L-BFGS");
        goto done;
    }
    for (size_t i = 0; i < P; i++)
        y[i] = l.xs[i] = a->w[i];
    if (a->o->precondition) {
        /* the diagonal is measured with the start's loss and gradient */
        if ((rc = evaluate_at(a, l.xs, &l.f0, l.g0, l.D)))
            goto done;
        a->evals++;
        /* D = c diag(H)^(-1/2), with c = ||diag(H)^(-1/2) g||: liblbfgs'
         * first step, of unit length in y, is then the diagonal Newton
         * step; later steps are scaled by liblbfgs itself */
        double c = 0;
        for (size_t i = 0; i < P; i++) {
            l.D[i] = l.D[i] > 0 ? 1.0 / sqrt(l.D[i]) : 1.0;
            c += (l.D[i] * l.g0[i]) * (l.D[i] * l.g0[i]);
        }
        c = c > 0 ? sqrt(c) : 1.0;
        for (size_t i = 0; i < P; i++) {
            l.D[i] *= c;
            y[i] = l.xs[i] / l.D[i];
            l.g0[i] *= l.D[i];
        }
        if ((rc = charge_replicated(a, 4.0 * (double)P)))
            goto done;
    }
    lbfgs_parameter_t param;
    lbfgs_params(a->o, &param);
    param.max_iterations = (int)(a->setup->ml->epochs - a->passes);
    *status = lbfgs((int)P, y, &fx, lbfgs_evaluate, lbfgs_progress, &l, &param);
    /* y holds the best point liblbfgs found */
    to_x(&l, y, l.xs, P);
    for (size_t i = 0; i < P; i++)
        a->w[i] = (float)l.xs[i];
    if ((rc = a->rc))
        goto done;
    int st = *status;
    if (st < 0 && st != LBFGSERR_CANCELED && st != LBFGSERR_MAXIMUMITERATION &&
        st != LBFGSERR_ROUNDING_ERROR && st != LBFGSERR_MAXIMUMLINESEARCH &&
        st != LBFGSERR_MINIMUMSTEP && st != LBFGSERR_MAXIMUMSTEP &&
        st != LBFGSERR_INCREASEGRADIENT)
        rc = rt_fail(a->r, RT_EINVAL, "allreduce-lbfgs: liblbfgs stopped with code %d", st);
done:
    lbfgs_free(y);
    free(l.xs);
    free(l.D);
    free(l.g0);
    return rc;
}

/* ---- speculation: the tracker, the spares, the plan ---- */

/* An idle rank to run a backup, or -1: a spare that ran none, else a
 * worker that finished its own first pass (it won its shard) and ran
 * none -- Hadoop's free slot. */
static int idle_executor(const alb *a, const int32_t *plan, const char *used)
{
    for (int k = a->W + 1; k < a->ranks; k++)
        if (!used[k])
            return k;
    for (int k = 0; k < a->W; k++)
        if (plan[k] == k && !used[k])
            return k;
    return -1;
}

/* Rank W: answers heartbeats, starts backups, then tells every other rank
 * who owns each shard (the plan: W owners, backups, wins). */
static int tracker(alb *a)
{
    int W = a->W, rc = RT_OK, running = W;
    int *progress = calloc((size_t)W, sizeof *progress), *backup = malloc((size_t)W * sizeof *backup);
    char *used = calloc((size_t)a->ranks, 1);
    int32_t *plan = malloc(((size_t)W + 2) * sizeof *plan);
    a->owner = malloc((size_t)W * sizeof *a->owner);
    if (!progress || !backup || !used || !plan || !a->owner) {
        rc = rt_fail(a->r, RT_ENOMEM, "allreduce-lbfgs tracker: out of memory");
        goto done;
    }
    for (int s = 0; s < W; s++) {
        backup[s] = -1;
        plan[s] = -1; /* the winner, once there is one */
    }
    while (running > 0) {
        int32_t beat[2], reply = BEAT_CONTINUE;
        rt_status st;
        if ((rc = rt_recv(a->r, RT_ANY_SOURCE, TAG_BEAT, beat, sizeof beat, &st)))
            goto fail;
        int s = beat[0], chunk = beat[1];
        if (s < 0 || s >= W || chunk < 1 || chunk > ALB_CHUNKS) {
            rc = rt_fail(a->r, RT_EPROTO, "allreduce-lbfgs tracker: heartbeat (%d, %d) from "
                         "rank %d", s, chunk, st.source);
            goto done;
        }
        if (plan[s] >= 0) {
            reply = BEAT_STOP; /* the other copy finished first */
            running--;
        } else if (chunk == ALB_CHUNKS) {
            plan[s] = st.source;
            running--;
        }
        if (st.source == s)
            progress[s] = chunk;
        if ((rc = rt_send(a->r, st.source, TAG_BEAT_REPLY, &reply, sizeof reply)))
            goto fail;
        /* Hadoop's rule: back up the slowest task that lags the mean by
         * ALB_GAP of the work, while a rank is free to run it */
        double mean = 0;
        for (int k = 0; k < W; k++)
            mean += (plan[k] >= 0 ? ALB_CHUNKS : progress[k]) / (double)W;
        int slow = -1;
        for (int k = 0; k < W; k++)
            if (plan[k] < 0 && backup[k] < 0 && progress[k] < mean - ALB_GAP * ALB_CHUNKS &&
                (slow < 0 || progress[k] < progress[slow]))
                slow = k;
        int exec = slow >= 0 ? idle_executor(a, plan, used) : -1;
        if (exec >= 0) {
            int32_t which = slow;
            if ((rc = rt_send(a->r, exec, TAG_ASSIGN, &which, sizeof which)))
                goto fail;
            backup[slow] = exec;
            used[exec] = 1;
            running++;
            a->backups++;
        }
    }
    for (int s = 0; s < W; s++) {
        a->wins += plan[s] != s;
        a->owner[s] = plan[s];
    }
    plan[W] = a->backups;
    plan[W + 1] = a->wins;
    for (int k = 0; k < a->ranks; k++)
        if (k != a->me && (rc = rt_send(a->r, k, TAG_PLAN, plan, ((size_t)W + 2) * sizeof *plan)))
            goto fail;
    goto done;
fail:
    rc = rt_fail(a->r, rc, "allreduce-lbfgs tracker: %s", rt_error(a->r));
done:
    free(progress);
    free(backup);
    free(used);
    free(plan);
    return rc;
}

/* The first pass under speculation: workers run theirs with heartbeats;
 * then workers and spares run the backups the tracker hands them until
 * the plan comes. A rank keeps a task only if it won its shard. */
static int first_pass_speculative(alb *a)
{
    int W = a->W, rc = RT_OK;
    if (a->me == W)
        return tracker(a);
    if (a->me < W && (rc = online_pass(a, &a->task[ALB_OWN], 1)) < 0)
        return rc;
    rc = RT_OK; /* stopped or not, the plan says who won */
    size_t cap = ((size_t)W + 2) * sizeof(int32_t);
    int32_t *msg = malloc(cap);
    a->owner = malloc((size_t)W * sizeof *a->owner);
    if (!msg || !a->owner) {
        rc = rt_fail(a->r, RT_ENOMEM, "allreduce-lbfgs: out of memory");
        goto done;
    }
    for (;;) {
        rt_status st;
        if ((rc = rt_recv(a->r, W, RT_ANY_TAG, msg, cap, &st))) {
            rc = rt_fail(a->r, rc, "allreduce-lbfgs: waiting for the tracker: %s", rt_error(a->r));
            goto done;
        }
        if (st.tag == TAG_PLAN && st.bytes == cap)
            break;
        if (st.tag != TAG_ASSIGN || st.bytes != sizeof(int32_t) || msg[0] < 0 || msg[0] >= W ||
            a->task[ALB_BACKUP].shard >= 0) {
            rc = rt_fail(a->r, RT_EPROTO, "allreduce-lbfgs: from the tracker, a message (tag "
                         "%d, %zu bytes) that is neither a backup nor the plan", st.tag, st.bytes);
            goto done;
        }
        if ((rc = task_init(a, &a->task[ALB_BACKUP], msg[0])) ||
            (rc = online_pass(a, &a->task[ALB_BACKUP], 1)) < 0)
            goto done;
        rc = RT_OK;
    }
    for (int s = 0; s < W; s++)
        a->owner[s] = msg[s];
    a->backups = msg[W];
    a->wins = msg[W + 1];
    for (int k = 0; k < ALB_TASKS; k++)
        if (a->task[k].shard >= 0 && a->owner[a->task[k].shard] != a->me)
            task_free(&a->task[k]);
done:
    free(msg);
    return rc;
}

/* ---- the rank ---- */

/* A pass over every shard this rank owns. */
static int own_passes(alb *a)
{
    int rc = RT_OK;
    for (int k = 0; k < ALB_TASKS && !rc; k++)
        if (a->task[k].shard >= 0)
            rc = online_pass(a, &a->task[k], 0);
    return rc;
}

int alb_rank(rt *r, void *arg)
{
    const train_setup *setup = arg;
    const ml_config *ml = setup->ml;
    int rc, status = 0;
    alb a;
    if ((rc = train_algo_check(r, &alb_algo, setup)))
        return rc;
    if ((rc = alb_init(&a, r, setup)))
        goto done;
    if ((rc = record(&a, 0)))
        goto done;
    for (long p = 0; p < a.o->warmstart; p++) {
        if ((rc = p == 0 && a.o->speculative ? first_pass_speculative(&a) : own_passes(&a)) ||
            (rc = average(&a)))
            goto done;
        a.passes++;
        if ((rc = record(&a, 1)))
            goto done;
    }
    if (a.passes < ml->epochs) {
        if ((rc = run_lbfgs(&a, &status)))
            goto done;
        const train_out *out = a.reporting ? a.eval.out : NULL;
        if (out && out->points[out->npoints - 1].epoch < (double)(a.passes + a.evals) &&
            (rc = record(&a, 2)))
            goto done;
    }
    if (a.reporting) {
        train_eval_finish(&a.eval, a.w, a.P);
        double *st = train_slot(r)->stats;
        st[ALB_STAT_ONLINE_PASSES] = (double)a.passes;
        st[ALB_STAT_EVALUATIONS] = (double)a.evals;
        st[ALB_STAT_ITERATIONS] = a.iterations;
        st[ALB_STAT_LBFGS_STATUS] = a.evals ? status : NAN; /* null: no L-BFGS ran */
        st[ALB_STAT_BACKUPS] = a.backups;
        st[ALB_STAT_BACKUP_WINS] = a.wins;
    }
done:
    alb_free(&a);
    return rc;
}

int alb_objective(rt *r, const train_setup *setup, const double *x, double *f, double *g,
                  double *hdiag)
{
    alb a;
    int rc = alb_init(&a, r, setup);
    if (!rc)
        rc = evaluate_at(&a, x, f, g, hdiag);
    alb_free(&a);
    return rc;
}

const train_algo alb_algo = {
    .name = "allreduce-lbfgs",
    .summary = "Agarwal et al.: online AdaGrad pass, weighted average, then L-BFGS over allreduce",
    .opts = opts,
    .default_workers = 4,
    .nextra = ALB_COLS,
    .extra_names = col_names,
    .nstats = ALB_STATS,
    .stat_names = stat_names,
    .shape = shape,
    .check = alb_check,
    .rank = alb_rank,
};
