/* lab_ssp.c -- the checker of lab 03: a student's SSP condition
 * (plugin_ssp_ready, algorithms/plugin.h) inside a small parameter server.
 *
 * Rank 0 is the server, ranks 1..W the workers. A worker's iteration c:
 * pull the weights for c (the server answers when the condition says so),
 * compute (charged flops, slowed down for stragglers), push the gradient
 * of c together with the pull for c+1. The server counts each worker's
 * clock (iterations pushed); min is the smallest clock of the workers
 * still running. Each time it has filed a pull it asks the student's
 * condition and the reference one (min >= c - s; async: always) about every
 * waiting pull, so it can say exactly when the student's answers one too
 * early (the staleness bound is broken) or holds one the bound allows
 * (workers wait for nothing), and stops a run in which every worker waits
 * for a pull that the condition will never allow.
 *
 * Staleness of an update: its iteration minus the min clock when its pull
 * was answered, as in algorithms/ps.c.
 */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "algorithms/plugin.h"
#include "cli/cli.h"
#include "cli/lab.h"

#define W_MAX 8
#define DIM 16
enum { TAG_REQ = 301, TAG_REP = 302 };

typedef struct ssp_req {
    int32_t push_clock; /* the iteration this gradient is of; -1: none */
    int32_t pull;       /* 1: also pull the weights for push_clock + 1 */
    float grad[DIM];
} ssp_req;

typedef struct ssp_rep {
    int64_t min_clock;
    float w[DIM];
} ssp_rep;

typedef struct ssp_arg {
    plugin_ssp_ready_fn *fn;
    long bound;          /* PLUGIN_ASYNC for none */
    int iters;           /* per worker */
    double flops;        /* per iteration */
} ssp_arg;

typedef struct ssp_slot {
    long early, held;    /* pulls answered too early, held though allowed */
    char first_early[240], first_held[240];
    long stale_max, updates;
    double seconds;
} ssp_slot;

static int reference_ready(long c, long min, long bound)
{
    return bound == PLUGIN_ASYNC || min >= c - bound;
}

static long min_clock(const long *clock, const int *running, int W)
{
    long m = LONG_MAX;
    for (int w = 0; w < W; w++)
        if (running[w] && clock[w] < m)
            m = clock[w];
    return m;
}

/* ---- the server ---- */
static int ssp_server(rt *r, const ssp_arg *a, ssp_slot *s)
{
    int W = rt_size(r) - 1, done = 0, rc = RT_OK;
    long clock[W_MAX] = {0}, filed[W_MAX], min_at_pull[W_MAX] = {0};
    int running[W_MAX];
    float w[DIM] = {0};
    for (int i = 0; i < W; i++) {
        running[i] = 1;
        filed[i] = 0; /* every worker starts by pulling iteration 0 */
    }
    for (;;) {
        /* answer what the condition allows */
        long m = min_clock(clock, running, W);
        int waiting = 0;
        for (int i = 0; i < W && !rc; i++) {
            if (filed[i] < 0)
                continue;
            int ok = a->fn(filed[i], m, a->bound) != 0, ref = reference_ready(filed[i], m, a->bound);
            if (ok && !ref && s->early++ == 0)
                snprintf(s->first_early, sizeof s->first_early,
                         "bound %ld: answered worker %d's pull for iteration %ld while the slowest had "
                         "pushed %ld (%ld - %ld > %ld)", a->bound, i + 1, filed[i], m, filed[i], m, a->bound);
            if (!ok && ref && s->held++ == 0)
                snprintf(s->first_held, sizeof s->first_held,
                         "bound %ld: held worker %d's pull for iteration %ld though the slowest had "
                         "pushed %ld (the bound allows it)", a->bound, i + 1, filed[i], m);
            if (!ok) {
                waiting++;
                continue;
            }
            ssp_rep rep = {.min_clock = m};
            memcpy(rep.w, w, sizeof w);
            min_at_pull[i] = m;
            filed[i] = -1;
            rc = rt_send(r, i + 1, TAG_REP, &rep, sizeof rep);
        }
        if (rc || done == W)
            break;
        if (waiting == W - done)
            return rt_fail(r, RT_EINVAL, "bound %ld: every running worker waits for a pull the "
                           "condition never allows (the slowest has pushed %ld)", a->bound, m);
        /* the next request */
        ssp_req q;
        rt_status st;
        if ((rc = rt_recv(r, RT_ANY_SOURCE, TAG_REQ, &q, sizeof q, &st)))
            break;
        int i = st.source - 1;
        if (q.push_clock >= 0) {
            for (int k = 0; k < DIM; k++)
                w[k] -= 0.1f * q.grad[k] / (float)W;
            long stale = q.push_clock - min_at_pull[i];
            s->stale_max = stale > s->stale_max ? stale : s->stale_max;
            s->updates++;
            clock[i]++;
        }
        if (q.pull) {
            filed[i] = clock[i];
        } else {
            running[i] = 0;
            done++;
        }
    }
    s->seconds = rt_now(r);
    return rc;
}

