/* ps.c -- the parameter server: sharded weights, workers that pull and
 * push, and three consistency models.
 * reference: Li, Andersen, Park, Smola, Ahmed, Josifovski, Long, Shekita,
 * Su, "Scaling Distributed Machine Learning with the Parameter Server",
 * OSDI 2014 (keys and ranges, push/pull, bounded delay); Ho et al., "More
 * Effective Distributed ML via a Stale Synchronous Parallel Parameter
 * Server", NIPS 2013 (the SSP clock condition).
 *
 * Ranks 0..S-1 are servers; server s owns keys [s P / S, (s+1) P / S) of
 * the flat parameter array (P = parameters), keeps their weights and its
 * own optimizer state (ml_optim on that range: SGD or Adagrad). Ranks
 * S..S+W-1 are workers, worker w holding shard w of W of the training set.
 * A worker's iteration c:
 *
 *   1. receive from every server the weights of the keys its minibatch
 *      touches (a pull), and stop if a server says the budget is spent
 *   2. gradient of the loss on that minibatch         (compute: b x model flops)
 *   3. draw the next minibatch, then send every server one request: the
 *      gradient on its keys (the push of iteration c) and the keys of the
 *      next minibatch (the pull of iteration c+1)
 *
 * On sparse data (CSR with a linear model) a pull names its keys and a
 * push carries keys and values, only those the minibatch touches; on dense
 * data both carry the server's whole range, values only.
 *
 * A server receives from any source and, per request: applies the push
 * (one optimizer step on its range, with the learning rate of the epoch
 * so far divided by W, so that W pushes make one step of synchronous SGD),
 * then files the pull and answers every filed pull whose consistency
 * condition holds. The server counts each worker's clock (iterations
 * pushed); with min = the smallest clock of the workers still running, a
 * pull for iteration c is answered when
 *     bsp:          min >= c          (everyone finished c-1)
 *     ssp, bound s: min >= c - s      (everyone finished c-s-1; s = 0 is bsp)
 *     async:        at once
 * This is how the paper's servers enforce bounded delay: the wait sits in
 * the pull, so no coordinator is needed. Under bsp (ssp s = 0) nobody can
 * move on until all pushes of a clock are in, so the server holds them and
 * applies them in worker order when the last arrives: the model then does
 * not depend on arrival order, and sim and real runs give the same bits.
 * Otherwise pushes are applied as they arrive.
 *
 * Staleness of an update: its iteration c minus the min clock the server
 * saw when it answered that iteration's pull -- how many clocks of other
 * workers' updates the weights it was computed on may lack. It is 0 under
 * bsp and at most s under ssp by construction; async has no bound. Delay:
 * how many updates the server applied between answering the pull and
 * applying the push (the "tau" of asynchronous SGD analyses).
 *
 * Termination: the budget is epochs x n examples (epoch = examples pushed
 * / n). A server answers a pull with "stop" once its count reached the
 * budget; a worker that hears stop from any server sends every server a
 * goodbye. A server ends when every worker said goodbye or died. On real
 * sockets a worker that dies is reported by the any-source receive
 * (RT_EPEER with the dead rank as source): async and ssp drop it from the
 * min clock and go on; bsp fails with an error, since no iteration could
 * ever complete again.
 *
 * Evaluation: a server keeps a copy of its range each time the examples
 * count crosses an evaluation point (eval_every_epochs), with the time;
 * at the end the servers send their copies to server 0, which assembles
 * and evaluates them: the time of a point is the latest of the servers'.
 * Evaluation therefore costs the training run nothing.
 *
 * Wire: a request is a 24-byte header (flags, push clock, pull clock,
 * examples, push count or -1 for a dense range, pull count or -1 for the
 * whole range), then push keys (uint32) and values (float32) -- values
 * only when dense -- then pull keys. A reply is a 16-byte header (stop,
 * version, value count) and the values of the keys asked for.
 *
 * Cost of one bsp iteration, dense model, no compute, ideal network (alpha
 * seconds per message, beta seconds per byte), servers on hosts of their
 * own, m = P/S floats per server:
 *     T = 2 alpha + max(W, S) (24 + 16 + 8 m) beta
 * Pushes: each server's link receives W requests of 24 + 4m bytes at once
 * (the simulator starts a transfer when the receiver asks, and a server's
 * any-source receive asks every worker), so they share its bandwidth and
 * all finish after alpha + W (24 + 4m) beta; if S > W the bottleneck is
 * instead each worker's link sending S of them. Pulls: when the last push
 * is in, the server sends all W replies of 16 + 4m bytes at once (buffered
 * sends): alpha + max(W, S) (16 + 4m) beta. So a single server's iteration
 * grows linearly with W, and S servers divide the bandwidth term by S
 * (while S <= W). Compute adds b x model flops / speed per worker and the
 * optimizer's flops per update at each server.
 */
#include "algorithms/ps.h"

#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { TAG_REQ = 0x5000, TAG_REPLY };
enum { REQ_PUSH = 1, REQ_PULL = 2, REQ_DONE = 4 };
enum { STOP_NO = 0, STOP_BUDGET = 1, STOP_ABORT = 2 }; /* reply_head.stop */

typedef struct req_head {
    uint32_t flags;
    int32_t push_clock;
    int32_t pull_clock;
    int32_t examples;  /* in the pushed minibatch */
    int32_t npush;     /* key/value pairs, or -1: the whole range, values only */
    int32_t npull;     /* keys, or -1: the whole range */
} req_head;

