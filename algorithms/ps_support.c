/* ps_support.c -- the parameter server's allocation, request checks and
 * reporting (see ps_internal.h): what ps.c's protocol needs set up before
 * it runs, checked as it runs and done after, kept apart so that ps.c
 * reads as the algorithm. */
#include "algorithms/ps_internal.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static const char *const extra_names[] = {"staleness_mean", "delay_mean_updates", "staleness_max"};
static const char *const stat_names[PS_STATS] = {
    [PS_STAT_STALENESS_MEAN] = "staleness_mean",
    [PS_STAT_STALENESS_MAX] = "staleness_max",
    [PS_STAT_DELAY_MEAN] = "delay_mean_updates",
    [PS_STAT_DELAY_MAX] = "delay_max_updates",
    [PS_STAT_UPDATES] = "updates",
    [PS_STAT_WORKERS_LOST] = "workers_lost",
    [PS_STAT_PULL_WAIT_S] = "pull_wait_mean_s",
};

static const train_opt opts[] = {
    {"servers", "S", "server ranks, each owning a key range of the model (default 1)"},
    {"consistency", "bsp|ssp|async", "how far workers may drift apart (default bsp)"},
    {"staleness", "s", "ssp: a worker at iteration c waits until all finished c-s-1 (default 0)"},
    {NULL, NULL, NULL},
};

/* Servers first, then the workers, who may straggle. */
static void shape(const void *o, int workers, train_shape *sh)
{
    int S = ((const ps_opts *)o)->servers;
    *sh = (train_shape){.ranks = S + workers, .reporter = 0, .first = S, .count = workers};
}

static int check(const train_setup *setup, char *err, size_t errlen)
{
    const ps_opts *o = setup->algo;
    size_t P = ml_model_nparams(setup->prob->model);
    if ((size_t)o->servers > P) {
        snprintf(err, errlen, "--servers %d: more servers than keys; the model has %zu "
                 "parameters, so at most %zu servers", o->servers, P, P);
        return -1;
    }
    int bsp = o->consistency == PS_BSP || (o->consistency == PS_SSP && o->staleness == 0);
    if ((setup->save || setup->load) && !bsp) {
        snprintf(err, errlen, "--checkpoint-every and --resume: only under --consistency bsp, where "
                 "every clock ends with nothing in flight; under %s pushes cross the servers' "
                 "states at any moment, so no state of the run could be saved whole",
                 ps_consistency_name(o->consistency));
        return -1;
    }
    return 0;
}

const train_algo ps_algo = {
    .name = "ps",
    .summary = "parameter server: sharded keys, push/pull, BSP, SSP or async",
    .opts = opts,
    .default_workers = 4,
    .nextra = 3,
    .extra_names = extra_names,
    .nstats = PS_STATS,
    .stat_names = stat_names,
    .shape = shape,
    .check = check,
    .rank = ps_rank,
    .checkpoints = 1, /* under bsp: check() refuses the others */
};

void ps_shape_of(rt *r, const train_setup *setup, const ml_model *model, ps_shape *sh)
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

/* ---- the server ---- */

/* Where the parts of msg lie, as its header says (reads only the header). */
request ps_request_layout(const server *sv, const unsigned char *msg)
{
    const req_head *h = (const req_head *)msg;
    const unsigned char *p = msg + sizeof *h;
    request q = {.h = h, .push = {.lo = sv->lo}, .pull = {.lo = sv->lo, .n = sv->m}};
    if (h->flags & REQ_PUSH) {
        q.push.n = h->npush < 0 ? sv->m : (size_t)h->npush;
        if (h->npush >= 0) {
            q.push.keys = (const uint32_t *)p;
            p += q.push.n * 4;
        }
        q.push_vals = (const float *)p;
        p += q.push.n * 4;
    }
    if ((h->flags & REQ_PULL) && h->npull >= 0)
        q.pull = (keyset){.n = (size_t)h->npull, .keys = (const uint32_t *)p};
    return q;
}

static int in_range(const server *sv, const keyset *k)
{
    for (size_t i = 0; k->keys && i < k->n; i++)
        if (k->keys[i] < sv->lo || k->keys[i] >= sv->lo + sv->m)
            return 0;
    return 1;
}

