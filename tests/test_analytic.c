/* test_analytic.c -- --net analytic (sim/net_analytic.c and its use in
 * sim/sim.c): the flow model alone against hand-computed max-min rates;
 * every collective at the same simulated time as under --net ideal (to
 * 1e-6) and as its closed form; contended patterns (an incast, the
 * two-racks uplinks, a parameter server's BSP incast) within 5% of
 * SimGrid's flow model; the same bits of a
 * model under both; computations at SimGrid's time whether a rank's
 * core is its own, shared or follows a profile, and a rank that runs
 * ahead of SimGrid's clock at the ideal times; a clear refusal of an
 * unknown --net.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "algorithms/collectives.h"
#include "core/job.h"
#include "sim/net_analytic.h"
#include "sim/sim_backend.h"
#include "tests/util_distlab.h"

#define assert_rel(a, b, tol)                                                         \
    do {                                                                              \
        double a_ = (a), b_ = (b);                                                    \
        if (!(fabs(a_ - b_) <= (tol) * fabs(b_)))                                     \
            fail_msg("%s = %.12g, expected %.12g (relative error %.3g > %g)", #a, a_, \
                     b_, fabs(a_ - b_) / fabs(b_), (double)(tol));                    \
    } while (0)

/* ---- the flow model alone ---- */

typedef struct ended {
    int n;
    int who[16];
    double at[16];
    double now;
} ended;

static void note_end(void *user, void *ctx)
{
    ended *e = ctx;
    e->who[e->n] = (int)(size_t)user;
    e->at[e->n++] = e->now;
}

/* Run the model until nothing is under way, noting each end. */
static void drain(na_net *n, ended *e)
{
    double t;
    while ((t = na_next(n)) < INFINITY) {
        e->now = t;
        assert_true(na_advance(n, t, note_end, e) >= 0);
    }
}

static double end_of(const ended *e, int who)
{
    for (int i = 0; i < e->n; i++)
        if (e->who[i] == who)
            return e->at[i];
    fail_msg("flow %d never ended", who);
    return -1;
}

static void one_flow_is_latency_plus_bytes_over_bandwidth(void **state)
{
    (void)state;
    na_net *n = na_new();
    int a = na_link_add(n, 1.25e9, 1), b = na_link_add(n, 2.5e9, 1);
    int route[] = {a, b};
    ended e = {0};
    assert_non_null(na_flow_start(n, route, 2, 50e-6, 1e6, 1, 0.5, 0, (void *)1));
    drain(n, &e);
    assert_int_equal(e.n, 1);
    assert_true(e.at[0] == 0.5 + 50e-6 + 1e6 / 1.25e9); /* exactly */
    na_free(n);
}

/* The model keeps a flow's next event in a heap or, when it comes no
 * earlier than the last one so kept, at the end of a sorted run beside
 * it: ends pushed out of order and in order, ties among them, must still
 * come out by (time, order). Each flow has a link of 1 B/s to itself, so
 * it ends at its bytes, and its order is its index. */
static void ends_come_in_time_then_flow_order(void **state)
{
    (void)state;
    enum { K = 14 };
    const double bytes[K] = {5, 6, 7, 3, 8, 1, 9, 2, 2, 10, 4, 7, 7, 11};
    na_net *n = na_new();
    int route[K];
    for (int i = 0; i < K; i++) {
        route[i] = na_link_add(n, 1, 1);
        assert_non_null(na_flow_start(n, &route[i], 1, 0, bytes[i], 1, 0, i, (void *)(size_t)i));
    }
    ended e = {0};
    drain(n, &e);
    assert_int_equal(e.n, K);
    for (int i = 0; i < K; i++)
        assert_true(e.at[i] == bytes[e.who[i]]);
    for (int i = 1; i < K; i++)
        if (!(e.at[i - 1] < e.at[i] || (e.at[i - 1] == e.at[i] && e.who[i - 1] < e.who[i])))
            fail_msg("end %d: flow %d at %g after flow %d at %g", i, e.who[i], e.at[i], e.who[i - 1], e.at[i - 1]);
    na_free(n);
}

/* The textbook max-min example: flows A (links 0, 1), B (link 0), C (link
 * 1), D (link 1), capacities 10 and 9. Link 1 saturates first at 3 each
 * (A, C, D), then B takes the rest of link 0: 7. */
static void max_min_fair_shares(void **state)
{
    (void)state;
    na_net *n = na_new();
    int l0 = na_link_add(n, 10, 1), l1 = na_link_add(n, 9, 1);
    int ra[] = {l0, l1}, rb[] = {l0}, rc[] = {l1};
    na_flow *A = na_flow_start(n, ra, 2, 0, 300, 1, 0, 0, (void *)0);
    na_flow *B = na_flow_start(n, rb, 1, 0, 700, 1, 0, 1, (void *)1);
    na_flow *C = na_flow_start(n, rc, 1, 0, 30, 1, 0, 2, (void *)2);
    na_flow *D = na_flow_start(n, rc, 1, 0, 300, 1, 0, 3, (void *)3);
    ended e = {0};
    e.now = 0;
    assert_int_equal(na_advance(n, 0, note_end, &e), 0); /* all join */
    assert_rel(na_flow_rate(A), 3, 1e-12);
    assert_rel(na_flow_rate(B), 7, 1e-12);
    assert_rel(na_flow_rate(C), 3, 1e-12);
    assert_rel(na_flow_rate(D), 3, 1e-12);
    /* C ends at 10 s (30 bytes at 3); then A and D share link 1 at 4.5,
     * and B gets 5.5: A has 270 left (ends at 70), D 270 (also 70), B 700
     * - 70 = 630 at 5.5 until 70 s (330 more), then 10: 300 / 10 more. */
    drain(n, &e);
    assert_rel(end_of(&e, 2), 10, 1e-12);
    assert_rel(end_of(&e, 0), 10 + 270 / 4.5, 1e-12);
    assert_rel(end_of(&e, 3), 10 + 270 / 4.5, 1e-12);
    assert_rel(end_of(&e, 1), 70 + (700 - 70 - 60 * 5.5) / 10, 1e-12);
    na_free(n);
}

