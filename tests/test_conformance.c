/* test_conformance.c -- the runtime's semantics, checked on every backend.
 *
 * Each case is a rank function plus a check. The rank function never
 * asserts (inside a SimGrid actor that would be fatal and unreadable); it
 * writes what it saw into its result slot, and the check asserts on the
 * slots after the job. Every case runs on sim, on real threads and on real
 * processes, so a backend that breaks one of the promises of
 * algorithms/runtime.h fails here.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/job.h"
#include "real/real_backend.h"
#include "sim/sim_backend.h"

typedef struct slot {
    int errors;          /* semantic violations the rank saw */
    int rc;              /* a return code of interest */
    double value;        /* a number of interest */
    char what[200];      /* the first violation, for the failure message */
} slot;

static void violation(slot *s, const char *fmt, ...)
{
    if (s->errors++ == 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(s->what, sizeof s->what, fmt, ap);
        va_end(ap);
    }
}

typedef enum { ON_SIM, ON_THREADS, ON_PROCS } where;

static job_config config_for(where w, int ranks)
{
    static real_config threads, procs; /* outlive every job of the file */
    threads = real_config_default();
    procs = real_config_default();
    procs.launch = REAL_LAUNCH_PROCS;
    job_config cfg = w == ON_SIM ? sim_job_config(NULL) : real_job_config(w == ON_PROCS ? &procs : &threads);
    cfg.ranks = ranks;
    cfg.result_bytes = sizeof(slot);
    cfg.timeout_s = 20;
    return cfg;
}

/* Run and require that no rank saw a violation. */
static void run_clean(job_config *cfg, job_main fn, void *arg, job_result *res)
{
    int rc = job_run(cfg, fn, arg, res);
    if (rc != 0)
        fail_msg("job failed: %s", res->error);
    for (int i = 0; i < cfg->ranks; i++) {
        slot *s = job_result_slot(res, i);
        if (s->errors)
            fail_msg("rank %d saw %d violation(s); first: %s", i, s->errors, s->what);
    }
}

/* ---- ordering per (source, tag) ---- */

enum { ORDER_N = 200 };

static int order_rank(rt *r, void *arg)
{
    (void)arg;
    slot *s = job_slot(r);
    int rc = RT_OK;
    if (rt_rank(r) == 0) {
        for (int i = 0; i < ORDER_N && !rc; i++)
            rc = rt_send(r, 1, 10 + i % 2, &i, sizeof i);
    } else {
        /* take all of tag 11 first, then tag 10: each tag's stream must come
         * in the order it was sent, though the tags interleave on the wire */
        for (int tag = 11; tag >= 10 && !rc; tag--) {
            int last = -1;
            for (int i = 0; i < ORDER_N / 2 && !rc; i++) {
                int v;
                rt_status st;
                rc = rt_recv(r, 0, tag, &v, sizeof v, &st);
                if (rc)
                    break;
                if (v <= last || v % 2 != tag - 10)
                    violation(s, "tag %d: got %d after %d", tag, v, last);
                if (st.source != 0 || st.tag != tag || st.bytes != sizeof v)
                    violation(s, "status source %d tag %d bytes %zu", st.source, st.tag, st.bytes);
                last = v;
            }
        }
    }
    return rc;
}

static void check_order(where w)
{
    job_config cfg = config_for(w, 2);
    job_result res;
    run_clean(&cfg, order_rank, NULL, &res);
    job_result_free(&res);
}

/* ---- tag and source matching ---- */