/* ---- a worker ---- */
static int ssp_worker(rt *r, const ssp_arg *a)
{
    int rc = RT_OK;
    ssp_rep rep;
    if ((rc = rt_recv(r, 0, TAG_REP, &rep, sizeof rep, NULL)))
        return rc;
    for (int c = 0; c < a->iters && !rc; c++) {
        ssp_req q = {.push_clock = c, .pull = c + 1 < a->iters};
        for (int k = 0; k < DIM; k++)
            q.grad[k] = rep.w[k] - (float)(k % 5) + 0.01f * (float)rt_rank(r);
        if ((rc = rt_compute(r, a->flops)))
            break;
        rc = rt_send(r, 0, TAG_REQ, &q, sizeof q);
        if (!rc && q.pull)
            rc = rt_recv(r, 0, TAG_REP, &rep, sizeof rep, NULL);
    }
    return rc;
}

static int ssp_rank(rt *r, void *argp)
{
    return rt_rank(r) == 0 ? ssp_server(r, argp, job_slot(r)) : ssp_worker(r, argp);
}

/* One run: W workers with these slowdowns; what the server saw in *s. */
static int ssp_run(outcome *o, const ssp_arg *a, int W, const double *slow, const char *backend,
                   ssp_slot *s)
{
    double slowdown[W_MAX + 1] = {1};
    for (int i = 0; i < W; i++)
        slowdown[i + 1] = slow[i];
    sim_config sim = sim_config_default();
    job_config cfg = lab_job_config(strcmp(backend, "sim") != 0, &sim, W + 1, sizeof(ssp_slot));
    cfg.slowdown = slowdown;
    job_result res;
    int rc = job_run(&cfg, ssp_rank, (void *)a, &res);
    if (rc != 0)
        lab_say(o, "%s, bound %ld: %s", backend, a->bound, res.error);
    else
        *s = *(ssp_slot *)job_result_slot(&res, 0);
    job_result_free(&res);
    return rc ? -1 : 0;
}

typedef struct ssp_ctx {
    plugin_ssp_ready_fn *fn;
    int quick;
} ssp_ctx;

/* ---- the checks ---- */

/* The condition itself on a table of cases, with what each must say. */
static void check_table(outcome *o, const void *ctxp)
{
    const ssp_ctx *c = ctxp;
    static const struct {
        long c, min, bound;
        int want;
        const char *why;
    } cases[] = {
        {0, 0, 0, 1, "the first pull: nobody has pushed, nobody needs to"},
        {5, 5, 0, 1, "bsp: everyone finished iteration 4"},
        {5, 4, 0, 0, "bsp: someone has not finished iteration 4"},
        {7, 5, 2, 1, "ssp 2: everyone finished iteration 4 = 7-2-1"},
        {7, 4, 2, 0, "ssp 2: someone has not finished iteration 4"},
        {6, 6, 3, 1, "ssp 3: the slowest worker itself"},
        {100, 0, 8, 0, "ssp 8: 100 iterations ahead of the slowest"},
        {100, 0, PLUGIN_ASYNC, 1, "async: at once, however far ahead"},
        {LONG_MAX - 1, 0, LONG_MAX, 1, "a bound of LONG_MAX: the arithmetic must not overflow"},
        {LONG_MAX - 1, LONG_MAX - 3, 2, 1, "clocks near LONG_MAX: no overflow either"},
    };
    o->ok = 1;
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        int got = c->fn(cases[i].c, cases[i].min, cases[i].bound) != 0;
        if (got != cases[i].want) {
            lab_say(o, "plugin_ssp_ready(c = %ld, min_clock = %ld, bound = %ld) says %s, should say %s: %s",
                    cases[i].c, cases[i].min, cases[i].bound, got ? "ready" : "wait",
                    cases[i].want ? "ready" : "wait", cases[i].why);
            o->ok = 0;
        }
    }
}