/* Weights share a link in proportion (CM02: 1 / latency), and a FATPIPE
 * only bounds each flow. */
static void weights_and_fatpipes(void **state)
{
    (void)state;
    na_net *n = na_new();
    int l = na_link_add(n, 9, 1), fat = na_link_add(n, 2, 0);
    int r1[] = {l}, r2[] = {l, fat};
    na_flow *a = na_flow_start(n, r1, 1, 0, 1000, 2, 0, 0, NULL);
    na_flow *b = na_flow_start(n, r1, 1, 0, 1000, 1, 0, 1, NULL);
    ended e = {0};
    assert_int_equal(na_advance(n, 0, note_end, &e), 0);
    assert_rel(na_flow_rate(a), 6, 1e-12);
    assert_rel(na_flow_rate(b), 3, 1e-12);
    na_flow *c = na_flow_start(n, r2, 2, 0, 1000, 100, 0, 2, NULL); /* heavy, but held to 2 */
    assert_int_equal(na_advance(n, 0, note_end, &e), 0);
    assert_rel(na_flow_rate(c), 2, 1e-12);
    assert_rel(na_flow_rate(a), 7 * 2.0 / 3, 1e-12);
    assert_rel(na_flow_rate(b), 7 * 1.0 / 3, 1e-12);
    na_link_set_bandwidth(n, l, 1.03, 0); /* now the shared link holds c below its bound */
    assert_rel(na_flow_rate(c), 1, 1e-12);
    assert_rel(na_flow_rate(a), 0.02, 1e-12);
    assert_rel(na_flow_rate(b), 0.01, 1e-12);
    na_free(n);
}

/* A flow alone on its shared links takes its route's slowest link (here a
 * FATPIPE's bound), without the filling; once another flow shares one of
 * them the filling decides, and when that one ends the flow is alone
 * again. */
static void a_lone_flow_takes_its_slowest_link(void **state)
{
    (void)state;
    na_net *n = na_new();
    int l0 = na_link_add(n, 10, 1), fat = na_link_add(n, 4, 0), l2 = na_link_add(n, 7, 1);
    int ra[] = {l0, fat, l2}, rb[] = {l2};
    na_flow *a = na_flow_start(n, ra, 3, 0, 1000, 1, 0, 0, (void *)0);
    ended e = {0};
    assert_int_equal(na_advance(n, 0, note_end, &e), 0);
    assert_true(na_flow_rate(a) == 4);
    na_flow *b = na_flow_start(n, rb, 1, 0, 35, 1, 0, 1, (void *)1);
    assert_int_equal(na_advance(n, 0, note_end, &e), 0);
    assert_rel(na_flow_rate(a), 3.5, 1e-12);
    assert_rel(na_flow_rate(b), 3.5, 1e-12);
    e.now = na_next(n);
    assert_rel(e.now, 10, 1e-12); /* b: 35 bytes at 3.5 */
    assert_int_equal(na_advance(n, e.now, note_end, &e), 1);
    assert_true(na_flow_rate(a) == 4);
    drain(n, &e);
    assert_rel(end_of(&e, 0), 10 + (1000 - 35) / 4.0, 1e-12);
    na_free(n);
}

/* Flows that end at one instant come to done() in the caller's order,
 * whatever order they were started in, and the model's times do not
 * depend on that order either (the links' lists, the rates' rounding):
 * three flows of one size on a link of an awkward bandwidth, started in
 * two orders, and a fourth, alone, ending at the same time. */
static void one_instants_ends_come_in_the_callers_order(void **state)
{
    (void)state;
    static const long long starts[2][4] = {{7, 3, 5, 1}, {1, 5, 3, 7}};
    ended e[2] = {{0}, {0}};
    for (int k = 0; k < 2; k++) {
        na_net *n = na_new();
        int shared = na_link_add(n, 1e9 / 7, 1), own = na_link_add(n, 1e9 / 21, 1);
        int on_shared[] = {shared}, on_own[] = {own};
        for (int i = 0; i < 4; i++) {
            long long order = starts[k][i];
            int alone = order == 5;
            assert_non_null(na_flow_start(n, alone ? on_own : on_shared, 1, 1e-5 * 3, 1e6 / 3, 1, 0.25, order,
                                          (void *)(size_t)order));
        }
        drain(n, &e[k]);
        na_free(n);
    }
    static const int want[4] = {1, 3, 5, 7};
    for (int k = 0; k < 2; k++) {
        assert_int_equal(e[k].n, 4);
        for (int i = 0; i < 4; i++)
            if (e[k].who[i] != want[i])
                fail_msg("start order %d: end %d was flow %d, expected %d", k, i, e[k].who[i], want[i]);
    }
    for (int i = 0; i < 4; i++)
        if (e[0].at[i] != e[1].at[i])
            fail_msg("flow %d ended at %.17g s started one way, %.17g s the other", e[0].who[i], e[0].at[i],
                     e[1].at[i]);
}

/* ---- the simulator: analytic against ideal ---- */

typedef struct slot {
    double seconds;
} slot;

typedef enum { K_ALLREDUCE, K_BCAST, K_REDUCE, K_BARRIER, K_PINGPONG } kind;
typedef struct coll {
    kind k;
    allreduce_algo algo;
    size_t count;
} coll;

static int coll_rank(rt *r, void *arg)
{
    const coll *c = arg;
    double t0 = rt_now(r);
    int rc;
    switch (c->k) {
    case K_ALLREDUCE: rc = allreduce(r, c->algo, NULL, c->count, NULL); break;
    case K_BCAST: rc = bcast(r, NULL, c->count, 0); break;
    case K_REDUCE: rc = reduce(r, NULL, c->count, 0); break;
    case K_BARRIER: rc = barrier(r); break;
    default: /* a pingpong between 0 and 1, 3 round trips */
        rc = RT_OK;
        for (int i = 0; i < 3 && rc == RT_OK && rt_rank(r) < 2; i++)
            rc = rt_rank(r) == 0 ? rt_send(r, 1, 0, NULL, c->count * 4) ||
                                       rt_recv(r, 1, 0, NULL, c->count * 4, NULL)
                                 : rt_recv(r, 0, 0, NULL, c->count * 4, NULL) ||
                                       rt_send(r, 0, 0, NULL, c->count * 4);
    }
    ((slot *)job_slot(r))->seconds = rt_now(r) - t0;
    return rc;
}

