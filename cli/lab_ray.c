/* lab_ray.c -- the checker of lab 09: a student's driver loop of Ray's
 * asynchronous parameter server (plugin_ray_async_ps, algorithms/plugin.h)
 * on distlab's Ray model (algorithms/ray.h).
 *
 * The loop runs against actors of the checker's own, with the method
 * names of `run ray-ps` (algorithms/ray_ps.c), on a toy problem: W
 * workers pull the weights towards targets of their own (a quadratic),
 * one gradient per call, each call taking a fixed time (ray_sleep, so a
 * straggler is as slow on real threads as in simulation). Every object is
 * larger than the checker's inline threshold, so weights and gradients
 * stay in the stores that made them and are fetched by whoever needs
 * them, and a reference the loop never releases keeps its object there.
 *
 * The server checks the protocol as it goes: each argument of
 * apply_gradients must be a gradient (not the weights), each worker's
 * gradients must arrive once each, in order, and each must have been
 * computed on the weights that the apply of that worker's previous
 * gradient returned (the first on those of get_weights). The checks then
 * compare what the run did with what it should have: every update
 * applied, a straggler left behind rather than waited for, node 0's store
 * empty after the loop, and with one worker the bits of the reference
 * loop below on both backends.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "algorithms/plugin.h"
#include "cli/cli.h"
#include "cli/lab.h"

#define W_MAX 8
#define DIM 64                      /* 256 bytes of floats: above INLINE_BYTES */
#define INLINE_BYTES 128
#define GRAD_MAGIC 0x47524144u      /* "GRAD" */
#define WEIGHTS_MAGIC 0x57475453u   /* "WGTS" */
#define LR 0.2f

typedef struct lr_weights {
    uint32_t magic;
    int32_t pad;
    int64_t version;                /* updates applied so far */
    float w[DIM];
} lr_weights;

typedef struct lr_grad {
    uint32_t magic;
    int32_t worker, seq;            /* the seq-th gradient of this worker */
    int32_t pad;
    int64_t on_version;             /* the weights it was computed on */
    float g[DIM];
} lr_grad;

/* What the server saw; finish returns it. */
typedef struct lr_report {
    long applied, per_worker[W_MAX];
    long bad;                       /* protocol errors */
    char first_bad[400];
    lr_weights last;
} lr_report;

typedef struct lr_arg {
    plugin_ray_async_ps_fn *loop;
    int W;
    long updates;
    double call_s[W_MAX];           /* how long each worker's call takes */
    int sim;                        /* charge the simulated per-task overhead */
} lr_arg;

typedef struct lr_slot {
    int loop_rc;
    char loop_err[400];
    double seconds;                 /* the loop, on node 0's clock */
    uint64_t store_bytes;           /* node 0's store once the loop's frees settled */
    lr_report report;
} lr_slot;

/* ---- the actors ---- */

typedef struct server {
    lr_report rep;
    int64_t last_out[W_MAX];        /* the version the worker's last gradient made */
    int W;
} server;

typedef struct worker {
    int id, seq;
} worker;

