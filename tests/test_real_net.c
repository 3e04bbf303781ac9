/* test_real_net.c -- what the real backend does when the network or a peer
 * misbehaves: malformed frames written on a live socket, a rank process
 * that exits or is killed mid-run, a rank thread that drops its
 * connections, a rank that goes silent, the any-source death report a
 * parameter server relies on, and a wait that gives up half way through a
 * send and a receive. Each must become an error code with a
 * message naming the peer, in well under the timeout, never a hang or a
 * crash (SIGPIPE included).
 *
 * Rank functions never assert: they record what they saw in their result
 * slot, and the checks run after the job.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <errno.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/job.h"
#include "real/frame.h"
#include "real/real.h"
#include "real/real_backend.h"

#define TIMEOUT_S 2.0

typedef struct seen {
    int rc, rc2, rc3;
    int source;
    int count[8];       /* messages per source */
    int deaths[8];      /* death reports per source */
    double elapsed_s;
    char msg[300], msg2[300];
} seen;

static job_config config(int ranks, real_launch launch)
{
    static real_config by_launch[3]; /* outlive every job of the file */
    by_launch[launch] = real_config_default();
    by_launch[launch].launch = launch;
    job_config cfg = real_job_config(&by_launch[launch]);
    cfg.ranks = ranks;
    cfg.timeout_s = TIMEOUT_S;
    cfg.result_bytes = sizeof(seen);
    return cfg;
}