/* The slowest rank's seconds of fn on p ranks (size-only) under net. */
static double slowest(sim_config sim, sim_net net, int p, job_main fn, void *arg)
{
    sim.size_only = 1;
    sim.net = net;
    job_config cfg = sim_job_config(&sim);
    cfg.ranks = p;
    cfg.record_events = 0;
    cfg.result_bytes = sizeof(slot);
    job_result res;
    if (job_run(&cfg, fn, arg, &res) != 0)
        fail_msg("p=%d net %d: %s", p, (int)net, res.error);
    double worst = 0;
    for (int i = 0; i < p; i++) {
        double s = ((slot *)job_result_slot(&res, i))->seconds;
        worst = s > worst ? s : worst;
    }
    job_result_free(&res);
    return worst;
}

static void same_time(sim_config sim, int p, coll *c, double tol, const char *what)
{
    double ideal = slowest(sim, SIM_NET_IDEAL, p, coll_rank, c);
    double an = slowest(sim, SIM_NET_ANALYTIC, p, coll_rank, c);
    if (!(fabs(an - ideal) <= tol * ideal))
        fail_msg("%s, p=%d, %zu bytes: analytic %.12g s, ideal %.12g s (relative %.3g > %g)", what, p,
                 c->count * 4, an, ideal, fabs(an - ideal) / ideal, tol);
}

static void collectives_take_the_ideal_time(void **state)
{
    (void)state;
    const int ps[] = {2, 3, 5, 8, 13, 32};
    const size_t counts[] = {1024, 1 << 18};
    sim_config sim = sim_config_default();
    for (size_t i = 0; i < sizeof ps / sizeof *ps; i++)
        for (size_t j = 0; j < sizeof counts / sizeof *counts; j++) {
            for (int a = 0; a < ALLREDUCE_ALGOS; a++) {
                if (a == ALLREDUCE_HIERARCHICAL)
                    continue;
                coll c = {K_ALLREDUCE, a, counts[j]};
                same_time(sim, ps[i], &c, 1e-6, allreduce_algo_name(a));
                double want = allreduce_cost_s(a, ps[i], counts[j], sim.latency_s, 1 / sim.bandwidth_Bps, 1e-9);
                assert_rel(slowest(sim, SIM_NET_ANALYTIC, ps[i], coll_rank, &c), want, 1e-6);
            }
            coll b = {K_BCAST, 0, counts[j]}, r = {K_REDUCE, 0, counts[j]}, pp = {K_PINGPONG, 0, counts[j]};
            same_time(sim, ps[i], &b, 1e-6, "bcast");
            same_time(sim, ps[i], &r, 1e-6, "reduce");
            same_time(sim, ps[i], &pp, 1e-6, "pingpong");
        }
}

static void barrier_takes_the_ideal_time(void **state)
{
    (void)state;
    sim_config sim = sim_config_default();
    coll c = {K_BARRIER, 0, 0};
    for (int p = 2; p <= 17; p += 3)
        same_time(sim, p, &c, 1e-6, "barrier");
}

static void hierarchical_on_gpu_nodes_takes_the_ideal_time(void **state)
{
    (void)state;
    sim_config sim = sim_config_default();
    sim.gpus_per_node = 4;
    for (int a = 0; a < ALLREDUCE_ALGOS; a++) {
        coll c = {K_ALLREDUCE, a, 1 << 18};
        same_time(sim, 16, &c, 1e-6, allreduce_algo_name(a));
    }
}

/* ---- contention ---- */

static int incast_rank(rt *r, void *arg)
{
    size_t bytes = *(const size_t *)arg;
    double t0 = rt_now(r);
    int rc = RT_OK;
    if (rt_rank(r) == 0) {
        for (int i = 1; i < rt_size(r) && rc == RT_OK; i++)
            rc = rt_recv(r, RT_ANY_SOURCE, 0, NULL, bytes, NULL);
    } else {
        rc = rt_send(r, 0, 0, NULL, bytes);
    }
    ((slot *)job_slot(r))->seconds = rt_now(r) - t0;
    return rc;
}

static void incast_within_5_percent_of_the_flow_model(void **state)
{
    (void)state;
    sim_config sim = sim_config_default();
    size_t bytes = 1 << 20;
    for (int p = 3; p <= 17; p += 7) {
        double ideal = slowest(sim, SIM_NET_IDEAL, p, incast_rank, &bytes);
        double an = slowest(sim, SIM_NET_ANALYTIC, p, incast_rank, &bytes);
        assert_rel(an, ideal, 0.05);
        /* and both near (p - 1) n / bandwidth: the server's link is shared */
        assert_rel(an, sim.latency_s + (p - 1) * bytes / sim.bandwidth_Bps, 0.05);
    }
}

/* Every rank of one rack of platforms/two-racks.xml sends to its partner
 * in the other: the uplinks are shared. */
static int cross_rank(rt *r, void *arg)
{
    size_t bytes = *(const size_t *)arg;
    int p = rt_size(r), me = rt_rank(r), half = p / 2;
    double t0 = rt_now(r);
    int rc = me < half ? rt_send(r, me + half, 0, NULL, bytes) : rt_recv(r, me - half, 0, NULL, bytes, NULL);
    if (rc == RT_OK) /* and an allreduce over everyone */
        rc = allreduce(r, ALLREDUCE_RING, NULL, bytes / 4, NULL);
    ((slot *)job_slot(r))->seconds = rt_now(r) - t0;
    return rc;
}

static void two_racks_within_5_percent_of_the_flow_model(void **state)
{
    (void)state;
    const char *platform = getenv("DISTLAB_PLATFORMS") ? getenv("DISTLAB_PLATFORMS") : "platforms";
    char path[4096];
    snprintf(path, sizeof path, "%s/two-racks.xml", platform);
    sim_config sim = sim_config_default();
    sim.platform = path;
    size_t bytes = 4 << 20;
    double ideal = slowest(sim, SIM_NET_IDEAL, 16, cross_rank, &bytes);
    double an = slowest(sim, SIM_NET_ANALYTIC, 16, cross_rank, &bytes);
    assert_rel(an, ideal, 0.05);
}

