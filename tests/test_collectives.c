/* test_collectives.c -- every collective gives the right sum on every rank
 * count (not only powers of two) and every size (also fewer elements than
 * ranks); every rank ends bit-identical; the simulated time of each
 * allreduce equals its closed-form cost to 1e-6; and sim and real give the
 * same bits. The uneven-count collectives (allgatherv, reduce_scatterv) get
 * the same checks, on counts that include zeros, on both backends.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "algorithms/collectives.h"
#include "core/job.h"
#include "real/real_backend.h"
#include "sim/sim_backend.h"

enum { OP_ALLREDUCE, OP_BCAST, OP_REDUCE, OP_RS, OP_AG, OP_AGV, OP_RSV };

typedef struct coll_case {
    int op;
    allreduce_algo algo;
    size_t counts[16];
    int ncounts;
    size_t segment_bytes;
    const job_backend *backend; /* NULL: sim */
    int split;   /* uneven collectives: ranks [0, split) and [split, p) run apart */
    int gpus;    /* hierarchical: ranks per node (sim: a generated GPU cluster) */
} coll_case;

/* Uneven counts for rank j of p, one pattern of each kind: all zero; zeros
 * at every third rank; a large block and a small one mixed, the last rank
 * empty; one rank alone with data; more per rank than ranks, all alike. */
enum { VPATTERNS = 5 };

static size_t vcount(int pattern, int p, int j)
{
    switch (pattern) {
    case 0: return 0;
    case 1: return (size_t)(j % 3);
    case 2: return j == p - 1 && p > 1 ? 0 : j % 2 ? 1000 + 37 * (size_t)j : 3 + (size_t)j;
    case 3: return j == p / 2 ? 4099 : 0;
    default: return (size_t)p + 1;
    }
}

static void vcounts(int pattern, int p, size_t *counts, size_t *total)
{
    *total = 0;
    for (int j = 0; j < p; j++)
        *total += counts[j] = vcount(pattern, p, j);
}

/* The rank whose block holds element g. */
static int owner(const size_t *counts, int p, size_t g)
{
    int j = 0;
    while (j < p - 1 && g >= coll_block_offset(counts, j + 1))
        j++;
    return j;
}

typedef struct verdict {
    int errors;
    char what[200];
    double seconds;
} verdict;

/* Small integers: every partial sum is exact in float32, whatever the
 * order, so the expected total is known exactly. */
static float value(int rank, size_t i) { return (float)((rank + 1) * (int)(i % 7 + 1)); }

static void note(verdict *v, const char *fmt, ...)
{
    if (v->errors++ == 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(v->what, sizeof v->what, fmt, ap);
        va_end(ap);
    }
}

/* Every pattern in turn, one collective each; element g of the whole
 * vector starts as value(rank, g), with ranks numbered in the group. */
static int uneven_rank(rt *r, const coll_case *c, verdict *v)
{
    coll_opts opts = {0};
    if (c->split) {
        int lower = rt_rank(r) < c->split;
        opts.group_first = lower ? 0 : c->split;
        opts.group_size = lower ? c->split : rt_size(r) - c->split;
    }
    int p, me, rc = coll_group(r, &opts, "test", &p, &me);
    size_t counts[16], total;
    float tri = (float)(p * (p + 1) / 2);
    for (int pat = 0; pat < VPATTERNS && !rc; pat++) {
        vcounts(pat, p, counts, &total);
        float *buf = malloc((total + 1) * sizeof *buf);
        if (!buf)
            return RT_ENOMEM;
        size_t lo = coll_block_offset(counts, me), hi = lo + counts[me];
        for (size_t g = 0; g < total; g++)
            buf[g] = c->op == OP_RSV || (g >= lo && g < hi) ? value(me, g) : -1.0f;
        if (c->op == OP_AGV) {
            rc = allgatherv(r, buf, counts, &opts);
            for (size_t g = 0; !rc && g < total; g++)
                if (buf[g] != value(owner(counts, p, g), g)) {
                    note(v, "allgatherv pattern %d: element %zu is %g, expected %g", pat, g,
                         buf[g], value(owner(counts, p, g), g));
                    break;
                }
        } else {
            rc = reduce_scatterv(r, buf, counts, &opts);
            for (size_t g = 0; !rc && g < total; g++) {
                /* my block summed, the others untouched */
                float want = g >= lo && g < hi ? tri * (float)(g % 7 + 1) : value(me, g);
                if (buf[g] != want) {
                    note(v, "reduce_scatterv pattern %d: element %zu is %g, expected %g", pat, g,
                         buf[g], want);
                    break;
                }
            }
        }
        free(buf);
    }
    return rc;
}