static void sleep_s(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

/* A gate between the rank threads of a job (threads mode, or the two
 * threads of run_hosts_pair): a rank that must stay quiet until another
 * has seen something blocks here, instead of sleeping for a time that a
 * loaded machine could outlast. */
static pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cond = PTHREAD_COND_INITIALIZER;
static int gate_is_open;

static void gate_close(void)
{
    pthread_mutex_lock(&gate_lock);
    gate_is_open = 0;
    pthread_mutex_unlock(&gate_lock);
}

static void gate_open(void)
{
    pthread_mutex_lock(&gate_lock);
    gate_is_open = 1;
    pthread_cond_broadcast(&gate_cond);
    pthread_mutex_unlock(&gate_lock);
}

static void gate_wait(void)
{
    pthread_mutex_lock(&gate_lock);
    while (!gate_is_open)
        pthread_cond_wait(&gate_cond, &gate_lock);
    pthread_mutex_unlock(&gate_lock);
}

#define assert_contains(haystack, needle)                                              \
    do {                                                                               \
        if (!strstr((haystack), (needle)))                                             \
            fail_msg("\"%s\" does not mention \"%s\"", (haystack), (needle));          \
    } while (0)

/* ---- frame headers on their own ---- */

static void test_frame_check(void **state)
{
    (void)state;
    unsigned char b[REAL_FRAME_HEADER_BYTES];
    real_frame f;
    char why[200];
    real_frame_encode(b, 3, 42, 1000);
    real_frame_decode(b, &f);
    assert_int_equal(real_frame_check(&f, 3, RT_TAG_MAX, why, sizeof why), 0);
    assert_int_equal(f.source, 3);
    assert_int_equal(f.tag, 42);
    assert_int_equal(f.len, 1000);

    real_frame bad = f;
    bad.magic = 0x12345678;
    assert_int_equal(real_frame_check(&bad, 3, RT_TAG_MAX, why, sizeof why), -1);
    assert_contains(why, "magic");
    bad = f;
    bad.version = 9;
    assert_int_equal(real_frame_check(&bad, 3, RT_TAG_MAX, why, sizeof why), -1);
    assert_contains(why, "version 9");
    assert_int_equal(real_frame_check(&f, 2, RT_TAG_MAX, why, sizeof why), -1);
    assert_contains(why, "source rank 3");
    bad = f;
    bad.len = REAL_FRAME_MAX_LEN + 1;
    assert_int_equal(real_frame_check(&bad, 3, RT_TAG_MAX, why, sizeof why), -1);
    assert_contains(why, "limit");
    bad = f;
    bad.tag = -5;
    assert_int_equal(real_frame_check(&bad, 3, RT_TAG_MAX, why, sizeof why), -1);
    assert_contains(why, "tag -5");
}

/* ---- garbage on a live connection ---- */

typedef enum { BAD_MAGIC, BAD_VERSION, BAD_LENGTH, BAD_SOURCE, BAD_HELLO, BAD_HALT } garbage;

/* Rank 1 writes one malformed header on its socket to rank 0, then a good
 * message; rank 0 must see RT_EPROTO naming rank 1 and the fault, and the
 * connection must stay closed afterwards. */
static int garbage_rank(rt *r, void *arg)
{
    garbage kind = *(garbage *)arg;
    seen *s = job_slot(r);
    char buf[64];
    if (rt_rank(r) == 1) {
        unsigned char h[REAL_FRAME_HEADER_BYTES];
        int tag = kind == BAD_HELLO ? REAL_TAG_HELLO : kind == BAD_HALT ? REAL_TAG_HALT : 5;
        real_frame_encode(h, kind == BAD_SOURCE ? 0 : 1, tag, kind == BAD_LENGTH ? ((uint64_t)1 << 40) : 8);
        if (kind == BAD_MAGIC)
            h[0] ^= 0xff;
        if (kind == BAD_VERSION)
            h[4] = 7;
        if (write(real_peer_fd(r, 0), h, sizeof h) != (ssize_t)sizeof h)
            return RT_EIO;
        rt_send(r, 0, 5, "after", 6); /* must never be delivered */
        return RT_OK;
    }
    s->rc = rt_recv(r, 1, 5, buf, sizeof buf, NULL);
    snprintf(s->msg, sizeof s->msg, "%s", rt_error(r));
    s->rc2 = rt_recv(r, 1, 5, buf, sizeof buf, NULL);
    s->rc3 = rt_send(r, 1, 5, "x", 1);
    return RT_OK;
}

static void check_garbage(garbage kind, const char *says)
{
    job_config cfg = config(2, REAL_LAUNCH_THREADS);
    job_result res;
    int rc = job_run(&cfg, garbage_rank, &kind, &res);
    if (rc != 0)
        fail_msg("job failed: %s", res.error);
    seen *s = job_result_slot(&res, 0);
    assert_int_equal(s->rc, RT_EPROTO);
    assert_contains(s->msg, "rank 1");
    assert_contains(s->msg, says); /* RT_EPROTO, not a timeout */
    assert_int_equal(s->rc2, RT_EPROTO);
    assert_int_equal(s->rc3, RT_EPEER);
    job_result_free(&res);
}

static void test_garbage_magic(void **state) { (void)state; check_garbage(BAD_MAGIC, "bad magic"); }
static void test_garbage_version(void **state) { (void)state; check_garbage(BAD_VERSION, "bad version 7"); }
static void test_garbage_length(void **state) { (void)state; check_garbage(BAD_LENGTH, "limit"); }
static void test_garbage_source(void **state) { (void)state; check_garbage(BAD_SOURCE, "claims source rank 0"); }
static void test_garbage_hello(void **state) { (void)state; check_garbage(BAD_HELLO, "bad tag"); }
static void test_garbage_halt(void **state) { (void)state; check_garbage(BAD_HALT, "halt with a 8-byte payload"); }

/* ---- a peer that halts: its receivers hear at once, its report still comes ---- */

enum { HALT_BIG = 32 << 20 };

/* Rank 1 sends a small message and 32 MiB, halts while the 32 MiB are
 * still queued to rank 0, then waits at the gate -- until rank 0 has
 * heard the halt -- before it sends its report: rank 0 hears of the halt
 * while rank 1 still runs, not when it ends. */
static int halt_rank(rt *r, void *arg)
{
    (void)arg;
    seen *s = job_slot(r);
    real_rank *rk = r->backend_data;
    static char big[HALT_BIG];
    int v = 0;
    rt_request *q;
    if (rt_rank(r) == 1) {
        memset(big, 7, sizeof big);
        rt_send(r, 0, 5, &v, sizeof v); /* sent before the halt: delivered */
        if (rt_isend(r, 0, 7, big, sizeof big, &q) != RT_OK)
            return RT_EIO;
        real_engine_halt(rk); /* queues behind the 32 MiB */
        if (rt_wait(r, &q, NULL) != RT_OK)
            return RT_EIO;
        gate_wait();
        v = 42;
        if (rt_isend_internal(r, 0, REAL_TAG_REPORT, &v, sizeof v, 1, &q) != RT_OK)
            return RT_EIO;
        return rt_wait(r, &q, NULL);
    }
    s->rc = rt_recv(r, 1, 5, &v, sizeof v, NULL);
    s->rc2 = rt_recv(r, 1, 6, &v, sizeof v, NULL); /* nothing more will come */
    snprintf(s->msg, sizeof s->msg, "%s", rt_error(r));
    s->rc3 = rt_recv(r, RT_ANY_SOURCE, 6, &v, sizeof v, NULL); /* hears of it too */
    gate_open();
    /* what came before the halt is still there */
    char *got = malloc(HALT_BIG);
    s->count[0] = got && rt_recv(r, 1, 7, got, HALT_BIG, NULL) == RT_OK && got[0] == 7 && got[HALT_BIG - 1] == 7;
    free(got);
    if (rt_irecv_internal(r, 1, REAL_TAG_REPORT, &v, sizeof v, &q) != RT_OK)
        return RT_EIO;
    s->source = rt_wait(r, &q, NULL) == RT_OK ? v : -1;
    return RT_OK;
}

static void test_halt(void **state)
{
    (void)state;
    job_config cfg = config(2, REAL_LAUNCH_THREADS);
    job_result res;
    gate_close();
    assert_int_equal(job_run(&cfg, halt_rank, NULL, &res), 0);
    seen *s = job_result_slot(&res, 0);
    assert_int_equal(s->rc, RT_OK);
    assert_int_equal(s->rc2, RT_EPEER);
    assert_contains(s->msg, "recv from rank 1: it stopped after an error");
    assert_int_equal(s->rc3, RT_EPEER); /* while rank 1 waited at the gate */
    assert_int_equal(s->count[0], 1);
    assert_int_equal(s->source, 42); /* the report went through after the halt */
    job_result_free(&res);
}

/* ---- hosts: what a rank left behind is dropped before it reports ---- */

static char abandoned[64];

/* Rank 0 posts a receive and gives up without waiting for it; rank 1's
 * message for it comes once rank 0 has halted -- which it does after it
 * dropped what it left behind -- while rank 0 waits for rank 1's report. */
static int abandon_rank(rt *r, void *arg)
{
    (void)arg;
    if (rt_rank(r) == 0) {
        rt_request *q;
        if (rt_irecv(r, 1, 9, abandoned, sizeof abandoned, &q) != RT_OK)
            return RT_EIO;
        return rt_fail(r, RT_EINVAL, "rank 0 gives up"); /* q stays posted */
    }
    char junk[sizeof abandoned];
    memset(junk, 'x', sizeof junk);
    if (rt_recv(r, 0, 8, junk, sizeof junk, NULL) != RT_EPEER) /* the halt */
        return RT_EPROTO;
    memset(junk, 'x', sizeof junk);
    rt_send(r, 0, 9, junk, sizeof junk);
    return RT_OK;
}

/* Rank 0 gives up with 32 MiB half on the wire to rank 1, which waits
 * for them: rank 1 must hear at once, not at the timeout. */
static int torn_rank(rt *r, void *arg)
{
    (void)arg;
    static char big[32 << 20];
    seen *s = job_slot(r);
    rt_request *q;
    if (rt_rank(r) == 0) {
        if (rt_isend(r, 1, 9, big, sizeof big, &q) != RT_OK)
            return RT_EIO;
        return rt_fail(r, RT_EINVAL, "rank 0 gives up mid-send"); /* q never waited */
    }
    char *got = malloc(sizeof big);
    s->rc = got ? rt_recv(r, 0, 9, got, sizeof big, NULL) : RT_ENOMEM;
    snprintf(s->msg, sizeof s->msg, "%s", rt_error(r));
    free(got);
    return s->rc;
}

typedef struct host_thread {
    job_config cfg;
    real_config real;   /* cfg's settings */
    job_result res;
    job_main fn;
    int rc;
} host_thread;

static void *host_main(void *p)
{
    host_thread *h = p;
    h->rc = job_run(&h->cfg, h->fn, NULL, &h->res);
    return NULL;
}

/* Run fn as a 2-rank hosts job, each rank in a thread of its own as if on
 * a machine of its own. */
static void run_hosts_pair(job_main fn, double timeout_s, host_thread h[2])
{
    char peers[128] = "";
    for (int i = 0; i < 2; i++) { /* two ports nothing listens on */
        int s = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t al = sizeof a;
        assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof a), 0);
        assert_int_equal(getsockname(s, (struct sockaddr *)&a, &al), 0);
        close(s);
        snprintf(peers + strlen(peers), sizeof peers - strlen(peers), "%s127.0.0.1:%d", i ? "," : "",
                 ntohs(a.sin_port));
    }
    pthread_t th[2];
    for (int i = 0; i < 2; i++) {
        h[i].cfg = config(2, REAL_LAUNCH_HOSTS);
        h[i].real = *real_settings(&h[i].cfg);
        h[i].real.peers = peers;
        h[i].real.host_rank = i;
        h[i].cfg.settings = &h[i].real;
        h[i].cfg.timeout_s = timeout_s;
        h[i].fn = fn;
        assert_int_equal(pthread_create(&th[i], NULL, host_main, &h[i]), 0);
    }
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
}