/* A parameter server's BSP incast with 4 servers, whose replies and
 * pushes interleave on the links (the case bench/analytic_validate.sh
 * finds 1e-4 apart, not 0): summary.json's simulated seconds within 5%. */
static void ps_incast_within_5_percent_of_the_flow_model(void **state)
{
    (void)state;
    if (!test_distlab())
        skip();
    const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    double secs[2];
    for (int k = 0; k < 2; k++) {
        char out[256];
        int rc = test_distlab_run(out, sizeof out, "run ps --workers 16 --servers 4 --epochs 1 --batch 16 --dataset "
                                  "synth-dense:n=512,d=2000,classes=10 --no-figures --quiet --net %s --out "
                                  "%s/analytic-incast-%d >/dev/null 2>&1 && sed -n 's/^  \"seconds\": "
                                  "\\(.*\\),$/\\1/p' %s/analytic-incast-%d/summary.json",
                                  k ? "analytic" : "ideal", tmp, k, tmp, k);
        if (rc != 0)
            fail_msg("distlab run ps: %s", out);
        secs[k] = strtod(out, NULL);
    }
    assert_true(secs[0] > 0);
    assert_rel(secs[1], secs[0], 0.05);
}

/* ---- the math does not change ---- */

static int bits_rank(rt *r, void *arg)
{
    (void)arg;
    float buf[1000];
    for (int i = 0; i < 1000; i++)
        buf[i] = 1.0f / (float)(rt_rank(r) + 3) + (float)i * 1e-3f;
    int rc = allreduce(r, ALLREDUCE_RING, buf, 1000, NULL);
    if (rc == RT_OK)
        rc = bcast(r, buf, 1000, 2);
    memcpy(job_slot(r), buf, sizeof buf);
    return rc;
}

static void data_moves_bit_for_bit(void **state)
{
    (void)state;
    float got[2][5][1000];
    for (int k = 0; k < 2; k++) {
        sim_config sim = sim_config_default();
        sim.net = k ? SIM_NET_ANALYTIC : SIM_NET_IDEAL;
        job_config cfg = sim_job_config(&sim);
        cfg.ranks = 5;
        cfg.result_bytes = sizeof got[0][0];
        job_result res;
        if (job_run(&cfg, bits_rank, NULL, &res) != 0)
            fail_msg("%s", res.error);
        for (int i = 0; i < 5; i++)
            memcpy(got[k][i], job_result_slot(&res, i), sizeof got[k][i]);
        job_result_free(&res);
    }
    assert_memory_equal(got[0], got[1], sizeof got[0]);
}

/* A parameter server trains the same model under both nets: the same
 * epochs, steps, losses and accuracy, to the last digit printed (only the
 * times differ). */