static void protocol_error(server *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void protocol_error(server *s, const char *fmt, ...)
{
    if (s->rep.bad++ > 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->rep.first_bad, sizeof s->rep.first_bad, fmt, ap);
    va_end(ap);
}

static int server_init(ray *ry, void *state, int nargs, const ray_arg *a)
{
    (void)nargs;
    (void)a;
    server *s = state;
    const lr_arg *arg = ray_program_arg(ry);
    s->W = arg->W;
    s->rep.last.magic = WEIGHTS_MAGIC;
    return RT_OK;
}

static int get_weights(ray *ry, void *state, int nargs, const ray_arg *a)
{
    (void)a;
    server *s = state;
    if (nargs != 0)
        protocol_error(s, "get_weights was given %d arguments; it takes none", nargs);
    return ray_return(ry, &s->rep.last, sizeof s->rep.last);
}

static int apply_gradients(ray *ry, void *state, int nargs, const ray_arg *a)
{
    server *s = state;
    if (nargs != 1)
        protocol_error(s, "apply_gradients was given %d gradients at once; the async loop applies "
                       "each one as soon as it is ready", nargs);
    for (int i = 0; i < nargs; i++) {
        const lr_grad *g = a[i].data;
        if (a[i].bytes != sizeof *g || g->magic != GRAD_MAGIC) {
            protocol_error(s, "apply_gradients was given %zu bytes that are not a gradient%s", a[i].bytes,
                           a[i].bytes == sizeof(lr_weights) ? " (the weights?)" : "");
            continue;
        }
        int w = g->worker;
        if (g->seq != s->rep.per_worker[w])
            protocol_error(s, "worker %d's gradient %d was applied %s", w, g->seq,
                           g->seq < s->rep.per_worker[w] ? "twice" : "before the ones it computed earlier");
        else if (g->on_version != s->last_out[w])
            protocol_error(s, "worker %d's gradient %d was computed on weights of version %lld, but the "
                           "apply of its previous gradient returned version %lld: hand a worker the "
                           "weights its own gradient's apply returned", w, g->seq,
                           (long long)g->on_version, (long long)s->last_out[w]);
        for (int k = 0; k < DIM; k++)
            s->rep.last.w[k] -= LR * g->g[k];
        s->rep.last.version++;
        s->last_out[w] = s->rep.last.version;
        s->rep.per_worker[w]++;
        s->rep.applied++;
    }
    return ray_return(ry, &s->rep.last, sizeof s->rep.last);
}

static int server_finish(ray *ry, void *state, int nargs, const ray_arg *a)
{
    (void)nargs;
    (void)a;
    server *s = state;
    return ray_return(ry, &s->rep, sizeof s->rep);
}

static int worker_init(ray *ry, void *state, int nargs, const ray_arg *a)
{
    worker *w = state;
    if (nargs != 1 || a[0].bytes != sizeof(int))
        return ray_raise(ry, "DataWorker takes its number");
    w->id = *(const int *)a[0].data;
    return RT_OK;
}

static int compute_gradients(ray *ry, void *state, int nargs, const ray_arg *a)
{
    worker *wk = state;
    const lr_arg *arg = ray_program_arg(ry);
    const lr_weights *w = nargs == 1 ? a[0].data : NULL;
    if (nargs != 1 || a[0].bytes != sizeof *w || w->magic != WEIGHTS_MAGIC)
        return ray_raise(ry, "compute_gradients takes the weights (one object of %zu bytes, from "
                         "get_weights or apply_gradients); it was given %d argument%s", sizeof *w, nargs,
                         nargs == 1 ? " that is not the weights" : "s");
    int rc = ray_sleep(ry, arg->call_s[wk->id]);
    if (rc)
        return rc;
    lr_grad g = {.magic = GRAD_MAGIC, .worker = wk->id, .seq = wk->seq++, .on_version = w->version};
    for (int k = 0; k < DIM; k++) /* 0.5 |w - t|^2, a target of the worker's own */
        g.g[k] = w->w[k] - (float)((k * 5 + wk->id * 3) % 9) * 0.25f;
    return ray_return(ry, &g, sizeof g);
}

static const ray_method server_methods[] = {
    {"get_weights", get_weights}, {"apply_gradients", apply_gradients}, {"finish", server_finish}};
static const ray_method worker_methods[] = {{"compute_gradients", compute_gradients}};
static const ray_class classes[] = {
    {"ParameterServer", sizeof(server), server_init, NULL, server_methods, 3},
    {"DataWorker", sizeof(worker), worker_init, NULL, worker_methods, 1},
};

/* ---- the reference loop (the lab's solution does the same) ---- */

static int reference_loop(ray *ry, ray_actor ps, const ray_actor *wk, int W, long updates)
{
    ray_ref latest = 0, grads[W_MAX] = {0}, live[W_MAX];
    int who[W_MAX], ready[W_MAX], nready;
    long submitted = 0;
    int rc = ray_call(ry, ps, "get_weights", 0, NULL, &latest);
    for (int w = 0; w < W && !rc && submitted < updates; w++, submitted++)
        rc = ray_call(ry, wk[w], "compute_gradients", 1, (ray_in[]){ray_fut(latest)}, &grads[w]);
    for (long u = 0; u < updates && !rc; u++) {
        int n = 0, w = -1;
        for (int i = 0; i < W; i++)
            if (grads[i]) {
                who[n] = i;
                live[n++] = grads[i];
            }
        if ((rc = ray_wait(ry, n, live, 1, -1, ready, &nready)))
            break;
        for (int i = 0; i < n && w < 0; i++)
            if (ready[i])
                w = who[i];
        ray_ref next;
        rc = ray_call(ry, ps, "apply_gradients", 1, (ray_in[]){ray_fut(grads[w])}, &next);
        ray_release(ry, grads[w]);
        grads[w] = 0;
        if (rc)
            break;
        ray_release(ry, latest);
        latest = next;
        if (submitted < updates) {
            rc = ray_call(ry, wk[w], "compute_gradients", 1, (ray_in[]){ray_fut(latest)}, &grads[w]);
            submitted++;
        }
    }
    if (latest)
        ray_release(ry, latest);
    return rc;
}

/* ---- the driver: actors, the loop under test, the server's report ---- */

static int lr_driver(ray *ry, void *argp)
{
    const lr_arg *a = argp;
    lr_slot *s = job_slot(ray_rt(ry));
    ray_actor ps, wk[W_MAX];
    int rc = ray_actor_create(ry, "ParameterServer", 0, NULL, &(ray_task_opts){.cpus = 0, .node = 0}, &ps);
    for (int w = 0; w < a->W && !rc; w++)
        rc = ray_actor_create(ry, "DataWorker", 1, (ray_in[]){ray_val(&w, sizeof w)},
                              &(ray_task_opts){.cpus = 0, .node = 1 + w}, &wk[w]);
    if (rc)
        return rc;
    double t0 = rt_now(ray_rt(ry));
    s->loop_rc = a->loop(ry, ps, wk, a->W, a->updates);
    s->seconds = rt_now(ray_rt(ry)) - t0;
    if (s->loop_rc)
        snprintf(s->loop_err, sizeof s->loop_err, "%s", rt_error(ray_rt(ry)));
    /* finish runs after every apply the loop submitted (an actor's calls
     * run in order) */
    ray_ref done;
    const void *d;
    size_t b;
    if ((rc = ray_call(ry, ps, "finish", 0, NULL, &done)) || (rc = ray_get(ry, done, &d, &b)))
        return rc;
    if (b == sizeof s->report)
        memcpy(&s->report, d, b);
    ray_release(ry, done);
    /* let the frees that the releases sent settle, then look at the store */
    if ((rc = ray_sleep(ry, 0.05)))
        return rc;
    s->store_bytes = ray_node_stats(ry)->store_bytes;
    return RT_OK;
}

static int lr_rank(rt *r, void *argp)
{
    ray_program prog = {NULL, 0, classes, 2, lr_driver, argp, ray_config_default()};
    prog.cfg.inline_bytes = INLINE_BYTES;
    prog.cfg.task_overhead_s = ((const lr_arg *)argp)->sim ? RAY_SIM_TASK_OVERHEAD_S : 0;
    return ray_main(r, &prog, NULL);
}

/* One run of the loop: 0 with rank 0's slot in *s, or -1 said into o. */
static int lr_run(outcome *o, const lr_arg *arg, const char *backend, lr_slot *s)
{
    lr_arg run = *arg, *a = &run;
    run.sim = strcmp(backend, "sim") == 0;
    sim_config sim = sim_config_default();
    job_config cfg = lab_job_config(!run.sim, &sim, a->W + 1, sizeof(lr_slot));
    job_result res;
    int rc = job_run(&cfg, lr_rank, a, &res);
    if (rc != 0)
        lab_say(o, "%s, %d workers, %ld updates: %s", backend, a->W, a->updates, res.error);
    else
        *s = *(lr_slot *)job_result_slot(&res, 0);
    job_result_free(&res);
    return rc ? -1 : 0;
}

typedef struct lr_ctx {
    plugin_ray_async_ps_fn *fn;
    int quick;
} lr_ctx;

static lr_arg make_arg(plugin_ray_async_ps_fn *fn, int W, long updates, int straggler)
{
    lr_arg a = {.loop = fn, .W = W, .updates = updates};
    for (int w = 0; w < W; w++)
        a.call_s[w] = 1e-3 * (w == straggler ? 4 : 1);
    return a;
}

/* The run's protocol: the loop returned RT_OK, applied exactly `updates`
 * gradients, and the server saw no error. Returns 1 when all hold. */
static int protocol_ok(outcome *o, const char *backend, const lr_arg *a, const lr_slot *s)
{
    int ok = 1;
    if (s->loop_rc) {
        lab_say(o, "%s, %d workers, %ld updates: the loop returned %d (%s): %s", backend, a->W, a->updates,
                s->loop_rc, rt_strerror(s->loop_rc), s->loop_err);
        ok = 0;
    }
    if (s->report.applied != a->updates) {
        lab_say(o, "%s, %d workers: %ld gradients applied, expected %ld", backend, a->W,
                s->report.applied, a->updates);
        ok = 0;
    }
    if (s->report.bad) {
        lab_say(o, "%s, %d workers: %s (%ld protocol errors)", backend, a->W, s->report.first_bad,
                s->report.bad);
        ok = 0;
    }
    return ok;
}

/* ---- the checks ---- */

static void check_protocol(outcome *o, const void *ctxp)
{
    const lr_ctx *c = ctxp;
    static const int Ws[] = {1, 2, 4, 0};
    o->ok = 1;
    for (const int *W = Ws; *W; W++) {
        lr_arg a = make_arg(c->fn, *W, c->quick ? 10L * *W : 40, -1);
        lr_slot s;
        if (lr_run(o, &a, "sim", &s) != 0 || !protocol_ok(o, "sim", &a, &s))
            o->ok = 0;
    }
}

static void check_few_updates(outcome *o, const void *ctxp)
{
    const lr_ctx *c = ctxp;
    static const long updates[] = {0, 1, 2, 5, -1};
    o->ok = 1;
    for (const long *u = updates; *u >= 0; u++) {
        lr_arg a = make_arg(c->fn, 3, *u, -1);
        lr_slot s;
        if (lr_run(o, &a, "sim", &s) != 0 || !protocol_ok(o, "sim", &a, &s))
            o->ok = 0;
    }
}

static void check_straggler(outcome *o, const void *ctxp)
{
    const lr_ctx *c = ctxp;
    lr_arg a = make_arg(c->fn, 4, 52, 1), ref = make_arg(reference_loop, 4, 52, 1);
    lr_slot s, rs;
    o->ok = 0;
    if (lr_run(o, &a, "sim", &s) != 0 || lr_run(o, &ref, "sim", &rs) != 0 || !protocol_ok(o, "sim", &a, &s))
        return;
    const long *n = s.report.per_worker;
    long fast_min = n[0], fast_max = n[0];
    for (int w = 2; w < 4; w++) {
        fast_min = n[w] < fast_min ? n[w] : fast_min;
        fast_max = n[w] > fast_max ? n[w] : fast_max;
    }
    lab_say(o, "gradients applied: workers 0, 2, 3 (1 ms a call) %ld, %ld, %ld; worker 1 (4 ms) %ld", n[0],
            n[2], n[3], n[1]);
    lab_say(o, "the loop took %.2f ms simulated; the reference loop %.2f ms", 1e3 * s.seconds,
            1e3 * rs.seconds);
    o->ok = 1;
    if (2 * fast_min < fast_max) {
        lab_say(o, "workers as fast as each other had very different shares: some gradients sat ready "
                "and unapplied (wait on every gradient in flight, and resubmit each worker once its "
                "gradient is applied)");
        o->ok = 0;
    } else if (!(2 * n[1] <= fast_min)) {
        lab_say(o, "the straggler had as many gradients applied as the others: the loop waits for "
                "it (wait for the first gradient ready, not for all, nor in worker order)");
        o->ok = 0;
    }
    if (!(s.seconds <= 1.1 * rs.seconds + 1e-4)) {
        lab_say(o, "and it took longer than the reference loop: does it wait for more than the first?");
        o->ok = 0;
    }
}

static void check_released(outcome *o, const void *ctxp)
{
    const lr_ctx *c = ctxp;
    lr_arg a = make_arg(c->fn, 4, c->quick ? 40 : 80, -1);
    lr_slot s;
    o->ok = 0;
    if (lr_run(o, &a, "sim", &s) != 0 || !protocol_ok(o, "sim", &a, &s))
        return;
    long objects = (long)(s.store_bytes / sizeof(lr_grad)); /* the larger of the two */
    o->ok = objects <= a.W;
    lab_say(o, "after %ld updates node 0's store holds %ld objects (%llu bytes)%s", a.updates, objects,
            (unsigned long long)s.store_bytes,
            o->ok ? "" : ": release each gradient once its apply is submitted, and the weights once "
                         "a newer version replaces them");
}

static uint64_t weights_hash(const lr_weights *w)
{
    return fnv1a64(w->w, sizeof w->w);
}

static void check_one_worker_bits(outcome *o, const void *ctxp)
{
    const lr_ctx *c = ctxp;
    lr_arg a = make_arg(c->fn, 1, 25, -1), ref = make_arg(reference_loop, 1, 25, -1);
    lr_slot s, t, rs;
    o->ok = 0;
    if (lr_run(o, &a, "sim", &s) != 0 || lr_run(o, &a, "threads", &t) != 0 ||
        lr_run(o, &ref, "sim", &rs) != 0 || !protocol_ok(o, "sim", &a, &s) ||
        !protocol_ok(o, "threads", &a, &t))
        return;
    uint64_t hs = weights_hash(&s.report.last), ht = weights_hash(&t.report.last),
             hr = weights_hash(&rs.report.last);
    o->ok = hs == hr && ht == hr;
    if (!o->ok)
        lab_say(o, "final weights %016llx (sim), %016llx (threads), the reference loop's %016llx",
                (unsigned long long)hs, (unsigned long long)ht, (unsigned long long)hr);
}

static void check_real(outcome *o, const void *ctxp)
{
    const lr_ctx *c = ctxp;
    lr_arg a = make_arg(c->fn, 3, c->quick ? 15 : 30, 2);
    lr_slot s;
    o->ok = lr_run(o, &a, "threads", &s) == 0 && protocol_ok(o, "threads", &a, &s);
}

int lab_check_ray_ps(const lab_checker *lab, const char *file, int quick)
{
    tap t = {0, 0};
    static const lab_case checks[] = {
        {check_protocol, "1, 2 and 4 workers: every gradient applied once, each worker handed the "
                         "weights its gradient's apply returned", 0},
        {check_few_updates, "3 workers, 0, 1, 2 and 5 updates: exactly that many applied", 0},
        {check_straggler, "one worker 4x slower: the others go on without it", 1},
        {check_released, "every reference released: node 0's store empty after the loop", 1},
        {check_one_worker_bits, "one worker: the reference loop's weights, bit for bit, in simulation "
                                "and on real threads", 0},
        {check_real, "on real sockets (threads), 3 workers and a straggler: the protocol holds", 0},
    };
    int nchecks = (int)(sizeof checks / sizeof *checks);
    printf("TAP version 13\n1..%d\n", nchecks + 1);
    char err[1024];
    static const char *const theirs[] = {"ray_ps_rank", NULL};
    plugin_ray_async_ps_fn *fn = (plugin_ray_async_ps_fn *)cli_plugin_load(file, lab->symbol, theirs, err,
                                                                           sizeof err);
    lab_tap_line(&t, fn != NULL, "%s builds and defines %s", file, lab->symbol);
    if (!fn)
        lab_tap_diag(err);
    lr_ctx ctx = {fn, quick};
    lab_run_cases(&t, checks, nchecks, &ctx, fn != NULL);
    return lab_score(&t, lab, file);
}