static int match_rank(rt *r, void *arg)
{
    (void)arg;
    slot *s = job_slot(r);
    int me = rt_rank(r), rc;
    if (me != 0) {
        int v = 100 + me;
        return rt_send(r, 0, me, &v, sizeof v);
    }
    int v;
    rt_status st;
    /* any source, a given tag: must be rank 2's message */
    rc = rt_recv(r, RT_ANY_SOURCE, 2, &v, sizeof v, &st);
    if (!rc && (st.source != 2 || v != 102))
        violation(s, "any-source tag 2 matched rank %d value %d", st.source, v);
    /* a given source, any tag: must be rank 3's */
    if (!rc)
        rc = rt_recv(r, 3, RT_ANY_TAG, &v, sizeof v, &st);
    if (!rc && (st.tag != 3 || v != 103))
        violation(s, "source 3 any-tag matched tag %d value %d", st.tag, v);
    /* anything: what is left is rank 1's */
    if (!rc)
        rc = rt_recv(r, RT_ANY_SOURCE, RT_ANY_TAG, &v, sizeof v, &st);
    if (!rc && (st.source != 1 || st.tag != 1 || v != 101))
        violation(s, "any/any matched rank %d tag %d value %d", st.source, st.tag, v);
    return rc;
}

static void check_match(where w)
{
    job_config cfg = config_for(w, 4);
    job_result res;
    run_clean(&cfg, match_rank, NULL, &res);
    job_result_free(&res);
}

/* ---- 64 MiB each way at once, blocking sends first ---- */

enum { BIG = 64 << 20 };

static int exchange_rank(rt *r, void *arg)
{
    (void)arg;
    slot *s = job_slot(r);
    int me = rt_rank(r), other = 1 - me, rc;
    uint32_t *out = malloc(BIG), *in = malloc(BIG);
    if (!out || !in) {
        free(out);
        free(in);
        return rt_fail(r, RT_ENOMEM, "no memory");
    }
    for (size_t i = 0; i < BIG / 4; i++)
        out[i] = (uint32_t)(i * 2654435761u) ^ (uint32_t)me;
    /* both ranks send before either receives: eager sends must not deadlock */
    rc = rt_send(r, other, 7, out, BIG);
    if (!rc)
        rc = rt_recv(r, other, 7, in, BIG, NULL);
    for (size_t i = 0; !rc && i < BIG / 4; i++)
        if (in[i] != ((uint32_t)(i * 2654435761u) ^ (uint32_t)other)) {
            violation(s, "word %zu differs", i);
            break;
        }
    free(out);
    free(in);
    return rc;
}

static void check_exchange(where w)
{
    job_config cfg = config_for(w, 2);
    job_result res;
    run_clean(&cfg, exchange_rank, NULL, &res);
    job_result_free(&res);
}

/* ---- zero-byte messages and many small ones ---- */

enum { SMALL_N = 10000 };

static int small_rank(rt *r, void *arg)
{
    (void)arg;
    slot *s = job_slot(r);
    int rc = RT_OK;
    if (rt_rank(r) == 0) {
        rc = rt_send(r, 1, 5, NULL, 0);
        for (int i = 0; i < SMALL_N && !rc; i++) {
            uint64_t v = (uint64_t)i * 3;
            rc = rt_send(r, 1, 6, &v, sizeof v);
        }
    } else {
        rt_status st;
        char dummy;
        rc = rt_recv(r, 0, 5, &dummy, sizeof dummy, &st);
        if (!rc && (st.bytes != 0 || st.tag != 5))
            violation(s, "zero-byte message came as %zu bytes tag %d", st.bytes, st.tag);
        for (int i = 0; i < SMALL_N && !rc; i++) {
            uint64_t v;
            rc = rt_recv(r, 0, 6, &v, sizeof v, &st);
            if (!rc && v != (uint64_t)i * 3) {
                violation(s, "message %d carried %llu", i, (unsigned long long)v);
                break;
            }
        }
        s->value = SMALL_N;
    }
    return rc;
}

static void check_small(where w)
{
    job_config cfg = config_for(w, 2);
    job_result res;
    run_clean(&cfg, small_rank, NULL, &res);
    assert_int_equal((int)((slot *)job_result_slot(&res, 1))->value, SMALL_N);
    job_result_free(&res);
}

/* ---- wait-any ---- */