static void test_hosts_drop_abandoned(void **state)
{
    (void)state;
    host_thread h[2];
    memset(abandoned, 0, sizeof abandoned);
    run_hosts_pair(abandon_rank, TIMEOUT_S, h);
    assert_int_not_equal(h[0].rc, 0);
    assert_contains(h[0].res.error, "rank 0 gives up");
    assert_int_equal(h[1].rc, 0);
    assert_int_equal(h[1].res.only_rank, 1);
    for (size_t i = 0; i < sizeof abandoned; i++)
        assert_int_equal(abandoned[i], 0); /* the late message did not land in the dropped receive */
    for (int i = 0; i < 2; i++)
        job_result_free(&h[i].res);
}

static void test_hosts_torn_frame(void **state)
{
    (void)state;
    host_thread h[2];
    run_hosts_pair(torn_rank, 5.0, h);
    assert_int_not_equal(h[0].rc, 0);
    assert_contains(h[0].res.error, "rank 0 gives up mid-send");
    seen *s = job_result_slot(&h[1].res, 1);
    if (s->rc != RT_EPEER) /* at once, not RT_ETIMEOUT after 5 s */
        fail_msg("rank 1: got %s, expected RT_EPEER: %s", rt_strerror(s->rc), s->msg);
    for (int i = 0; i < 2; i++)
        job_result_free(&h[i].res);
}

/* ---- a peer that dies ---- */

typedef enum { DIE_EXIT, DIE_KILL, DIE_ABORT } death;

/* Rank 2 dies after one barrier; rank 0 waits on a receive from it, rank 1
 * keeps sending it 1 MiB messages (a dead socket must not raise SIGPIPE). */