typedef struct reply_head {
    int32_t stop;
    int32_t version;   /* updates the server had applied (mod 2^31) */
    int32_t nvals;
    int32_t pad;
} reply_head;

_Static_assert(sizeof(req_head) == PS_REQ_HEAD_BYTES, "request header layout");
_Static_assert(sizeof(reply_head) == PS_REPLY_HEAD_BYTES, "reply header layout");

/* What a server keeps with each snapshot of its range; the sums cover the
 * updates since the previous one. */
typedef struct snap_meta {
    double time_s, examples, version;
    double stale_sum, delay_sum, updates;
} snap_meta;
enum { SNAP_DOUBLES = sizeof(snap_meta) / sizeof(double) };

/* What a server reports at the end besides its snapshots. */
typedef struct server_totals {
    double stale_sum, stale_max, delay_sum, delay_max, updates;
    double lost, pull_wait_s, pulls;
} server_totals;

static const char *const consistency_names[] = {"bsp", "ssp", "async"};

const char *ps_consistency_name(ps_consistency c)
{
    return c >= PS_BSP && c <= PS_ASYNC ? consistency_names[c] : "?";
}


double ps_bsp_iteration_s(int W, int S, size_t P, double alpha_s, double beta_s_per_B)
{
    double m = (double)P / S;
    int fan = W > S ? W : S;
    return 2 * alpha_s + fan * (PS_REQ_HEAD_BYTES + PS_REPLY_HEAD_BYTES + 8 * m) * beta_s_per_B;
}

void ps_setup_columns(train_setup *setup)
{
    static const char *const extra[] = {"staleness_mean", "delay_mean_updates"};
    static const char *const stats[PS_STATS] = {
        [PS_STAT_STALENESS_MEAN] = "staleness_mean",
        [PS_STAT_STALENESS_MAX] = "staleness_max",
        [PS_STAT_DELAY_MEAN] = "delay_mean_updates",
        [PS_STAT_DELAY_MAX] = "delay_max_updates",
        [PS_STAT_UPDATES] = "updates",
        [PS_STAT_WORKERS_LOST] = "workers_lost",
        [PS_STAT_PULL_WAIT_S] = "pull_wait_mean_s",
    };
    setup->nextra = 2;
    for (int i = 0; i < 2; i++)
        setup->extra_names[i] = extra[i];
    setup->nstats = PS_STATS;
    for (int i = 0; i < PS_STATS; i++)
        setup->stat_names[i] = stats[i];
}

/* What servers and workers both derive from the setup. */
typedef struct ps_shape {
    int S, W;
    size_t P;
    int sparse;       /* keys follow the minibatch (CSR data, linear model) */
    long bound;       /* staleness bound; LONG_MAX for async */
    double budget;    /* examples to process: epochs x n */
} ps_shape;

static void shape_of(rt *r, const train_setup *setup, const ml_model *model, ps_shape *sh)
{
    const ps_opts *opt = setup->algo;
    sh->S = opt->servers;
    sh->W = rt_size(r) - opt->servers;
    sh->P = ml_model_nparams(model);
    sh->sparse = setup->prob->train.sparse && ml_model_kind_of(model) != ML_MODEL_MLP;
    sh->bound = opt->consistency == PS_ASYNC ? LONG_MAX
                : opt->consistency == PS_SSP ? opt->staleness
                                             : 0;
    sh->budget = (double)setup->ml->epochs * (double)setup->prob->train.n;
}

/* =====================================================================
 * server
 * ===================================================================== */

enum { W_ACTIVE = 0, W_DONE, W_DEAD };

typedef struct server {
    rt *r;
    const train_setup *setup;
    ps_shape sh;
    int s;
    size_t lo, m;
    float *w;                 /* weights of keys [lo, lo + m) */
    ml_optim optim;
    ml_schedule lr;           /* the learning-rate schedule */
    double examples;          /* pushed so far */
    long version;             /* updates applied */
    int active;               /* workers neither done nor dead */
    /* per worker */
    int *state;
    long *clock;              /* iterations pushed (and applied) */
    long *min_at_pull;        /* min clock when its last pull was answered */
    long *ver_at_pull;
    int *pull_pending;
    long *pull_clock;
    int32_t *npull;           /* -1: whole range */
    uint32_t **pull_keys;     /* m keys each, made on first use */
    double *pull_since_s;
    unsigned char **held;     /* bsp: requests held until the clock is full */
    int *is_held;
    double *held_s;           /* when each arrived */
    int nheld;
    /* buffers */
    unsigned char *rbuf;
    size_t rcap;
    unsigned char *sbuf;      /* a reply */
    /* evaluation points */
    train_snaps snaps;        /* of w, with a snap_meta each */
    train_schedule sched;     /* in examples */
    snap_meta acc;            /* sums since the last point */
    server_totals tot;
    int abort_worker;         /* bsp: the dead worker that stops the run, or -1 */
    char abort_why[256];
} server;

static int server_snapshot(server *sv)
{
    snap_meta m = sv->acc;
    m.time_s = rt_now(sv->r);
    m.examples = sv->examples;
    m.version = (double)sv->version;
    memset(&sv->acc, 0, sizeof sv->acc);
    return train_snaps_take(sv->r, &sv->snaps, sv->w, &m.time_s);
}

/* A point each time the examples count crosses an evaluation point. */
static int server_maybe_snapshot(server *sv)
{
    if (!train_snaps_room(&sv->snaps) || !train_schedule_due(&sv->sched, sv->examples))
        return RT_OK;
    return server_snapshot(sv);
}