static int waitany_rank(rt *r, void *arg)
{
    (void)arg;
    slot *s = job_slot(r);
    int me = rt_rank(r), rc, v = 0;
    if (me == 2)
        return rt_send(r, 0, 1, &me, sizeof me);
    if (me == 1) {
        /* rank 1 may only send after rank 0 says so */
        rc = rt_recv(r, 0, 2, &v, sizeof v, NULL);
        return rc ? rc : rt_send(r, 0, 1, &me, sizeof me);
    }
    int from[2] = {-1, -1};
    rt_request *q[2];
    rc = rt_irecv(r, 1, 1, &from[0], sizeof(int), &q[0]);
    if (!rc)
        rc = rt_irecv(r, 2, 1, &from[1], sizeof(int), &q[1]);
    int index = -7;
    rt_status st;
    if (!rc)
        rc = rt_waitany(r, 2, q, &index, &st);
    if (!rc && (index != 1 || from[1] != 2 || st.source != 2 || q[1] != NULL))
        violation(s, "first wait-any gave index %d from %d", index, st.source);
    if (!rc)
        rc = rt_send(r, 1, 2, &v, sizeof v);
    if (!rc)
        rc = rt_waitany(r, 2, q, &index, &st);
    if (!rc && (index != 0 || from[0] != 1))
        violation(s, "second wait-any gave index %d", index);
    if (!rc) {
        rc = rt_waitany(r, 2, q, &index, &st);
        if (!rc && index != -1)
            violation(s, "wait-any on nothing gave index %d", index);
    }
    return rc;
}

static void check_waitany(where w)
{
    job_config cfg = config_for(w, 3);
    job_result res;
    run_clean(&cfg, waitany_rank, NULL, &res);
    job_result_free(&res);
}

/* ---- wait-any with a timeout ---- */

static int waitany_for_rank(rt *r, void *arg)
{
    (void)arg;
    slot *s = job_slot(r);
    int rc, v = 0;
    if (rt_rank(r) == 1) {
        /* send only when rank 0 says so: its first wait must time out */
        rc = rt_recv(r, 0, 2, &v, sizeof v, NULL);
        v = 77;
        return rc ? rc : rt_send(r, 0, 1, &v, sizeof v);
    }
    rt_request *q = NULL;
    rc = rt_irecv(r, 1, 1, &v, sizeof v, &q);
    int index = -7;
    double t0 = rt_now(r);
    if (!rc)
        rc = rt_waitany_for(r, 1, &q, 0.05, &index, NULL);
    double waited = rt_now(r) - t0;
    if (!rc && (index != -1 || q == NULL || waited < 0.05 - 1e-9))
        violation(s, "timed out wait gave index %d after %g s", index, waited);
    t0 = rt_now(r);
    if (!rc) /* nothing to wait on: the time passes */
        rc = rt_waitany_for(r, 0, NULL, 0.02, &index, NULL);
    if (!rc && (index != -1 || rt_now(r) - t0 < 0.02 - 1e-9))
        violation(s, "an empty timed wait took %g s", rt_now(r) - t0);
    if (!rc)
        rc = rt_send(r, 1, 2, &v, sizeof v);
    rt_status st;
    if (!rc) /* the request outlived the timeout and still completes */
        rc = rt_waitany_for(r, 1, &q, 100, &index, &st);
    if (!rc && (index != 0 || q != NULL || v != 77 || st.source != 1))
        violation(s, "second timed wait gave index %d, value %d", index, v);
    if (!rc && rt_waitany_for(r, 1, &q, -1, &index, NULL) != RT_EINVAL)
        violation(s, "a negative timeout was taken");
    return rc;
}

static void check_waitany_for(where w)
{
    job_config cfg = config_for(w, 2);
    job_result res;
    run_clean(&cfg, waitany_for_rank, NULL, &res);
    job_result_free(&res);
}

/* ---- shared memory on one host ---- */

static int shared_rank(rt *r, void *arg)
{
    (void)arg;
    slot *s = job_slot(r);
    int p = rt_size(r), me = rt_rank(r);
    volatile int *mem = rt_shared(r, "board", 4096);
    if (!mem)
        return RT_ENOMEM;
    mem[me] = 1000 + me;
    int rc = rt_barrier(r);
    for (int i = 0; !rc && i < p; i++)
        if (mem[i] != 1000 + i)
            violation(s, "slot %d holds %d", i, mem[i]);
    return rc;
}