static int death_rank(rt *r, void *arg)
{
    death how = *(death *)arg;
    seen *s = job_slot(r);
    static char big[1 << 20];
    int rc = rt_barrier(r);
    if (rc)
        return rc;
    double t0 = rt_now(r);
    switch (rt_rank(r)) {
    case 2:
        if (how == DIE_EXIT)
            _exit(7);
        if (how == DIE_KILL)
            raise(SIGKILL);
        real_abort_connections(r);
        return RT_OK;
    case 0:
        s->rc = rt_recv(r, 2, 1, big, sizeof big, NULL);
        snprintf(s->msg, sizeof s->msg, "%s", rt_error(r));
        break;
    default:
        do
            s->rc = rt_send(r, 2, 1, big, sizeof big);
        while (s->rc == RT_OK && rt_now(r) - t0 < 3 * TIMEOUT_S);
        snprintf(s->msg, sizeof s->msg, "%s", rt_error(r));
        break;
    }
    /* the survivors still talk to each other */
    int other = 1 - rt_rank(r), x = rt_rank(r), y = -1;
    s->rc2 = rt_sendrecv(r, other, 3, &x, sizeof x, other, 3, &y, sizeof y, NULL);
    s->source = y;
    return RT_OK;
}

static void check_death(death how, real_launch launch, const char *job_says)
{
    job_config cfg = config(3, launch);
    job_result res;
    int rc = job_run(&cfg, death_rank, &how, &res);
    if (job_says) {
        assert_int_not_equal(rc, 0);
        assert_contains(res.error, job_says);
    } else if (rc != 0) {
        fail_msg("job failed: %s", res.error);
    }
    for (int i = 0; i < 2; i++) {
        seen *s = job_result_slot(&res, i);
        if (s->rc != RT_EPEER)
            fail_msg("rank %d: got %s, expected RT_EPEER: %s", i, rt_strerror(s->rc), s->msg);
        assert_contains(s->msg, "rank 2"); /* RT_EPEER: not at the timeout */
        assert_int_equal(s->rc2, RT_OK);
        assert_int_equal(s->source, 1 - i);
    }
    job_result_free(&res);
}

static void test_death_exit_procs(void **state) { (void)state; check_death(DIE_EXIT, REAL_LAUNCH_PROCS, "rank 2 exited with status 7"); }
static void test_death_kill_procs(void **state) { (void)state; check_death(DIE_KILL, REAL_LAUNCH_PROCS, "signal 9"); }
static void test_death_abort_threads(void **state) { (void)state; check_death(DIE_ABORT, REAL_LAUNCH_THREADS, NULL); }

/* ---- a peer that ends early, and one that goes silent ---- */

/* Rank 1 ends at once, or (silent) stays quiet at the gate until rank 0's
 * receive from it has returned. */
static int early_rank(rt *r, void *arg)
{
    int silent = *(int *)arg;
    seen *s = job_slot(r);
    char c;
    if (rt_rank(r) == 1) {
        if (silent)
            gate_wait();
        return RT_OK;
    }
    double t0 = rt_now(r);
    s->rc = rt_recv(r, 1, 0, &c, 1, NULL);
    snprintf(s->msg, sizeof s->msg, "%s", rt_error(r));
    s->elapsed_s = rt_now(r) - t0;
    gate_open();
    return RT_OK;
}

static void test_peer_ended(void **state)
{
    (void)state;
    int silent = 0;
    job_config cfg = config(2, REAL_LAUNCH_THREADS);
    job_result res;
    assert_int_equal(job_run(&cfg, early_rank, &silent, &res), 0);
    seen *s = job_result_slot(&res, 0);
    assert_int_equal(s->rc, RT_EPEER); /* not RT_ETIMEOUT */
    assert_contains(s->msg, "recv from rank 1: it has ended");
    job_result_free(&res);
}

/* The timeout holds whether the rank sleeps at once or spins -- even when
 * it would spin for longer than the timeout. It cannot fire early; how
 * late it fires depends on the machine's load, so only a hang fails. */
static void check_silent_peer(double spin_s)
{
    int silent = 1;
    job_config cfg = config(2, REAL_LAUNCH_THREADS);
    real_config real = *real_settings(&cfg);
    real.spin_s = spin_s;
    cfg.settings = &real;
    cfg.timeout_s = 0.5;
    job_result res;
    gate_close();
    assert_int_equal(job_run(&cfg, early_rank, &silent, &res), 0);
    seen *s = job_result_slot(&res, 0);
    assert_int_equal(s->rc, RT_ETIMEOUT);
    assert_contains(s->msg, "recv from rank 1");
    assert_true(s->elapsed_s >= 0.5 - 1e-6);
    job_result_free(&res);
}

static void test_silent_peer(void **state) { (void)state; check_silent_peer(0); }
static void test_silent_peer_spinning(void **state) { (void)state; check_silent_peer(1.0); }

/* Ranks spin only when each has a core: on their own (one rank), never
 * when there are more ranks than cores, and as told when told. */