static long server_min_clock(const server *sv)
{
    long min = LONG_MAX;
    for (int w = 0; w < sv->sh.W; w++)
        if (sv->state[w] == W_ACTIVE && sv->clock[w] < min)
            min = sv->clock[w];
    return min;
}

/* A worker died (real backend). Under bsp no clock can complete any more:
 * the server tells every other worker so at its next pull, then fails. */
static void server_lose_worker(server *sv, int w, const char *why)
{
    if (sv->state[w] != W_ACTIVE)
        return; /* heard of already, or it had said goodbye */
    sv->state[w] = W_DEAD;
    sv->pull_pending[w] = 0;
    sv->active--;
    sv->tot.lost++;
    if (sv->sh.bound != 0 || sv->abort_worker >= 0)
        return;
    sv->abort_worker = w;
    snprintf(sv->abort_why, sizeof sv->abort_why, "%s", why);
    for (int v = 0; v < sv->sh.W; v++) /* held pushes will never be applied */
        if (sv->is_held[v]) {
            sv->is_held[v] = 0;
            sv->pull_pending[v] = 1;
            sv->pull_since_s[v] = sv->held_s[v];
        }
    sv->nheld = 0;
}

/* Check a request's length and keys against its header. */
static int server_check(server *sv, int w, const req_head *h, size_t len)
{
    size_t need = sizeof *h;
    if (h->flags & REQ_PUSH)
        need += h->npush < 0 ? sv->m * 4 : (size_t)h->npush * 8;
    if ((h->flags & REQ_PULL) && h->npull > 0)
        need += (size_t)h->npull * 4;
    int bad = len != need || h->npush > (int64_t)sv->m || h->npull > (int64_t)sv->m ||
              ((h->flags & REQ_PUSH) && h->push_clock != sv->clock[w]) ||
              ((h->flags & REQ_PULL) && sv->pull_pending[w]);
    if (!bad && (h->flags & REQ_PUSH) && h->npush > 0) {
        const uint32_t *k = (const uint32_t *)(h + 1);
        for (int32_t i = 0; i < h->npush && !bad; i++)
            bad = k[i] < sv->lo || k[i] >= sv->lo + sv->m;
    }
    if (!bad && (h->flags & REQ_PULL) && h->npull > 0) {
        const uint32_t *k = (const uint32_t *)((const unsigned char *)h + need - (size_t)h->npull * 4);
        for (int32_t i = 0; i < h->npull && !bad; i++)
            bad = k[i] < sv->lo || k[i] >= sv->lo + sv->m;
    }
    if (bad)
        return rt_fail(sv->r, RT_EPROTO, "ps server %d: malformed request from worker %d "
                       "(%zu bytes, clock %d, expected clock %ld)", sv->s, w, len,
                       (int)h->push_clock, sv->clock[w]);
    return RT_OK;
}

/* Apply the push, then file the pull, of one checked request that
 * arrived at arrived_s. */
static int server_handle(server *sv, int w, const unsigned char *msg, double arrived_s)
{
    const req_head *h = (const req_head *)msg;
    const unsigned char *p = msg + sizeof *h;
    int rc;
    if (h->flags & REQ_PUSH) {
        double epoch = sv->examples / (double)sv->setup->prob->train.n;
        /* each push is 1/W of a step: W pushes move the weights as far as
         * one step of synchronous SGD on the W workers' mean gradient, so a
         * learning rate means the same here as in every other algorithm */
        float lr = (float)(ml_schedule_lr(&sv->lr, epoch) / sv->setup->workers);
        double flops;
        if (h->npush < 0) {
            flops = ml_optim_step(&sv->optim, sv->w, (const float *)p, 0, sv->m, lr);
            p += sv->m * 4;
        } else {
            const uint32_t *keys = (const uint32_t *)p;
            const float *vals = (const float *)(p + (size_t)h->npush * 4);
            flops = ml_optim_step_sparse(&sv->optim, sv->w, keys, vals, (size_t)h->npush, lr);
            p += (size_t)h->npush * 8;
        }
        if ((rc = train_charge(sv->r, flops)))
            return rc;
        double stale = (double)(h->push_clock - sv->min_at_pull[w]);
        double delay = (double)(sv->version - sv->ver_at_pull[w]);
        sv->acc.stale_sum += stale;
        sv->acc.delay_sum += delay;
        sv->acc.updates++;
        sv->tot.stale_sum += stale;
        sv->tot.delay_sum += delay;
        sv->tot.updates++;
        sv->tot.stale_max = fmax(sv->tot.stale_max, stale);
        sv->tot.delay_max = fmax(sv->tot.delay_max, delay);
        sv->clock[w]++;
        sv->version++;
        sv->examples += h->examples;
        if ((rc = server_maybe_snapshot(sv)))
            return rc;
    }
    if (h->flags & REQ_PULL) {
        sv->pull_pending[w] = 1;
        sv->pull_clock[w] = h->pull_clock;
        sv->npull[w] = h->npull;
        sv->pull_since_s[w] = arrived_s;
        if (h->npull > 0) {
            if (!sv->pull_keys[w] && !(sv->pull_keys[w] = malloc(sv->m * sizeof(uint32_t))))
                return rt_fail(sv->r, RT_ENOMEM, "ps server %d: out of memory", sv->s);
            memcpy(sv->pull_keys[w], p, (size_t)h->npull * 4);
        }
    }
    return RT_OK;
}