static void ps_trains_the_same_model(void **state)
{
    (void)state;
    if (!test_distlab())
        skip();
    char out[2][8192];
    for (int k = 0; k < 2; k++) {
        int rc = test_distlab_run(out[k], sizeof out[k], "run ps --workers 4 --servers 2 --epochs 2 --dataset "
                                  "synth-dense:n=400,d=20,classes=3 --net %s --no-figures --out %s/analytic-ps-%d "
                                  ">/dev/null 2>&1 && cut -d, -f2-6 %s/analytic-ps-%d/metrics.csv",
                                  k ? "analytic" : "ideal", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", k,
                                  getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", k);
        if (rc != 0)
            fail_msg("distlab run ps: %s", out[k]);
    }
    assert_non_null(strstr(out[0], "train_loss"));
    assert_non_null(strstr(out[0], "\n2,")); /* two epochs' points */
    assert_string_equal(out[0], out[1]);
}

static int deadlock_rank(rt *r, void *arg)
{
    (void)arg;
    int v;
    return rt_recv(r, 1 - rt_rank(r), 0, &v, sizeof v, NULL);
}

/* Every rank waiting on its semaphore: SimGrid sees it and the job names
 * the ranks, as with its comms. */
static void a_deadlock_is_reported(void **state)
{
    (void)state;
    sim_config sim = sim_config_default();
    sim.net = SIM_NET_ANALYTIC;
    job_config cfg = sim_job_config(&sim);
    cfg.ranks = 2;
    job_result res;
    assert_int_not_equal(job_run(&cfg, deadlock_rank, NULL, &res), 0);
    assert_non_null(strstr(res.error, "deadlock"));
    assert_non_null(strstr(res.error, "ranks 0, 1"));
    job_result_free(&res);
}

/* A timed wait: rank 0 gives up on rank 1's message once (its deadline
 * timer resumes it), then gets it; rank 1's companion job waits for a
 * message too (a rank and its companion suspended at once). */
typedef struct timed_result {
    double at[4];
    int index[2];
} timed_result;
static timed_result *timed; /* shared: the job runs in a child process */
#define timed_at (timed->at)
#define timed_index (timed->index)

static int timed_companion(rt *r, void *arg)
{
    (void)arg;
    int v = 0, rc = rt_recv(r, 0, 2, &v, sizeof v, NULL);
    timed_at[3] = rt_now(r);
    return rc;
}

static int timed_rank(rt *r, void *arg)
{
    (void)arg;
    int v = 7, rc;
    if (rt_rank(r) == 1) {
        if ((rc = rt_async_post(r, timed_companion, NULL)) != RT_OK)
            return rc;
        rt_compute(r, 1e6); /* 1 ms at 1 Gf */
        if ((rc = rt_send(r, 0, 1, &v, sizeof v)) != RT_OK)
            return rc;
        return rt_async_drain(r);
    }
    rt_request *q = NULL;
    if ((rc = rt_irecv(r, 1, 1, &v, sizeof v, &q)) != RT_OK)
        return rc;
    rc = rt_waitany_for(r, 1, &q, 2e-4, &timed_index[0], NULL);
    timed_at[0] = rt_now(r);
    if (!rc)
        rc = rt_waitany_for(r, 1, &q, 1.0, &timed_index[1], NULL);
    timed_at[1] = rt_now(r);
    rt_compute(r, 1e6);
    timed_at[2] = rt_now(r);
    return rc ? rc : rt_send(r, 1, 2, &v, sizeof v);
}

static void timed_waits_take_the_ideal_time(void **state)
{
    (void)state;
    double at[2][4];
    timed = mmap(NULL, sizeof *timed, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    assert_true(timed != MAP_FAILED);
    for (int k = 0; k < 2; k++) {
        sim_config sim = sim_config_default();
        sim.net = k ? SIM_NET_ANALYTIC : SIM_NET_IDEAL;
        job_config cfg = sim_job_config(&sim);
        cfg.ranks = 2;
        job_result res;
        memset(timed_at, 0, sizeof timed_at);
        timed_index[0] = timed_index[1] = 99;
        int rc = job_run(&cfg, timed_rank, NULL, &res);
        if (rc != 0)
            fail_msg("%s: %s", k ? "analytic" : "ideal", res.error);
        job_result_free(&res);
        assert_int_equal(timed_index[0], -1);
        assert_int_equal(timed_index[1], 0);
        memcpy(at[k], timed_at, sizeof at[k]);
    }
    assert_true(fabs(at[1][0] - 2e-4) < 1e-12);
    for (int i = 0; i < 4; i++)
        if (fabs(at[1][i] - at[0][i]) > 1e-6 * at[0][i])
            fail_msg("time %d: analytic %.12g s, ideal %.12g s", i, at[1][i], at[0][i]);
    assert_true(at[1][1] > 1e-3 && at[1][3] > at[1][2]);
    munmap(timed, sizeof *timed);
}

/* ---- computations ----
 *
 * Under --net analytic a rank alone on its host computes on a kernel
 * timer instead of SimGrid's CPU model; where the core is shared (two
 * ranks on one host, a rank and its async companion) or the host's speed
 * follows a profile, SimGrid's model must still decide. Each case: every
 * computing actor charges 1e6 flops at t = 0 on 1 Gf hosts. */

typedef struct compute_case {
    int companion; /* rank 0 posts a job that computes beside it */
} compute_case;

static int compute_job(rt *r, void *arg)
{
    (void)arg;
    int rc = rt_compute(r, 1e6);
    ((slot *)job_slot(r))->seconds = rt_now(r); /* the rank's own slot, after the rank's */
    return rc;
}

static int compute_rank(rt *r, void *arg)
{
    const compute_case *c = arg;
    int rc = RT_OK;
    if (c->companion && rt_rank(r) == 0)
        rc = rt_async_post(r, compute_job, NULL);
    if (rc == RT_OK)
        rc = rt_compute(r, 1e6);
    double own = rt_now(r);
    if (rc == RT_OK)
        rc = rt_async_drain(r);
    if (!(c->companion && rt_rank(r) == 0))
        ((slot *)job_slot(r))->seconds = own;
    else if (((slot *)job_slot(r))->seconds < own) /* both end together */
        ((slot *)job_slot(r))->seconds = own;
    return rc;
}

/* The ranks' slowest end (ideal, then analytic) must be want seconds. */
static void compute_takes(sim_config sim, int p, compute_case c, double want, const char *what)
{
    for (int k = 0; k < 2; k++) {
        double t = slowest(sim, k ? SIM_NET_ANALYTIC : SIM_NET_IDEAL, p, compute_rank, &c);
        if (t != want)
            fail_msg("%s under %s: %.17g s, expected %.17g", what, k ? "analytic" : "ideal", t, want);
    }
}

/* Write a platform of hosts a and b (1 Gf) and one link between them
 * (1.25 GB/s, 50 us) into plat, where kind "speed" gives host a, and
 * "bandwidth" the link, a profile (speed_file= or bandwidth_file=) with
 * the given lines, written into prof beside it (SimGrid looks there). */
static void two_hosts_with_a_profile(char plat[4200], char prof[4200], const char *kind, const char *lines)
{
    const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    int host = strcmp(kind, "speed") == 0;
    char name[64];
    snprintf(name, sizeof name, "test-analytic-%s-%d.profile", kind, (int)getpid());
    snprintf(prof, 4200, "%s/%s", tmp, name);
    snprintf(plat, 4200, "%s/test-analytic-%s-%d.xml", tmp, kind, (int)getpid());
    FILE *f = fopen(prof, "w");
    assert_non_null(f);
    fputs(lines, f);
    fclose(f);
    char attr[128];
    snprintf(attr, sizeof attr, " %s_file=\"%s\"", kind, name);
    f = fopen(plat, "w");
    assert_non_null(f);
    fprintf(f, "<?xml version='1.0'?>\n<!DOCTYPE platform SYSTEM \"https://simgrid.org/simgrid.dtd\">\n"
               "<platform version=\"4.1\">\n  <zone id=\"z\" routing=\"Full\">\n"
               "    <host id=\"a\" speed=\"1Gf\"%s/>\n"
               "    <host id=\"b\" speed=\"1Gf\"/>\n"
               "    <link id=\"l\" bandwidth=\"1.25GBps\" latency=\"50us\"%s/>\n"
               "    <route src=\"a\" dst=\"b\"><link_ctn id=\"l\"/></route>\n  </zone>\n</platform>\n",
            host ? attr : "", host ? "" : attr);
    fclose(f);
}

static void computations_take_simgrids_time(void **state)
{
    (void)state;
    sim_config sim = sim_config_default();
    compute_case alone = {0}, beside = {1};
    compute_takes(sim, 2, alone, 1e6 / sim.speed_flops, "a rank alone on its host");
    sim.hosts = 1;
    compute_takes(sim, 2, alone, 2e6 / sim.speed_flops, "two ranks on one single-core host");
    sim.hosts = 0;
    compute_takes(sim, 1, beside, 2e6 / sim.speed_flops, "a rank and its async companion");
    /* host a at half its speed from t = 0 (a speed profile) */
    char prof[4200], plat[4200];
    two_hosts_with_a_profile(plat, prof, "speed", "0 0.5\n");
    sim.platform = plat;
    compute_takes(sim, 2, alone, 2e-3, "a rank on a host at half speed (a speed profile)");
    unlink(plat);
    unlink(prof);
}

/* A link that follows a profile (its bandwidth over time): --net analytic
 * reads each link's numbers once, so it refuses the file with the line
 * and what to use, where it would silently ignore the profile; ideal
 * follows it and runs. */
static void link_profiles_are_refused_under_analytic(void **state)
{
    (void)state;
    char prof[4200], plat[4200];
    two_hosts_with_a_profile(plat, prof, "bandwidth", "0 1.25e9\n1 1.25e8\n");
    sim_config sim = sim_config_default();
    sim.platform = plat;
    compute_case alone = {0};
    assert_true(slowest(sim, SIM_NET_IDEAL, 2, compute_rank, &alone) > 0);
    sim.size_only = 1;
    sim.net = SIM_NET_ANALYTIC;
    job_config cfg = sim_job_config(&sim);
    cfg.ranks = 2;
    cfg.record_events = 0;
    cfg.result_bytes = sizeof(slot);
    job_result res;
    int rc = job_run(&cfg, compute_rank, &alone, &res);
    if (rc == 0 || !strstr(res.error, "line 7: <link>'s bandwidth_file= makes a link follow a profile, which "
                                       "--net analytic does not"))
        fail_msg("analytic should refuse the link's profile; it returned %d: %s", rc, res.error);
    job_result_free(&res);
    if (test_distlab()) { /* the command line: exit 2, before any job */
        char args[4300];
        snprintf(args, sizeof args, "--platform %s", plat);
        test_refusal refusal = {args, "makes a link follow a profile, which --net analytic does not"};
        test_distlab_refuses("collective --workers 2 --bytes 1MB --net analytic", &refusal, 1);
    }
    unlink(plat);
    unlink(prof);
}

/* A rank alone on its host runs ahead of SimGrid's clock through its
 * computations (sim.c, exec_flops): what it does meanwhile must happen at
 * its own time. Rank 0 posts receives from 1 and 2, computes past both
 * arrivals, and its wait-any must pick the first one posted, as under
 * ideal; then it sends to 1, which armed its receive before computing,
 * and waits with a timeout that the reply beats; rank 2 computes and
 * sends. Each rank notes its clock at every step. */
typedef struct ahead_slot {
    double at[6];
    int index;
} ahead_slot;

static int ahead_rank(rt *r, void *arg)
{
    (void)arg;
    ahead_slot *out = job_slot(r);
    int me = rt_rank(r), rc = RT_OK;
    size_t big = 1 << 20;
    rt_request *q[2] = {NULL, NULL};
    if (me == 0) {
        rc = rt_irecv(r, 1, 0, NULL, big, &q[0]);
        if (!rc)
            rc = rt_irecv(r, 2, 0, NULL, big, &q[1]);
        if (!rc)
            rc = rt_compute(r, 5e6); /* 5 ms: both have arrived by then */
        out->at[0] = rt_now(r);
        if (!rc)
            rc = rt_waitany(r, 2, q, &out->index, NULL);
        out->at[1] = rt_now(r);
        if (!rc)
            rc = rt_waitall(r, 2, q, NULL);
        if (!rc)
            rc = rt_send(r, 1, 1, NULL, big);
        out->at[2] = rt_now(r);
        rt_request *back = NULL;
        int idx = -2;
        if (!rc)
            rc = rt_irecv(r, 1, 2, NULL, 4, &back);
        if (!rc)
            rc = rt_compute(r, 1e5);
        if (!rc)
            rc = rt_waitany_for(r, 1, &back, 0.05, &idx, NULL);
        out->at[3] = rt_now(r);
        if (!rc && idx != 0)
            rc = rt_fail(r, RT_ETIMEOUT, "the reply did not beat the timeout");
        return rc;
    }
    rt_request *in = NULL;
    if (me == 1)
        rc = rt_irecv(r, 0, 1, NULL, big, &in); /* armed before it computes */
    if (!rc)
        rc = rt_compute(r, me == 1 ? 3e6 : 1e6);
    out->at[0] = rt_now(r);
    if (!rc)
        rc = rt_send(r, 0, 0, NULL, big);
    out->at[1] = rt_now(r);
    if (me == 1) {
        if (!rc)
            rc = rt_wait(r, &in, NULL);
        out->at[2] = rt_now(r);
        if (!rc)
            rc = rt_compute(r, 2e5);
        if (!rc)
            rc = rt_send(r, 0, 2, NULL, 4);
        out->at[3] = rt_now(r);
    }
    return rc;
}

static void running_ahead_keeps_the_ideal_times(void **state)
{
    (void)state;
    ahead_slot got[2][3];
    for (int k = 0; k < 2; k++) {
        sim_config sim = sim_config_default();
        sim.size_only = 1;
        sim.net = k ? SIM_NET_ANALYTIC : SIM_NET_IDEAL;
        job_config cfg = sim_job_config(&sim);
        cfg.ranks = 3;
        cfg.result_bytes = sizeof(ahead_slot);
        job_result res;
        if (job_run(&cfg, ahead_rank, NULL, &res) != 0)
            fail_msg("%s: %s", k ? "analytic" : "ideal", res.error);
        for (int i = 0; i < 3; i++)
            got[k][i] = *(ahead_slot *)job_result_slot(&res, i);
        /* ranks 1 and 2 compute with no send of their own under way */
        if (k ? res.ran_ahead == 0 : res.ran_ahead != 0)
            fail_msg("%s: %llu computations ran ahead", k ? "analytic" : "ideal", (unsigned long long)res.ran_ahead);
        job_result_free(&res);
    }
    assert_int_equal(got[0][0].index, 0);
    assert_int_equal(got[1][0].index, 0);
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 4; j++)
            if (fabs(got[1][i].at[j] - got[0][i].at[j]) > 1e-9 * got[0][i].at[j])
                fail_msg("rank %d, step %d: analytic %.12g s, ideal %.12g s", i, j, got[1][i].at[j],
                         got[0][i].at[j]);
    assert_true(got[0][0].at[1] == got[0][0].at[0]); /* both had arrived: no wait */
    assert_true(got[0][1].at[2] > got[0][0].at[2] - 1e-12); /* rank 1 got rank 0's send after it began */
}

/* A rank made to fail by a call of its own (sim_rank_fail: --kill-rank)
 * dies at SimGrid's clock, and its survivors hear of it at that clock:
 * the job says so (sim_config.ranks_may_fail), which keeps every rank
 * from running ahead, and one that does not is failed, saying why. Rank
 * 2 computes 1 ms and fails; rank 0 waits for a message from it and
 * hears of its death; rank 1 computes 3 ms, past the death, and then
 * waits for it too. Each notes its clocks and what its receive returned. */
typedef struct kill_slot {
    double at[2];
    int rc;
} kill_slot;

static int kill_rank(rt *r, void *arg)
{
    (void)arg;
    kill_slot *out = job_slot(r);
    int me = rt_rank(r), v = 0, rc = RT_OK;
    if (me == 2) {
        if ((rc = rt_compute(r, 1e6)) != RT_OK)
            return rc;
        out->at[0] = rt_now(r);
        sim_rank_fail(r);
        return rt_fail(r, RT_EKILLED, "made to fail");
    }
    if (me == 1) {
        if ((rc = rt_compute(r, 3e6)) != RT_OK)
            return rc;
        out->at[1] = rt_now(r);
    }
    out->rc = rt_recv(r, 2, 0, &v, sizeof v, NULL);
    out->at[0] = rt_now(r);
    return RT_OK;
}

static void a_rank_that_fails_keeps_ranks_at_simgrids_clock(void **state)
{
    (void)state;
    kill_slot got[2][3];
    for (int k = 0; k < 3; k++) {
        sim_config sim = sim_config_default();
        sim.net = k ? SIM_NET_ANALYTIC : SIM_NET_IDEAL;
        sim.ranks_may_fail = k < 2;
        job_config cfg = sim_job_config(&sim);
        cfg.ranks = 3;
        cfg.result_bytes = sizeof(kill_slot);
        job_result res;
        int rc = job_run(&cfg, kill_rank, NULL, &res);
        if (k == 2) { /* not said: refused, whatever ran */
            if (rc == 0 || !strstr(res.error, "rank 2 was made to fail (sim_rank_fail) in a job whose "
                                              "sim_config does not say ranks may (ranks_may_fail)"))
                fail_msg("a kill the job did not declare: returned %d: %s", rc, res.error);
            job_result_free(&res);
            continue;
        }
        if (rc == 0 || res.rank_status[2] != RT_EKILLED || res.rank_status[0] != RT_OK ||
            res.rank_status[1] != RT_OK)
            fail_msg("%s: rank 2 alone should fail: %d: %s", k ? "analytic" : "ideal", rc, res.error);
        for (int i = 0; i < 3; i++)
            got[k][i] = *(kill_slot *)job_result_slot(&res, i);
        /* ranks 1 and 2 would have run ahead (running_ahead_keeps_the_ideal_times) */
        if (res.ran_ahead != 0)
            fail_msg("%s: %llu computations ran ahead of SimGrid's clock in a job whose ranks may fail",
                     k ? "analytic" : "ideal", (unsigned long long)res.ran_ahead);
        job_result_free(&res);
    }
    for (int k = 0; k < 2; k++) {
        assert_int_equal(got[k][0].rc, RT_EPEER);
        assert_int_equal(got[k][1].rc, RT_EPEER);
    }
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 2; j++)
            if (fabs(got[1][i].at[j] - got[0][i].at[j]) > 1e-9 * got[0][i].at[j])
                fail_msg("rank %d, step %d: analytic %.12g s, ideal %.12g s", i, j, got[1][i].at[j],
                         got[0][i].at[j]);
}