static int correctness_rank(rt *r, void *arg)
{
    const coll_case *c = arg;
    verdict *v = job_slot(r);
    int p = rt_size(r), me = rt_rank(r), rc = RT_OK;
    coll_opts opts = {.segment_bytes = c->segment_bytes, .local_size = c->gpus};
    if (c->op == OP_AGV || c->op == OP_RSV)
        return uneven_rank(r, c, v);
    for (int k = 0; k < c->ncounts && !rc; k++) {
        size_t n = c->counts[k], len = (c->op == OP_RS || c->op == OP_AG) ? n * (size_t)p : n;
        float *buf = malloc((len + 1) * sizeof *buf);
        if (!buf)
            return RT_ENOMEM;
        for (size_t i = 0; i < len; i++)
            buf[i] = value(me, i);
        float tri = (float)(p * (p + 1) / 2); /* sum over ranks of (rank+1) */
        switch (c->op) {
        case OP_ALLREDUCE:
            rc = allreduce(r, c->algo, buf, n, &opts);
            for (size_t i = 0; !rc && i < n; i++)
                if (buf[i] != tri * (float)(i % 7 + 1)) {
                    note(v, "count %zu: element %zu is %g, expected %g", n, i, buf[i],
                         tri * (float)(i % 7 + 1));
                    break;
                }
            break;
        case OP_BCAST: {
            int root = p - 1;
            rc = bcast(r, buf, n, root);
            for (size_t i = 0; !rc && i < n; i++)
                if (buf[i] != value(root, i)) {
                    note(v, "bcast count %zu: element %zu is %g", n, i, buf[i]);
                    break;
                }
            break;
        }
        case OP_REDUCE: {
            int root = p / 2;
            rc = reduce(r, buf, n, root);
            for (size_t i = 0; !rc && me == root && i < n; i++)
                if (buf[i] != tri * (float)(i % 7 + 1)) {
                    note(v, "reduce count %zu: element %zu is %g", n, i, buf[i]);
                    break;
                }
            break;
        }
        case OP_RS:
            rc = reduce_scatter_ring(r, buf, n, &opts);
            for (size_t i = (size_t)me * n; !rc && i < (size_t)(me + 1) * n; i++)
                if (buf[i] != tri * (float)(i % 7 + 1)) {
                    note(v, "reduce-scatter block %zu: element %zu is %g", n, i, buf[i]);
                    break;
                }
            break;
        case OP_AG:
            /* rank j's block j becomes everyone's */
            for (size_t i = 0; i < len; i++)
                buf[i] = (i / n == (size_t)me) ? value(me, i) : -1.0f;
            rc = allgather_ring(r, buf, n);
            for (size_t i = 0; !rc && i < len; i++)
                if (buf[i] != value((int)(i / n), i)) {
                    note(v, "allgather block %zu: element %zu is %g", n, i, buf[i]);
                    break;
                }
            break;
        }
        free(buf);
    }
    return rc;
}

static void run_case(int p, coll_case *c)
{
    sim_config sim = sim_config_default();
    sim.gpus_per_node = c->gpus;
    job_config cfg = sim_job_config(&sim);
    cfg.ranks = p;
    cfg.result_bytes = sizeof(verdict);
    cfg.record_events = 0;
    if (c->backend && c->backend != &sim_backend) {
        cfg.backend = c->backend;
        cfg.settings = NULL;
    }
    job_result res;
    if (job_run(&cfg, correctness_rank, c, &res) != 0)
        fail_msg("p=%d op %d algo %s: %s", p, c->op, allreduce_algo_name(c->algo), res.error);
    for (int i = 0; i < p; i++) {
        verdict *v = job_result_slot(&res, i);
        if (v->errors)
            fail_msg("p=%d op %d algo %s rank %d: %s", p, c->op, allreduce_algo_name(c->algo), i,
                     v->what);
    }
    job_result_free(&res);
}

static const int rank_counts[] = {1, 2, 3, 5, 7, 8, 13};

static void fill_counts(coll_case *c, int p)
{
    const size_t base[] = {0, 1, 2, 1000, 4099};
    c->ncounts = 0;
    for (size_t i = 0; i < sizeof base / sizeof *base; i++)
        c->counts[c->ncounts++] = base[i];
    c->counts[c->ncounts++] = (size_t)p - 1 + (p == 1);
    c->counts[c->ncounts++] = (size_t)p;
    c->counts[c->ncounts++] = (size_t)p + 1;
}