/* Check a request's length, clocks and keys against its header. */
int ps_request_check(server *sv, int w, const unsigned char *msg, size_t len)
{
    const req_head *h = (const req_head *)msg;
    const peer *p = &sv->peers[w];
    int bad = h->npush > (int64_t)sv->m || h->npull > (int64_t)sv->m ||
              ((h->flags & REQ_PUSH) && h->push_clock != p->clock) ||
              ((h->flags & REQ_PULL) && p->pull_pending);
    if (!bad) {
        request q = ps_request_layout(sv, msg);
        bad = len != ps_request_bytes((h->flags & REQ_PUSH) ? &q.push : NULL, &q.pull) ||
              !in_range(sv, &q.push) || ((h->flags & REQ_PULL) && !in_range(sv, &q.pull));
    }
    if (bad)
        return rt_fail(sv->r, RT_EPROTO, "ps server %d: malformed request from worker %d "
                       "(%zu bytes, clock %d, expected clock %ld)", sv->s, w, len,
                       (int)h->push_clock, p->clock);
    return RT_OK;
}


int ps_server_init(server *sv, ml_model *model)
{
    const ml_config *ml = sv->setup->ml;
    ps_shape_of(sv->r, sv->setup, model, &sv->sh);
    size_t hi;
    train_range(sv->sh.P, sv->sh.S, sv->s, &sv->lo, &hi);
    sv->m = hi - sv->lo;
    sv->active = sv->sh.W;
    sv->rcap = sizeof(req_head) + 12 * sv->m;
    sv->rbuf = malloc(sv->rcap);
    sv->sbuf = malloc(sizeof(reply_head) + 4 * sv->m);
    sv->w = malloc(sv->sh.P * sizeof *sv->w);
    sv->peers = calloc((size_t)sv->sh.W, sizeof *sv->peers);
    train_snaps_init(&sv->snaps, sv->m, SNAP_DOUBLES);
    if (!sv->rbuf || !sv->sbuf || !sv->w || !sv->peers)
        return rt_fail(sv->r, RT_ENOMEM, "ps server %d: out of memory for %zu keys", sv->s, sv->m);
    /* the same seed everywhere: the starting weights of the serial run */
    ml_model_init_params(model, sv->w, ml->seed);
    memmove(sv->w, sv->w + sv->lo, sv->m * sizeof *sv->w);
    train_schedule_init(&sv->due, ml, (double)sv->setup->prob->train.n);
    return train_optimizer_init(sv->r, ml, sv->lo, sv->m, &sv->optim, &sv->lr);
}

void ps_server_free(server *sv)
{
    for (int w = 0; sv->peers && w < sv->sh.W; w++) {
        free(sv->peers[w].pull_keys);
        free(sv->peers[w].held);
    }
    free(sv->peers);
    free(sv->rbuf);
    free(sv->sbuf);
    train_snaps_free(&sv->snaps);
    free(sv->w);
    ml_optim_free(&sv->optim);
}

/* ---- the reporter: the servers' snapshots, assembled and evaluated ---- */

static void report_stats(const train_gathered *g, int S, double *st)
{
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
    st[PS_STAT_STALENESS_MEAN] = all.updates > 0 ? all.stale_sum / all.updates : 0;
    st[PS_STAT_STALENESS_MAX] = all.stale_max;
    st[PS_STAT_DELAY_MEAN] = all.updates > 0 ? all.delay_sum / all.updates : 0;
    st[PS_STAT_DELAY_MAX] = all.delay_max;
    st[PS_STAT_UPDATES] = ((const server_totals *)train_gathered_totals(g, 0))->updates;
    st[PS_STAT_WORKERS_LOST] = all.lost;
    st[PS_STAT_PULL_WAIT_S] = all.pulls > 0 ? all.pull_wait_s / all.pulls : 0;
}