/* Answer every filed pull whose consistency condition holds. */
static int server_answer(server *sv)
{
    long min = server_min_clock(sv);
    for (int w = 0; w < sv->sh.W; w++) {
        if (!sv->pull_pending[w] || sv->state[w] != W_ACTIVE)
            continue;
        if (sv->abort_worker < 0 && sv->sh.bound != LONG_MAX &&
            min < sv->pull_clock[w] - sv->sh.bound)
            continue;
        reply_head *h = (reply_head *)sv->sbuf;
        float *vals = (float *)(h + 1);
        *h = (reply_head){.stop = sv->examples >= sv->sh.budget ? STOP_BUDGET : STOP_NO,
                          .version = (int32_t)(sv->version & INT32_MAX)};
        if (sv->abort_worker >= 0) {
            *h = (reply_head){.stop = STOP_ABORT, .version = sv->abort_worker};
            sv->state[w] = W_DONE;
            sv->active--;
        } else if (!h->stop && sv->npull[w] < 0) {
            h->nvals = (int32_t)sv->m;
            memcpy(vals, sv->w, sv->m * sizeof *vals);
        } else if (!h->stop) {
            h->nvals = sv->npull[w];
            const uint32_t *k = sv->pull_keys[w];
            for (int32_t i = 0; i < h->nvals; i++)
                vals[i] = sv->w[k[i] - sv->lo];
        }
        sv->pull_pending[w] = 0;
        sv->min_at_pull[w] = min;
        sv->ver_at_pull[w] = sv->version;
        sv->tot.pull_wait_s += rt_now(sv->r) - sv->pull_since_s[w];
        sv->tot.pulls++;
        int rc = rt_send(sv->r, sv->sh.S + w, TAG_REPLY, h,
                         sizeof *h + (size_t)h->nvals * sizeof *vals);
        if (rc == RT_EPEER)
            server_lose_worker(sv, w, rt_error(sv->r));
        else if (rc)
            return rt_fail(sv->r, rc, "ps server %d: reply to worker %d: %s", sv->s, w,
                           rt_error(sv->r));
    }
    return RT_OK;
}

/* bsp: once every running worker's push of the clock is held, apply them
 * in worker order. */
static int server_release_held(server *sv)
{
    if (sv->nheld == 0 || sv->nheld < sv->active)
        return RT_OK;
    for (int w = 0; w < sv->sh.W; w++) {
        if (!sv->is_held[w])
            continue;
        sv->is_held[w] = 0;
        int rc = server_handle(sv, w, sv->held[w], sv->held_s[w]);
        if (rc)
            return rc;
    }
    sv->nheld = 0;
    return RT_OK;
}

/* Requests until every worker has said goodbye or died. */
static int server_loop(server *sv)
{
    int S = sv->sh.S, rc;
    while (sv->active > 0) {
        rt_status st = {.source = -1};
        rc = rt_recv(sv->r, RT_ANY_SOURCE, TAG_REQ, sv->rbuf, sv->rcap, &st);
        if (rc == RT_EPEER && st.source >= S && st.source < S + sv->sh.W) {
            server_lose_worker(sv, st.source - S, rt_error(sv->r));
            if ((rc = server_answer(sv)))
                return rc;
            continue;
        }
        if (rc)
            return rt_fail(sv->r, rc, "ps server %d: waiting for requests: %s", sv->s,
                           rt_error(sv->r));
        int w = st.source - S;
        const req_head *h = (const req_head *)sv->rbuf;
        if (w < 0 || st.bytes < sizeof *h)
            return rt_fail(sv->r, RT_EPROTO, "ps server %d: a %zu-byte request from rank %d, "
                           "which is not a worker", sv->s, st.bytes, st.source);
        if (h->flags & REQ_DONE) {
            if (sv->state[w] == W_ACTIVE) {
                sv->state[w] = W_DONE;
                sv->active--;
            }
            sv->pull_pending[w] = 0;
        } else {
            if ((rc = server_check(sv, w, h, st.bytes)))
                return rc;
            if (sv->abort_worker >= 0) {
                sv->pull_pending[w] = (h->flags & REQ_PULL) != 0; /* to hear the news */
                sv->pull_since_s[w] = rt_now(sv->r);
            } else if (sv->sh.bound == 0 && (h->flags & REQ_PUSH)) {
                /* bsp: hold it until the clock is full (see the header) */
                if (!sv->held[w] && !(sv->held[w] = malloc(sv->rcap)))
                    return rt_fail(sv->r, RT_ENOMEM, "ps server %d: out of memory", sv->s);
                memcpy(sv->held[w], sv->rbuf, st.bytes);
                sv->is_held[w] = 1;
                sv->held_s[w] = rt_now(sv->r);
                sv->nheld++;
            } else if ((rc = server_handle(sv, w, sv->rbuf, rt_now(sv->r)))) {
                return rc;
            }
        }
        if ((rc = server_release_held(sv)) || (rc = server_answer(sv)))
            return rc;
    }
    if (sv->abort_worker >= 0)
        return rt_fail(sv->r, RT_EPEER, "ps server %d: worker %d (rank %d) died (%s); under bsp "
                       "no iteration can complete without it, so the run stops (ssp and async "
                       "go on without it)", sv->s, sv->abort_worker, S + sv->abort_worker,
                       sv->abort_why);
    return RT_OK;
}

/* ---- the reporter: assemble the servers' points and evaluate them ---- */