static void allreduce_sums_any_p_any_count(void **state)
{
    (void)state;
    for (int a = 0; a < ALLREDUCE_ALGOS; a++)
        for (size_t k = 0; k < sizeof rank_counts / sizeof *rank_counts; k++) {
            coll_case c = {.op = OP_ALLREDUCE, .algo = a};
            fill_counts(&c, rank_counts[k]);
            run_case(rank_counts[k], &c);
        }
}

static void ring_segments_give_the_same_sums(void **state)
{
    (void)state;
    coll_case c = {.op = OP_ALLREDUCE, .algo = ALLREDUCE_RING, .segment_bytes = 64};
    fill_counts(&c, 5);
    run_case(5, &c);
}

static void bcast_reduce_rs_ag(void **state)
{
    (void)state;
    const int ops[] = {OP_BCAST, OP_REDUCE, OP_RS, OP_AG};
    for (int o = 0; o < 4; o++)
        for (size_t k = 0; k < sizeof rank_counts / sizeof *rank_counts; k++) {
            coll_case c = {.op = ops[o]};
            fill_counts(&c, rank_counts[k]);
            run_case(rank_counts[k], &c);
        }
}

static void uneven_counts_any_p_both_backends(void **state)
{
    (void)state;
    const int ps[] = {1, 2, 3, 5, 8, 13};
    for (int b = 0; b < 2; b++)
        for (int op = OP_AGV; op <= OP_RSV; op++)
            for (size_t k = 0; k < sizeof ps / sizeof *ps; k++) {
                coll_case c = {.op = op, .backend = b ? &real_backend : &sim_backend};
                run_case(ps[k], &c);
            }
}

/* Two groups at once, of 3 and 5 ranks, each its own collectives. */
static void uneven_counts_in_groups_of_ranks(void **state)
{
    (void)state;
    for (int b = 0; b < 2; b++)
        for (int op = OP_AGV; op <= OP_RSV; op++) {
            coll_case c = {.op = op, .backend = b ? &real_backend : &sim_backend, .split = 3};
            run_case(8, &c);
        }
}

static int bad_group_rank(rt *r, void *arg)
{
    (void)arg;
    size_t counts[4] = {1, 2, 3, 4};
    coll_opts beyond = {.group_first = 1, .group_size = 4}; /* ranks 1..4 of 4 */
    coll_opts other = {.group_first = 2, .group_size = 2};  /* without ranks 0, 1 */
    int rc = allgatherv(r, NULL, counts, &beyond);
    if (rc != RT_EINVAL || !strstr(rt_error(r), "allgatherv: a group of 4 ranks starting at 1 is not within the 4 ranks"))
        return rt_fail(r, RT_EINVAL, "group beyond the ranks gave %d: %s", rc, rt_error(r));
    if (rt_rank(r) < 2 && reduce_scatterv(r, NULL, counts, &other) != RT_EINVAL)
        return rt_fail(r, RT_EINVAL, "a group without this rank was accepted");
    return RT_OK;
}

static void bad_groups_are_refused(void **state)
{
    (void)state;
    job_config cfg = sim_job_config(NULL);
    cfg.ranks = 4;
    cfg.record_events = 0;
    job_result res;
    if (job_run(&cfg, bad_group_rank, NULL, &res) != 0)
        fail_msg("%s", res.error);
    job_result_free(&res);
}

/* ---- exact simulated time ---- */

typedef struct timing_case {
    allreduce_algo algo;
    size_t count;
} timing_case;

static int timing_rank(rt *r, void *arg)
{
    const timing_case *t = arg;
    double t0 = rt_now(r);
    int rc = allreduce(r, t->algo, NULL, t->count, NULL);
    ((verdict *)job_slot(r))->seconds = rt_now(r) - t0;
    return rc;
}

/* The slowest rank's seconds in a size-only simulation of fn on p ranks;
 * -1 with the job's error in err when it fails. */
static double slowest_rank_s(int p, double bw, double lat, int (*fn)(rt *, void *), void *arg,
                             char *err, size_t errlen)
{
    sim_config sim = sim_config_default();
    sim.size_only = 1;
    sim.bandwidth_Bps = bw;
    sim.latency_s = lat;
    job_config cfg = sim_job_config(&sim);
    cfg.ranks = p;
    cfg.record_events = 0;
    cfg.result_bytes = sizeof(verdict);
    job_result res;
    double worst = 0;
    if (job_run(&cfg, fn, arg, &res) != 0) {
        snprintf(err, errlen, "%s", res.error);
        worst = -1;
    }
    for (int i = 0; i < p && worst >= 0; i++) {
        double s = ((verdict *)job_result_slot(&res, i))->seconds;
        worst = s > worst ? s : worst;
    }
    job_result_free(&res);
    return worst;
}