/* Every kill of the command line's goes through run_faults.c, which says
 * the job's ranks may fail: run ps --kill-worker, ray-ps's --kill-rank and
 * --kill-rank itself run under analytic without the refusal above (ps
 * and ray-ps go on without the dead worker; allreduce stops). */
static void kills_on_the_command_line_say_ranks_may_fail(void **state)
{
    (void)state;
    if (!test_distlab())
        skip();
    static const struct {
        const char *args;
        int status;
    } runs[] = {
        {"ps --consistency async --workers 4 --kill-worker 1:3", 0},
        {"ray-ps --mode async --workers 4 --kill-rank 2:3", 0},
        {"allreduce --workers 4 --kill-rank 1:3", 1},
    };
    const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    for (size_t k = 0; k < sizeof runs / sizeof *runs; k++) {
        char out[8192];
        int rc = test_distlab_run(out, sizeof out, "run %s --seed 1 --epochs 2 --dataset "
                                  "synth-dense:n=400,d=20,classes=4 --net analytic --quiet --no-figures "
                                  "--out %s/analytic-kill-%d", runs[k].args, tmp, (int)getpid());
        if (rc != runs[k].status || strstr(out, "ranks_may_fail") || !strstr(out, "fail"))
            fail_msg("distlab run %s: exit status %d (expected %d): %s", runs[k].args, rc, runs[k].status, out);
    }
    static const char *const files[] = {"model.bin", "metrics.csv", "events.csv", "summary.json", ""};
    for (int f = 0; f < 5; f++) {
        char path[4200];
        snprintf(path, sizeof path, "%s/analytic-kill-%d/%s", tmp, (int)getpid(), files[f]);
        f < 4 ? unlink(path) : rmdir(path);
    }
}

