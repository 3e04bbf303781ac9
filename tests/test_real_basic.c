/* test_real_basic.c -- what the real backend promises beyond the shared
 * conformance tests: buffered sends queued behind a full socket still
 * arrive (also when the sender returns at once), truncation, size-only and
 * discarding buffers, messages to oneself, the straggler model, one clock
 * origin for every rank process, compute events that cover the math, the
 * ranks' CPU time, shared memory removed at the end, many
 * ranks in one process, and a clear error for a bad listen address.
 *
 * Rank functions record what they saw in their result slot; the checks
 * run after the job.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/job.h"
#include "real/real_backend.h"

typedef struct seen {
    int errors;
    int rc;
    double t[4];
    char what[300];
} seen;

static void violation(seen *s, const char *fmt, ...)
{
    if (s->errors++ == 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(s->what, sizeof s->what, fmt, ap);
        va_end(ap);
    }
}

static job_config config(int ranks, real_launch launch)
{
    static real_config by_launch[3]; /* outlive every job of the file */
    by_launch[launch] = real_config_default();
    by_launch[launch].launch = launch;
    job_config cfg = real_job_config(&by_launch[launch]);
    cfg.ranks = ranks;
    cfg.timeout_s = 10;
    cfg.result_bytes = sizeof(seen);
    return cfg;
}

static void run_clean(job_config *cfg, job_main fn, void *arg, job_result *res)
{
    if (job_run(cfg, fn, arg, res) != 0)
        fail_msg("job failed: %s", res->error);
    for (int i = 0; i < cfg->ranks; i++) {
        seen *s = job_result_slot(res, i);
        if (s->errors)
            fail_msg("rank %d saw %d violation(s); first: %s", i, s->errors, s->what);
    }
}

static void sleep_s(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

/* ---- buffered sends behind a full socket ---- */

enum { BIG = 16 << 20, SMALL_N = 100 };

/* Rank 0 sends 16 MiB with rt_send (more than the socket holds), then 100
 * small messages that must queue behind it, and returns at once; rank 1
 * starts receiving only later, small ones first. */
static int queued_rank(rt *r, void *arg)
{
    (void)arg;
    seen *s = job_slot(r);
    unsigned char *big = malloc(BIG);
    if (!big)
        return RT_ENOMEM;
    if (rt_rank(r) == 0) {
        for (size_t i = 0; i < BIG; i++)
            big[i] = (unsigned char)(i * 7);
        int rc = rt_send(r, 1, 1, big, BIG);
        for (int i = 0; i < SMALL_N && !rc; i++)
            rc = rt_send(r, 1, 2, &i, sizeof i);
        memset(big, 0, BIG); /* rt_send returned: the buffer is ours again */
        free(big);
        return rc;
    }
    sleep_s(0.3);
    for (int i = 0; i < SMALL_N; i++) {
        int v = -1;
        int rc = rt_recv(r, 0, 2, &v, sizeof v, NULL);
        if (rc || v != i)
            violation(s, "small message %d: rc %d, value %d: %s", i, rc, v, rt_error(r));
    }
    rt_status st;
    int rc = rt_recv(r, 0, 1, big, BIG, &st);
    if (rc || st.bytes != BIG)
        violation(s, "big message: rc %d, %zu bytes: %s", rc, st.bytes, rt_error(r));
    for (size_t i = 0; i < BIG; i++)
        if (big[i] != (unsigned char)(i * 7)) {
            violation(s, "big message: byte %zu is %d", i, big[i]);
            break;
        }
    free(big);
    return RT_OK;
}

static void test_queued_threads(void **state)
{
    (void)state;
    job_config cfg = config(2, REAL_LAUNCH_THREADS);
    job_result res;
    run_clean(&cfg, queued_rank, NULL, &res);
    assert_int_equal(res.messages, SMALL_N + 1);
    job_result_free(&res);
}

static void test_queued_procs(void **state)
{
    (void)state;
    job_config cfg = config(2, REAL_LAUNCH_PROCS);
    job_result res;
    run_clean(&cfg, queued_rank, NULL, &res);
    assert_int_equal(res.bytes_sent, BIG + SMALL_N * sizeof(int));
    job_result_free(&res);
}

/* ---- truncation, size-only sends, discarding receives, self ---- */

static int buffers_rank(rt *r, void *arg)
{
    (void)arg;
    seen *s = job_slot(r);
    char buf[100];
    rt_status st;
    int rc;
    if (rt_rank(r) == 0) {
        const char msg[] = "0123456789";
        rt_send(r, 1, 1, msg, sizeof msg);  /* truncated to 4 */
        rt_send(r, 1, 2, "next", 5);        /* still intact after it */
        rt_send(r, 1, 3, NULL, 64);         /* size-only: 64 zeros */
        rt_send(r, 1, 4, msg, sizeof msg);  /* dropped by a NULL buffer */
        return RT_OK;
    }
    memset(buf, 'x', sizeof buf);
    rc = rt_recv(r, 0, 1, buf, 4, &st);
    if (rc != RT_ETRUNC || st.bytes != 11 || memcmp(buf, "0123x", 5) != 0 || !strstr(rt_error(r), "11 bytes"))
        violation(s, "truncation: rc %d, %zu bytes, '%.5s': %s", rc, st.bytes, buf, rt_error(r));
    rc = rt_recv(r, 0, 2, buf, sizeof buf, &st);
    if (rc || st.bytes != 5 || strcmp(buf, "next") != 0)
        violation(s, "after truncation: rc %d, '%s'", rc, buf);
    memset(buf, 'x', sizeof buf);
    rc = rt_recv(r, 0, 3, buf, sizeof buf, &st);
    if (rc || st.bytes != 64 || buf[0] != 0 || buf[63] != 0 || buf[64] != 'x')
        violation(s, "size-only: rc %d, %zu bytes", rc, st.bytes);
    rc = rt_recv(r, 0, 4, NULL, 0, &st);
    if (rc || st.bytes != 11 || st.source != 0 || st.tag != 4)
        violation(s, "discard: rc %d, %zu bytes from %d tag %d", rc, st.bytes, st.source, st.tag);

    /* to oneself, over the rank's own loopback connection */
    static char out[1 << 20], in[1 << 20];
    for (size_t i = 0; i < sizeof out; i++)
        out[i] = (char)(i % 251);
    rt_request *q;
    rc = rt_isend(r, 1, 9, out, sizeof out, &q);
    if (!rc)
        rc = rt_recv(r, 1, 9, in, sizeof in, &st);
    if (!rc)
        rc = rt_wait(r, &q, NULL);
    if (rc || st.source != 1 || memcmp(in, out, sizeof in) != 0)
        violation(s, "self: rc %d: %s", rc, rt_error(r));
    return RT_OK;
}

static void test_buffers_threads(void **state)
{
    (void)state;
    job_config cfg = config(2, REAL_LAUNCH_THREADS);
    job_result res;
    run_clean(&cfg, buffers_rank, NULL, &res);
    job_result_free(&res);
}

/* ---- time: one origin, and stragglers ---- */

static void busy_s(rt *r, double s)
{
    double t0 = rt_now(r);
    while (rt_now(r) - t0 < s)
        ;
}

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts); /* the clock rt_now reads on this backend */
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* t[0], t[1]: bounds on the rank's clock origin on the monotonic clock;
 * t[2]: how long 0.1 s of math and its rt_compute took; t[3]: rt_now at
 * the function's start. */