static double simulated_allreduce(int p, allreduce_algo algo, size_t bytes, double bw, double lat)
{
    timing_case t = {.algo = algo, .count = bytes / 4};
    char err[1024];
    double worst = slowest_rank_s(p, bw, lat, timing_rank, &t, err, sizeof err);
    if (worst < 0)
        fail_msg("p=%d %s %zu bytes: %s", p, allreduce_algo_name(algo), bytes, err);
    return worst;
}

static void check_time(int p, allreduce_algo algo, size_t bytes, double bw, double lat)
{
    double got = simulated_allreduce(p, algo, bytes, bw, lat);
    double want = allreduce_cost_s(algo, p, bytes / 4, lat, 1 / bw, 1e-9);
    if (!(fabs(got - want) <= 1e-6 * want))
        fail_msg("p=%d %s %zu bytes: simulated %.12g s, formula %.12g s (relative %.2g)", p,
                 allreduce_algo_name(algo), bytes, got, want, fabs(got - want) / want);
}

static void simulated_time_equals_formula(void **state)
{
    (void)state;
    const int ps[] = {2, 3, 5, 8, 13, 64};
    const size_t sizes[] = {4096, 65536, 1 << 20, 64 << 20};
    for (int a = 0; a < ALLREDUCE_ALGOS; a++)
        for (size_t i = 0; i < sizeof ps / sizeof *ps; i++)
            for (size_t j = 0; j < sizeof sizes / sizeof *sizes; j++)
                check_time(ps[i], a, sizes[j], 1.25e9, 50e-6);
}

static void doubling_bandwidth_or_latency_moves_time_as_formula(void **state)
{
    (void)state;
    for (int a = 0; a < ALLREDUCE_ALGOS; a++) {
        check_time(8, a, 1 << 20, 2.5e9, 50e-6);
        check_time(8, a, 1 << 20, 1.25e9, 100e-6);
        check_time(13, a, 65536, 2.5e9, 100e-6);
    }
    /* the ring's bandwidth term, 2 (p-1) m beta, is what doubling the
     * bandwidth halves; latency and reduction time stay */
    double t1 = simulated_allreduce(8, ALLREDUCE_RING, 64 << 20, 1.25e9, 50e-6);
    double t2 = simulated_allreduce(8, ALLREDUCE_RING, 64 << 20, 2.5e9, 50e-6);
    double m = (64 << 20) / 8.0;
    double saved = 2 * 7 * m * (1 / 1.25e9 - 1 / 2.5e9);
    assert_true(fabs((t1 - t2) - saved) <= 1e-6 * saved);
}

/* ---- BytePS ---- */

typedef struct bps_case {
    int workers, chunks;
    size_t count;
    double seconds;
} bps_case;

/* Workers' vectors of small integers (exact sums); CPU servers pass no
 * buffer. Every worker must end with the total. */
static int byteps_rank(rt *r, void *arg)
{
    const bps_case *c = arg;
    verdict *v = job_slot(r);
    int me = rt_rank(r), n = c->workers;
    float *buf = me < n ? malloc((c->count + 1) * sizeof *buf) : NULL;
    if (me < n && !buf)
        return RT_ENOMEM;
    for (size_t i = 0; buf && i < c->count; i++)
        buf[i] = value(me, i);
    int rc = byteps_allreduce(r, buf, c->count, n, c->chunks);
    float tri = (float)(n * (n + 1) / 2);
    for (size_t i = 0; !rc && buf && i < c->count; i++)
        if (buf[i] != tri * (float)(i % 7 + 1)) {
            note(v, "n=%d count %zu: element %zu is %g, expected %g", n, c->count, i, buf[i],
                 tri * (float)(i % 7 + 1));
            break;
        }
    free(buf);
    return rc;
}