static int report(server *sv, const train_gathered *g)
{
    const train_setup *setup = sv->setup;
    int S = sv->sh.S, rc;
    size_t P = sv->sh.P;
    ml_model *model = NULL;
    train_eval eval;
    int eval_ready = 0;
    float *params = malloc(P * sizeof *params);
    if (!params)
        return rt_fail(sv->r, RT_ENOMEM, "ps: out of memory for the model");
    if ((rc = train_model_create(sv->r, setup, &model)) ||
        (rc = train_eval_init(&eval, sv->r, setup, model)))
        goto done;
    eval_ready = 1;
    /* the points every server has, then each one's final state */
    for (int i = 0; i < g->npoints; i++) {
        double stale = 0, delay = 0, updates = 0;
        train_point at = {.time_s = train_gathered_point(g, i, params)};
        for (int s = 0; s < S; s++) {
            const snap_meta *m = (const snap_meta *)train_gathered_meta(g, i, s);
            stale += m->stale_sum;
            delay += m->delay_sum;
            updates += m->updates;
        }
        const snap_meta *m0 = (const snap_meta *)train_gathered_meta(g, i, 0);
        at.epoch = m0->examples / (double)setup->prob->train.n;
        at.step = (long)m0->version;
        at.extra[0] = updates > 0 ? stale / updates : NAN;
        at.extra[1] = updates > 0 ? delay / updates : NAN;
        if ((rc = train_eval_point(&eval, params, &at)))
            goto done;
    }
    train_eval_finish(&eval, params, P);

    server_totals all = {0};
    for (int s = 0; s < S; s++) {
        const server_totals *t = train_gathered_totals(g, s);
        all.stale_sum += t->stale_sum;
        all.delay_sum += t->delay_sum;
        all.updates += t->updates;
        all.stale_max = fmax(all.stale_max, t->stale_max);
        all.delay_max = fmax(all.delay_max, t->delay_max);
        all.lost = fmax(all.lost, t->lost);
        all.pull_wait_s += t->pull_wait_s;
        all.pulls += t->pulls;
    }
    double *st = eval.out->stats;
    st[PS_STAT_STALENESS_MEAN] = all.updates > 0 ? all.stale_sum / all.updates : 0;
    st[PS_STAT_STALENESS_MAX] = all.stale_max;
    st[PS_STAT_DELAY_MEAN] = all.updates > 0 ? all.delay_sum / all.updates : 0;
    st[PS_STAT_DELAY_MAX] = all.delay_max;
    st[PS_STAT_UPDATES] = ((const server_totals *)train_gathered_totals(g, 0))->updates;
    st[PS_STAT_WORKERS_LOST] = all.lost;
    st[PS_STAT_PULL_WAIT_S] = all.pulls > 0 ? all.pull_wait_s / all.pulls : 0;
done:
    if (eval_ready)
        train_eval_free(&eval);
    ml_model_free(model);
    free(params);
    return rc;
}

/* Servers 1..S-1 send their points to server 0, which reports. */
static int server_finish(server *sv)
{
    int rc, n = sv->snaps.count;
    if (n == 0 || sv->examples > ((const snap_meta *)sv->snaps.meta)[n - 1].examples)
        if ((rc = server_snapshot(sv)))
            return rc;
    train_gathered g;
    if ((rc = train_snaps_gather(sv->r, &sv->snaps, sv->sh.S, sv->sh.P, &sv->tot, sizeof sv->tot,
                                 &g)) == RT_OK && sv->s == 0)
        rc = report(sv, &g);
    train_gathered_free(&g);
    return rc;
}

static void server_free(server *sv)
{
    for (int w = 0; sv->pull_keys && w < sv->sh.W; w++)
        free(sv->pull_keys[w]);
    for (int w = 0; sv->held && w < sv->sh.W; w++)
        free(sv->held[w]);
    free(sv->pull_keys);
    free(sv->held);
    free(sv->is_held);
    free(sv->held_s);
    free(sv->state);
    free(sv->clock);
    free(sv->min_at_pull);
    free(sv->ver_at_pull);
    free(sv->pull_pending);
    free(sv->pull_clock);
    free(sv->npull);
    free(sv->pull_since_s);
    free(sv->rbuf);
    free(sv->sbuf);
    train_snaps_free(&sv->snaps);
    free(sv->w);
    ml_optim_free(&sv->optim);
}