static void check_shared(where w)
{
    job_config cfg = config_for(w, 4);
    sim_config sim = sim_config_default();
    sim.hosts = 1; /* sim: every rank on one host */
    sim.cores = 4;
    if (w == ON_SIM)
        cfg.settings = &sim;
    job_result res;
    run_clean(&cfg, shared_rank, NULL, &res);
    job_result_free(&res);
}

/* ---- events ---- */

static int events_rank(rt *r, void *arg)
{
    (void)arg;
    char buf[1000] = {0};
    int rc = rt_compute(r, 1e6);
    if (rc)
        return rc;
    if (rt_rank(r) == 0)
        return rt_send(r, 1, 3, buf, sizeof buf);
    return rt_recv(r, 0, 3, buf, sizeof buf, NULL);
}

static void check_events(where w)
{
    job_config cfg = config_for(w, 2);
    job_result res;
    run_clean(&cfg, events_rank, NULL, &res);
    int sends = 0, recvs = 0, computes = 0;
    for (size_t i = 0; i < res.nevents; i++) {
        const rt_event *e = &res.events[i];
        assert_true(e->end_s >= e->start_s);
        if (e->kind == RT_EV_SEND && e->rank == 0 && e->peer == 1 && e->bytes == 1000)
            sends++;
        if (e->kind == RT_EV_RECV && e->rank == 1 && e->peer == 0 && e->bytes == 1000 && e->tag == 3)
            recvs++;
        if (e->kind == RT_EV_COMPUTE)
            computes++;
    }
    assert_int_equal(sends, 1);
    assert_int_equal(recvs, 1);
    assert_int_equal(computes, 2);
    assert_true(res.bytes_sent >= 1000);
    job_result_free(&res);
}

/* ---- time set aside ---- */

/* An exchange inside rt_aside_begin/end (with a nested pair) is left out
 * of rt_work_now, and only once; the work clock stands still meanwhile. */
static int aside_rank(rt *r, void *arg)
{
    (void)arg;
    slot *s = job_slot(r);
    static char buf[1 << 20];
    int me = rt_rank(r), rc;
    /* Each work-clock read between two reads of the clock: on real
     * sockets the three read different instants (and a busy machine may
     * preempt between them), so what was set aside is known only within
     * bounds, [(tb - w1) - (n0 - w0), (n1 - w1) - (ta - w0)]; in sim the
     * three reads are one instant and the bounds meet. */
    double ta = rt_now(r), w0 = rt_work_now(r), n0 = rt_now(r);
    if (w0 > n0)
        violation(s, "work clock %g ahead of the clock %g before any aside", w0, n0);
    rt_aside_begin(r);
    double in0 = rt_now(r), win0 = rt_work_now(r);
    rt_aside_begin(r);
    rc = me == 0 ? rt_send(r, 1, 7, buf, sizeof buf) : rt_recv(r, 0, 7, buf, sizeof buf, NULL);
    rt_aside_end(r);
    double in1 = rt_now(r), win1 = rt_work_now(r);
    rt_aside_end(r);
    double tb = rt_now(r), w1 = rt_work_now(r), n1 = rt_now(r);
    double most = (n1 - w1) - (ta - w0), least = (tb - w1) - (n0 - w0);
    if (win1 - win0 > 1e-9 || win1 - win0 < -1e-9)
        violation(s, "work clock moved by %g s inside an aside", win1 - win0);
    if (most < (in1 - in0) - 1e-9)
        violation(s, "at most %g s set aside, but the exchange inside took %g s", most, in1 - in0);
    if (least > (n1 - ta) + 1e-9) /* counted twice, for the nested pair */
        violation(s, "at least %g s set aside, more than the %g s that passed", least, n1 - ta);
    s->value = (n1 - w1) - (n0 - w0) - (in1 - in0); /* sim: exactly 0 */
    s->rc = in1 > in0;
    return rc;
}