static void byteps_sums_on_both_backends(void **state)
{
    (void)state;
    const int nk[][2] = {{1, 1}, {2, 0}, {3, 2}, {4, 4}, {3, 5}, {5, 1}};
    const size_t counts[] = {1, 7, 1000, 4099};
    for (int b = 0; b < 2; b++)
        for (size_t i = 0; i < sizeof nk / sizeof *nk; i++)
            for (size_t j = 0; j < sizeof counts / sizeof *counts; j++) {
                bps_case c = {.workers = nk[i][0], .chunks = 1 + (int)j, .count = counts[j]};
                job_config cfg = b ? real_job_config(NULL) : sim_job_config(NULL);
                cfg.ranks = nk[i][0] + nk[i][1];
                cfg.result_bytes = sizeof(verdict);
                cfg.record_events = 0;
                cfg.timeout_s = 20;
                job_result res;
                if (job_run(&cfg, byteps_rank, &c, &res) != 0)
                    fail_msg("%s n=%d k=%d count %zu: %s", b ? "real" : "sim", nk[i][0], nk[i][1],
                             counts[j], res.error);
                for (int q = 0; q < cfg.ranks; q++)
                    if (((verdict *)job_result_slot(&res, q))->errors)
                        fail_msg("%s k=%d rank %d: %s", b ? "real" : "sim", nk[i][1], q,
                                 ((verdict *)job_result_slot(&res, q))->what);
                job_result_free(&res);
            }
}

static int byteps_timing_rank(rt *r, void *arg)
{
    const bps_case *c = arg;
    double t0 = rt_now(r);
    int rc = byteps_allreduce(r, NULL, c->count, c->workers, c->chunks);
    ((verdict *)job_slot(r))->seconds = rt_now(r) - t0;
    return rc;
}

/* Under the ideal network the paper's 2n(n-1)M/((n^2+kn-2k)B) is a lower
 * bound for k = 0, n/2 and n, met within a piece's time (1 + 2/chunks,
 * plus latencies) at k = 0 (the ring's bandwidth term) and k = n, where
 * every flow on a NIC carries as much as the others. At k = n/2 the
 * paper's partition needs a worker's flows to the CPU servers 3.5 times
 * as fast as those to its peers, but flows sharing a NIC get equal rates:
 * the simulation is 25% above the formula (byteps.c). More CPU servers,
 * faster, every time. */
static void byteps_time_follows_the_paper(void **state)
{
    (void)state;
    const double bw = 1.25e9, lat = 5e-6;
    const int n = 8, chunks = 32;
    const size_t count = 16 << 20; /* 64 MiB */
    double prev = INFINITY;
    assert_true(fabs(byteps_cost_s(n, 0, count, 1 / bw) -
                     2.0 * (n - 1) / n * 4.0 * count / bw) < 1e-12);
    assert_true(fabs(byteps_cost_s(n, n, count, 1 / bw) - 4.0 * count / bw) < 1e-12);
    for (int k = 0; k <= n; k += n / 2) {
        bps_case c = {.workers = n, .chunks = chunks, .count = count};
        sim_config sim = sim_config_default();
        sim.size_only = 1;
        sim.bandwidth_Bps = bw;
        sim.latency_s = lat;
        sim.speed_flops = 1e15;
        job_config cfg = sim_job_config(&sim);
        cfg.ranks = n + k;
        cfg.record_events = 0;
        cfg.result_bytes = sizeof(verdict);
        job_result res;
        if (job_run(&cfg, byteps_timing_rank, &c, &res) != 0)
            fail_msg("k=%d: %s", k, res.error);
        double got = 0;
        for (int i = 0; i < cfg.ranks; i++) {
            double s = ((verdict *)job_result_slot(&res, i))->seconds;
            got = s > got ? s : got;
        }
        job_result_free(&res);
        double want = byteps_cost_s(n, k, count, 1 / bw);
        double hi = k == n / 2 ? 1.3 * want : want * (1 + 2.0 / chunks) + 4 * chunks * lat;
        if (!(got >= want * (1 - 1e-9) && got <= hi))
            fail_msg("n=%d k=%d: simulated %.9g s, the paper's %.9g s (allowed up to %.9g)", n, k, got,
                     want, hi);
        assert_true(got < prev);
        prev = got;
    }
}

/* ---- hierarchical allreduce on GPU nodes ---- */

static void hierarchical_sums_on_gpu_nodes(void **state)
{
    (void)state;
    const int pg[][2] = {{2, 2}, {4, 2}, {6, 3}, {8, 4}, {8, 8}, {12, 4}, {15, 5}};
    for (int b = 0; b < 2; b++)
        for (size_t k = 0; k < sizeof pg / sizeof *pg; k++) {
            if (b && pg[k][0] > 8)
                continue; /* real sockets: a few ranks are enough */
            coll_case c = {.op = OP_ALLREDUCE, .algo = ALLREDUCE_HIERARCHICAL, .gpus = pg[k][1],
                           .backend = b ? &real_backend : &sim_backend};
            fill_counts(&c, pg[k][0]);
            run_case(pg[k][0], &c);
        }
}