static int server_main(rt *r, const train_setup *setup, ml_model *model)
{
    server sv = {.r = r, .setup = setup, .s = rt_rank(r), .abort_worker = -1};
    const ml_config *ml = setup->ml;
    int rc;
    shape_of(r, setup, model, &sv.sh);
    int W = sv.sh.W;
    size_t hi;
    train_range(sv.sh.P, sv.sh.S, sv.s, &sv.lo, &hi);
    sv.m = hi - sv.lo;
    sv.active = W;
    sv.rcap = sizeof(req_head) + 12 * sv.m;
    sv.rbuf = malloc(sv.rcap);
    sv.sbuf = malloc(sizeof(reply_head) + 4 * sv.m);
    sv.w = malloc(sv.sh.P * sizeof *sv.w);
    sv.state = calloc((size_t)W, sizeof *sv.state);
    sv.clock = calloc((size_t)W, sizeof *sv.clock);
    sv.min_at_pull = calloc((size_t)W, sizeof *sv.min_at_pull);
    sv.ver_at_pull = calloc((size_t)W, sizeof *sv.ver_at_pull);
    sv.pull_pending = calloc((size_t)W, sizeof *sv.pull_pending);
    sv.pull_clock = calloc((size_t)W, sizeof *sv.pull_clock);
    sv.npull = calloc((size_t)W, sizeof *sv.npull);
    sv.pull_keys = calloc((size_t)W, sizeof *sv.pull_keys);
    sv.pull_since_s = calloc((size_t)W, sizeof *sv.pull_since_s);
    sv.held = calloc((size_t)W, sizeof *sv.held);
    sv.is_held = calloc((size_t)W, sizeof *sv.is_held);
    sv.held_s = calloc((size_t)W, sizeof *sv.held_s);
    if (!sv.is_held || !sv.held_s || !sv.rbuf || !sv.sbuf || !sv.w || !sv.state || !sv.clock || !sv.min_at_pull ||
        !sv.ver_at_pull || !sv.pull_pending || !sv.pull_clock || !sv.npull || !sv.pull_keys ||
        !sv.pull_since_s || !sv.held) {
        rc = rt_fail(r, RT_ENOMEM, "ps server %d: out of memory for %zu keys", sv.s, sv.m);
        goto done;
    }
    /* the same seed everywhere: the starting weights of the serial run */
    ml_model_init_params(model, sv.w, ml->seed);
    memmove(sv.w, sv.w + sv.lo, sv.m * sizeof *sv.w);
    if ((rc = train_optimizer_init(r, ml, sv.lo, sv.m, &sv.optim, &sv.lr)))
        goto done;
    train_snaps_init(&sv.snaps, sv.m, SNAP_DOUBLES);
    train_schedule_init(&sv.sched, ml, (double)setup->prob->train.n);
    if ((rc = server_maybe_snapshot(&sv)) || (rc = server_loop(&sv)))
        goto done;
    rc = server_finish(&sv);
done:
    server_free(&sv);
    return rc;
}

/* =====================================================================
 * worker
 * ===================================================================== */

typedef struct worker {
    rt *r;
    const train_setup *setup;
    ps_shape sh;
    int w;
    ml_model *model;
    const ml_dataset *train;
    size_t w_off, b_off, K;      /* linear layout: weights, biases, classes */
    float *params;               /* the worker's view; only pulled keys are fresh */
    ml_grad grad;
    train_shard shard;
    size_t *batch[2];            /* this minibatch and the next */
    size_t nb[2];
    uint32_t *keys[2];           /* their sorted keys (sparse) */
    size_t nkeys[2];
    size_t *split[2];            /* keys[split[s]..split[s+1]) belong to server s */
    unsigned char *mark;         /* d flags, for collecting features */
    uint32_t *feat;
    uint32_t *gkey;              /* a push, grouped by server */
    float *gval;
    size_t *gcount;              /* S + 1 group starts */
    rt_request **req;            /* S outstanding pulls */
    rt_status *sts;              /* their statuses */
    unsigned char *sbuf;         /* one request (rt_send copies it) */
    reply_head **rbuf;           /* one reply per server */
    size_t *lo, *hi;
} worker;

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* The next minibatch into slot i, and (sparse) the sorted keys it touches:
 * its features' weights for every class, then the biases. */
static void worker_draw(worker *wk, int i)
{
    const ml_config *ml = wk->setup->ml;
    wk->nb[i] = train_shard_next(&wk->shard, ml->batch, wk->batch[i]);
    if (!wk->sh.sparse)
        return;
    const ml_dataset *ds = wk->train;
    size_t nf = 0, nk = 0;
    for (size_t e = 0; e < wk->nb[i]; e++) {
        size_t row = wk->batch[i][e];
        for (size_t z = ds->row_ptr[row]; z < ds->row_ptr[row + 1]; z++)
            if (!wk->mark[ds->col[z]]) {
                wk->mark[ds->col[z]] = 1;
                wk->feat[nf++] = ds->col[z];
            }
    }
    qsort(wk->feat, nf, sizeof *wk->feat, cmp_u32);
    uint32_t *k = wk->keys[i];
    for (size_t f = 0; f < nf; f++) {
        wk->mark[wk->feat[f]] = 0;
        for (size_t c = 0; c < wk->K; c++)
            k[nk++] = (uint32_t)(wk->w_off + wk->feat[f] * wk->K + c);
    }
    for (size_t c = 0; c < wk->K && wk->nb[i] > 0; c++)
        k[nk++] = (uint32_t)(wk->b_off + c);
    wk->nkeys[i] = nk;
    size_t at = 0;
    for (int s = 0; s < wk->sh.S; s++) {
        wk->split[i][s] = at;
        while (at < nk && k[at] < wk->hi[s])
            at++;
    }
    wk->split[i][wk->sh.S] = nk;
}

/* Send every server its part of the push (slot cur's gradient, when
 * push is set) and of the pull (slot nxt's keys). */