static const double straggler[] = {1, 4, 1, 1};             /* one persistent 4x straggler */
static const double mixed[] = {1, 1.5, 2.5, 3.7, 1.2, 1, 2, 1}; /* everyone a little different */

static void run_bounds(outcome *o, const ssp_ctx *c, const long *bounds, const double *slow, int W,
                       const char *backend, int report_stale)
{
    o->ok = 1;
    for (const long *b = bounds; *b != LONG_MIN; b++) {
        ssp_arg a = {.fn = c->fn, .bound = *b, .iters = c->quick ? 16 : 40, .flops = 1e6};
        ssp_slot s = {0};
        if (ssp_run(o, &a, W, slow, backend, &s) != 0) {
            o->ok = 0;
            continue;
        }
        if (s.early)
            lab_say(o, "%s (%ld pulls answered too early)", s.first_early, s.early);
        if (s.held)
            lab_say(o, "%s (%ld pulls held)", s.first_held, s.held);
        o->ok &= !s.early && !s.held;
        if (report_stale) {
            int reaches = *b == PLUGIN_ASYNC ? s.stale_max > 8 : s.stale_max == *b;
            lab_say(o, "bound %3ld: largest staleness %ld in %ld updates, %.4f s simulated%s",
                    *b, s.stale_max, s.updates, s.seconds,
                    reaches ? "" : s.stale_max > *b && *b >= 0 ? "  <-- above the bound" : "  <-- should reach the bound");
            o->ok &= reaches;
        }
    }
}

static const long bsp_bounds[] = {0, LONG_MIN};
static const long ssp_bounds[] = {1, 2, 3, 8, LONG_MIN};
static const long all_bounds[] = {0, 2, 8, PLUGIN_ASYNC, LONG_MIN};
static const long async_bounds[] = {PLUGIN_ASYNC, LONG_MIN};

static void check_bsp(outcome *o, const void *ctx) { run_bounds(o, ctx, bsp_bounds, mixed, 8, "sim", 0); }
static void check_ssp(outcome *o, const void *ctx) { run_bounds(o, ctx, ssp_bounds, mixed, 8, "sim", 0); }
static void check_async(outcome *o, const void *ctx) { run_bounds(o, ctx, async_bounds, mixed, 8, "sim", 0); }
static void check_stale(outcome *o, const void *ctx)
{
    run_bounds(o, ctx, all_bounds, straggler, 4, "sim", 1);
}
static void check_real(outcome *o, const void *ctx)
{
    static const long bounds[] = {0, 2, LONG_MIN};
    run_bounds(o, ctx, bounds, straggler, 4, "threads", 0);
}

int lab_check_ssp(const lab_checker *lab, const char *file, int quick)
{
    tap t = {0, 0};
    static const lab_case checks[] = {
        {check_table, "the condition on ten cases: bsp, ssp, async, no overflow", 0},
        {check_bsp, "bsp (bound 0), 8 workers of mixed speeds: no pull answered early or held", 0},
        {check_ssp, "ssp, bounds 1, 2, 3, 8: no pull answered early or held", 0},
        {check_async, "async: every pull answered at once", 0},
        {check_stale, "one 4x straggler: the largest staleness is the bound, and async passes 8", 1},
        {check_real, "on real sockets (threads), bsp and ssp 2: no pull answered early or held", 0},
    };
    int nchecks = (int)(sizeof checks / sizeof *checks);
    printf("TAP version 13\n1..%d\n", nchecks + 1);
    char err[1024];
    static const char *const theirs[] = {"ps_algo", NULL};
    plugin_ssp_ready_fn *fn = (plugin_ssp_ready_fn *)cli_plugin_load(file, lab->symbol, theirs, err, sizeof err);
    lab_tap_line(&t, fn != NULL, "%s builds and defines %s", file, lab->symbol);
    if (!fn)
        lab_tap_diag(err);
    ssp_ctx ctx = {fn, quick};
    lab_run_cases(&t, checks, nchecks, &ctx, fn != NULL);
    return lab_score(&t, lab, file);
}