static int partial_node_rank(rt *r, void *arg)
{
    (void)arg;
    coll_opts opts = {.local_size = 4};
    int rc = allreduce(r, ALLREDUCE_HIERARCHICAL, NULL, 100, &opts);
    if (rc != RT_EINVAL || !strstr(rt_error(r), "6 ranks are not whole nodes of 4"))
        return rt_fail(r, RT_EINVAL, "6 ranks in nodes of 4 gave %d: %s", rc, rt_error(r));
    return RT_OK;
}

static void hierarchical_refuses_partial_nodes(void **state)
{
    (void)state;
    job_config cfg = sim_job_config(NULL);
    cfg.ranks = 6;
    cfg.record_events = 0;
    job_result res;
    if (job_run(&cfg, partial_node_rank, NULL, &res) != 0)
        fail_msg("%s", res.error);
    job_result_free(&res);
    /* a GPU cluster too small for the ranks is refused before it runs */
    sim_config sim = sim_config_default();
    sim.gpus_per_node = 4;
    sim.hosts = 2;
    cfg = sim_job_config(&sim);
    cfg.ranks = 9;
    assert_int_not_equal(job_run(&cfg, partial_node_rank, NULL, &res), 0);
    assert_non_null(strstr(res.error, "9 ranks do not fit 2 nodes of 4 GPUs"));
    job_result_free(&res);
}

static int hier_timing_rank(rt *r, void *arg)
{
    const coll_case *c = arg;
    coll_opts opts = {.local_size = c->gpus};
    double t0 = rt_now(r);
    int rc = allreduce(r, ALLREDUCE_HIERARCHICAL, NULL, c->counts[0], &opts);
    ((verdict *)job_slot(r))->seconds = rt_now(r) - t0;
    return rc;
}

/* On a generated GPU cluster the simulated time is the header's formula:
 * intra-node links for the trees, the NIC (or the GPU's link, if slower)
 * for the leaders' ring. */
static void hierarchical_time_equals_formula(void **state)
{
    (void)state;
    const int pg[][2] = {{8, 4}, {16, 4}, {12, 3}, {16, 8}, {6, 2}};
    const size_t sizes[] = {65536, 4 << 20};
    const double nic[] = {3.125e9, 400e9}; /* 25 Gb/s; faster than the GPU link */
    for (size_t k = 0; k < sizeof pg / sizeof *pg; k++)
        for (size_t j = 0; j < sizeof sizes / sizeof *sizes; j++)
            for (int n = 0; n < 2; n++) {
                sim_config sim = sim_config_default();
                sim.size_only = 1;
                sim.gpus_per_node = pg[k][1];
                sim.bandwidth_Bps = nic[n];
                sim.latency_s = 10e-6;
                sim.intra_bandwidth_Bps = 150e9;
                sim.intra_latency_s = 3e-6;
                sim.speed_flops = 1e12;
                job_config cfg = sim_job_config(&sim);
                cfg.ranks = pg[k][0];
                cfg.record_events = 0;
                cfg.result_bytes = sizeof(verdict);
                coll_case c = {.gpus = pg[k][1], .counts = {sizes[j] / 4}};
                job_result res;
                if (job_run(&cfg, hier_timing_rank, &c, &res) != 0)
                    fail_msg("p=%d G=%d: %s", pg[k][0], pg[k][1], res.error);
                double got = 0;
                for (int i = 0; i < cfg.ranks; i++) {
                    double s = ((verdict *)job_result_slot(&res, i))->seconds;
                    got = s > got ? s : got;
                }
                job_result_free(&res);
                double bo = 1 / (nic[n] < 150e9 ? nic[n] : 150e9);
                double want = allreduce_hierarchical_cost_s(pg[k][0], pg[k][1], sizes[j] / 4, 3e-6,
                                                            1 / 150e9, 10e-6, bo, 1e-12);
                if (!(fabs(got - want) <= 1e-6 * want))
                    fail_msg("p=%d G=%d %zu bytes, NIC %g B/s: simulated %.12g s, formula %.12g s",
                             pg[k][0], pg[k][1], sizes[j], nic[n], got, want);
            }
    /* one rank per node: the ring's formula */
    assert_true(allreduce_hierarchical_cost_s(8, 1, 1000, 1e-5, 1e-9, 1e-5, 1e-9, 1e-9) ==
                allreduce_cost_s(ALLREDUCE_RING, 8, 1000, 1e-5, 1e-9, 1e-9));
}