int ps_report(server *sv, ml_model *model, const train_gathered *g)
{
    const train_setup *setup = sv->setup;
    int S = sv->sh.S, rc;
    train_eval eval;
    float *params = malloc(sv->sh.P * sizeof *params);
    if (!params)
        return rt_fail(sv->r, RT_ENOMEM, "ps: out of memory for the model");
    if ((rc = train_eval_init(&eval, sv->r, setup, model)))
        goto done;
    for (int i = 0; i < g->npoints && !rc; i++) {
        double stale = 0, delay = 0, updates = 0, stale_max = 0;
        for (int s = 0; s < S; s++) {
            const snap_meta *m = (const snap_meta *)train_gathered_meta(g, i, s);
            stale += m->stale_sum;
            delay += m->delay_sum;
            updates += m->updates;
            stale_max = fmax(stale_max, m->stale_max);
        }
        /* An interval in which not every worker pushed (the few updates
         * after the last scheduled point, as the workers stop) says
         * nothing about the consistency model: its columns stay empty
         * rather than draw a cliff. Each server sees every push. */
        int says = updates >= (double)S * setup->workers;
        const snap_meta *m0 = (const snap_meta *)train_gathered_meta(g, i, 0);
        train_point at = {.time_s = train_gathered_point(g, i, params),
                          .epoch = m0->examples / (double)setup->prob->train.n,
                          .step = (long)m0->version,
                          .extra = {says ? stale / updates : NAN, says ? delay / updates : NAN,
                                    says ? stale_max : NAN}};
        rc = train_eval_point(&eval, params, &at);
    }
    if (!rc) {
        train_eval_finish(&eval, params, sv->sh.P);
        report_stats(g, S, eval.out->stats);
    }
done:
    train_eval_free(&eval);
    free(params);
    return rc;
}

/* ---- the worker ---- */

void ps_worker_free(worker *wk)
{
    for (int i = 0; i < 2; i++) {
        free(wk->mb[i].idx);
        free(wk->mb[i].keys);
        free(wk->mb[i].split);
    }
    for (int s = 0; wk->rbuf && s < wk->sh.S; s++)
        free(wk->rbuf[s]);
    free(wk->rbuf);
    keyset_rows_free(&wk->rows);
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

int ps_worker_init(worker *wk)
{
    int S = wk->sh.S, sparse = wk->sh.sparse;
    size_t P = wk->sh.P, mmax = 0;
    wk->lo = malloc((size_t)S * sizeof *wk->lo);
    wk->hi = malloc((size_t)S * sizeof *wk->hi);
    wk->rbuf = calloc((size_t)S, sizeof *wk->rbuf);
    wk->gcount = malloc(((size_t)S + 1) * sizeof *wk->gcount);
    wk->req = calloc((size_t)S, sizeof *wk->req);
    wk->sts = calloc((size_t)S, sizeof *wk->sts);
    wk->params = calloc(P, sizeof *wk->params);
    if (!wk->lo || !wk->hi || !wk->rbuf || !wk->gcount || !wk->req || !wk->sts || !wk->params)
        return -1;
    for (int s = 0; s < S; s++) {
        train_range(P, S, s, &wk->lo[s], &wk->hi[s]);
        size_t m = wk->hi[s] - wk->lo[s];
        mmax = m > mmax ? m : mmax;
        if (!(wk->rbuf[s] = malloc(sizeof(reply_head) + m * sizeof(float))))
            return -1;
    }
    for (int i = 0; i < 2; i++) {
        minibatch *b = &wk->mb[i];
        b->idx = malloc(wk->setup->ml->batch * sizeof *b->idx);
        b->split = malloc(((size_t)S + 1) * sizeof *b->split);
        b->keys = sparse ? malloc(P * sizeof *b->keys) : NULL;
        if (!b->idx || !b->split || (sparse && !b->keys))
            return -1;
    }
    if (sparse && (keyset_rows_init(&wk->rows, wk->model, wk->train->d) != 0 ||
                   !(wk->gkey = malloc(P * sizeof *wk->gkey)) ||
                   !(wk->gval = malloc(P * sizeof *wk->gval))))
        return -1;
    if (!(wk->sbuf = malloc(sizeof(req_head) + 12 * mmax)) || ml_grad_init(&wk->grad, P) != 0 ||
        train_shard_init(&wk->shard, wk->train, wk->w, wk->sh.W, wk->setup->ml->seed) != 0)
        return -1;
    wk->grad.dense_only = !sparse;
    return 0;
}

