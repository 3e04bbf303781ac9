/* test_ray.c -- Ray's programming model (algorithms/ray.h) on sim and on
 * real threads (two on real processes too): futures as arguments, nested tasks, wait k-of-n with a
 * timeout, actor method order, errors that name the function and rank,
 * large objects fetched from the store that made them and freed after,
 * the same results on both backends, size-only objects (a ring of
 * actors at the time of one with data), and in simulation a node that dies
 * (--fail): lost results rebuilt by lineage, actors restarted, and the
 * errors when neither can be; the scheduler's hybrid policy spreading
 * at half busy and a full node spilling a task it was sent.
 *
 * The driver (rank 0) never asserts: it writes what it saw into its
 * result slot, and each check asserts on the slots after the job.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "algorithms/ray.h"
#include "algorithms/ray_allreduce.h"
#include "core/job.h"
#include "real/real_backend.h"
#include "sim/sim_backend.h"

typedef struct slot {
    ray_stats st;
    int errors;        /* what the driver saw go wrong */
    char what[300];    /* the first of them */
    double value[8];   /* numbers the check compares */
    char msg[400];     /* an error message the check reads */
} slot;

static void violation(ray *ry, const char *fmt, ...)
{
    slot *s = rt_slot(ray_rt(ry));
    if (s->errors++ == 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(s->what, sizeof s->what, fmt, ap);
        va_end(ap);
    }
}

static slot *my_slot(ray *ry)
{
    return rt_slot(ray_rt(ry));
}

typedef enum { ON_SIM, ON_THREADS, ON_PROCS } where;

static int rank_main(rt *r, void *arg)
{
    slot *s = rt_slot(r);
    return ray_main(r, arg, &s->st);
}

static void run_on(where w, int ranks, ray_program *prog, job_result *res)
{
    static real_config threads;
    threads = real_config_default();
    if (w == ON_PROCS)
        threads.launch = REAL_LAUNCH_PROCS;
    job_config cfg = w == ON_SIM ? sim_job_config(NULL) : real_job_config(&threads);
    cfg.ranks = ranks;
    cfg.result_bytes = sizeof(slot);
    cfg.timeout_s = 60;
    if (job_run(&cfg, rank_main, prog, res) != 0)
        fail_msg("job failed: %s", res->error);
    slot *s0 = job_result_slot(res, 0);
    if (s0->errors)
        fail_msg("driver saw %d problem(s); first: %s", s0->errors, s0->what);
}

/* In simulation, with node `dead` failing at `at_s`: only that rank may
 * fail, and the driver must not have seen anything go wrong. */
static void run_failing(int ranks, ray_program *prog, int dead, double at_s, job_result *res)
{
    static sim_config sim;
    sim = sim_config_default();
    sim.nfaults = 1;
    sim.faults[0] = (sim_fault){.kind = SIM_FAULT_FAIL, .rank = dead, .at_s = at_s};
    job_config cfg = sim_job_config(&sim);
    cfg.ranks = ranks;
    cfg.result_bytes = sizeof(slot);
    if (job_run(&cfg, rank_main, prog, res) == 0)
        fail_msg("node %d was to fail at %g s, but the job ended without a failure", dead, at_s);
    for (int i = 0; i < ranks; i++)
        if (i != dead && res->rank_status[i] != RT_OK)
            fail_msg("rank %d failed too (%s): %s", i, rt_strerror(res->rank_status[i]), res->error);
    slot *s0 = job_result_slot(res, 0);
    if (s0->errors)
        fail_msg("driver saw %d problem(s); first: %s", s0->errors, s0->what);
}

