/* lab_faults.c -- the checker of lab 10: what a student's parameter
 * server does when a worker dies (plugin_worker_lost, algorithms/plugin.h);
 * the checkpoint's lines follow (cli/lab_checkpoint.c).
 *
 * The server is lab 03's small one (cli/lab_ssp.c), with failures
 * injected as MIT 6.5840's tests inject them: rank 0 serves, ranks 1..W
 * work; a worker's iteration c pulls the weights for c (answered when the
 * slowest *running* worker has pushed c - s), computes, and pushes the
 * gradient of c with the pull for c+1. The checker kills workers: at the
 * start of one of their iterations (as --kill-rank does: in simulation the
 * host goes down, on sockets the thread drops its connections) or at a
 * simulated time (--fail RANK@TIME). The server hears of a death as
 * distlab's does, from an any-source receive that fails with RT_EPEER, and
 * hands it to the student's function, which keeps the workers' states.
 *
 * What must happen: under ssp and async the server drops the dead worker
 * from the min clock and from the workers it waits for, and every live
 * worker finishes its iterations; under bsp no iteration can complete any
 * more, so the run stops at once, with an error that names the worker, and
 * every live worker is told (rather than left waiting). The server says
 * when the student's states make it wait for a dead worker: a min clock
 * held by one, or an end that never comes.
 */
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "algorithms/plugin.h"
#include "cli/cli.h"
#include "cli/lab.h"
#include "real/real.h"

#define W_MAX 8
#define DIM 16
#define KILLS 2
enum { TAG_REQ = 311, TAG_REP = 312 };

typedef struct f_req {
    int32_t push_clock; /* the iteration this gradient is of; -1: none */
    int32_t pull;       /* 1: also pull the weights for push_clock + 1; 0: goodbye */
    float grad[DIM];
} f_req;

typedef struct f_rep {
    int32_t stop;       /* the server stopped the run */
    int32_t unused;
    int64_t min_clock;
    float w[DIM];
} f_rep;

typedef struct f_arg {
    plugin_worker_lost_fn *fn;
    long bound;              /* PLUGIN_ASYNC for none */
    int iters;               /* per worker */
    int kill_worker[KILLS];  /* -1: none */
    int kill_iter[KILLS];
    int fail_worker;         /* sim: this worker's host goes down at fail_at_s; -1: none */
    double fail_at_s;
    int real;                /* threads: a killed worker drops its connections */
} f_arg;

/* Every rank's slot; the server fills its part, a worker its own. */
typedef struct f_slot {
    /* server */
    int heard[W_MAX], state_after[W_MAX];
    int stopped;             /* the student's function stopped the run */
    char stop_msg[300];
    char problem[600];       /* the first thing the server saw go wrong */
    long stale_max;
    /* worker */
    int iters_done, told_stop, killed;
} f_slot;

static int ready(long c, long min, long bound)
{
    return bound == PLUGIN_ASYNC || min >= c - bound;
}

static const char *bound_name(long bound, char *buf, size_t len)
{
    if (bound == PLUGIN_ASYNC)
        snprintf(buf, len, "async");
    else if (bound == 0)
        snprintf(buf, len, "bsp");
    else
        snprintf(buf, len, "ssp %ld", bound);
    return buf;
}

/* ---- the server ---- */

typedef struct server {
    rt *r;
    const f_arg *a;
    f_slot *s;
    int W;
    long clock[W_MAX], filed[W_MAX], min_at_pull[W_MAX];
    int state[W_MAX], told[W_MAX];
    float w[DIM];
} server;