static int worker_request(worker *wk, int push, int cur, int nxt, long clock)
{
    int S = wk->sh.S, rc;
    if (push && wk->grad.sparse) {
        /* group the gradient's pairs by server (counting sort) */
        memset(wk->gcount, 0, (size_t)(S + 1) * sizeof *wk->gcount);
        for (size_t i = 0; i < wk->grad.nnz; i++)
            wk->gcount[train_range_owner(wk->sh.P, S, wk->grad.index[i]) + 1]++;
        for (int s = 0; s < S; s++)
            wk->gcount[s + 1] += wk->gcount[s];
        for (size_t i = 0; i < wk->grad.nnz; i++) {
            size_t at = wk->gcount[train_range_owner(wk->sh.P, S, wk->grad.index[i])]++;
            wk->gkey[at] = wk->grad.index[i];
            wk->gval[at] = wk->grad.value[i];
        }
        for (int s = S; s > 0; s--) /* back to the starts */
            wk->gcount[s] = wk->gcount[s - 1];
        wk->gcount[0] = 0;
    }
    for (int s = 0; s < S; s++) {
        size_t m = wk->hi[s] - wk->lo[s];
        req_head *h = (req_head *)wk->sbuf;
        unsigned char *p = wk->sbuf + sizeof *h;
        *h = (req_head){.flags = REQ_PULL | (push ? REQ_PUSH : 0), .push_clock = (int32_t)clock,
                        .pull_clock = (int32_t)(clock + push), .npush = -1, .npull = -1};
        if (push) {
            h->examples = (int32_t)wk->nb[cur];
            if (!wk->grad.sparse) {
                memcpy(p, wk->grad.dense + wk->lo[s], m * sizeof(float));
                p += m * sizeof(float);
            } else {
                size_t a = wk->gcount[s], n = wk->gcount[s + 1] - a;
                h->npush = (int32_t)n;
                memcpy(p, wk->gkey + a, n * sizeof(uint32_t));
                memcpy(p + n * sizeof(uint32_t), wk->gval + a, n * sizeof(float));
                p += n * 8;
            }
        }
        if (wk->sh.sparse) {
            size_t a = wk->split[nxt][s], n = wk->split[nxt][s + 1] - a;
            h->npull = (int32_t)n;
            memcpy(p, wk->keys[nxt] + a, n * sizeof(uint32_t));
            p += n * sizeof(uint32_t);
        }
        if ((rc = rt_send(wk->r, s, TAG_REQ, wk->sbuf, (size_t)(p - wk->sbuf))))
            return rt_fail(wk->r, rc, "ps worker %d: request to server %d: %s", wk->w, s,
                           rt_error(wk->r));
    }
    return RT_OK;
}

/* Receive every server's reply to the pull of slot i; *stop when any says
 * the budget is spent. */
static int worker_pull(worker *wk, int i, int *stop)
{
    int S = wk->sh.S, rc;
    rt_request **req = wk->req;
    for (int s = 0; s < S; s++) {
        size_t cap = sizeof(reply_head) + (wk->hi[s] - wk->lo[s]) * sizeof(float);
        if ((rc = rt_irecv(wk->r, s, TAG_REPLY, wk->rbuf[s], cap, &req[s]))) {
            rt_waitall(wk->r, s, req, NULL);
            return rt_fail(wk->r, rc, "ps worker %d: pull from server %d: %s", wk->w, s,
                           rt_error(wk->r));
        }
    }
    rt_status *sts = wk->sts;
    if ((rc = rt_waitall(wk->r, S, req, sts)))
        return rt_fail(wk->r, rc, "ps worker %d: waiting for the servers' weights: %s", wk->w,
                       rt_error(wk->r));
    *stop = 0;
    for (int s = 0; s < S; s++) {
        const reply_head *h = wk->rbuf[s];
        const float *vals = (const float *)(h + 1);
        /* a reply must carry exactly the values asked for: never trust the
         * count on the wire for indexing */
        size_t want = !wk->sh.sparse ? wk->hi[s] - wk->lo[s] : wk->split[i][s + 1] - wk->split[i][s];
        if (sts[s].bytes < sizeof *h || (!h->stop && ((size_t)h->nvals != want ||
                                                      sts[s].bytes != sizeof *h + want * sizeof(float))))
            return rt_fail(wk->r, RT_EPROTO, "ps worker %d: malformed reply from server %d "
                           "(%zu bytes, %d values; expected %zu values)", wk->w, s, sts[s].bytes,
                           sts[s].bytes >= sizeof *h ? h->nvals : -1, want);
        if (h->stop == STOP_ABORT)
            return rt_fail(wk->r, RT_EPEER, "ps worker %d: server %d stopped the run: worker %d "
                           "died, and under bsp no iteration can complete without it", wk->w, s,
                           h->version);
        if (h->stop) {
            *stop = 1;
            continue;
        }
        if (!wk->sh.sparse) {
            memcpy(wk->params + wk->lo[s], vals, (wk->hi[s] - wk->lo[s]) * sizeof *vals);
        } else {
            const uint32_t *k = wk->keys[i] + wk->split[i][s];
            for (int32_t j = 0; j < h->nvals; j++)
                wk->params[k[j]] = vals[j];
        }
    }
    return RT_OK;
}

static void worker_free(worker *wk)
{
    for (int i = 0; i < 2; i++) {
        free(wk->batch[i]);
        free(wk->keys[i]);
        free(wk->split[i]);
    }
    if (wk->rbuf)
        for (int s = 0; s < wk->sh.S; s++)
            free(wk->rbuf[s]);
    free(wk->rbuf);
    free(wk->mark);
    free(wk->feat);
    free(wk->gkey);
    free(wk->gval);
    free(wk->gcount);
    free(wk->req);
    free(wk->sts);
    free(wk->sbuf);
    free(wk->lo);
    free(wk->hi);
    free(wk->params);
    ml_grad_free(&wk->grad);
    train_shard_free(&wk->shard);
}