static void test_spin_choice(void **state)
{
    (void)state;
    cpu_set_t set;
    assert_int_equal(sched_getaffinity(0, sizeof set, &set), 0);
    job_config cfg = config(1, REAL_LAUNCH_THREADS);
    real_config real = *real_settings(&cfg);
    cfg.settings = &real;
    assert_true(real_spin_s(&cfg) == REAL_SPIN_AUTO_S);
    cfg.ranks = CPU_COUNT(&set);
    assert_true(real_spin_s(&cfg) == REAL_SPIN_AUTO_S);
    cfg.ranks = CPU_COUNT(&set) + 1;
    assert_true(real_spin_s(&cfg) == 0);
    real.spin_s = 2e-3;
    assert_true(real_spin_s(&cfg) == 2e-3);
    real.spin_s = 0;
    cfg.ranks = 1;
    assert_true(real_spin_s(&cfg) == 0);

    cfg.ranks = CPU_COUNT(&set);
    assert_true(real_binds(&cfg));
    cfg.ranks = CPU_COUNT(&set) + 1;
    assert_false(real_binds(&cfg));
    real.bind = REAL_BIND_CORES;
    assert_true(real_binds(&cfg));
    cfg.ranks = 1;
    real.bind = REAL_BIND_NONE;
    assert_false(real_binds(&cfg));

    /* hosts: the ranks whose --peers entry has this rank's host share its
     * cores; bound only when asked */
    char peers[4096] = "";
    int n = CPU_COUNT(&set) + 1;
    for (int i = 0; i < n; i++)
        snprintf(peers + strlen(peers), sizeof peers - strlen(peers), "127.0.0.1:%d,", 7000 + i);
    strcat(peers, "10.1.2.3:7000");
    cfg = config(n + 1, REAL_LAUNCH_HOSTS);
    real = *real_settings(&cfg);
    cfg.settings = &real;
    real.peers = peers;
    real.host_rank = 0; /* with n - 1 others on 127.0.0.1: more than the cores */
    assert_true(real_spin_s(&cfg) == 0);
    assert_int_equal(real_core_slot(&cfg, 0), 0);
    real.host_rank = 1;
    assert_int_equal(real_core_slot(&cfg, 1), 1); /* the second rank on 127.0.0.1 */
    real.host_rank = n; /* alone on 10.1.2.3 */
    assert_true(real_spin_s(&cfg) == REAL_SPIN_AUTO_S);
    assert_int_equal(real_core_slot(&cfg, n), 0);
    assert_false(real_binds(&cfg));
    real.bind = REAL_BIND_CORES;
    assert_true(real_binds(&cfg));
}

/* Each rank reports the cores it may run on. */
static int affinity_rank(rt *r, void *arg)
{
    (void)arg;
    seen *s = job_slot(r);
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) != 0)
        return RT_EIO;
    s->count[0] = CPU_COUNT(&set);
    for (int c = 0; c < CPU_SETSIZE; c++)
        if (CPU_ISSET(c, &set)) {
            s->source = c; /* the first */
            break;
        }
    return rt_barrier(r);
}

/* Bound ranks have one core each, the i-th of the allowed ones (wrapping
 * when they outnumber the cores); unbound ones keep them all. */