static int clock_rank(rt *r, void *arg)
{
    (void)arg;
    seen *s = job_slot(r);
    s->t[3] = rt_now(r);
    double before = mono_s(), now = rt_now(r), after = mono_s();
    s->t[0] = before - now;
    s->t[1] = after - now;
    int rc = rt_barrier(r);
    double t1 = rt_now(r);
    busy_s(r, 0.1);
    if (!rc)
        rc = rt_compute(r, 1e6);
    s->t[2] = rt_now(r) - t1;
    return rc;
}

/* Every bound here is one a loaded machine cannot break: clock origins
 * are compared as intervals, times only from below (or against a minute). */
static void test_clock_procs(void **state)
{
    (void)state;
    double slowdown[3] = {1, 3, 1};
    job_config cfg = config(3, REAL_LAUNCH_PROCS);
    cfg.slowdown = slowdown;
    job_result res;
    run_clean(&cfg, clock_rank, NULL, &res);
    /* one origin: the intervals that hold each rank's origin overlap */
    double lo = -1e300, hi = 1e300;
    for (int i = 0; i < 3; i++) {
        seen *s = job_result_slot(&res, i);
        lo = s->t[0] > lo ? s->t[0] : lo;
        hi = s->t[1] < hi ? s->t[1] : hi;
        assert_true(s->t[3] > 0 && s->t[3] < res.seconds); /* after setup began */
    }
    if (lo > hi + 1e-9)
        fail_msg("the ranks' clocks have different origins (%.9f > %.9f)", lo, hi);
    /* the rank processes' CPU time in their function: some (each spun for
     * 0.1 s), and no more than three ranks can use in the job's time */
    if (!(res.cpu_seconds > 0 && res.cpu_seconds <= 3 * res.seconds))
        fail_msg("cpu_seconds %g for 3 ranks in %g s", res.cpu_seconds, res.seconds);
    /* rank 1 is 3x slower: 0.1 s of math costs it at least 0.3 s */
    double fast = ((seen *)job_result_slot(&res, 0))->t[2];
    double slow = ((seen *)job_result_slot(&res, 1))->t[2];
    if (!(fast >= 0.1 && slow >= 0.3 && slow < 60))
        fail_msg("0.1 s of work took %g s at slowdown 1, %g s at slowdown 3", fast, slow);
    /* the compute events cover the math, which ran before rt_compute
     * (and, for the straggler, the sleep that makes it 3x slower) */
    for (size_t i = 0; i < res.nevents; i++) {
        const rt_event *e = &res.events[i];
        if (e->kind != RT_EV_COMPUTE)
            continue;
        double want = e->rank == 1 ? 0.3 : 0.1, got = e->end_s - e->start_s;
        if (!(got >= want - 1e-6 && got < 60))
            fail_msg("rank %d: compute event of %g s, expected at least %g s", e->rank, got, want);
    }
    job_result_free(&res);
}