/* Do files a and b hold the same bytes (both there)? */
static int same_bytes(const char *a, const char *b)
{
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    int same = fa && fb;
    while (same) {
        int x = getc(fa), y = getc(fb);
        same = x == y;
        if (x == EOF)
            break;
    }
    if (fa)
        fclose(fa);
    if (fb)
        fclose(fb);
    return same;
}

/* Ranks resumed at one simulated instant run in an order that depends on
 * how each was woken: a kernel timer at its computation's end, SimGrid's
 * CPU model, or not at all, having run ahead. What reaches a rank at one
 * instant is filed in one order all the same (sim.c: by sender, then the
 * sender's count of messages; its async companion's apart), so an
 * asynchronous parameter server and ray-ps, whose updates follow that
 * order, and allreduce's buckets summed by companions write the same model.bin,
 * metrics.csv and events.csv running ahead, on timers
 * ($DISTLAB_ANALYTIC_CLOCK=timer), through SimGrid's CPU model (=simgrid),
 * and with a --degrade that never fires (which turns running ahead off). */
static void one_instants_order_does_not_depend_on_how_ranks_wake(void **state)
{
    (void)state;
    if (!test_distlab())
        skip();
    static const char *const runs[] = {
        "ps --consistency async --workers 4 --stragglers 0.5",
        "ray-ps --mode async --workers 4 --stragglers 0.5",
        /* each bucket summed by the rank's async companion (rt_async_post) */
        "allreduce --workers 4 --model mlp:16 --bucket 256B --overlap on --stragglers 0.5",
    };
    static const char *const clocks[] = {"ahead", "timer", "simgrid", "ahead"};
    const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    for (size_t r = 0; r < sizeof runs / sizeof *runs; r++) {
        for (int v = 0; v < 4; v++) {
            char out[8192];
            setenv("DISTLAB_ANALYTIC_CLOCK", clocks[v], 1);
            int rc = test_distlab_run(out, sizeof out, "run %s --seed 1 --epochs 2 --dataset "
                                      "synth-dense:n=2000,d=20,classes=4 --net analytic --quiet --no-figures "
                                      "%s --out %s/analytic-tie-%d-%d", runs[r],
                                      v == 3 ? "--degrade cluster_link_0_UP:0.5@100-200" : "", tmp,
                                      (int)getpid(), v);
            unsetenv("DISTLAB_ANALYTIC_CLOCK");
            if (rc != 0)
                fail_msg("distlab run %s (%s): %s", runs[r], clocks[v], out);
            if (v == 0)
                continue;
            static const char *const files[] = {"model.bin", "metrics.csv", "events.csv"};
            for (int f = 0; f < 3; f++) {
                char a[4200], b[4200];
                snprintf(a, sizeof a, "%s/analytic-tie-%d-0/%s", tmp, (int)getpid(), files[f]);
                snprintf(b, sizeof b, "%s/analytic-tie-%d-%d/%s", tmp, (int)getpid(), v, files[f]);
                if (!same_bytes(a, b))
                    fail_msg("run %s: %s is another with %s than running ahead", runs[r], files[f],
                             v == 3 ? "a --degrade that never fires" : clocks[v]);
            }
        }
    }
    for (int v = 0; v < 4; v++) {
        static const char *const files[] = {"model.bin", "metrics.csv", "events.csv", "summary.json", ""};
        for (int f = 0; f < 5; f++) {
            char path[4200];
            snprintf(path, sizeof path, "%s/analytic-tie-%d-%d/%s", tmp, (int)getpid(), v, files[f]);
            f < 4 ? unlink(path) : rmdir(path);
        }
    }
}