static int problem(server *sv, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int problem(server *sv, const char *fmt, ...)
{
    char b[60];
    if (!sv->s->problem[0]) {
        va_list ap;
        va_start(ap, fmt);
        int n = snprintf(sv->s->problem, sizeof sv->s->problem, "%s: ", bound_name(sv->a->bound, b, sizeof b));
        vsnprintf(sv->s->problem + n, sizeof sv->s->problem - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return rt_fail(sv->r, RT_EINVAL, "%s", sv->s->problem);
}

static long live_min(const server *sv)
{
    long m = LONG_MAX;
    for (int i = 0; i < sv->W; i++)
        if (sv->state[i] == PLUGIN_RUNNING && sv->clock[i] < m)
            m = sv->clock[i];
    return m;
}

/* Answer what may be answered (everything, with "stop", once stopped);
 * never send to a worker known dead. *waiting: live running workers whose
 * pull the condition holds. */
static int answer(server *sv, int *waiting)
{
    long m = live_min(sv);
    *waiting = 0;
    for (int i = 0; i < sv->W; i++) {
        if (sv->state[i] != PLUGIN_RUNNING || sv->s->heard[i] || sv->filed[i] < 0)
            continue;
        if (!sv->s->stopped && !ready(sv->filed[i], m, sv->a->bound)) {
            (*waiting)++;
            continue;
        }
        f_rep rep = {.stop = sv->s->stopped, .min_clock = m};
        memcpy(rep.w, sv->w, sizeof sv->w);
        sv->min_at_pull[i] = m;
        sv->filed[i] = -1;
        sv->told[i] |= sv->s->stopped;
        int rc = rt_send(sv->r, i + 1, TAG_REP, &rep, sizeof rep);
        if (rc)
            return rc;
    }
    return RT_OK;
}

/* The student's function on worker i's death; its result kept in the slot. */
static void lose(server *sv, int i)
{
    int before[W_MAX];
    memcpy(before, sv->state, sizeof before);
    int got = sv->a->fn(sv->r, i, sv->a->bound, sv->state, sv->W);
    for (int j = 0; j < sv->W; j++) {
        if (j != i && sv->state[j] != before[j]) {
            problem(sv, "plugin_worker_lost(w = %d) changed worker %d's state from %d to %d, but only "
                    "worker %d died", i, j, before[j], sv->state[j], i);
            sv->state[j] = before[j];
        }
    }
    if (sv->state[i] < PLUGIN_RUNNING || sv->state[i] > PLUGIN_DEAD) {
        problem(sv, "worker %d's state became %d, which is none of PLUGIN_RUNNING, PLUGIN_DONE, "
                "PLUGIN_DEAD", i, sv->state[i]);
        sv->state[i] = before[i];
    }
    if (got != RT_OK && !sv->s->stopped) {
        sv->s->stopped = 1;
        snprintf(sv->s->stop_msg, sizeof sv->s->stop_msg, "%s", rt_error(sv->r));
    }
}

/* Requests until no worker is left running, or, once stopped, every live
 * one has been told. */
static int server_loop(server *sv)
{
    const int W = sv->W;
    int rc;
    for (;;) {
        int waiting;
        if ((rc = answer(sv, &waiting)))
            return rc;
        int running = 0, live = 0, untold = 0, dead_running = -1;
        for (int i = 0; i < W; i++) {
            if (sv->state[i] != PLUGIN_RUNNING)
                continue;
            running++;
            if (sv->s->heard[i]) {
                dead_running = i;
                continue;
            }
            live++;
            untold += !sv->told[i];
        }
        if (running == 0 || (sv->s->stopped && untold == 0))
            return RT_OK;
        if (live == 0)
            return problem(sv, "every live worker has finished, but the server still waits for worker "
                           "%d, which died: its state says it is running, so the server never ends",
                           dead_running);
        if (!sv->s->stopped && waiting == live) {
            long m = live_min(sv);
            for (int i = 0; i < W; i++)
                if (sv->state[i] == PLUGIN_RUNNING && sv->clock[i] == m && sv->s->heard[i])
                    return problem(sv, "every live worker waits for a pull, held by the slowest clock, "
                                   "%ld: worker %d's, which died; its state says it is running, so the "
                                   "min clock will never move", m, i);
            return problem(sv, "every running worker waits for a pull the condition never allows "
                           "(the slowest has pushed %ld)", m);
        }
        f_req q;
        rt_status st = {.source = -1};
        rc = rt_recv(sv->r, RT_ANY_SOURCE, TAG_REQ, &q, sizeof q, &st);
        int i = st.source - 1;
        if (rc == RT_EPEER && i >= 0 && i < W) {
            if (sv->s->heard[i]++)
                return problem(sv, "heard twice that worker %d died", i);
            lose(sv, i);
            continue;
        }
        if (rc)
            return rc;
        if (i < 0 || i >= W || st.bytes != sizeof q)
            return rt_fail(sv->r, RT_EPROTO, "checker: a %zu-byte request from rank %d", st.bytes,
                           st.source);
        if (q.push_clock >= 0) {
            for (int k = 0; k < DIM; k++)
                sv->w[k] -= 0.1f * q.grad[k] / (float)W;
            long stale = q.push_clock - sv->min_at_pull[i];
            sv->s->stale_max = stale > sv->s->stale_max ? stale : sv->s->stale_max;
            sv->clock[i]++;
        }
        if (q.pull)
            sv->filed[i] = sv->clock[i];
        else
            sv->state[i] = PLUGIN_DONE;
    }
}

static int f_server(rt *r, const f_arg *a, f_slot *s)
{
    server sv = {.r = r, .a = a, .s = s, .W = rt_size(r) - 1};
    for (int i = 0; i < sv.W; i++)
        sv.state[i] = PLUGIN_RUNNING; /* every worker starts by pulling iteration 0 */
    int rc = server_loop(&sv);
    memcpy(s->state_after, sv.state, sizeof sv.state);
    if (!rc && s->stopped)
        rc = rt_fail(r, RT_EPEER, "%s", s->stop_msg);
    return rc;
}

/* ---- a worker ---- */

static int killed_at(const f_arg *a, int w, int c)
{
    for (int k = 0; k < KILLS; k++)
        if (a->kill_worker[k] == w && a->kill_iter[k] == c)
            return 1;
    return 0;
}

static int f_worker(rt *r, const f_arg *a, f_slot *s)
{
    int me = rt_rank(r) - 1, rc;
    f_rep rep;
    if ((rc = rt_recv(r, 0, TAG_REP, &rep, sizeof rep, NULL)))
        return rc;
    for (int c = 0; c < a->iters; c++) {
        if (rep.stop) {
            s->told_stop = 1;
            return rt_fail(r, RT_EPEER, "worker %d: the server stopped the run", me);
        }
        if (killed_at(a, me, c)) {
            s->killed = 1;
            if (a->real)
                real_abort_connections(r);
            else
                sim_rank_fail(r);
            return rt_fail(r, RT_EPEER, "worker %d fails at its iteration %d (the checker kills it)", me, c);
        }
        f_req q = {.push_clock = c, .pull = c + 1 < a->iters};
        for (int k = 0; k < DIM; k++)
            q.grad[k] = rep.w[k] - (float)(k % 5) + 0.01f * (float)me;
        if ((rc = rt_compute(r, 1e6 * (1 + me % 3))) || (rc = rt_send(r, 0, TAG_REQ, &q, sizeof q)))
            return rc;
        if (q.pull && (rc = rt_recv(r, 0, TAG_REP, &rep, sizeof rep, NULL)))
            return rc;
        s->iters_done = c + 1;
    }
    return RT_OK;
}

static int f_rank(rt *r, void *argp)
{
    return rt_rank(r) == 0 ? f_server(r, argp, job_slot(r)) : f_worker(r, argp, job_slot(r));
}

/* ---- one run, judged ---- */

typedef struct f_ctx {
    plugin_worker_lost_fn *fn;
    int quick;
} f_ctx;

static int is_dead(const f_arg *a, int w)
{
    for (int k = 0; k < KILLS; k++)
        if (a->kill_worker[k] == w)
            return 1;
    return a->fail_worker == w;
}

/* Run a with W workers; the failures of what it saw said into o. */
static void judge_run(outcome *o, const f_arg *a, int W)
{
    sim_config sim = sim_config_default();
    for (int k = 0; k < KILLS; k++) /* f_worker's kills: sim_rank_fail */
        sim.ranks_may_fail |= a->kill_worker[k] >= 0;
    if (a->fail_worker >= 0) { /* (in simulation: on real sockets the rank itself stops) */
        sim.nfaults = 1;
        sim.faults[0] = (sim_fault){.kind = SIM_FAULT_FAIL, .rank = a->fail_worker + 1, .at_s = a->fail_at_s};
    }
    job_config cfg = lab_job_config(a->real, &sim, W + 1, sizeof(f_slot));
    job_result res;
    job_run(&cfg, f_rank, (void *)a, &res);
    char b[60], where[120];
    snprintf(where, sizeof where, "%s, %s, %d workers", a->real ? "sockets" : "sim",
             bound_name(a->bound, b, sizeof b), W);
    const f_slot *sv = job_result_slot(&res, 0);
    int bad = 0;
    if (sv->problem[0]) {
        lab_say(o, "%s: %s", where, sv->problem);
        bad = 1;
    }
    for (int i = 0; i < W && !bad; i++)
        if (is_dead(a, i) && sv->heard[i] && sv->state_after[i] == PLUGIN_RUNNING && a->bound != 0) {
            lab_say(o, "%s: worker %d died, and its state still says it is running", where, i);
            bad = 1;
        }
    if (!bad && a->bound != 0) {
        /* ssp and async go on */
        if (sv->stopped) {
            lab_say(o, "%s: the run stopped (\"%s\"), but under ssp and async the server goes on "
                    "without a dead worker: it no longer counts in the min clock", where, sv->stop_msg);
            bad = 1;
        } else if (res.rank_status[0] != RT_OK) {
            lab_say(o, "%s: the server failed: %s", where, res.error);
            bad = 1;
        }
        for (int i = 0; i < W && !bad; i++) {
            const f_slot *ws = job_result_slot(&res, i + 1);
            if (!is_dead(a, i) && (ws->iters_done != a->iters || res.rank_status[i + 1] != RT_OK)) {
                lab_say(o, "%s: live worker %d did %d of its %d iterations (%s)", where, i, ws->iters_done,
                        a->iters, res.error);
                bad = 1;
            }
        }
    } else if (!bad) {
        /* bsp stops, naming the worker, and tells the others */
        int named = 0;
        for (int i = 0; i < W; i++) {
            char who[32];
            snprintf(who, sizeof who, "worker %d", i);
            named |= is_dead(a, i) && strstr(sv->stop_msg, who) != NULL;
        }
        if (!sv->stopped) {
            lab_say(o, "%s: a worker died, and the run went on: under bsp no iteration can complete "
                    "without it, so plugin_worker_lost must stop the run (return rt_fail(r, RT_EPEER, "
                    "...))%s%s", where, res.failed ? "; the run said: " : "", res.failed ? res.error : "");
            bad = 1;
        } else if (!named) {
            lab_say(o, "%s: the run stopped with \"%s\", which does not name the worker that died "
                    "(\"worker N\")", where, sv->stop_msg);
            bad = 1;
        }
        for (int i = 0; i < W && !bad; i++) {
            const f_slot *ws = job_result_slot(&res, i + 1);
            if (!is_dead(a, i) && !ws->told_stop && ws->iters_done < a->iters) {
                lab_say(o, "%s: live worker %d was never told the run stopped", where, i);
                bad = 1;
            }
        }
        if (!bad)
            lab_say(o, "%s: the run stops: \"%s\"", where, sv->stop_msg);
    }
    if (bad)
        o->ok = 0;
    job_result_free(&res);
}

static f_arg base_arg(const f_ctx *c, long bound)
{
    f_arg a = {.fn = c->fn, .bound = bound, .iters = 24, .kill_worker = {-1, -1}, .fail_worker = -1};
    return a;
}

/* ---- the checks ---- */

/* The function itself, called directly inside a one-rank job. */
typedef struct table_slot {
    int ok;
    char msg[2000];
} table_slot;

static void table_say(table_slot *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void table_say(table_slot *t, const char *fmt, ...)
{
    size_t used = strlen(t->msg);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->msg + used, sizeof t->msg - used, fmt, ap);
    va_end(ap);
    used = strlen(t->msg);
    if (used + 1 < sizeof t->msg)
        strcat(t->msg, "\n");
    t->ok = 0;
}

static int table_rank(rt *r, void *argp)
{
    plugin_worker_lost_fn *fn = *(plugin_worker_lost_fn **)argp;
    table_slot *t = job_slot(r);
    static const struct {
        long bound;
        int W, w, was, stops;
        const char *why;
    } cases[] = {
        {PLUGIN_ASYNC, 4, 2, PLUGIN_RUNNING, 0, "async goes on without it"},
        {3, 4, 1, PLUGIN_RUNNING, 0, "ssp 3 goes on without it"},
        {1, 6, 5, PLUGIN_RUNNING, 0, "ssp 1 goes on without it"},
        {0, 4, 2, PLUGIN_RUNNING, 1, "bsp stops: no iteration can complete without it"},
        {0, 4, 3, PLUGIN_DONE, 0, "a worker that said goodbye and then hung up did not fail, even under bsp"},
        {PLUGIN_ASYNC, 1, 0, PLUGIN_RUNNING, 0, "the only worker: async has nothing left to wait for, the run ends"},
    };
    t->ok = 1;
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        int state[W_MAX];
        for (int i = 0; i < cases[k].W; i++)
            state[i] = i % 2 && i != cases[k].w ? PLUGIN_DONE : PLUGIN_RUNNING;
        state[cases[k].w] = cases[k].was;
        int before[W_MAX];
        memcpy(before, state, sizeof before);
        char b[60];
        bound_name(cases[k].bound, b, sizeof b);
        int got = fn(r, cases[k].w, cases[k].bound, state, cases[k].W);
        int want_state = cases[k].was == PLUGIN_DONE ? PLUGIN_DONE : PLUGIN_DEAD;
        const char *was = cases[k].was == PLUGIN_DONE ? "done" : "running";
        if ((got != RT_OK) != cases[k].stops)
            table_say(t, "%s, %d workers, %s worker %d lost: returned %d, should %s: %s", b, cases[k].W, was,
                      cases[k].w, got, cases[k].stops ? "stop the run (rt_fail)" : "return RT_OK", cases[k].why);
        if (state[cases[k].w] != want_state)
            table_say(t, "%s, %d workers, %s worker %d lost: its state became %d, should be %s (%d)", b,
                      cases[k].W, was, cases[k].w, state[cases[k].w],
                      want_state == PLUGIN_DEAD ? "PLUGIN_DEAD" : "PLUGIN_DONE", want_state);
        for (int i = 0; i < cases[k].W; i++)
            if (i != cases[k].w && state[i] != before[i])
                table_say(t, "%s, worker %d lost: worker %d's state changed from %d to %d", b, cases[k].w,
                          i, before[i], state[i]);
        if (got != RT_OK && cases[k].stops) {
            char who[32];
            snprintf(who, sizeof who, "worker %d", cases[k].w);
            if (!strstr(rt_error(r), who))
                table_say(t, "%s, worker %d lost: the error \"%s\" does not name \"%s\"", b, cases[k].w,
                          rt_error(r), who);
            if (got != RT_EPEER)
                table_say(t, "%s, worker %d lost: returned %d (%s), should be RT_EPEER: a peer died", b,
                          cases[k].w, got, rt_strerror(got));
        }
    }
    return RT_OK;
}

static void check_table(outcome *o, const void *ctxp)
{
    const f_ctx *c = ctxp;
    sim_config sim = sim_config_default();
    job_config cfg = sim_job_config(&sim);
    cfg.ranks = 1;
    cfg.result_bytes = sizeof(table_slot);
    cfg.record_events = 0;
    job_result res;
    plugin_worker_lost_fn *fn = c->fn;
    if (job_run(&cfg, table_rank, &fn, &res) != 0) {
        lab_say(o, "%s", res.error);
    } else {
        const table_slot *t = job_result_slot(&res, 0);
        o->ok = t->ok;
        lab_say(o, "%s", t->msg);
    }
    job_result_free(&res);
}

static void check_async(outcome *o, const void *ctxp)
{
    o->ok = 1;
    f_arg a = base_arg(ctxp, PLUGIN_ASYNC);
    a.kill_worker[0] = 2;
    a.kill_iter[0] = 5;
    judge_run(o, &a, 4);
}

static void check_ssp(outcome *o, const void *ctxp)
{
    static const long bounds[] = {1, 2, 8};
    o->ok = 1;
    for (int b = 0; b < 3; b++) {
        f_arg a = base_arg(ctxp, bounds[b]);
        a.kill_worker[0] = 1;
        a.kill_iter[0] = 3;
        a.kill_worker[1] = 4;
        a.kill_iter[1] = 9;
        judge_run(o, &a, 6);
    }
}

static void check_bsp(outcome *o, const void *ctxp)
{
    o->ok = 1;
    f_arg a = base_arg(ctxp, 0);
    a.kill_worker[0] = 2;
    a.kill_iter[0] = 5;
    judge_run(o, &a, 4);
    /* before its first push */
    a.kill_worker[0] = 0;
    a.kill_iter[0] = 0;
    judge_run(o, &a, 3);
}

static void check_fail_at(outcome *o, const void *ctxp)
{
    static const long bounds[] = {PLUGIN_ASYNC, 2, 0};
    o->ok = 1;
    for (int b = 0; b < 3; b++) {
        f_arg a = base_arg(ctxp, bounds[b]);
        a.fail_worker = 2;
        a.fail_at_s = 0.0105;
        judge_run(o, &a, 5);
    }
}

static void check_real(outcome *o, const void *ctxp)
{
    static const long bounds[] = {PLUGIN_ASYNC, 2, 0};
    o->ok = 1;
    for (int b = 0; b < 3; b++) {
        f_arg a = base_arg(ctxp, bounds[b]);
        a.real = 1;
        a.kill_worker[0] = 1;
        a.kill_iter[0] = 4;
        judge_run(o, &a, 3);
    }
}

int lab_check_faults(const lab_checker *lab, const char *file, int quick)
{
    tap t = {0, 0};
    static const lab_case checks[] = {
        {check_table, "the rule on six cases: async and ssp go on, bsp stops, a finished worker is no failure", 0},
        {check_async, "async, 4 workers, worker 2 killed at its iteration 5: the other three finish", 0},
        {check_ssp, "ssp 1, 2, 8, 6 workers, workers 1 and 4 killed: the other four finish", 0},
        {check_bsp, "bsp: the run stops at once, naming the dead worker, and every live worker is told", 1},
        {check_fail_at, "a host down at 10.5 ms (--fail 3@0.0105s): async and ssp 2 go on, bsp stops", 0},
        {check_real, "on real sockets (threads), worker 1 killed: async and ssp 2 go on, bsp stops", 0},
    };
    int nchecks = (int)(sizeof checks / sizeof *checks);
    printf("TAP version 13\n1..%d\n", nchecks + 1 + lab_checkpoint_checks());
    char err[1024];
    static const char *const theirs[] = {"ps_algo", NULL};
    plugin_worker_lost_fn *fn = (plugin_worker_lost_fn *)cli_plugin_load(file, lab->symbol, theirs, err, sizeof err);
    lab_tap_line(&t, fn != NULL, "%s builds and defines %s", file, lab->symbol);
    if (!fn)
        lab_tap_diag(err);
    f_ctx ctx = {fn, quick};
    lab_run_cases(&t, checks, nchecks, &ctx, fn != NULL);
    lab_check_checkpoint(&t, file, (void *)fn);
    return lab_score(&t, lab, file);
}