/* The uneven collectives from a common start, size-only: the slowest
 * rank's time, which the formula gives. */
typedef struct vtiming_case {
    int op, pattern, uncharged;
} vtiming_case;

static int vtiming_rank(rt *r, void *arg)
{
    const vtiming_case *t = arg;
    size_t counts[16], total;
    vcounts(t->pattern, rt_size(r), counts, &total);
    coll_opts opts = {.uncharged_adds = t->uncharged};
    double t0 = rt_now(r);
    int rc = t->op == OP_AGV ? allgatherv(r, NULL, counts, NULL) : reduce_scatterv(r, NULL, counts, &opts);
    ((verdict *)job_slot(r))->seconds = rt_now(r) - t0;
    return rc;
}

/* With SimGrid's lazy update of the sharing (sim_platform.c sets
 * network/optim:Lazy for --net ideal), reduce_scatterv on 5 ranks with
 * pattern 2 ends 20 bytes' worth early (1.6e-8 s, 2.5e-4 relative); with
 * the full update every case matches the formula to 1e-6. This test
 * checks the formula, so it asks for the full update. */
static void uneven_time_equals_formula(void **state)
{
    (void)state;
    const char *was = getenv("DISTLAB_SIMGRID");
    char *saved = was ? strdup(was) : NULL;
    setenv("DISTLAB_SIMGRID", "--cfg=network/optim:Full", 1);
    char bad[1400] = ""; /* the first failure, reported once the setting is restored */
    const int ps[] = {2, 3, 5, 8, 13};
    const double bw = 1.25e9, lat = 50e-6;
    for (int op = OP_AGV; op <= OP_RSV; op++)
        for (int pat = 0; pat < VPATTERNS; pat++)
            for (size_t i = 0; i < sizeof ps / sizeof *ps; i++)
                for (int unch = 0; unch <= (op == OP_RSV); unch++) {
                    int p = ps[i];
                    vtiming_case t = {.op = op, .pattern = pat, .uncharged = unch};
                    char err[1024];
                    double got = slowest_rank_s(p, bw, lat, vtiming_rank, &t, err, sizeof err);
                    if (got < 0 && !bad[0])
                        snprintf(bad, sizeof bad, "p=%d op %d pattern %d: %s", p, op, pat, err);
                    size_t counts[16], total;
                    vcounts(pat, p, counts, &total);
                    double want = op == OP_AGV ? allgatherv_cost_s(p, counts, lat, 1 / bw)
                                               : reduce_scatterv_cost_s(p, counts, lat, 1 / bw,
                                                                        unch ? 0 : 1e-9);
                    if (!bad[0] && !(fabs(got - want) <= 1e-6 * want) && !(want == 0 && got == 0))
                        snprintf(bad, sizeof bad, "p=%d %s pattern %d%s: simulated %.12g s, "
                                 "formula %.12g s", p, op == OP_AGV ? "allgatherv" : "reduce_scatterv",
                                 pat, unch ? " (uncharged adds)" : "", got, want);
                }
    if (saved)
        setenv("DISTLAB_SIMGRID", saved, 1);
    else
        unsetenv("DISTLAB_SIMGRID");
    free(saved);
    if (bad[0])
        fail_msg("%s", bad);
}

/* ---- same bits on sim and real ---- */

enum { BITS_N = 3001 };

static int bits_rank(rt *r, void *arg)
{
    const coll_case *c = arg;
    float *out = job_slot(r);
    uint64_t x = 0x9E3779B97F4A7C15ull * (uint64_t)(rt_rank(r) + 1);
    for (int i = 0; i < BITS_N; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        out[i] = (float)((double)(x >> 11) / 9007199254740992.0 - 0.5);
    }
    coll_opts opts = {.local_size = c->gpus};
    return allreduce(r, c->algo, out, BITS_N, &opts);
}

/* reduce_scatterv on random floats (whose sums depend on the order):
 * pattern 2's counts, my block summed in place. */
static int vbits_rank(rt *r, void *arg)
{
    (void)arg;
    float *out = job_slot(r);
    size_t counts[16], total;
    vcounts(2, rt_size(r), counts, &total);
    uint64_t x = 0x9E3779B97F4A7C15ull * (uint64_t)(rt_rank(r) + 1);
    for (size_t i = 0; i < total; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        out[i] = (float)((double)(x >> 11) / 9007199254740992.0 - 0.5);
    }
    int rc = reduce_scatterv(r, out, counts, NULL);
    return rc ? rc : allgatherv(r, out, counts, NULL);
}