static void check_binding(real_launch launch)
{
    cpu_set_t set;
    assert_int_equal(sched_getaffinity(0, sizeof set, &set), 0);
    int cores = CPU_COUNT(&set), nth[CPU_SETSIZE], k = 0;
    for (int c = 0; c < CPU_SETSIZE; c++)
        if (CPU_ISSET(c, &set))
            nth[k++] = c;
    job_config cfg = config(3, launch);
    real_config real = *real_settings(&cfg);
    real.bind = REAL_BIND_CORES;
    cfg.settings = &real;
    job_result res;
    assert_int_equal(job_run(&cfg, affinity_rank, NULL, &res), 0);
    for (int i = 0; i < 3; i++) {
        seen *s = job_result_slot(&res, i);
        assert_int_equal(s->count[0], 1);
        assert_int_equal(s->source, nth[i % cores]);
    }
    job_result_free(&res);
    real.bind = REAL_BIND_NONE;
    assert_int_equal(job_run(&cfg, affinity_rank, NULL, &res), 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(((seen *)job_result_slot(&res, i))->count[0], cores);
    job_result_free(&res);
}

static void test_binding_threads(void **state) { (void)state; check_binding(REAL_LAUNCH_THREADS); }
static void test_binding_procs(void **state) { (void)state; check_binding(REAL_LAUNCH_PROCS); }

/* ---- any-source receives hear of each death once ---- */

enum { PS_MSGS = 5 };

/* Rank 0 serves ranks 1..3 with any-source receives. Rank 2 dies after
 * its first message; ranks 1 and 3 send all theirs and end normally,
 * which is no death. */
static int server_rank(rt *r, void *arg)
{
    death how = *(death *)arg;
    seen *s = job_slot(r);
    int me = rt_rank(r), v;
    if (me != 0) {
        for (int i = 0; i < PS_MSGS; i++) {
            int rc = rt_send(r, 0, 7, &me, sizeof me);
            if (rc)
                return rc;
            if (me == 2) {
                sleep_s(0.05);
                if (how == DIE_EXIT)
                    _exit(1);
                real_abort_connections(r);
                return RT_OK;
            }
        }
        return RT_OK;
    }
    for (int i = 0; i < 2 * PS_MSGS + 2; i++) {
        rt_status st = {.source = -2};
        int rc = rt_recv(r, RT_ANY_SOURCE, 7, &v, sizeof v, &st);
        if (st.source < 0 || st.source > 3) {
            s->rc = rc ? rc : RT_EINVAL;
            snprintf(s->msg, sizeof s->msg, "bad source %d: %s", st.source, rt_error(r));
            return RT_OK;
        }
        if (rc == RT_OK) {
            s->count[st.source]++;
        } else {
            s->deaths[st.source]++;
            snprintf(s->msg, sizeof s->msg, "%s", rt_error(r));
        }
    }
    /* everyone is gone now: the next any-source receive says so at once */
    s->rc2 = rt_recv(r, RT_ANY_SOURCE, 7, &v, sizeof v, NULL);
    snprintf(s->msg2, sizeof s->msg2, "%s", rt_error(r));
    return RT_OK;
}

static void check_server(death how, real_launch launch, double spin_s)
{
    job_config cfg = config(4, launch);
    real_config real = *real_settings(&cfg);
    real.spin_s = spin_s;
    cfg.settings = &real;
    job_result res;
    job_run(&cfg, server_rank, &how, &res);
    seen *s = job_result_slot(&res, 0);
    assert_int_equal(s->rc, RT_OK);
    assert_int_equal(s->count[1], PS_MSGS);
    assert_int_equal(s->count[2], 1);
    assert_int_equal(s->count[3], PS_MSGS);
    assert_int_equal(s->deaths[1], 0);
    assert_int_equal(s->deaths[2], 1);
    assert_int_equal(s->deaths[3], 0);
    assert_contains(s->msg, "rank 2");
    assert_int_equal(s->rc2, RT_EPEER);
    assert_contains(s->msg2, "every other rank has ended"); /* not a timeout */
    job_result_free(&res);
}

static void test_anysource_death_procs(void **state) { (void)state; check_server(DIE_EXIT, REAL_LAUNCH_PROCS, -1); }
static void test_anysource_death_threads(void **state) { (void)state; check_server(DIE_ABORT, REAL_LAUNCH_THREADS, -1); }
/* four ranks spinning on however few cores: slower, but the same answers */
static void test_anysource_death_spinning(void **state) { (void)state; check_server(DIE_ABORT, REAL_LAUNCH_THREADS, 1e-3); }

/* ---- a wait that gives up mid-transfer ---- */

enum { GIVEUP_BYTES = 32 << 20 };

/* Rank 0 waits on an isend of 32 MiB and an irecv of 32 MiB while rank 1
 * waits at the gate (until rank 0 has given up), so both stop half way
 * and the wait times out; rt_waitall then
 * gives both requests up. Rank 0 wipes its send buffer at once: the frame
 * on the wire must still arrive whole and intact (the runtime kept a
 * copy), and the rest of the half-received message must be skipped so
 * that the next message from rank 1 arrives intact. */
static int giveup_rank(rt *r, void *arg)
{
    (void)arg;
    seen *s = job_slot(r);
    unsigned char *buf = malloc(GIVEUP_BYTES);
    unsigned char small[8] = {0};
    if (!buf)
        return RT_ENOMEM;
    for (size_t i = 0; i < GIVEUP_BYTES; i++)
        buf[i] = (unsigned char)(i % 253);
    if (rt_rank(r) == 0) {
        rt_request *q[2];
        s->rc = rt_isend(r, 1, 1, buf, GIVEUP_BYTES, &q[0]);
        if (!s->rc)
            s->rc = rt_irecv(r, 1, 2, buf, GIVEUP_BYTES, &q[1]);
        if (!s->rc)
            s->rc = rt_waitall(r, 2, q, NULL);
        snprintf(s->msg, sizeof s->msg, "%s", rt_error(r));
        gate_open();
        memset(buf, 0xee, GIVEUP_BYTES);
        /* rank 1 now finishes the transfers and sends 42; on a loaded
         * machine (TSan, another job on each core) that may take longer
         * than one timeout, and a receive given up can be posted again */
        for (int tries = 0; tries < 5; tries++)
            if ((s->rc2 = rt_recv(r, 1, 3, small, sizeof small, NULL)) != RT_ETIMEOUT)
                break;
        snprintf(s->msg2, sizeof s->msg2, "%s", rt_error(r));
        s->source = small[0];
        free(buf);
        return RT_OK;
    }
    rt_request *q;
    int rc = rt_isend(r, 0, 2, buf, GIVEUP_BYTES, &q);
    gate_wait(); /* rank 0 gives up meanwhile: nothing moved for its timeout */
    if (!rc)
        rc = rt_wait(r, &q, NULL);
    unsigned char *in = malloc(GIVEUP_BYTES);
    if (!rc && in)
        rc = rt_recv(r, 0, 1, in, GIVEUP_BYTES, NULL);
    s->rc = rc;
    if (!rc && in && memcmp(in, buf, GIVEUP_BYTES) != 0)
        s->rc = RT_EPROTO;
    small[0] = 42;
    s->rc2 = rt_send(r, 0, 3, small, sizeof small);
    free(in);
    free(buf);
    return RT_OK;
}

static void test_give_up(void **state)
{
    (void)state;
    job_config cfg = config(2, REAL_LAUNCH_THREADS);
    job_result res;
    gate_close();
    job_run(&cfg, giveup_rank, NULL, &res);
    seen *s0 = job_result_slot(&res, 0), *s1 = job_result_slot(&res, 1);
    assert_int_equal(s0->rc, RT_ETIMEOUT);
    assert_contains(s0->msg, "no progress for 2 s");
    if (s0->rc2 != RT_OK)
        fail_msg("rank 0, message after the given-up one: %s", s0->msg2);
    assert_int_equal(s0->source, 42);
    assert_int_equal(s1->rc, RT_OK); /* the given-up send arrived whole */
    assert_int_equal(s1->rc2, RT_OK);
    job_result_free(&res);
}

/* ---- waiting on a rank that waits, and a deadlock ---- */

/* How many ranks have finished their wait; the condition is the gate's. */
static int waits_done;

static void wait_done_and_others(int others)
{
    pthread_mutex_lock(&gate_lock);
    waits_done++;
    pthread_cond_broadcast(&gate_cond);
    while (waits_done < others + 1)
        pthread_cond_wait(&gate_cond, &gate_lock);
    pthread_mutex_unlock(&gate_lock);
}

/* Rank 2 stands at the gate, alive but making no runtime call, as a
 * stopped process would; rank 1 waits on it, rank 0 on rank 1. Both waits
 * time out, but rank 1 says while it waits that it is there: rank 0 finds
 * rank 1 waiting, not silent (so in a hosts job it would still take its
 * report, and rank 1 would not be taken for the stopped one), and rank 1
 * finds rank 2 silent. Neither rank ends before the other's wait is over
 * (a goodbye would end it). */
static int chain_rank(rt *r, void *arg)
{
    (void)arg;
    seen *s = job_slot(r);
    real_rank *rk = r->backend_data;
    int me = rt_rank(r);
    char c;
    if (me == 2) {
        gate_wait();
        return RT_OK;
    }
    s->rc = rt_recv(r, me + 1, 0, &c, 1, NULL);
    snprintf(s->msg, sizeof s->msg, "%s", rt_error(r));
    s->count[0] = rk->peers[me + 1].silent;
    wait_done_and_others(1);
    gate_open();
    return RT_OK;
}

static void test_waiting_rank_is_not_silent(void **state)
{
    (void)state;
    job_config cfg = config(3, REAL_LAUNCH_THREADS);
    job_result res;
    gate_close();
    waits_done = 0;
    job_run(&cfg, chain_rank, NULL, &res);
    seen *s0 = job_result_slot(&res, 0), *s1 = job_result_slot(&res, 1);
    assert_int_equal(s0->rc, RT_ETIMEOUT);
    assert_contains(s0->msg, "recv from rank 1");
    assert_int_equal(s1->rc, RT_ETIMEOUT);
    assert_contains(s1->msg, "recv from rank 2");
    if (s0->count[0] != 0)
        fail_msg("rank 0 took rank 1, which waited on rank 2, for silent");
    assert_int_equal(s1->count[0], 1); /* rank 2 said nothing at all */
    job_result_free(&res);
}

/* Two ranks each waiting to receive from the other: a deadlock. Each says
 * it is there while it waits, and that is no progress: both waits still
 * time out (an alarm ends the test if they hang). */
static int deadlock_rank(rt *r, void *arg)
{
    (void)arg;
    seen *s = job_slot(r);
    char c;
    s->rc = rt_recv(r, 1 - rt_rank(r), 0, &c, 1, NULL);
    snprintf(s->msg, sizeof s->msg, "%s", rt_error(r));
    wait_done_and_others(1);
    return RT_OK;
}

static void test_deadlock_still_times_out(void **state)
{
    (void)state;
    job_config cfg = config(2, REAL_LAUNCH_THREADS);
    job_result res;
    waits_done = 0;
    alarm(120);
    job_run(&cfg, deadlock_rank, NULL, &res);
    alarm(0);
    for (int i = 0; i < 2; i++) {
        seen *s = job_result_slot(&res, i);
        assert_int_equal(s->rc, RT_ETIMEOUT);
        assert_contains(s->msg, "no progress for 2 s");
    }
    job_result_free(&res);
}

/* ---- a rank that stops, and a launcher that dies ---- */

/* Rank 1 stops itself (SIGSTOP) after a barrier; the others wait on it in
 * the next one. The launcher must kill it and end, whatever the machine's
 * load: the only bound is a generous alarm, which kills the whole test if
 * the launcher hangs. */
static int stop_rank(rt *r, void *arg)
{
    (void)arg;
    seen *s = job_slot(r);
    s->source = (int)getpid();
    int rc = rt_barrier(r);
    if (rc)
        return rc;
    if (rt_rank(r) == 1)
        raise(SIGSTOP);
    return rt_barrier(r);
}

static void test_stopped_rank_procs(void **state)
{
    (void)state;
    job_config cfg = config(3, REAL_LAUNCH_PROCS);
    job_result res;
    alarm(120);
    int rc = job_run(&cfg, stop_rank, NULL, &res);
    alarm(0);
    assert_int_not_equal(rc, 0);
    assert_contains(res.error, "rank 1 showed no sign of life");
    assert_contains(res.error, "the launcher killed it");
    for (int i = 0; i < 3; i++) { /* every rank was reaped: none is left */
        pid_t pid = ((seen *)job_result_slot(&res, i))->source;
        assert_true(pid > 0);
        assert_int_equal(kill(pid, 0), -1);
        assert_int_equal(errno, ESRCH);
    }
    job_result_free(&res);
}

static int pid_pipe = -1;

/* Each rank maps shared memory (as Hogwild! does), says its pid, then
 * trains on (barriers) for a minute. */
static int orphan_rank(rt *r, void *arg)
{
    (void)arg;
    int pid = (int)getpid();
    volatile int *board = rt_shared(r, "orphan board", 1 << 16);
    if (!board)
        return RT_EIO;
    board[rt_rank(r)] = pid;
    if (write(pid_pipe, &pid, sizeof pid) != (ssize_t)sizeof pid)
        return RT_EIO;
    while (rt_now(r) < 60) {
        int rc = rt_barrier(r);
        if (rc)
            return rc;
    }
    return RT_OK;
}

/* Entries of /dev/shm whose name holds "distlab-PID-" (the names rt_shared
 * gave its POSIX objects, which only the launcher removed). */
static int shm_entries_of(pid_t launcher)
{
    char mark[64];
    int n = 0;
    snprintf(mark, sizeof mark, "distlab-%d-", (int)launcher);
    DIR *d = opendir("/dev/shm");
    if (!d)
        return 0;
    for (struct dirent *de; (de = readdir(d));)
        n += strstr(de->d_name, mark) != NULL;
    closedir(d);
    return n;
}

/* Whether process pid maps a memory file named name (/proc/PID/maps
 * writes it "/memfd:NAME (deleted)"). */
static int maps_memfd(pid_t pid, const char *name)
{
    char path[64], line[512], want[128];
    snprintf(path, sizeof path, "/proc/%d/maps", (int)pid);
    snprintf(want, sizeof want, "/memfd:%s", name);
    FILE *f = fopen(path, "r");
    int found = 0;
    while (f && !found && fgets(line, sizeof line, f))
        found = strstr(line, want) != NULL;
    if (f)
        fclose(f);
    return found;
}

/* SIGKILL the launcher of a procs job: its ranks must die with it (not
 * train on to the end), and it must leave no temporary folder and no
 * shared memory behind (rt_shared's memory is a memory file, held only by
 * the processes). This process adopts the orphans (a subreaper), so it
 * can see how they end. */
static void test_launcher_killed(void **state)
{
    (void)state;
    enum { N = 3 };
    char tmp[] = "/tmp/distlab-test-XXXXXX";
    int fds[2], pids[N];
    assert_non_null(mkdtemp(tmp));
    assert_int_equal(pipe(fds), 0);
    assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
    alarm(120);
    pid_t launcher = fork();
    assert_true(launcher >= 0);
    if (launcher == 0) {
        close(fds[0]);
        pid_pipe = fds[1];
        setenv("TMPDIR", tmp, 1);
        job_config cfg = config(N, REAL_LAUNCH_PROCS);
        job_result res;
        job_run(&cfg, orphan_rank, NULL, &res);
        _exit(0);
    }
    close(fds[1]);
    for (int i = 0; i < N; i++)
        assert_int_equal(read(fds[0], &pids[i], sizeof pids[i]), (ssize_t)sizeof pids[i]);
    close(fds[0]);
    for (int i = 0; i < N; i++)
        if (!maps_memfd(pids[i], "distlab-shared"))
            fail_msg("rank %d (pid %d) does not map its rt_shared memory from a memory file", i, pids[i]);
    assert_int_equal(kill(launcher, SIGKILL), 0);
    assert_int_equal(waitpid(launcher, NULL, 0), launcher);
    for (int i = 0; i < N; i++) {
        int wstatus;
        assert_int_equal(waitpid(pids[i], &wstatus, 0), pids[i]);
        if (!WIFSIGNALED(wstatus) || WTERMSIG(wstatus) != SIGKILL)
            fail_msg("rank %d (pid %d) outlived its launcher (wait status 0x%x)", i, pids[i], wstatus);
    }
    alarm(0);
    assert_int_equal(shm_entries_of(launcher), 0);
    DIR *d = opendir(tmp);
    assert_non_null(d);
    struct dirent *de;
    while ((de = readdir(d)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
            fail_msg("%s/%s was left behind", tmp, de->d_name);
    closedir(d);
    assert_int_equal(rmdir(tmp), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_frame_check),
        cmocka_unit_test(test_garbage_magic),
        cmocka_unit_test(test_garbage_version),
        cmocka_unit_test(test_garbage_length),
        cmocka_unit_test(test_garbage_source),
        cmocka_unit_test(test_garbage_hello),
        cmocka_unit_test(test_garbage_halt),
        cmocka_unit_test(test_halt),
        cmocka_unit_test(test_hosts_drop_abandoned),
        cmocka_unit_test(test_hosts_torn_frame),
        cmocka_unit_test(test_death_exit_procs),
        cmocka_unit_test(test_death_kill_procs),
        cmocka_unit_test(test_death_abort_threads),
        cmocka_unit_test(test_peer_ended),
        cmocka_unit_test(test_silent_peer),
        cmocka_unit_test(test_silent_peer_spinning),
        cmocka_unit_test(test_spin_choice),
        cmocka_unit_test(test_binding_threads),
        cmocka_unit_test(test_binding_procs),
        cmocka_unit_test(test_anysource_death_procs),
        cmocka_unit_test(test_anysource_death_threads),
        cmocka_unit_test(test_anysource_death_spinning),
        cmocka_unit_test(test_give_up),
        cmocka_unit_test(test_waiting_rank_is_not_silent),
        cmocka_unit_test(test_deadlock_still_times_out),
        cmocka_unit_test(test_stopped_rank_procs),
        cmocka_unit_test(test_launcher_killed),
    };
    return cmocka_run_group_tests_name("real backend: broken frames, dead and silent peers", tests, NULL, NULL);
}