static int worker_main(rt *r, const train_setup *setup, ml_model *model)
{
    const ps_opts *opt = setup->algo;
    worker wk = {.r = r, .setup = setup, .model = model, .train = &setup->prob->train};
    char err[512];
    int rc = RT_OK;
    shape_of(r, setup, model, &wk.sh);
    int S = wk.sh.S;
    size_t P = wk.sh.P, d = wk.train->d, mmax = 0;
    wk.w = rt_rank(r) - S;
    size_t n_in, n_out;
    ml_model_layer(model, 1, &n_in, &n_out, &wk.w_off, &wk.b_off);
    wk.K = n_out;
    wk.lo = malloc((size_t)S * sizeof *wk.lo);
    wk.hi = malloc((size_t)S * sizeof *wk.hi);
    wk.rbuf = calloc((size_t)S, sizeof *wk.rbuf);
    wk.gcount = malloc(((size_t)S + 1) * sizeof *wk.gcount);
    wk.req = calloc((size_t)S, sizeof *wk.req);
    wk.sts = calloc((size_t)S, sizeof *wk.sts);
    wk.params = calloc(P, sizeof *wk.params);
    if (!wk.lo || !wk.hi || !wk.rbuf || !wk.gcount || !wk.req || !wk.sts || !wk.params)
        goto nomem;
    for (int s = 0; s < S; s++) {
        train_range(P, S, s, &wk.lo[s], &wk.hi[s]);
        size_t m = wk.hi[s] - wk.lo[s];
        mmax = m > mmax ? m : mmax;
        if (!(wk.rbuf[s] = malloc(sizeof(reply_head) + m * sizeof(float))))
            goto nomem;
    }
    wk.sbuf = malloc(sizeof(req_head) + 12 * mmax);
    for (int i = 0; i < 2; i++) {
        wk.batch[i] = malloc(setup->ml->batch * sizeof *wk.batch[i]);
        wk.split[i] = malloc(((size_t)S + 1) * sizeof *wk.split[i]);
        wk.keys[i] = wk.sh.sparse ? malloc(P * sizeof *wk.keys[i]) : NULL;
        if (!wk.batch[i] || !wk.split[i] || (wk.sh.sparse && !wk.keys[i]))
            goto nomem;
    }
    if (wk.sh.sparse) {
        wk.mark = calloc(d ? d : 1, 1);
        wk.feat = malloc((d ? d : 1) * sizeof *wk.feat);
        wk.gkey = malloc(P * sizeof *wk.gkey);
        wk.gval = malloc(P * sizeof *wk.gval);
        if (!wk.mark || !wk.feat || !wk.gkey || !wk.gval)
            goto nomem;
    }
    if (!wk.sbuf || ml_grad_init(&wk.grad, P) != 0 ||
        train_shard_init(&wk.shard, wk.train, wk.w, wk.sh.W, setup->ml->seed) != 0)
        goto nomem;
    wk.grad.dense_only = !wk.sh.sparse;

    /* ---- the first pull ---- */
    int cur = 0, stop = 0;
    long clock = 0;
    worker_draw(&wk, cur);
    if ((rc = worker_request(&wk, 0, cur, cur, 0)))
        goto done;
    for (;; clock++) {
        /* ---- 1. the weights this minibatch needs ---- */
        if ((rc = worker_pull(&wk, cur, &stop)) || stop)
            break;
        if (opt->crash && opt->crash(r, wk.w, clock))
            goto done; /* crashed: no goodbye */
        /* ---- 2. its gradient ---- */
        double loss, flops = 0;
        if (wk.nb[cur] == 0) {
            wk.grad.sparse = wk.sh.sparse;
            wk.grad.nnz = 0;
            memset(wk.grad.dense, 0, P * sizeof *wk.grad.dense);
        } else if (ml_model_loss_grad(model, wk.params, wk.train, wk.batch[cur], wk.nb[cur],
                                      &wk.grad, &loss, &flops, err, sizeof err) != 0) {
            rc = rt_fail(r, RT_EINVAL, "ps worker %d: gradient: %s", wk.w, err);
            goto done;
        }
        if ((rc = train_charge(r, flops)))
            goto done;
        /* ---- 3. push it, pull for the next one ---- */
        worker_draw(&wk, 1 - cur);
        if ((rc = worker_request(&wk, 1, cur, 1 - cur, clock)))
            goto done;
        cur = 1 - cur;
    }
    if (rc == RT_OK) {
        req_head bye = {.flags = REQ_DONE};
        train_out *mine = train_slot(r);
        mine->stats[PS_STAT_UPDATES] = (double)clock; /* iterations pushed */
        for (int s = 0; s < S && rc == RT_OK; s++)
            if ((rc = rt_send(r, s, TAG_REQ, &bye, sizeof bye)))
                rc = rt_fail(r, rc, "ps worker %d: goodbye to server %d: %s", wk.w, s,
                             rt_error(r));
    }
    goto done;
nomem:
    rc = rt_fail(r, RT_ENOMEM, "ps worker %d: out of memory for %zu parameters", wk.w, P);
done:
    worker_free(&wk);
    return rc;
}

int ps_rank(rt *r, void *arg)
{
    const train_setup *setup = arg;
    const ps_opts *opt = setup->algo;
    ml_model *model = NULL;
    if (opt->servers < 1 || opt->servers >= rt_size(r))
        return rt_fail(r, RT_EINVAL, "ps: %d servers among %d ranks: need at least one server "
                       "and one worker", opt->servers, rt_size(r));
    int rc = train_model_create(r, setup, &model);
    if (rc)
        return rc;
    if ((size_t)opt->servers > ml_model_nparams(model))
        rc = rt_fail(r, RT_EINVAL, "ps: %d servers for %zu keys: at most one server per key",
                     opt->servers, ml_model_nparams(model));
    else if (rt_rank(r) < opt->servers)
        rc = server_main(r, setup, model);
    else
        rc = worker_main(r, setup, model);
    ml_model_free(model);
    return rc;
}