/* ---- shared memory between rank processes ---- */

/* POSIX shm objects of the job launched by process pid (what rt_shared
 * made before it used memory files; there must be none). */
static int shm_entries(pid_t pid)
{
    char prefix[64];
    int n = 0;
    snprintf(prefix, sizeof prefix, "distlab-%d-", (int)pid);
    DIR *d = opendir("/dev/shm");
    if (!d)
        return 0;
    for (struct dirent *de; (de = readdir(d));)
        n += strncmp(de->d_name, prefix, strlen(prefix)) == 0;
    closedir(d);
    return n;
}

static int shared_rank(rt *r, void *arg)
{
    (void)arg;
    seen *s = job_slot(r);
    int *a = rt_shared(r, "weights/layer 1", 4096);
    if (!a) {
        violation(s, "rt_shared: %s", rt_error(r));
        return RT_OK;
    }
    if (rt_shared(r, "weights/layer 1", 4096) != a)
        violation(s, "a second lookup gave another address");
    if (rt_shared(r, "weights/layer 1", 8192) != NULL || !strstr(rt_error(r), "already 4096 bytes"))
        violation(s, "another size was not refused: %s", rt_error(r));
    __atomic_fetch_add(&a[0], rt_rank(r) + 1, __ATOMIC_SEQ_CST);
    int rc = rt_barrier(r);
    s->t[0] = shm_entries(getppid());
    char line[512];
    FILE *f = fopen("/proc/self/maps", "r");
    while (f && fgets(line, sizeof line, f))
        s->t[1] += strstr(line, "/memfd:distlab-shared") != NULL;
    if (f)
        fclose(f);
    if (a[0] != 1 + 2 + 3 + 4)
        violation(s, "shared sum is %d, expected 10", a[0]);
    return rc;
}

static void test_shared_procs(void **state)
{
    (void)state;
    job_config cfg = config(4, REAL_LAUNCH_PROCS);
    job_result res;
    run_clean(&cfg, shared_rank, NULL, &res);
    for (int i = 0; i < 4; i++) {
        seen *s = job_result_slot(&res, i);
        assert_int_equal(s->t[0], 0);  /* nothing named, even while the job runs */
        assert_int_equal(s->t[1], 1);  /* one memory file, mapped once */
    }
    assert_int_equal(shm_entries(getpid()), 0);
    job_result_free(&res);
}

/* ---- many ranks in one process ---- */

enum { MANY = 40 };

static int many_rank(rt *r, void *arg)
{
    (void)arg;
    seen *s = job_slot(r);
    int p = rt_size(r), me = rt_rank(r), got = -1;
    int rc = rt_barrier(r);
    for (int d = 1; d < p && !rc; d++) {
        int to = (me + d) % p, from = (me - d + p) % p;
        rc = rt_sendrecv(r, to, d, &me, sizeof me, from, d, &got, sizeof got, NULL);
        if (!rc && got != from)
            violation(s, "from rank %d got %d", from, got);
    }
    return rc;
}

static void test_many_threads(void **state)
{
    (void)state;
    job_config cfg = config(MANY, REAL_LAUNCH_THREADS);
    job_result res;
    run_clean(&cfg, many_rank, NULL, &res);
    /* every thread's CPU time in its function, summed */
    if (!(res.cpu_seconds > 0 && res.cpu_seconds <= MANY * res.seconds))
        fail_msg("cpu_seconds %g for %d ranks in %g s", res.cpu_seconds, MANY, res.seconds);
    job_result_free(&res);
}

/* ---- setup errors ---- */

static int never_rank(rt *r, void *arg)
{
    (void)r;
    (void)arg;
    return RT_OK;
}

static void test_bad_listen_address(void **state)
{
    (void)state;
    job_config cfg = config(2, REAL_LAUNCH_THREADS);
    real_config real = *real_settings(&cfg);
    real.listen_addr = "300.1.2.3";
    cfg.settings = &real;
    job_result res;
    assert_int_not_equal(job_run(&cfg, never_rank, NULL, &res), 0);
    if (!strstr(res.error, "listen address 300.1.2.3"))
        fail_msg("unexpected error: %s", res.error);
    job_result_free(&res);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_queued_threads),
        cmocka_unit_test(test_queued_procs),
        cmocka_unit_test(test_buffers_threads),
        cmocka_unit_test(test_clock_procs),
        cmocka_unit_test(test_shared_procs),
        cmocka_unit_test(test_many_threads),
        cmocka_unit_test(test_bad_listen_address),
    };
    return cmocka_run_group_tests_name("real backend: buffering, buffers, clock, shared memory, scale", tests, NULL, NULL);
}