/* $DISTLAB_ANALYTIC_CLOCK is --net analytic's alone: a value it does not
 * know refuses an analytic job (bad input) and leaves another net's be. */
static int compute_only(rt *r, void *arg)
{
    (void)arg;
    return rt_compute(r, 1e6);
}

static void the_analytic_clock_is_read_under_analytic_only(void **state)
{
    (void)state;
    setenv("DISTLAB_ANALYTIC_CLOCK", "bogus", 1);
    for (int k = 0; k < 2; k++) {
        sim_config sim = sim_config_default();
        sim.net = k ? SIM_NET_ANALYTIC : SIM_NET_IDEAL;
        job_config cfg = sim_job_config(&sim);
        cfg.ranks = 2;
        job_result res;
        int rc = job_run(&cfg, compute_only, NULL, &res);
        int refused = rc != 0 && res.bad_input && strstr(res.error, "$DISTLAB_ANALYTIC_CLOCK is 'bogus'");
        char error[sizeof res.error];
        snprintf(error, sizeof error, "%s", res.error);
        job_result_free(&res);
        if (k ? !refused : rc != 0) {
            unsetenv("DISTLAB_ANALYTIC_CLOCK");
            fail_msg("%s net, $DISTLAB_ANALYTIC_CLOCK=bogus: returned %d: %s", k ? "analytic" : "ideal", rc,
                     error);
        }
    }
    unsetenv("DISTLAB_ANALYTIC_CLOCK");
}

static void unknown_net_lists_the_known_ones(void **state)
{
    (void)state;
    if (!test_distlab())
        skip();
    static const test_refusal cases[] = {
        {"--net fast", "unknown value 'fast' (expected one of: ideal, tcp, analytic)"},
    };
    test_distlab_refuses("collective --workers 2", cases, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(one_flow_is_latency_plus_bytes_over_bandwidth),
        cmocka_unit_test(ends_come_in_time_then_flow_order),
        cmocka_unit_test(max_min_fair_shares),
        cmocka_unit_test(weights_and_fatpipes),
        cmocka_unit_test(a_lone_flow_takes_its_slowest_link),
        cmocka_unit_test(one_instants_ends_come_in_the_callers_order),
        cmocka_unit_test(collectives_take_the_ideal_time),
        cmocka_unit_test(barrier_takes_the_ideal_time),
        cmocka_unit_test(hierarchical_on_gpu_nodes_takes_the_ideal_time),
        cmocka_unit_test(incast_within_5_percent_of_the_flow_model),
        cmocka_unit_test(two_racks_within_5_percent_of_the_flow_model),
        cmocka_unit_test(ps_incast_within_5_percent_of_the_flow_model),
        cmocka_unit_test(data_moves_bit_for_bit),
        cmocka_unit_test(ps_trains_the_same_model),
        cmocka_unit_test(a_deadlock_is_reported),
        cmocka_unit_test(timed_waits_take_the_ideal_time),
        cmocka_unit_test(computations_take_simgrids_time),
        cmocka_unit_test(running_ahead_keeps_the_ideal_times),
        cmocka_unit_test(one_instants_order_does_not_depend_on_how_ranks_wake),
        cmocka_unit_test(a_rank_that_fails_keeps_ranks_at_simgrids_clock),
        cmocka_unit_test(kills_on_the_command_line_say_ranks_may_fail),
        cmocka_unit_test(link_profiles_are_refused_under_analytic),
        cmocka_unit_test(the_analytic_clock_is_read_under_analytic_only),
        cmocka_unit_test(unknown_net_lists_the_known_ones),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