static double as_double(const void *p)
{
    double v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* ---- remote functions ---- */

static int f_add(ray *ry, int nargs, const ray_arg *a)
{
    double s = 0;
    for (int i = 0; i < nargs; i++)
        s += as_double(a[i].data);
    return ray_return(ry, &s, sizeof s);
}

static int f_where(ray *ry, int nargs, const ray_arg *a)
{
    (void)nargs;
    (void)a;
    double me = ray_node(ry);
    return ray_return(ry, &me, sizeof me);
}

/* fib(n) by nested tasks: each submits and gets its two halves */
static int f_fib(ray *ry, int nargs, const ray_arg *a)
{
    (void)nargs;
    double n = as_double(a[0].data);
    if (n < 2)
        return ray_return(ry, &n, sizeof n);
    double n1 = n - 1, n2 = n - 2;
    ray_ref x, y;
    int rc = ray_submit(ry, "fib", 1, (ray_in[]){ray_val(&n1, 8)}, NULL, &x);
    if (!rc)
        rc = ray_submit(ry, "fib", 1, (ray_in[]){ray_val(&n2, 8)}, NULL, &y);
    const void *dx, *dy;
    size_t bx, by;
    if (!rc)
        rc = ray_get(ry, x, &dx, &bx);
    if (!rc)
        rc = ray_get(ry, y, &dy, &by);
    if (rc)
        return rc;
    double v = as_double(dx) + as_double(dy);
    ray_release(ry, x);
    ray_release(ry, y);
    return ray_return(ry, &v, sizeof v);
}

static int f_sleep(ray *ry, int nargs, const ray_arg *a)
{
    (void)nargs;
    int rc = ray_sleep(ry, as_double(a[0].data));
    return rc ? rc : ray_return(ry, a[0].data, 8);
}

static int f_boom(ray *ry, int nargs, const ray_arg *a)
{
    (void)nargs;
    (void)a;
    return ray_raise(ry, "bad input %d", 42);
}

/* a vector of n doubles, v[i] = seed + i */
static int f_make(ray *ry, int nargs, const ray_arg *a)
{
    (void)nargs;
    double seed = as_double(a[0].data);
    size_t n = (size_t)as_double(a[1].data);
    double *v = malloc(n * sizeof *v);
    if (!v)
        return ray_raise(ry, "no memory");
    for (size_t i = 0; i < n; i++)
        v[i] = seed + (double)i;
    int rc = ray_return(ry, v, n * sizeof *v);
    free(v);
    return rc;
}

/* twice(v): every element doubled */
static int f_twice(ray *ry, int nargs, const ray_arg *a)
{
    (void)nargs;
    size_t n = a[0].bytes / sizeof(double);
    double *v = malloc((n ? n : 1) * sizeof *v);
    if (!v)
        return ray_raise(ry, "no memory");
    memcpy(v, a[0].data, n * sizeof *v);
    for (size_t i = 0; i < n; i++)
        v[i] *= 2;
    int rc = ray_return(ry, v, n * sizeof *v);
    free(v);
    return rc;
}

/* die(node): that node's process ends here, as a crash would (procs
 * only); elsewhere (the task run again) it returns */
static int f_die(ray *ry, int nargs, const ray_arg *a)
{
    (void)nargs;
    int node;
    memcpy(&node, a[0].data, sizeof node);
    if (ray_node(ry) == node)
        _exit(3);
    return RT_OK;
}

static int f_sum(ray *ry, int nargs, const ray_arg *a)
{
    double s = 0;
    for (int k = 0; k < nargs; k++) {
        const double *v = a[k].data;
        for (size_t i = 0; i < a[k].bytes / sizeof *v; i++)
            s += v[i];
    }
    return ray_return(ry, &s, sizeof s);
}

/* ---- an actor: a log of (caller, sequence) pairs ---- */

enum { LOG_MAX = 256 };
typedef struct logger {
    int n, in_method, overlaps;
    double entry[LOG_MAX];
} logger;

static int log_init(ray *ry, void *state, int nargs, const ray_arg *a)
{
    (void)ry;
    logger *l = state;
    l->n = nargs ? (int)as_double(a[0].data) : 0; /* start count */
    return RT_OK;
}

/* append(x): record x; yields inside (a sleep), so a second method that
 * ran now would overlap and be counted */
static int log_append(ray *ry, void *state, int nargs, const ray_arg *a)
{
    (void)nargs;
    logger *l = state;
    if (l->in_method++)
        l->overlaps++;
    int rc = ray_sleep(ry, 1e-4);
    if (l->n < LOG_MAX)
        l->entry[l->n++] = as_double(a[0].data);
    l->in_method--;
    return rc;
}

static int log_dump(ray *ry, void *state, int nargs, const ray_arg *a)
{
    (void)nargs;
    (void)a;
    logger *l = state;
    double out[LOG_MAX + 2];
    out[0] = l->n;
    out[1] = l->overlaps;
    memcpy(out + 2, l->entry, (size_t)l->n * sizeof(double));
    return ray_return(ry, out, (size_t)(l->n + 2) * sizeof(double));
}

static int log_fail(ray *ry, void *state, int nargs, const ray_arg *a)
{
    (void)state;
    (void)nargs;
    (void)a;
    return ray_raise(ry, "method refused");
}

/* nap(seconds): a long call, to be in flight when a node dies */
static int log_nap(ray *ry, void *state, int nargs, const ray_arg *a)
{
    (void)state;
    (void)nargs;
    return ray_sleep(ry, as_double(a[0].data));
}

static const ray_method log_methods[] = {
    {"append", log_append}, {"dump", log_dump}, {"fail", log_fail}, {"nap", log_nap}};

static int bad_init(ray *ry, void *state, int nargs, const ray_arg *a)
{
    (void)state;
    (void)nargs;
    (void)a;
    return ray_raise(ry, "cannot start");
}

/* a holder keeps a reference it was handed inside a value */
typedef struct holder {
    ray_ref x;
} holder;

static int hold_keep(ray *ry, void *state, int nargs, const ray_arg *a)
{
    (void)nargs;
    holder *h = state;
    memcpy(&h->x, a[0].data, sizeof h->x);
    return ray_borrow(ry, h->x);
}

/* use(): the sum of the held vector, fetched now */
static int hold_use(ray *ry, void *state, int nargs, const ray_arg *a)
{
    (void)nargs;
    (void)a;
    holder *h = state;
    const void *d;
    size_t b;
    int rc = ray_get(ry, h->x, &d, &b);
    if (rc)
        return rc;
    double s = 0;
    for (size_t i = 0; i < b / sizeof s; i++)
        s += ((const double *)d)[i];
    return ray_return(ry, &s, sizeof s);
}

static int hold_drop(ray *ry, void *state, int nargs, const ray_arg *a)
{
    (void)nargs;
    (void)a;
    ray_release(ry, ((holder *)state)->x);
    return RT_OK;
}

/* lend(other): hand the held reference on to another holder, which
 * keeps it (a borrower lending what it borrowed) */
static int hold_lend(ray *ry, void *state, int nargs, const ray_arg *a)
{
    (void)nargs;
    holder *h = state;
    ray_actor other;
    memcpy(&other, a[0].data, sizeof other);
    ray_ref r;
    const void *d;
    size_t b;
    int rc = ray_call(ry, other, "keep", 1, (ray_in[]){ray_val_refs(&h->x, sizeof h->x, &h->x, 1)}, &r);
    if (!rc)
        rc = ray_get(ry, r, &d, &b);
    ray_release(ry, r);
    return rc;
}

static const ray_method hold_methods[] = {
    {"keep", hold_keep}, {"use", hold_use}, {"drop", hold_drop}, {"lend", hold_lend}};

static const ray_class classes[] = {
    {"logger", sizeof(logger), log_init, NULL, log_methods, 4},
    {"broken", 8, bad_init, NULL, log_methods, 4},
    {"holder", sizeof(holder), NULL, NULL, hold_methods, 4},
};

/* a task that is handed an actor handle and calls it: caller 2's entries
 * are 2000 + i */
static int f_caller(ray *ry, int nargs, const ray_arg *a)
{
    (void)nargs;
    ray_actor h;
    memcpy(&h, a[0].data, sizeof h);
    int n = (int)as_double(a[1].data), rc = RT_OK;
    ray_ref last = 0;
    for (int i = 0; i < n && !rc; i++) {
        double x = 2000 + i;
        if (last)
            ray_release(ry, last);
        rc = ray_call(ry, h, "append", 1, (ray_in[]){ray_val(&x, 8)}, &last);
    }
    const void *d;
    size_t b;
    if (!rc) /* its calls are done when the last one is */
        rc = ray_get(ry, last, &d, &b);
    return rc;
}

/* where a task it submits for the scheduler to place runs */
static int f_where_placed(ray *ry, int nargs, const ray_arg *a)
{
    (void)nargs;
    (void)a;
    ray_ref x;
    const void *d;
    size_t b;
    int rc = ray_submit(ry, "where", 0, NULL, NULL, &x);
    if (!rc)
        rc = ray_get(ry, x, &d, &b);
    if (!rc)
        rc = ray_return(ry, d, b);
    ray_release(ry, x);
    return rc;
}

static const ray_function functions[] = {
    {"add", f_add},   {"where", f_where}, {"fib", f_fib},       {"sleep", f_sleep},
    {"boom", f_boom}, {"make", f_make},   {"sum", f_sum},       {"caller", f_caller},
    {"twice", f_twice}, {"die", f_die}, {"where_placed", f_where_placed},
};

static ray_program program(int (*driver)(ray *, void *))
{
    ray_program p = {functions, sizeof functions / sizeof *functions, classes,
                     sizeof classes / sizeof *classes, driver, NULL, ray_config_default()};
    return p;
}

static double get_double(ray *ry, ray_ref ref, int *rc)
{
    const void *d;
    size_t b;
    *rc = ray_get(ry, ref, &d, &b);
    if (*rc)
        return -1;
    if (b != sizeof(double)) {
        violation(ry, "a result of %zu bytes, not 8", b);
        return -1;
    }
    return as_double(d);
}

/* ---- futures as arguments ---- */

static int drv_futures(ray *ry, void *arg)
{
    (void)arg;
    slot *s = my_slot(ry);
    double one = 1, two = 2, three = 3, four = 4;
    ray_ref a, b, c, chain;
    int rc = ray_submit(ry, "add", 2, (ray_in[]){ray_val(&one, 8), ray_val(&two, 8)}, NULL, &a);
    if (!rc)
        rc = ray_submit(ry, "add", 2, (ray_in[]){ray_val(&three, 8), ray_val(&four, 8)}, NULL, &b);
    /* c is submitted before a and b are ready: the runtime resolves them */
    if (!rc)
        rc = ray_submit(ry, "add", 2, (ray_in[]){ray_fut(a), ray_fut(b)}, NULL, &c);
    /* a chain of 20 dependent tasks, each on whichever node */
    chain = c;
    for (int i = 0; i < 20 && !rc; i++) {
        ray_ref next;
        rc = ray_submit(ry, "add", 2, (ray_in[]){ray_fut(chain), ray_val(&one, 8)}, NULL, &next);
        if (chain != c)
            ray_release(ry, chain);
        chain = next;
    }
    /* fan-in: 16 futures into one task */
    ray_ref parts[16], total;
    ray_in in[16];
    for (int i = 0; i < 16 && !rc; i++) {
        double v = i;
        rc = ray_submit(ry, "add", 1, (ray_in[]){ray_val(&v, 8)}, NULL, &parts[i]);
        in[i] = ray_fut(parts[i]);
    }
    if (!rc)
        rc = ray_submit(ry, "add", 16, in, NULL, &total);
    if (rc)
        return rc;
    s->value[0] = get_double(ry, c, &rc);
    if (!rc)
        s->value[1] = get_double(ry, chain, &rc);
    if (!rc)
        s->value[2] = get_double(ry, total, &rc);
    /* tasks spread: count the nodes 8 concurrent tasks ran on */
    ray_ref w[8];
    for (int i = 0; i < 8 && !rc; i++)
        rc = ray_submit(ry, "where", 0, NULL, NULL, &w[i]);
    int seen[64] = {0}, nodes = 0;
    for (int i = 0; i < 8 && !rc; i++) {
        int n = (int)get_double(ry, w[i], &rc);
        if (!rc && n >= 0 && n < 64 && !seen[n]++)
            nodes++;
    }
    s->value[3] = nodes;
    return rc;
}

static void check_futures(where w)
{
    ray_program p = program(drv_futures);
    job_result res;
    run_on(w, 4, &p, &res);
    slot *s = job_result_slot(&res, 0);
    assert_true(s->value[0] == 10);
    assert_true(s->value[1] == 30);
    assert_true(s->value[2] == 120);
    assert_true(s->value[3] >= 2); /* the hybrid policy spread them */
    uint64_t run = 0, submitted = 0;
    for (int i = 0; i < 4; i++) {
        slot *si = job_result_slot(&res, i);
        run += si->st.tasks_run;
        submitted += si->st.tasks_submitted;
    }
    assert_int_equal(submitted, 3 + 20 + 16 + 1 + 8);
    assert_int_equal(run, submitted);
    job_result_free(&res);
}

/* ---- nested tasks ---- */

static int drv_nested(ray *ry, void *arg)
{
    (void)arg;
    double n = 9;
    ray_ref x;
    int rc = ray_submit(ry, "fib", 1, (ray_in[]){ray_val(&n, 8)}, NULL, &x);
    if (!rc)
        my_slot(ry)->value[0] = get_double(ry, x, &rc);
    return rc;
}

static void check_nested(where w)
{
    ray_program p = program(drv_nested);
    job_result res;
    run_on(w, 3, &p, &res);
    assert_true(((slot *)job_result_slot(&res, 0))->value[0] == 34);
    uint64_t run = 0;
    int nodes = 0;
    for (int i = 0; i < 3; i++) {
        uint64_t k = ((slot *)job_result_slot(&res, i))->st.tasks_run;
        run += k;
        nodes += k > 0;
    }
    assert_int_equal(run, 109); /* fib calls for n = 9 */
    assert_true(nodes >= 2);
    job_result_free(&res);
}

/* ---- wait: k of n, and a timeout ---- */

static int drv_wait(ray *ry, void *arg)
{
    (void)arg;
    slot *s = my_slot(ry);
    double fast = 0, slow = 1000, one = 1;
    ray_ref r[3];
    /* the slow one sleeps on node 1 until the job ends */
    int rc = ray_submit(ry, "sleep", 1, (ray_in[]){ray_val(&slow, 8)},
                        &(ray_task_opts){.cpus = 1, .node = 1}, &r[0]);
    if (!rc)
        rc = ray_submit(ry, "sleep", 1, (ray_in[]){ray_val(&fast, 8)},
                        &(ray_task_opts){.cpus = 1, .node = 2}, &r[1]);
    if (!rc)
        rc = ray_submit(ry, "add", 1, (ray_in[]){ray_val(&one, 8)},
                        &(ray_task_opts){.cpus = 1, .node = 3}, &r[2]);
    int ready[3], nready = -1;
    if (!rc)
        rc = ray_wait(ry, 3, r, 2, -1, ready, &nready);
    if (!rc && (nready != 2 || ready[0] || !ready[1] || !ready[2]))
        violation(ry, "wait 2 of 3: %d ready (%d %d %d)", nready, ready[0], ready[1], ready[2]);
    double t0 = rt_now(ray_rt(ry));
    if (!rc)
        rc = ray_wait(ry, 3, r, 3, 0.2, ready, &nready);
    s->value[0] = rt_now(ray_rt(ry)) - t0;
    if (!rc && (nready != 2 || ready[0]))
        violation(ry, "wait 3 of 3 with a timeout: %d ready, slow one %d", nready, ready[0]);
    if (!rc && ray_wait(ry, 3, r, 4, 0, ready, &nready) != RT_EINVAL)
        violation(ry, "wait for 4 of 3 was taken");
    return rc;
}

static void check_wait(where w)
{
    ray_program p = program(drv_wait);
    job_result res;
    run_on(w, 4, &p, &res);
    double waited = ((slot *)job_result_slot(&res, 0))->value[0];
    assert_true(waited >= 0.2 - 1e-9);
    if (w == ON_SIM) /* the timeout is exact on a simulated clock */
        assert_true(waited < 0.2 + 1e-6);
    job_result_free(&res);
}

/* ---- actors: one method at a time, each caller's order kept ---- */

static int drv_actor(ray *ry, void *arg)
{
    (void)arg;
    slot *s = my_slot(ry);
    ray_actor h;
    double start = 0, n = 60;
    int rc = ray_actor_create(ry, "logger", 1, (ray_in[]){ray_val(&start, 8)},
                              &(ray_task_opts){.cpus = 0, .node = 1}, &h);
    ray_ref other = 0;
    /* a task on node 2 gets the handle and calls it too */
    if (!rc)
        rc = ray_submit(ry, "caller", 2, (ray_in[]){ray_val(&h, sizeof h), ray_val(&n, 8)},
                        &(ray_task_opts){.cpus = 1, .node = 2}, &other);
    ray_ref last = 0;
    for (int i = 0; i < 60 && !rc; i++) {
        double x = 1000 + i;
        if (last)
            ray_release(ry, last);
        rc = ray_call(ry, h, "append", 1, (ray_in[]){ray_val(&x, 8)}, &last);
    }
    const void *d;
    size_t b;
    if (!rc)
        rc = ray_get(ry, other, &d, &b);
    if (!rc)
        rc = ray_get(ry, last, &d, &b);
    ray_ref dump;
    if (!rc)
        rc = ray_call(ry, h, "dump", 0, NULL, &dump);
    if (!rc)
        rc = ray_get(ry, dump, &d, &b);
    if (rc)
        return rc;
    const double *v = d;
    s->value[0] = v[0]; /* entries */
    s->value[1] = v[1]; /* overlaps */
    double next[2] = {1000, 2000};
    for (int i = 0; i < (int)v[0]; i++) {
        double x = v[2 + i];
        int c = x >= 2000;
        if (x != next[c])
            violation(ry, "entry %d is %g, caller %d expected %g", i, x, c + 1, next[c]);
        next[c] = x + 1;
    }
    /* a method's error names the actor, the method and the rank */
    ray_ref bad;
    rc = ray_call(ry, h, "fail", 0, NULL, &bad);
    if (!rc && ray_get(ry, bad, &d, &b) != RAY_ETASK)
        violation(ry, "a failing method's get did not fail");
    snprintf(s->msg, sizeof s->msg, "%s", rt_error(ray_rt(ry)));
    /* a constructor's error reaches every call */
    ray_actor broken;
    rc = ray_actor_create(ry, "broken", 0, NULL, NULL, &broken);
    ray_ref call;
    if (!rc)
        rc = ray_call(ry, broken, "dump", 0, NULL, &call);
    if (!rc && ray_get(ry, call, &d, &b) != RAY_ETASK)
        violation(ry, "a call on an actor whose constructor failed did not fail");
    if (!strstr(rt_error(ray_rt(ry)), "actor 'broken' constructor on rank"))
        violation(ry, "constructor error: %s", rt_error(ray_rt(ry)));
    return RT_OK;
}

static void check_actor(where w)
{
    ray_program p = program(drv_actor);
    job_result res;
    run_on(w, 3, &p, &res);
    slot *s = job_result_slot(&res, 0);
    assert_true(s->value[0] == 120);
    assert_true(s->value[1] == 0);
    assert_non_null(strstr(s->msg, "actor 'logger' method 'fail' on rank 1: method refused"));
    assert_int_equal(((slot *)job_result_slot(&res, 1))->st.actor_calls, 122);
    job_result_free(&res);
}

/* ---- errors reach whoever gets the result ---- */

static int drv_error(ray *ry, void *arg)
{
    (void)arg;
    slot *s = my_slot(ry);
    double one = 1;
    ray_ref bad, dep;
    const void *d;
    size_t b;
    int rc = ray_submit(ry, "boom", 0, NULL, &(ray_task_opts){.cpus = 1, .node = 2}, &bad);
    if (!rc)
        rc = ray_submit(ry, "add", 2, (ray_in[]){ray_fut(bad), ray_val(&one, 8)}, NULL, &dep);
    if (rc)
        return rc;
    if (ray_get(ry, dep, &d, &b) != RAY_ETASK)
        violation(ry, "get of a task fed by a failed one did not fail");
    snprintf(s->msg, sizeof s->msg, "%s", rt_error(ray_rt(ry)));
    if (ray_get(ry, bad, &d, &b) != RAY_ETASK || !strstr(rt_error(ray_rt(ry)), "bad input 42"))
        violation(ry, "get of the failed task: %s", rt_error(ray_rt(ry)));
    if (ray_submit(ry, "nosuch", 0, NULL, NULL, &dep) != RT_EINVAL ||
        !strstr(rt_error(ray_rt(ry)), "no remote function 'nosuch'"))
        violation(ry, "an unknown function was taken");
    if (ray_submit(ry, "add", 0, NULL, &(ray_task_opts){.cpus = 2, .node = -1}, &dep) != RT_EINVAL)
        violation(ry, "2 cpus on 1-cpu nodes was taken");
    return RT_OK;
}

static void check_error(where w)
{
    ray_program p = program(drv_error);
    job_result res;
    run_on(w, 3, &p, &res);
    slot *s = job_result_slot(&res, 0);
    assert_non_null(strstr(s->msg, "task 'boom' on rank 2: bad input 42"));
    assert_int_equal(((slot *)job_result_slot(&res, 2))->st.tasks_failed, 1);
    job_result_free(&res);
}

/* ---- large objects: in the maker's store, fetched, then freed ---- */

enum { BIG_N = 8192 }; /* 64 KiB of doubles, above a 1 KiB threshold */

static int drv_large(ray *ry, void *arg)
{
    (void)arg;
    slot *s = my_slot(ry);
    double seed = 1, n = BIG_N, small_n = 4;
    ray_ref big, small, sum;
    int rc = ray_submit(ry, "make", 2, (ray_in[]){ray_val(&seed, 8), ray_val(&n, 8)},
                        &(ray_task_opts){.cpus = 1, .node = 1}, &big);
    if (!rc)
        rc = ray_submit(ry, "make", 2, (ray_in[]){ray_val(&seed, 8), ray_val(&small_n, 8)},
                        &(ray_task_opts){.cpus = 1, .node = 1}, &small);
    /* the sum runs on node 2: the body crosses from node 1's store */
    if (!rc)
        rc = ray_submit(ry, "sum", 2, (ray_in[]){ray_fut(big), ray_fut(small)},
                        &(ray_task_opts){.cpus = 1, .node = 2}, &sum);
    if (!rc)
        s->value[0] = get_double(ry, sum, &rc);
    const void *d;
    size_t b;
    if (!rc)
        rc = ray_get(ry, big, &d, &b); /* and to the driver's node */
    if (!rc) {
        const double *v = d;
        s->value[1] = (double)b;
        s->value[2] = v[BIG_N - 1];
    }
    /* a large argument given by value is put in the store first */
    double *local = calloc(BIG_N, sizeof *local);
    if (!local)
        return RT_ENOMEM;
    for (int i = 0; i < BIG_N; i++)
        local[i] = 2;
    ray_ref sum2;
    if (!rc)
        rc = ray_submit(ry, "sum", 1, (ray_in[]){ray_val(local, BIG_N * sizeof *local)},
                        &(ray_task_opts){.cpus = 1, .node = 2}, &sum2);
    free(local);
    if (!rc)
        s->value[3] = get_double(ry, sum2, &rc);
    ray_release(ry, big);
    ray_release(ry, small);
    ray_release(ry, sum);
    ray_release(ry, sum2);
    return rc;
}

static void check_large(where w)
{
    ray_program p = program(drv_large);
    p.cfg.inline_bytes = 1024;
    job_result res;
    run_on(w, 3, &p, &res);
    slot *s0 = job_result_slot(&res, 0), *s1 = job_result_slot(&res, 1),
         *s2 = job_result_slot(&res, 2);
    double want = BIG_N * 1.0 + (double)BIG_N * (BIG_N - 1) / 2 + 4 * 1.0 + 6;
    assert_true(s0->value[0] == want);
    assert_true(s0->value[1] == BIG_N * sizeof(double));
    assert_true(s0->value[2] == BIG_N);
    assert_true(s0->value[3] == 2.0 * BIG_N);
    assert_int_equal(s1->st.objects_stored, 1); /* the big result; the small went inline */
    assert_int_equal(s0->st.objects_stored, 1); /* the argument put by the driver */
    assert_int_equal(s2->st.objects_fetched, 2);
    assert_int_equal(s2->st.bytes_fetched, 2 * BIG_N * sizeof(double));
    assert_int_equal(s0->st.objects_fetched, 1);
    for (int i = 0; i < 3; i++) { /* every copy freed once released */
        slot *si = job_result_slot(&res, i);
        if (si->st.store_bytes != 0)
            fail_msg("node %d still stores %llu bytes", i, (unsigned long long)si->st.store_bytes);
    }
    assert_int_equal(s0->st.objects_freed + s1->st.objects_freed + s2->st.objects_freed, 5);
    job_result_free(&res);
}

/* The driver returns while a node is still to fetch a value from the
 * driver's store: the value's VALUE reaches node 1 just before the
 * driver ends, and node 1's FETCH arrives after node 0's BYE. The store
 * then answers nothing (it used to send the body with no reply ahead of
 * it, and the simulation died of a link failure at the end). */
static int drv_late_fetch(ray *ry, void *arg)
{
    (void)arg;
    double seed = 1, n = BIG_N, zero = 0, nap = 1e-3;
    ray_ref slow, big, twice, quick;
    /* node 1's RESOLVE of big arrives while node 0 naps */
    int rc = ray_submit(ry, "sleep", 1, (ray_in[]){ray_val(&nap, 8)}, &(ray_task_opts){.cpus = 1, .node = 0},
                        &slow);
    if (!rc)
        rc = ray_submit(ry, "make", 2, (ray_in[]){ray_val(&seed, 8), ray_val(&n, 8)},
                        &(ray_task_opts){.cpus = 1, .node = 0}, &big);
    if (!rc)
        rc = ray_submit(ry, "twice", 1, (ray_in[]){ray_fut(big)}, &(ray_task_opts){.cpus = 1, .node = 1},
                        &twice);
    if (!rc)
        rc = ray_submit(ry, "add", 2, (ray_in[]){ray_val(&zero, 8), ray_val(&zero, 8)},
                        &(ray_task_opts){.cpus = 1, .node = 0}, &quick);
    if (!rc)
        get_double(ry, quick, &rc); /* node 0 runs sleep, make, then add */
    ray_release(ry, slow);
    ray_release(ry, big);
    ray_release(ry, twice);
    ray_release(ry, quick);
    return rc;
}

static void check_late_fetch(where w)
{
    ray_program p = program(drv_late_fetch);
    p.cfg.inline_bytes = 1024;
    job_result res;
    run_on(w, 2, &p, &res);
    job_result_free(&res);
}

/* ---- the same results on both backends ---- */

static int drv_same(ray *ry, void *arg)
{
    (void)arg;
    slot *s = my_slot(ry);
    ray_ref layer[8];
    int rc = RT_OK;
    for (int i = 0; i < 8 && !rc; i++) {
        double seed = 0.1 * i, n = 300 + 37 * i;
        rc = ray_submit(ry, "make", 2, (ray_in[]){ray_val(&seed, 8), ray_val(&n, 8)}, NULL,
                        &layer[i]);
    }
    ray_ref sums[4];
    for (int i = 0; i < 4 && !rc; i++)
        rc = ray_submit(ry, "sum", 2, (ray_in[]){ray_fut(layer[2 * i]), ray_fut(layer[2 * i + 1])},
                        NULL, &sums[i]);
    ray_ref total;
    if (!rc)
        rc = ray_submit(ry, "add", 4,
                        (ray_in[]){ray_fut(sums[0]), ray_fut(sums[1]), ray_fut(sums[2]),
                                   ray_fut(sums[3])},
                        NULL, &total);
    if (!rc)
        s->value[0] = get_double(ry, total, &rc);
    double n = 8;
    ray_ref f;
    if (!rc)
        rc = ray_submit(ry, "fib", 1, (ray_in[]){ray_val(&n, 8)}, NULL, &f);
    if (!rc)
        s->value[1] = get_double(ry, f, &rc);
    return rc;
}

static void same_sim_and_threads(void **state)
{
    (void)state;
    double got[2][2];
    for (int w = 0; w < 2; w++) {
        ray_program p = program(drv_same);
        p.cfg.inline_bytes = 2048;
        job_result res;
        run_on(w == 0 ? ON_SIM : ON_THREADS, 4, &p, &res);
        memcpy(got[w], ((slot *)job_result_slot(&res, 0))->value, sizeof got[w]);
        job_result_free(&res);
    }
    assert_memory_equal(got[0], got[1], sizeof got[0]);
    assert_true(got[0][1] == 21);
}

/* ---- a modelled per-task overhead (sim) ---- */

static int drv_overhead(ray *ry, void *arg)
{
    (void)arg;
    double one = 1;
    ray_ref x;
    double t0 = rt_now(ray_rt(ry));
    int rc = ray_submit(ry, "add", 1, (ray_in[]){ray_val(&one, 8)},
                        &(ray_task_opts){.cpus = 1, .node = 1}, &x);
    if (!rc)
        get_double(ry, x, &rc);
    my_slot(ry)->value[0] = rt_now(ray_rt(ry)) - t0;
    return rc;
}

static void overhead_sim(void **state)
{
    (void)state;
    double rtt[2];
    for (int k = 0; k < 2; k++) {
        ray_program p = program(drv_overhead);
        p.cfg.task_overhead_s = k ? 1e-3 : 0;
        job_result res;
        run_on(ON_SIM, 2, &p, &res);
        rtt[k] = ((slot *)job_result_slot(&res, 0))->value[0];
        job_result_free(&res);
    }
    /* 50 us each way without it: the overhead adds exactly its time */
    assert_true(rtt[0] > 0 && rtt[0] < 1e-3);
    assert_true(fabs(rtt[1] - rtt[0] - 1e-3) < 1e-9);
}

/* ---- the scheduler (simulation) ---- */

/* Tasks of one cpu submitted back to back, placed by the scheduler: where
 * each ran (value[i]). */
static int drv_hybrid(ray *ry, void *arg)
{
    (void)arg;
    slot *s = my_slot(ry);
    ray_ref x[6];
    int rc = RT_OK, n = 0;
    for (; n < 6 && !rc; n++)
        rc = ray_submit(ry, "where", 0, NULL, NULL, &x[n]);
    for (int i = 0; i < n && !rc; i++)
        s->value[i] = get_double(ry, x[i], &rc);
    for (int i = 0; i < n; i++)
        ray_release(ry, x[i]);
    return rc;
}

/* Ray's hybrid policy: with 4 cpus a node, the driver's node runs tasks
 * itself until it is half busy (2 cpus), then spreads them; with the
 * threshold at 1 it keeps all 4 it has room for. */
static void hybrid_spreads_at_half_sim(void **state)
{
    (void)state;
    for (int k = 0; k < 2; k++) {
        ray_program p = program(drv_hybrid);
        p.cfg.cpus_per_node = 4;
        p.cfg.spread_threshold = k ? 1.0 : 0.5;
        job_result res;
        run_on(ON_SIM, 4, &p, &res);
        slot *s = job_result_slot(&res, 0);
        int local = 2 + 2 * k;
        for (int i = 0; i < 6; i++)
            if ((i < local) != (s->value[i] == 0))
                fail_msg("threshold %g: task %d ran on node %g; expected the first %d on node 0 "
                         "and no other", p.cfg.spread_threshold, i, s->value[i], local);
        job_result_free(&res);
    }
}

/* Spillback: node 3 is full (a long task pinned there) when node 2,
 * busy itself and knowing no better (it looks at node 3 first), sends it
 * a task; node 3 passes the task on once, to node 1, the one it believes
 * free (the driver's node is busy too, and said so in its message). */
static int drv_spill(ray *ry, void *arg)
{
    (void)arg;
    slot *s = my_slot(ry);
    double nap = 0.1;
    ray_ref hold[2], placed;
    int rc = ray_submit(ry, "sleep", 1, (ray_in[]){ray_val(&nap, 8)},
                        &(ray_task_opts){.cpus = 1, .node = 0}, &hold[0]);
    if (!rc)
        rc = ray_submit(ry, "sleep", 1, (ray_in[]){ray_val(&nap, 8)},
                        &(ray_task_opts){.cpus = 1, .node = 3}, &hold[1]);
    if (!rc)
        rc = ray_submit(ry, "where_placed", 0, NULL, &(ray_task_opts){.cpus = 1, .node = 2},
                        &placed);
    if (!rc)
        s->value[0] = get_double(ry, placed, &rc);
    const void *d;
    size_t b;
    for (int i = 0; i < 2 && !rc; i++)
        rc = ray_get(ry, hold[i], &d, &b);
    return rc;
}

/* ... and without spillback it waits on node 3 */
static void spillback_sim(void **state)
{
    (void)state;
    for (int on = 1; on >= 0; on--) {
        ray_program p = program(drv_spill);
        p.cfg.spillback = on;
        job_result res;
        run_on(ON_SIM, 4, &p, &res);
        slot *s = job_result_slot(&res, 0);
        uint64_t spilled = 0;
        for (int i = 0; i < 4; i++)
            spilled += ((slot *)job_result_slot(&res, i))->st.tasks_spilled;
        uint64_t by3 = ((slot *)job_result_slot(&res, 3))->st.tasks_spilled;
        if (spilled != (uint64_t)on || by3 != spilled || s->value[0] != (on ? 1 : 3))
            fail_msg("spillback %s: %llu task(s) spilled (%llu by node 3), the placed one ran on "
                     "node %g; expected %d by node 3, run on node %d", on ? "on" : "off",
                     (unsigned long long)spilled, (unsigned long long)by3, s->value[0], on,
                     on ? 1 : 3);
        job_result_free(&res);
    }
}

/* ---- a node dies (simulation) ---- */

enum { LOST_AT = 1 }; /* node 2 dies at 1 s; the drivers sleep past it */

/* A result whose only copy was on node 2, made from another result also
 * only there (whose handle the driver let go), is rebuilt from its
 * lineage and equals the original; a task running there is run again. */
static int drv_lineage(ray *ry, void *arg)
{
    (void)arg;
    slot *s = my_slot(ry);
    ray_task_opts on2 = {.cpus = 1, .node = 2}, on1 = {.cpus = 1, .node = 1};
    double seed = 3, n = BIG_N, nap = 5;
    ray_ref a, b, s1, s2, slow;
    int rc = ray_submit(ry, "make", 2, (ray_in[]){ray_val(&seed, 8), ray_val(&n, 8)}, &on2, &a);
    if (!rc)
        rc = ray_submit(ry, "twice", 1, (ray_in[]){ray_fut(a)}, &on2, &b);
    ray_release(ry, a); /* b's lineage keeps it */
    if (!rc) /* node 1 fetches b and sums it: the original's checksum */
        rc = ray_submit(ry, "sum", 1, (ray_in[]){ray_fut(b)}, &on1, &s1);
    if (!rc)
        s->value[0] = get_double(ry, s1, &rc);
    if (!rc) /* still running on node 2 when it dies */
        rc = ray_submit(ry, "sleep", 1, (ray_in[]){ray_val(&nap, 8)}, &on2, &slow);
    if (!rc)
        rc = ray_sleep(ry, 2 * LOST_AT);
    if (!rc && !ray_node_dead(ry, 2))
        violation(ry, "node 2 is not known to be dead after its failure");
    if (!rc) /* node 1 dropped its copy with the primary: b is made again */
        rc = ray_submit(ry, "sum", 1, (ray_in[]){ray_fut(b)}, &on1, &s2);
    if (!rc)
        s->value[1] = get_double(ry, s2, &rc);
    const void *d;
    size_t bytes;
    if (!rc)
        rc = ray_get(ry, b, &d, &bytes);
    if (!rc) {
        double t = 0;
        for (size_t i = 0; i < bytes / sizeof t; i++)
            t += ((const double *)d)[i];
        s->value[2] = t;
    }
    if (!rc)
        s->value[3] = get_double(ry, slow, &rc);
    ray_release(ry, b);
    s->value[4] = rt_now(ray_rt(ry));
    return rc;
}

static void lineage_sim(void **state)
{
    (void)state;
    ray_program p = program(drv_lineage);
    p.cfg.inline_bytes = 1024;
    job_result res;
    run_failing(4, &p, 2, LOST_AT, &res);
    slot *s = job_result_slot(&res, 0);
    double want = 2 * (3.0 * BIG_N + (double)BIG_N * (BIG_N - 1) / 2);
    assert_true(s->value[0] == want);
    assert_true(s->value[1] == want); /* rebuilt: the same bits */
    assert_true(s->value[2] == want);
    assert_true(s->value[3] == 5);    /* the task that ran there, run again */
    assert_true(s->value[4] > 5);     /* ... from the start, after the death */
    assert_int_equal(s->st.reconstructions, 2); /* b, and a through b's lineage */
    assert_int_equal(s->st.tasks_retried, 1);
    assert_int_equal(s->st.nodes_lost, 1);
    for (int i = 0; i < 4; i++) { /* and every copy freed after */
        slot *si = job_result_slot(&res, i);
        if (i != 2 && si->st.store_bytes != 0)
            fail_msg("node %d still stores %llu bytes", i, (unsigned long long)si->st.store_bytes);
    }
    job_result_free(&res);
}

/* On real processes: node 2's process exits inside a task; the task is
 * run again elsewhere once the driver has seen the connection close, and
 * the result whose only copy was on node 2 is rebuilt. */
static int drv_lineage_procs(ray *ry, void *arg)
{
    (void)arg;
    slot *s = my_slot(ry);
    ray_task_opts on2 = {.cpus = 1, .node = 2};
    double seed = 3, n = BIG_N;
    int victim = 2, ready, nready;
    ray_ref a, die;
    const void *d;
    size_t b;
    int rc = ray_submit(ry, "make", 2, (ray_in[]){ray_val(&seed, 8), ray_val(&n, 8)}, &on2, &a);
    if (!rc)
        rc = ray_wait(ry, 1, &a, 1, -1, &ready, &nready);
    if (!rc)
        rc = ray_submit(ry, "die", 1, (ray_in[]){ray_val(&victim, sizeof victim)}, &on2, &die);
    if (!rc)
        rc = ray_get(ry, die, &d, &b);
    if (!rc)
        rc = ray_get(ry, a, &d, &b);
    if (!rc) {
        double t = 0;
        for (size_t i = 0; i < b / sizeof t; i++)
            t += ((const double *)d)[i];
        s->value[0] = t;
    }
    return rc;
}

static void lineage_procs(void **state)
{
    (void)state;
    static real_config procs;
    procs = real_config_default();
    procs.launch = REAL_LAUNCH_PROCS;
    job_config cfg = real_job_config(&procs);
    cfg.ranks = 3;
    cfg.result_bytes = sizeof(slot);
    cfg.timeout_s = 60;
    ray_program p = program(drv_lineage_procs);
    p.cfg.inline_bytes = 1024;
    job_result res;
    if (job_run(&cfg, rank_main, &p, &res) == 0)
        fail_msg("node 2's process was to exit, but the job ended without a failure");
    if (res.rank_status[0] != RT_OK || res.rank_status[1] != RT_OK)
        fail_msg("a surviving rank failed: %s", res.error);
    slot *s = job_result_slot(&res, 0);
    if (s->errors)
        fail_msg("driver saw %d problem(s); first: %s", s->errors, s->what);
    assert_true(s->value[0] == 3.0 * BIG_N + (double)BIG_N * (BIG_N - 1) / 2);
    assert_int_equal(s->st.reconstructions, 1);
    assert_int_equal(s->st.tasks_retried, 1);
    job_result_free(&res);
}

/* An actor with a restart comes back from its constructor; the call in
 * flight fails; an actor without one stays dead. */
static int drv_restart(ray *ry, void *arg)
{
    (void)arg;
    slot *s = my_slot(ry);
    double start = 7, nap = 5, x = 1;
    ray_actor h, mortal;
    int rc = ray_actor_create(ry, "logger", 1, (ray_in[]){ray_val(&start, 8)},
                              &(ray_task_opts){.cpus = 0, .node = 2, .max_restarts = 1}, &h);
    if (!rc)
        rc = ray_actor_create(ry, "logger", 0, NULL, &(ray_task_opts){.cpus = 0, .node = 2}, &mortal);
    ray_ref r1, napping, after, gone;
    const void *d;
    size_t b;
    for (int i = 0; i < 3 && !rc; i++) {
        rc = ray_call(ry, h, "append", 1, (ray_in[]){ray_val(&x, 8)}, &r1);
        if (!rc)
            rc = ray_get(ry, r1, &d, &b);
        ray_release(ry, r1);
    }
    if (!rc)
        rc = ray_call(ry, h, "nap", 1, (ray_in[]){ray_val(&nap, 8)}, &napping);
    if (!rc)
        rc = ray_sleep(ry, 2 * LOST_AT);
    if (rc)
        return rc;
    if (ray_get(ry, napping, &d, &b) != RAY_ETASK)
        violation(ry, "the call in flight when the actor's node died did not fail");
    snprintf(s->msg, sizeof s->msg, "%s", rt_error(ray_rt(ry)));
    /* the old handle still works: the call reaches the restarted actor */
    if ((rc = ray_call(ry, h, "dump", 0, NULL, &after)) || (rc = ray_get(ry, after, &d, &b)))
        return rc;
    const double *v = d;
    s->value[0] = v[0]; /* entries: 7 from the constructor, none of the 3 appended */
    if ((rc = ray_call(ry, mortal, "dump", 0, NULL, &gone)))
        return rc;
    if (ray_get(ry, gone, &d, &b) != RAY_ETASK ||
        !strstr(rt_error(ray_rt(ry)), "actor 'logger' died with node 2 and has no restarts left"))
        violation(ry, "a call to an actor without restarts: %s", rt_error(ray_rt(ry)));
    return RT_OK;
}

static void restart_sim(void **state)
{
    (void)state;
    ray_program p = program(drv_restart);
    job_result res;
    run_failing(4, &p, 2, LOST_AT, &res);
    slot *s = job_result_slot(&res, 0);
    assert_true(s->value[0] == 7);
    assert_non_null(strstr(s->msg, "actor 'logger' method 'nap': its node 2 died before the call "
                                   "returned"));
    assert_int_equal(s->st.actor_restarts, 1);
    assert_int_equal(s->st.calls_lost, 1);
    job_result_free(&res);
}

/* Created with max_task_retries, an actor's calls in flight when its node
 * dies go again to the restarted actor, in the order they were made: the
 * nap running then, and two appends queued behind it. */
static int drv_call_retries(ray *ry, void *arg)
{
    (void)arg;
    slot *s = my_slot(ry);
    double start = 7, nap = 3 * LOST_AT, three = 3, four = 4;
    ray_actor h;
    int rc = ray_actor_create(ry, "logger", 1, (ray_in[]){ray_val(&start, 8)},
                              &(ray_task_opts){.cpus = 0, .node = 2, .max_restarts = 1,
                                               .max_task_retries = 1}, &h);
    ray_ref napping = 0, a3 = 0, a4 = 0, after;
    const void *d;
    size_t b;
    if (!rc)
        rc = ray_call(ry, h, "nap", 1, (ray_in[]){ray_val(&nap, 8)}, &napping);
    if (!rc)
        rc = ray_call(ry, h, "append", 1, (ray_in[]){ray_val(&three, 8)}, &a3);
    if (!rc)
        rc = ray_call(ry, h, "append", 1, (ray_in[]){ray_val(&four, 8)}, &a4);
    if (rc)
        return rc;
    if (ray_get(ry, napping, &d, &b) != RT_OK || ray_get(ry, a4, &d, &b) != RT_OK)
        violation(ry, "a call sent again did not return: %s", rt_error(ray_rt(ry)));
    if ((rc = ray_call(ry, h, "dump", 0, NULL, &after)) || (rc = ray_get(ry, after, &d, &b)))
        return rc;
    const double *v = d; /* n, overlaps, then the entries */
    s->value[0] = v[0];
    s->value[1] = v[1];
    if (v[0] == 9) {
        s->value[2] = v[2 + 7];
        s->value[3] = v[2 + 8];
    }
    ray_release(ry, napping);
    ray_release(ry, a3);
    ray_release(ry, a4);
    ray_release(ry, after);
    return RT_OK;
}

/* A borrower whose node dies borrows nothing: its owner frees the object
 * once nothing else holds it. */
static int drv_dead_borrower(ray *ry, void *arg)
{
    (void)arg;
    slot *s = my_slot(ry);
    double *v = calloc(BIG_N, sizeof *v);
    if (!v)
        return RT_ENOMEM;
    ray_ref x, r;
    ray_actor h;
    int rc = ray_put(ry, v, BIG_N * sizeof *v, &x);
    free(v);
    const void *d;
    size_t b;
    if (!rc)
        rc = ray_actor_create(ry, "holder", 0, NULL, &(ray_task_opts){.cpus = 0, .node = 2}, &h);
    if (!rc)
        rc = ray_call(ry, h, "keep", 1, (ray_in[]){ray_val_refs(&x, sizeof x, &x, 1)}, &r);
    if (!rc)
        rc = ray_get(ry, r, &d, &b);
    ray_release(ry, x);
    s->value[0] = (double)ray_node_stats(ry)->store_bytes; /* borrowed: still here */
    if (!rc)
        rc = ray_sleep(ry, 2 * LOST_AT); /* node 2 dies meanwhile */
    s->value[1] = (double)ray_node_stats(ry)->store_bytes;
    return rc;
}

static void dead_borrower_sim(void **state)
{
    (void)state;
    ray_program p = program(drv_dead_borrower);
    p.cfg.inline_bytes = 1024;
    job_result res;
    run_failing(3, &p, 2, LOST_AT, &res);
    slot *s = job_result_slot(&res, 0);
    assert_true(s->value[0] == BIG_N * sizeof(double));
    assert_true(s->value[1] == 0);
    job_result_free(&res);
}

static void call_retries_sim(void **state)
{
    (void)state;
    ray_program p = program(drv_call_retries);
    job_result res;
    run_failing(4, &p, 2, LOST_AT, &res);
    slot *s = job_result_slot(&res, 0);
    /* the restarted logger: its constructor's 7 entries, then 3 and 4 */
    if (s->value[0] != 9 || s->value[1] != 0 || s->value[2] != 3 || s->value[3] != 4)
        fail_msg("the restarted actor holds %g entries (%g overlaps), the last %g, %g; not 9 (0), "
                 "3, 4", s->value[0], s->value[1], s->value[2], s->value[3]);
    assert_int_equal(s->st.actor_restarts, 1);
    assert_int_equal(s->st.calls_lost, 3);
    assert_int_equal(s->st.calls_retried, 3);
    job_result_free(&res);
}

/* With max_retries 0, a result lost with its node is an error naming the
 * task. */
static int drv_no_retries(ray *ry, void *arg)
{
    (void)arg;
    slot *s = my_slot(ry);
    double seed = 1, n = BIG_N;
    ray_ref a;
    int ready, nready;
    int rc = ray_submit(ry, "make", 2, (ray_in[]){ray_val(&seed, 8), ray_val(&n, 8)},
                        &(ray_task_opts){.cpus = 1, .node = 2}, &a);
    if (!rc)
        rc = ray_wait(ry, 1, &a, 1, -1, &ready, &nready);
    if (!rc)
        rc = ray_sleep(ry, 2 * LOST_AT);
    if (rc)
        return rc;
    const void *d;
    size_t b;
    if (ray_get(ry, a, &d, &b) != RAY_ETASK)
        violation(ry, "a result lost beyond max_retries did not fail");
    snprintf(s->msg, sizeof s->msg, "%s", rt_error(ray_rt(ry)));
    return RT_OK;
}

static void no_retries_sim(void **state)
{
    (void)state;
    ray_program p = program(drv_no_retries);
    p.cfg.inline_bytes = 1024;
    p.cfg.max_retries = 0;
    job_result res;
    run_failing(3, &p, 2, LOST_AT, &res);
    slot *s = job_result_slot(&res, 0);
    assert_non_null(strstr(s->msg, "task 'make'"));
    assert_non_null(strstr(s->msg, "its result was lost when node 2 died, and its max_retries (0) "
                                   "are used up"));
    job_result_free(&res);
}

/* ---- borrowing: a reference inside a value keeps its object alive ---- */

static int drv_borrow(ray *ry, void *arg)
{
    (void)arg;
    slot *s = my_slot(ry);
    double *v = malloc(BIG_N * sizeof *v);
    if (!v)
        return RT_ENOMEM;
    for (int i = 0; i < BIG_N; i++)
        v[i] = i;
    ray_ref x, r;
    ray_actor h;
    int rc = ray_put(ry, v, BIG_N * sizeof *v, &x); /* into the driver's store */
    free(v);
    const void *d;
    size_t b;
    if (!rc)
        rc = ray_actor_create(ry, "holder", 0, NULL, &(ray_task_opts){.cpus = 0, .node = 1}, &h);
    if (!rc) /* x travels inside a value; the holder borrows it */
        rc = ray_call(ry, h, "keep", 1, (ray_in[]){ray_val_refs(&x, sizeof x, &x, 1)}, &r);
    if (!rc)
        rc = ray_get(ry, r, &d, &b);
    ray_release(ry, x); /* the driver's own handle goes */
    const ray_stats *st = ray_node_stats(ry);
    s->value[0] = (double)st->store_bytes; /* still here: borrowed */
    s->value[1] = (double)st->objects_freed;
    if (!rc)
        rc = ray_call(ry, h, "use", 0, NULL, &r);
    if (!rc)
        s->value[2] = get_double(ry, r, &rc);
    if (!rc)
        rc = ray_call(ry, h, "drop", 0, NULL, &r);
    if (!rc) /* the holder's release reached the driver before drop's result */
        rc = ray_get(ry, r, &d, &b);
    s->value[3] = (double)st->store_bytes;
    s->value[4] = (double)st->objects_freed;
    return rc;
}

static void check_borrow(where w)
{
    ray_program p = program(drv_borrow);
    p.cfg.inline_bytes = 1024;
    job_result res;
    run_on(w, 2, &p, &res);
    slot *s = job_result_slot(&res, 0);
    assert_true(s->value[0] == BIG_N * sizeof(double)); /* not freed while borrowed */
    assert_true(s->value[1] == 0);
    assert_true(s->value[2] == (double)BIG_N * (BIG_N - 1) / 2);
    assert_true(s->value[3] == 0); /* freed after */
    assert_true(s->value[4] == 1);
    job_result_free(&res);
}

/* Two levels: holder 1 borrows x from the driver and lends it to holder 2,
 * then lets it go; x lives on until holder 2 lets it go too. */
static int drv_borrow_chain(ray *ry, void *arg)
{
    (void)arg;
    slot *s = my_slot(ry);
    double *v = malloc(BIG_N * sizeof *v);
    if (!v)
        return RT_ENOMEM;
    for (int i = 0; i < BIG_N; i++)
        v[i] = i;
    ray_ref x, r;
    ray_actor h1, h2;
    int rc = ray_put(ry, v, BIG_N * sizeof *v, &x);
    free(v);
    const void *d;
    size_t b;
    const ray_stats *st = ray_node_stats(ry);
    if (!rc)
        rc = ray_actor_create(ry, "holder", 0, NULL, &(ray_task_opts){.cpus = 0, .node = 1}, &h1);
    if (!rc)
        rc = ray_actor_create(ry, "holder", 0, NULL, &(ray_task_opts){.cpus = 0, .node = 2}, &h2);
    if (!rc)
        rc = ray_call(ry, h1, "keep", 1, (ray_in[]){ray_val_refs(&x, sizeof x, &x, 1)}, &r);
    if (!rc)
        rc = ray_get(ry, r, &d, &b);
    ray_release(ry, x);
    if (!rc) /* holder 1 lends it to holder 2, then drops its own */
        rc = ray_call(ry, h1, "lend", 1, (ray_in[]){ray_val(&h2, sizeof h2)}, &r);
    if (!rc)
        rc = ray_get(ry, r, &d, &b);
    if (!rc)
        rc = ray_call(ry, h1, "drop", 0, NULL, &r);
    if (!rc)
        rc = ray_get(ry, r, &d, &b);
    s->value[0] = (double)st->store_bytes; /* still here: holder 2 borrows it */
    if (!rc)
        rc = ray_call(ry, h2, "use", 0, NULL, &r);
    if (!rc)
        s->value[1] = get_double(ry, r, &rc);
    if (!rc)
        rc = ray_call(ry, h2, "drop", 0, NULL, &r);
    if (!rc) /* holder 2's release reached the driver before drop's result */
        rc = ray_get(ry, r, &d, &b);
    s->value[2] = (double)st->store_bytes;
    s->value[3] = (double)st->objects_freed;
    return rc;
}

static void check_borrow_chain(where w)
{
    ray_program p = program(drv_borrow_chain);
    p.cfg.inline_bytes = 1024;
    job_result res;
    run_on(w, 3, &p, &res);
    slot *s = job_result_slot(&res, 0);
    assert_true(s->value[0] == BIG_N * sizeof(double)); /* not freed: lent on */
    assert_true(s->value[1] == (double)BIG_N * (BIG_N - 1) / 2);
    assert_true(s->value[2] == 0); /* freed after the last borrower */
    assert_true(s->value[3] == 1);
    job_result_free(&res);
}

/* ---- a ring allreduce made of actors ---- */

/* arg: NULL, or an int that is nonzero for size-only members */
static int drv_ring(ray *ry, void *arg)
{
    int p = ray_nodes(ry), rc = RT_OK, size_only = arg ? *(const int *)arg : 0;
    size_t floats = 3001; /* not a multiple of p: uneven chunks */
    ray_actor m[8];
    for (int i = 0; i < p && !rc; i++)
        rc = ray_actor_create(ry, "RingMember", 4,
                              (ray_in[]){ray_val(&i, sizeof i), ray_val(&p, sizeof p),
                                         ray_val(&floats, sizeof floats),
                                         ray_val(&size_only, sizeof size_only)},
                              &(ray_task_opts){.cpus = 0, .node = i}, &m[i]);
    double wrong = -1;
    if (!rc)
        rc = ray_ring_check(ry, m, p, &wrong); /* every member built */
    double t0 = rt_now(ray_rt(ry));
    if (!rc)
        rc = ray_ring_allreduce(ry, m, p);
    my_slot(ry)->value[1] = rt_now(ray_rt(ry)) - t0;
    if (!rc)
        rc = ray_ring_check(ry, m, p, &wrong);
    my_slot(ry)->value[0] = wrong;
    return rc;
}

static void check_ring(where w)
{
    for (int big = 0; big < 2; big++) { /* chunks inline, then through the stores */
        ray_program p = {NULL, 0, &ray_ring_member_class, 1, drv_ring, NULL, ray_config_default()};
        if (big)
            p.cfg.inline_bytes = 1024;
        job_result res;
        run_on(w, 4, &p, &res);
        slot *s0 = job_result_slot(&res, 0);
        assert_true(s0->value[0] == 0);
        /* each member: 3 steps of each phase, a get and a put in each, and two checks */
        assert_int_equal(((slot *)job_result_slot(&res, 1))->st.actor_calls, 2 * 2 * 3 + 2);
        uint64_t fetched = 0;
        for (int i = 0; i < 4; i++)
            fetched += ((slot *)job_result_slot(&res, i))->st.objects_fetched;
        assert_int_equal(fetched, big ? 4 * 2 * 3 : 0);
        job_result_free(&res);
    }
}

/* Size-only members (no vectors; chunks are size-only objects) move the
 * same objects as members with data: inline chunks as zeros, stored ones
 * as size-only transfers (zeros on sockets). In simulation they take the
 * same time, to the bit. */
static void check_ring_size_only(where w)
{
    for (int big = 0; big < 2; big++) {
        double seconds[2];
        uint64_t fetched[2] = {0, 0}, bytes[2] = {0, 0}, inl[2] = {0, 0}, peak[2] = {0, 0};
        for (int so = 0; so < 2; so++) {
            ray_program p = {NULL, 0, &ray_ring_member_class, 1, drv_ring, &so, ray_config_default()};
            if (big)
                p.cfg.inline_bytes = 1024;
            job_result res;
            run_on(w, 4, &p, &res);
            slot *s0 = job_result_slot(&res, 0);
            assert_true(s0->value[0] == 0); /* size-only: nothing to check, none wrong */
            seconds[so] = s0->value[1];
            for (int i = 0; i < 4; i++) {
                const ray_stats *st = &((slot *)job_result_slot(&res, i))->st;
                fetched[so] += st->objects_fetched;
                bytes[so] += st->bytes_fetched;
                inl[so] += st->bytes_inline;
                peak[so] += st->store_peak_bytes;
            }
            job_result_free(&res);
        }
        if (w == ON_SIM && seconds[0] != seconds[1])
            fail_msg("%s chunks: %.17g s with data, %.17g s size-only", big ? "stored" : "inline",
                     seconds[0], seconds[1]);
        assert_int_equal(fetched[0], fetched[1]);
        assert_int_equal(bytes[0], bytes[1]);
        if (w == ON_SIM) { /* on threads they follow the interleaving */
            assert_int_equal(inl[0], inl[1]);
            assert_int_equal(peak[0], peak[1]);
        }
        assert_int_equal(fetched[1], big ? 4 * 2 * 3 : 0);
    }
}

/* A job whose every message is only a size (--payload size-only) cannot
 * carry Ray's control messages: every node says so before sending any. */
static void whole_job_size_only_sim(void **state)
{
    (void)state;
    static sim_config sim;
    sim = sim_config_default();
    sim.size_only = 1;
    job_config cfg = sim_job_config(&sim);
    cfg.ranks = 3;
    cfg.result_bytes = sizeof(slot);
    int so = 1;
    ray_program p = {NULL, 0, &ray_ring_member_class, 1, drv_ring, &so, ray_config_default()};
    job_result res;
    if (job_run(&cfg, rank_main, &p, &res) == 0)
        fail_msg("a Ray job ran with size-only messages");
    if (!strstr(res.error, "Ray's control messages need their bytes"))
        fail_msg("unclear error: %s", res.error);
    job_result_free(&res);
}

#define BOTH(name)                                                                   \
    static void name##_sim(void **st) { (void)st; check_##name(ON_SIM); }           \
    static void name##_threads(void **st) { (void)st; check_##name(ON_THREADS); }

BOTH(futures)
static void futures_procs(void **st) { (void)st; check_futures(ON_PROCS); }
static void large_procs(void **st) { (void)st; check_large(ON_PROCS); }
BOTH(nested)
BOTH(wait)
BOTH(actor)
BOTH(error)
BOTH(large)
BOTH(ring)
BOTH(ring_size_only)
BOTH(borrow)
BOTH(late_fetch)
BOTH(borrow_chain)

#define CASES(name) cmocka_unit_test(name##_sim), cmocka_unit_test(name##_threads)

int main(void)
{
    const struct CMUnitTest tests[] = {
        CASES(futures), CASES(nested), CASES(wait),  CASES(actor),
        CASES(error),   CASES(large),  CASES(ring), CASES(borrow),
        CASES(late_fetch), CASES(borrow_chain),
        cmocka_unit_test(futures_procs),
        cmocka_unit_test(large_procs), cmocka_unit_test(same_sim_and_threads),
        cmocka_unit_test(overhead_sim), cmocka_unit_test(hybrid_spreads_at_half_sim),
        cmocka_unit_test(spillback_sim), cmocka_unit_test(lineage_sim),
        cmocka_unit_test(restart_sim),  cmocka_unit_test(no_retries_sim),
        cmocka_unit_test(call_retries_sim), cmocka_unit_test(dead_borrower_sim),
        cmocka_unit_test(lineage_procs), CASES(ring_size_only),
        cmocka_unit_test(whole_job_size_only_sim),
    };
    return cmocka_run_group_tests_name("ray: tasks, futures, actors, object store", tests, NULL,
                                       NULL);
}