static void check_aside(where w)
{
    job_config cfg = config_for(w, 2);
    job_result res;
    run_clean(&cfg, aside_rank, NULL, &res);
    for (int i = 0; i < 2 && w == ON_SIM; i++) {
        const slot *s = job_result_slot(&res, i);
        if (i == 1) /* the receiver: the megabyte took simulated time */
            assert_true(s->rc);
        assert_true(s->value < 1e-12 && s->value > -1e-12);
    }
    job_result_free(&res);
}

/* ---- async jobs beside the rank ---- */

/* Each rank posts three jobs, each a ring exchange with its own tag; the
 * rank computes meanwhile. The jobs run in post order (each notes its
 * turn), each gets its neighbour's value, drain reports them done, a
 * failed job's error comes back from drain and the job after it is not
 * run, and a job left posted at the end is drained by the runtime. In
 * simulation the exchanges (1 MB: 850 us at 10 Gb/s) hide behind 4 ms of
 * compute: the rank ends when its compute does, not at the sum. */
typedef struct async_job {
    int k, turns, value, fail, ran_as;
    int *ran; /* jobs of this rank that have started */
} async_job;

static int async_exchange(rt *r, void *arg)
{
    async_job *j = arg;
    static char big[3][1000000]; /* size only matters; ranks may share it */
    int p = rt_size(r), me = rt_rank(r), out = me * 1000 + j->k, in = -1;
    j->turns++;
    j->ran_as = j->ran ? (*j->ran)++ : -1;
    if (j->fail)
        return rt_fail(r, RT_EINVAL, "async job %d fails on purpose", j->k);
    int rc = rt_sendrecv(r, (me + 1) % p, 40 + j->k, &out, sizeof out, (me - 1 + p) % p, 40 + j->k,
                         &in, sizeof in, NULL);
    if (!rc && j->k == 0)
        rc = rt_sendrecv(r, (me + 1) % p, 50, rt_size_only(r) ? NULL : big[me % 3], sizeof big[0],
                         (me - 1 + p) % p, 50, NULL, sizeof big[0], NULL);
    j->value = in;
    return rc;
}

static int async_late(rt *r, void *arg)
{
    (void)arg;
    ((slot *)job_slot(r))->rc = 7; /* seen after the rank returned */
    return RT_OK;
}

static int async_rank(rt *r, void *arg)
{
    (void)arg;
    slot *s = job_slot(r);
    int p = rt_size(r), me = rt_rank(r), left = (me - 1 + p) % p;
    async_job jobs[3];
    int ran = 0;
    double t0 = rt_now(r);
    for (int k = 0; k < 3; k++) {
        jobs[k] = (async_job){.k = k, .ran = &ran};
        int rc = rt_async_post(r, async_exchange, &jobs[k]);
        if (rc)
            return rc;
        rt_compute(r, 1e6); /* 1 ms at 1 Gf, between posts */
    }
    rt_compute(r, 1e6);
    int rc = rt_async_drain(r);
    if (rc)
        return rc;
    s->value = rt_now(r) - t0 - 4e-3; /* sim: 0, the jobs hidden behind 4 ms of compute */
    for (int k = 0; k < 3; k++) {
        if (jobs[k].turns != 1 || jobs[k].ran_as != k)
            violation(s, "job %d ran %d times, as number %d", k, jobs[k].turns, jobs[k].ran_as);
        if (jobs[k].value != left * 1000 + k)
            violation(s, "job %d got %d from rank %d, expected %d", k, jobs[k].value, left,
                      left * 1000 + k);
    }
    if (rt_async_drain(r) != RT_OK)
        violation(s, "a second drain with nothing posted failed");
    /* a failed job: drain says so; the job after it does not run */
    async_job bad = {.k = 3, .fail = 1}, after = {.k = 3};
    if ((rc = rt_async_post(r, async_exchange, &bad)) || (rc = rt_async_post(r, async_exchange, &after)))
        return rc;
    rc = rt_async_drain(r);
    if (rc != RT_EINVAL || !strstr(rt_error(r), "async job 3 fails on purpose"))
        violation(s, "drain after a failed job gave %d: %s", rc, rt_error(r));
    if (after.turns != 0)
        violation(s, "the job after a failed one ran");
    if (rt_async_post(r, NULL, NULL) != RT_EINVAL)
        violation(s, "a NULL job was accepted");
    return rt_async_post(r, async_late, NULL); /* left for the runtime to drain */
}