/* Run fn on 6 ranks, sim and real: every rank's first `bytes` of its
 * slot must hold the same bits, on both backends. */
static void check_same_bits(int (*fn)(rt *, void *), void *arg, size_t bytes, const char *what)
{
    job_result res[2];
    for (int b = 0; b < 2; b++) {
        job_config cfg = job_config_default();
        cfg.ranks = 6;
        cfg.backend = b ? &real_backend : &sim_backend;
        cfg.result_bytes = BITS_N * sizeof(float);
        cfg.timeout_s = 20;
        if (job_run(&cfg, fn, arg, &res[b]) != 0)
            fail_msg("%s on %s: %s", what, b ? "real" : "sim", res[b].error);
    }
    for (int i = 0; i < 6; i++) {
        /* every rank holds the same bits, on both backends */
        assert_memory_equal(job_result_slot(&res[0], 0), job_result_slot(&res[0], i), bytes);
        assert_memory_equal(job_result_slot(&res[0], i), job_result_slot(&res[1], i), bytes);
    }
    job_result_free(&res[0]);
    job_result_free(&res[1]);
}

static void sim_and_real_give_the_same_bits(void **state)
{
    (void)state;
    for (int a = 0; a < ALLREDUCE_ALGOS; a++) {
        coll_case c = {.algo = a};
        check_same_bits(bits_rank, &c, BITS_N * sizeof(float), allreduce_algo_name(a));
    }
    coll_case nodes = {.algo = ALLREDUCE_HIERARCHICAL, .gpus = 3}; /* two nodes of 3 */
    check_same_bits(bits_rank, &nodes, BITS_N * sizeof(float), "hierarchical, 2 nodes of 3");
    /* reduce_scatterv then allgatherv: every rank holds every sum */
    size_t counts[16], total;
    vcounts(2, 6, counts, &total);
    check_same_bits(vbits_rank, NULL, total * sizeof(float), "reduce_scatterv");
}

static void names_and_bad_algorithm(void **state)
{
    (void)state;
    assert_int_equal(allreduce_algo_by_name("ring"), ALLREDUCE_RING);
    assert_int_equal(allreduce_algo_by_name("rabenseifner"), ALLREDUCE_RABENSEIFNER);
    assert_int_equal(allreduce_algo_by_name("butterfly"), -1);
    assert_int_equal(allreduce_algo_by_name("hierarchical"), ALLREDUCE_HIERARCHICAL);
    assert_string_equal(allreduce_algo_name(ALLREDUCE_RD), "rd");
    assert_true(allreduce_cost_s(ALLREDUCE_RING, 1, 100, 1, 1, 1) == 0);
    /* auto: few rounds for small vectors, bandwidth-optimal for large ones,
     * and no folding of extra ranks when p is not a power of two */
    assert_int_equal(allreduce_algo_best(8, 1024, 50e-6, 1 / 1.25e9, 1e-9), ALLREDUCE_RD);
    assert_int_equal(allreduce_algo_best(8, 16 << 20, 50e-6, 1 / 1.25e9, 1e-9), ALLREDUCE_RABENSEIFNER);
    assert_int_equal(allreduce_algo_best(13, 16 << 20, 50e-6, 1 / 1.25e9, 1e-9), ALLREDUCE_RING);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(names_and_bad_algorithm),
        cmocka_unit_test(allreduce_sums_any_p_any_count),
        cmocka_unit_test(ring_segments_give_the_same_sums),
        cmocka_unit_test(bcast_reduce_rs_ag),
        cmocka_unit_test(uneven_counts_any_p_both_backends),
        cmocka_unit_test(uneven_counts_in_groups_of_ranks),
        cmocka_unit_test(bad_groups_are_refused),
        cmocka_unit_test(uneven_time_equals_formula),
        cmocka_unit_test(simulated_time_equals_formula),
        cmocka_unit_test(doubling_bandwidth_or_latency_moves_time_as_formula),
        cmocka_unit_test(sim_and_real_give_the_same_bits),
        cmocka_unit_test(hierarchical_sums_on_gpu_nodes),
        cmocka_unit_test(hierarchical_refuses_partial_nodes),
        cmocka_unit_test(hierarchical_time_equals_formula),
        cmocka_unit_test(byteps_sums_on_both_backends),
        cmocka_unit_test(byteps_time_follows_the_paper),
    };
    return cmocka_run_group_tests_name("collectives", tests, NULL, NULL);
}