static void check_async(where w)
{
    job_config cfg = config_for(w, 3);
    job_result res;
    run_clean(&cfg, async_rank, NULL, &res);
    for (int i = 0; i < 3; i++) {
        const slot *s = job_result_slot(&res, i);
        assert_int_equal(s->rc, 7);
        if (w == ON_SIM && !(s->value > -1e-12 && s->value < 1e-12))
            fail_msg("rank %d: the jobs ended %g s after the compute, expected 0 (hidden)", i, s->value);
    }
    job_result_free(&res);
}

/* ---- errors ---- */

static int badrank_rank(rt *r, void *arg)
{
    (void)arg;
    slot *s = job_slot(r);
    int v = 0;
    s->rc = rt_send(r, 99, 0, &v, sizeof v);
    if (!strstr(rt_error(r), "99"))
        violation(s, "error message '%s' does not name rank 99", rt_error(r));
    if (rt_recv(r, -5, 0, &v, sizeof v, NULL) != RT_EINVAL)
        violation(s, "recv from rank -5 was not refused");
    if (rt_send(r, 0, -3, &v, sizeof v) != RT_EINVAL)
        violation(s, "send with tag -3 was not refused");
    return RT_OK;
}

static void check_badrank(where w)
{
    job_config cfg = config_for(w, 2);
    job_result res;
    run_clean(&cfg, badrank_rank, NULL, &res);
    assert_int_equal(((slot *)job_result_slot(&res, 0))->rc, RT_EINVAL);
    job_result_free(&res);
}

/* A rank that returns an error fails the job, and the job says which. */
static int failing_rank(rt *r, void *arg)
{
    (void)arg;
    if (rt_rank(r) == 1)
        return rt_fail(r, RT_EINVAL, "deliberate failure %d", 4242);
    return RT_OK;
}

static void check_failure_reported(where w)
{
    job_config cfg = config_for(w, 2);
    job_result res;
    assert_int_not_equal(job_run(&cfg, failing_rank, NULL, &res), 0);
    assert_non_null(strstr(res.error, "4242"));
    assert_non_null(strstr(res.error, "rank 1"));
    assert_int_equal(res.rank_status[1], RT_EINVAL);
    assert_int_equal(res.rank_status[0], RT_OK);
    job_result_free(&res);
}

/* ---- the cases on each backend ---- */

#define ON_ALL(name)                                                      \
    static void name##_sim(void **st) { (void)st; check_##name(ON_SIM); }     \
    static void name##_threads(void **st) { (void)st; check_##name(ON_THREADS); } \
    static void name##_procs(void **st) { (void)st; check_##name(ON_PROCS); }

ON_ALL(order)
ON_ALL(match)
ON_ALL(exchange)
ON_ALL(small)
ON_ALL(waitany)
ON_ALL(waitany_for)
ON_ALL(shared)
ON_ALL(events)
ON_ALL(aside)
ON_ALL(async)
ON_ALL(badrank)
ON_ALL(failure_reported)

#define CASES(name) cmocka_unit_test(name##_sim), cmocka_unit_test(name##_threads), \
                    cmocka_unit_test(name##_procs)

int main(void)
{
    const struct CMUnitTest tests[] = {
        CASES(order),   CASES(match),   CASES(exchange),
        CASES(small),   CASES(waitany), CASES(waitany_for), CASES(shared),
        CASES(events),  CASES(aside),   CASES(async),   CASES(badrank),
        CASES(failure_reported),
    };
    return cmocka_run_group_tests_name("runtime conformance, sim and real", tests, NULL, NULL);
}
