/* test_ps.c -- the parameter server (algorithms/ps.c): one worker and any
 * number of servers is serial SGD bit for bit (sharding changes nothing);
 * BSP gives the same bits in sim and on real sockets, dense and sparse;
 * SSP with s = 0 is exactly the BSP run (weights and simulated time); SSP
 * never lets staleness exceed s, while async with a straggler does; async
 * lets a straggler fall behind but starves no worker of a busy server; one
 * BSP iteration takes exactly the cost formula of ps.c's header (linear in
 * W for one server, bandwidth divided by S); on real sockets a worker that
 * dies leaves async and SSP to finish without it and stops BSP with a
 * clear error, and nothing hangs; bad options are refused with exit 2.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "algorithms/ps.h"
#include "algorithms/sgd_allreduce.h"
#include "core/job.h"
#include "real/real.h"
#include "real/real_backend.h"
#include "sim/sim_backend.h"
#include "tests/util_distlab.h"

#define assert_contains(haystack, needle)                                              \
    do {                                                                               \
        if (!strstr((haystack), (needle)))                                             \
            fail_msg("\"%s\" does not mention \"%s\"", (haystack), (needle));          \
    } while (0)

#define assert_rel(a, b, tol)                                                          \
    do {                                                                               \
        double a_ = (a), b_ = (b);                                                     \
        if (!(fabs(a_ - b_) <= (tol) * fabs(b_)))                                      \
            fail_msg("%s = %.12g, expected %.12g (relative error %.3g)", #a, a_, b_,   \
                     fabs(a_ - b_) / fabs(b_));                                        \
    } while (0)

typedef struct problem {
    ml_config ml;
    ml_problem prob;
} problem;

static void problem_load(problem *p, const char *dataset, const char *model, long epochs,
                         size_t batch, double lr)
{
    char err[512];
    ml_config_default(&p->ml);
    assert_int_equal(ml_config_set(&p->ml, "dataset", dataset, err, sizeof err), 0);
    assert_int_equal(ml_config_set(&p->ml, "model", model, err, sizeof err), 0);
    p->ml.epochs = epochs;
    p->ml.batch = batch;
    p->ml.lr = lr;
    if (ml_problem_load(&p->ml, &p->prob, err, sizeof err) != 0)
        fail_msg("loading %s: %s", dataset, err);
}

static size_t nparams(const problem *p) { return ml_model_nparams(p->prob.model); }

typedef struct run {
    job_result res;
    int rc;
    train_out *out; /* the reporter's slot */
    const float *params;
} run;

/* A job config for S + W ranks on the given backend. */
static job_config config(const problem *p, int ranks, const job_backend *backend)
{
    job_config cfg = job_config_default();
    cfg.ranks = ranks;
    cfg.backend = backend;
    cfg.timeout_s = 20;
    cfg.result_bytes = train_out_bytes(nparams(p));
    return cfg;
}

/* Run the parameter server; when must_succeed, fail the test on error. */
/* the fault a run injects (train_setup.crash), or NULL */
static int (*injected)(void *ctx, rt *r, long step);

static void run_ps(run *o, problem *p, const ps_opts *opt, int W, const job_config *cfg,
                   int must_succeed)
{
    train_setup setup = {.ml = &p->ml, .prob = &p->prob, .workers = W, .reporter = 0,
                         .quiet = 1, .algo = opt, .crash = injected};
    train_setup_columns(&setup, &ps_algo);
    job_config c = *cfg;
    c.ranks = opt->servers + W;
    o->rc = job_run(&c, ps_rank, &setup, &o->res);
    if (must_succeed && o->rc != 0)
        fail_msg("ps, %d servers, %d workers, %s: %s", opt->servers, W,
                 ps_consistency_name(opt->consistency), o->res.error);
    o->out = job_result_slot(&o->res, 0);
    o->params = train_out_params(o->out);
}

static void assert_same_params(const run *a, const run *b, size_t P)
{
    for (size_t i = 0; i < P; i++)
        if (memcmp(&a->params[i], &b->params[i], sizeof(float)) != 0)
            fail_msg("parameter %zu differs: %.9g vs %.9g", i, a->params[i], b->params[i]);
}

/* ---- one worker is serial SGD, however many servers share the keys ---- */

static void one_worker_is_serial_sgd_for_any_servers(void **state)
{
    (void)state;
    const char *optims[] = {"sgd", "adagrad"};
    for (int k = 0; k < 2; k++) {
        problem p;
        char err[256];
        problem_load(&p, "synth-dense:n=300,d=12,classes=3,test=60", "softmax", 2, 16, 0.1);
        assert_int_equal(ml_config_set(&p.ml, "optimizer", optims[k], err, sizeof err), 0);
        sgd_allreduce_opts ar = {.algo = ALLREDUCE_RING};
        train_setup setup = {.ml = &p.ml, .prob = &p.prob, .workers = 1, .quiet = 1, .algo = &ar};
        job_config cfg = config(&p, 1, &sim_backend);
        run serial;
        if (job_run(&cfg, sgd_allreduce_rank, &setup, &serial.res) != 0)
            fail_msg("serial: %s", serial.res.error);
        serial.params = train_out_params(job_result_slot(&serial.res, 0));
        for (int S = 1; S <= 3; S++) {
            ps_opts opt = {.servers = S, .consistency = PS_BSP};
            run ps;
            run_ps(&ps, &p, &opt, 1, &cfg, 1);
            assert_same_params(&ps, &serial, nparams(&p));
            job_result_free(&ps.res);
        }
        job_result_free(&serial.res);
        ml_problem_free(&p.prob);
    }
}

/* ---- BSP: the same bits in sim and on real sockets ---- */

static void bsp_sim_and_real_give_the_same_bits(void **state)
{
    (void)state;
    struct {
        const char *dataset, *model;
        int S, W;
    } cases[] = {
        {"synth-dense:n=400,d=10,classes=3,test=50", "softmax", 2, 3},
        {"synth-sparse:n=600,d=300,nnz=8,test=100", "logreg", 3, 2},
    };
    for (int c = 0; c < 2; c++) {
        problem p;
        problem_load(&p, cases[c].dataset, cases[c].model, 2, 16, 0.5);
        ps_opts opt = {.servers = cases[c].S, .consistency = PS_BSP};
        run sim, real;
        job_config cfg = config(&p, 0, &sim_backend);
        run_ps(&sim, &p, &opt, cases[c].W, &cfg, 1);
        cfg.backend = &real_backend;
        run_ps(&real, &p, &opt, cases[c].W, &cfg, 1);
        assert_same_params(&sim, &real, nparams(&p));
        assert_int_equal(sim.out->npoints, real.out->npoints);
        assert_true(sim.out->npoints >= 3);
        for (int i = 0; i < sim.out->npoints; i++) {
            assert_true(sim.out->points[i].epoch == real.out->points[i].epoch);
            assert_true(sim.out->points[i].train_loss == real.out->points[i].train_loss);
        }
        /* and it learned something */
        assert_true(sim.out->points[sim.out->npoints - 1].train_loss <
                    sim.out->points[0].train_loss);
        assert_true(sim.out->stats[PS_STAT_STALENESS_MAX] == 0);
        job_result_free(&sim.res);
        job_result_free(&real.res);
        ml_problem_free(&p.prob);
    }
}

/* ---- SSP: s = 0 is BSP; staleness never exceeds s; async has no bound ---- */

/* Slowdowns for S servers then W workers: worker 1 is a 4x straggler. */
static double slow[16];
static sim_config slow_cores;

static job_config straggler_config(const problem *p, int S, int W)
{
    job_config cfg = config(p, S + W, &sim_backend);
    for (int i = 0; i < S + W; i++)
        slow[i] = i == S + 1 ? 4 : 1;
    cfg.slowdown = slow;
    slow_cores = sim_config_default();
    slow_cores.speed_flops = 2e6; /* compute dominates: stragglers matter */
    cfg.settings = &slow_cores;
    return cfg;
}

static void ssp_zero_is_exactly_bsp(void **state)
{
    (void)state;
    problem p;
    problem_load(&p, "synth-sparse:n=600,d=300,nnz=8,test=100", "logreg", 2, 16, 0.5);
    ps_opts bsp = {.servers = 2, .consistency = PS_BSP};
    ps_opts ssp = {.servers = 2, .consistency = PS_SSP, .staleness = 0};
    job_config cfg = straggler_config(&p, 2, 4);
    run a, b;
    run_ps(&a, &p, &bsp, 4, &cfg, 1);
    run_ps(&b, &p, &ssp, 4, &cfg, 1);
    assert_same_params(&a, &b, nparams(&p));
    assert_true(a.res.seconds == b.res.seconds);
    assert_int_equal(a.out->npoints, b.out->npoints);
    for (int i = 0; i < a.out->npoints; i++)
        assert_true(a.out->points[i].time_s == b.out->points[i].time_s);
    job_result_free(&a.res);
    job_result_free(&b.res);
    ml_problem_free(&p.prob);
}

static void ssp_staleness_never_exceeds_s(void **state)
{
    (void)state;
    problem p;
    problem_load(&p, "synth-sparse:n=800,d=300,nnz=8,test=100", "logreg", 2, 16, 0.5);
    int S = 2, W = 4;
    job_config cfg = straggler_config(&p, S, W);
    double bsp_s = 0;
    for (int s = 0; s <= 3; s++) {
        ps_opts opt = {.servers = S, .consistency = PS_SSP, .staleness = s};
        run o;
        run_ps(&o, &p, &opt, W, &cfg, 1);
        double max = o.out->stats[PS_STAT_STALENESS_MAX];
        if (max > s)
            fail_msg("ssp s = %d: an update %g iterations stale", s, max);
        /* the straggler makes the bound bind */
        assert_true(max == s);
        for (int i = 1; i < o.out->npoints; i++)
            assert_true(!(o.out->points[i].extra[0] > s));
        /* looser bounds wait less for the straggler */
        if (s == 0)
            bsp_s = o.res.seconds;
        else
            assert_true(o.res.seconds < bsp_s);
        job_result_free(&o.res);
    }
    ps_opts async = {.servers = S, .consistency = PS_ASYNC};
    run o;
    run_ps(&o, &p, &async, W, &cfg, 1);
    assert_true(o.out->stats[PS_STAT_STALENESS_MAX] > 3);
    assert_true(o.res.seconds < bsp_s);
    job_result_free(&o.res);
    ml_problem_free(&p.prob);
}

/* Iterations each worker pushed (its own slot). */
static void iterations(const run *o, int S, int W, double *min, double *max)
{
    *min = 1e300;
    *max = 0;
    for (int w = 0; w < W; w++) {
        double it = ((train_out *)job_result_slot(&o->res, S + w))->stats[PS_STAT_UPDATES];
        *min = fmin(*min, it);
        *max = fmax(*max, it);
    }
}

static void async_lets_stragglers_lag_and_starves_nobody(void **state)
{
    (void)state;
    problem p;
    char err[256];
    problem_load(&p, "synth-sparse:n=1600,d=300,nnz=8,test=100", "logreg", 2, 8, 0.2);
    assert_int_equal(ml_config_set(&p.ml, "optimizer", "adagrad", err, sizeof err), 0);
    double lo, hi;
    /* equal workers, one busy server: all are served alike */
    ps_opts one = {.servers = 1, .consistency = PS_ASYNC};
    sim_config sim = sim_config_default();
    sim.speed_flops = 2e6;
    job_config cfg = config(&p, 9, &sim_backend);
    cfg.settings = &sim;
    run o;
    run_ps(&o, &p, &one, 8, &cfg, 1);
    iterations(&o, 1, 8, &lo, &hi);
    if (!(lo > 0.8 * hi))
        fail_msg("async workers pushed from %g to %g iterations: some starved", lo, hi);
    assert_true(o.out->stats[PS_STAT_STALENESS_MAX] <= 3);
    job_result_free(&o.res);
    /* a 4x straggler does well under half the others' iterations (a
     * quarter, were communication free) */
    ps_opts two = {.servers = 2, .consistency = PS_ASYNC};
    cfg = straggler_config(&p, 2, 4);
    run_ps(&o, &p, &two, 4, &cfg, 1);
    double it1 = ((train_out *)job_result_slot(&o.res, 3))->stats[PS_STAT_UPDATES];
    iterations(&o, 2, 4, &lo, &hi);
    assert_true(lo == it1);
    if (!(it1 > 0.2 * hi && it1 < 0.5 * hi))
        fail_msg("the straggler pushed %g iterations, the fastest %g", it1, hi);
    job_result_free(&o.res);
    /* bsp: everyone the same */
    ps_opts bsp = {.servers = 2, .consistency = PS_BSP};
    run_ps(&o, &p, &bsp, 4, &cfg, 1);
    iterations(&o, 2, 4, &lo, &hi);
    assert_true(lo == hi && lo > 0);
    job_result_free(&o.res);
    ml_problem_free(&p.prob);
}

/* ---- timing: one BSP iteration is the cost formula ---- */

static void bsp_iteration_is_the_cost_formula(void **state)
{
    (void)state;
    /* P = 64 keys (logreg on 63 features), 512 examples, batch 8: an
     * epoch is 64 / W iterations, and every W divides it */
    problem p;
    problem_load(&p, "synth-dense:n=512,d=63,classes=2,test=64", "logreg", 2, 8, 0.1);
    assert_int_equal(nparams(&p), 64);
    const double bw_Bps = 1.25e8, lat_s = 10e-6;
    struct {
        int W, S;
    } cases[] = {{1, 1}, {2, 1}, {4, 1}, {8, 1}, {8, 2}, {8, 4}, {2, 4}};
    double single[9] = {0};
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        int W = cases[c].W, S = cases[c].S;
        sim_config sim = sim_config_default();
        sim.bandwidth_Bps = bw_Bps;
        sim.latency_s = lat_s;
        sim.speed_flops = 1e30; /* no compute */
        job_config cfg = config(&p, S + W, &sim_backend);
        cfg.settings = &sim;
        ps_opts opt = {.servers = S, .consistency = PS_BSP};
        run o;
        run_ps(&o, &p, &opt, W, &cfg, 1);
        assert_int_equal(o.out->npoints, 3); /* epochs 0, 1, 2 */
        double iters = 512.0 / (8 * W);
        double t_s = (o.out->points[2].time_s - o.out->points[1].time_s) / iters;
        double want_s = ps_bsp_iteration_s(W, S, 64, lat_s, 1 / bw_Bps);
        assert_rel(t_s, want_s, 1e-6);
        if (S == 1)
            single[W] = t_s;
        if (S > 1 && S <= W) /* sharding divides the bandwidth term */
            assert_rel(t_s - 2 * lat_s - W * 40 / bw_Bps,
                       (single[W] - 2 * lat_s - W * 40 / bw_Bps) / S, 1e-6);
        job_result_free(&o.res);
    }
    /* one server: linear in W */
    assert_rel(single[8] - single[4], 4 * (single[2] - single[1]), 1e-6);
    ml_problem_free(&p.prob);
}

/* ---- real sockets: a worker dies ---- */

/* Worker 1 (rank 3) dies at its step 4. Under async the others could use
 * up the whole budget before a starved worker gets that far, and it would
 * never die: so the others wait at their step 5 until it has (a flag in a
 * mapping the rank processes share), 10 s at most. */
enum { SERVERS = 2, VICTIM = 1, VICTIM_AT = 4 };

static int *victim_died;

static void victim_flag_reset(void)
{
    if (!victim_died) {
        victim_died = mmap(NULL, sizeof *victim_died, PROT_READ | PROT_WRITE,
                           MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        assert_true(victim_died != MAP_FAILED);
    }
    __atomic_store_n(victim_died, 0, __ATOMIC_RELEASE);
}

/* 1 when rank r is the victim and dies now; the others wait for it */
static int victim_dies(rt *r, long step)
{
    if (rt_rank(r) == SERVERS + VICTIM) {
        if (step != VICTIM_AT)
            return 0;
        __atomic_store_n(victim_died, 1, __ATOMIC_RELEASE);
        return 1;
    }
    if (rt_rank(r) >= SERVERS && step == VICTIM_AT + 1)
        for (int ms = 0; ms < 10000 && !__atomic_load_n(victim_died, __ATOMIC_ACQUIRE); ms++)
            usleep(1000);
    return 0;
}

static int crash_abort(void *ctx, rt *r, long step)
{
    (void)ctx;
    if (!victim_dies(r, step))
        return 0;
    real_abort_connections(r);
    return 1;
}

static int crash_exit(void *ctx, rt *r, long step)
{
    (void)ctx;
    if (victim_dies(r, step))
        _exit(9);
    return 0;
}

static void dead_worker_async_and_ssp_finish_without_it(void **state)
{
    (void)state;
    problem p;
    problem_load(&p, "synth-sparse:n=600,d=300,nnz=8,test=100", "logreg", 3, 16, 0.5);
    struct {
        ps_consistency c;
        int s;
        real_launch launch;
        int (*crash)(void *, rt *, long);
    } cases[] = {
        {PS_ASYNC, 0, REAL_LAUNCH_THREADS, crash_abort},
        {PS_SSP, 1, REAL_LAUNCH_THREADS, crash_abort},
        {PS_SSP, 2, REAL_LAUNCH_PROCS, crash_exit},
    };
    for (int k = 0; k < 3; k++) {
        ps_opts opt = {.servers = SERVERS, .consistency = cases[k].c, .staleness = cases[k].s};
        injected = cases[k].crash;
        victim_flag_reset();
        real_config real = real_config_default();
        real.launch = cases[k].launch;
        job_config cfg = config(&p, 0, &real_backend);
        cfg.settings = &real;
        run o;
        run_ps(&o, &p, &opt, 3, &cfg, 0);
        injected = NULL;
        /* the dead worker fails the job (its thread returns the crash, its
         * process exits); the servers and the other workers still finish */
        assert_int_not_equal(o.rc, 0);
        if (cases[k].launch == REAL_LAUNCH_THREADS)
            assert_int_equal(o.res.rank_status[SERVERS + VICTIM], RT_EKILLED);
        for (int r = 0; r < 5; r++)
            if (r != 2 + VICTIM && o.res.rank_status[r] != RT_OK)
                fail_msg("rank %d: %s (job: %s)", r, rt_strerror(o.res.rank_status[r]),
                         o.res.error);
        assert_true(o.out->stats[PS_STAT_WORKERS_LOST] == 1);
        assert_true(o.res.seconds < cfg.timeout_s);
        const train_point *last = &o.out->points[o.out->npoints - 1];
        assert_true(last->epoch >= 3); /* the others did the dead one's share */
        assert_true(last->train_loss < o.out->points[0].train_loss);
        job_result_free(&o.res);
    }
    ml_problem_free(&p.prob);
}

static void dead_worker_stops_bsp_with_a_clear_error(void **state)
{
    (void)state;
    problem p;
    problem_load(&p, "synth-sparse:n=600,d=300,nnz=8,test=100", "logreg", 3, 16, 0.5);
    ps_opts opt = {.servers = SERVERS, .consistency = PS_BSP};
    job_config cfg = config(&p, 0, &real_backend);
    run o;
    injected = crash_abort;
    victim_flag_reset();
    run_ps(&o, &p, &opt, 3, &cfg, 0);
    injected = NULL;
    assert_int_not_equal(o.rc, 0);
    /* the dead worker's own word comes first; the others stop (below) */
    assert_contains(o.res.error, "rank 3");
    assert_contains(o.res.error, "made to fail at its step 4");
    assert_true(o.res.seconds < cfg.timeout_s / 2);
    for (int r = 0; r < 5; r++)
        if (r != 2 + VICTIM)
            assert_int_equal(o.res.rank_status[r], RT_EPEER);
    job_result_free(&o.res);
    ml_problem_free(&p.prob);
}

/* ---- bad options ---- */

static void bad_options_are_refused(void **state)
{
    (void)state;
    const char *common = "--dataset synth-dense:n=100,d=3,classes=2 --model logreg --epochs 1 "
                         "--quiet --no-figures --out /tmp/distlab-test-ps";
    const test_refusal cases[] = {
        {"--servers 0", "--servers"},
        {"--servers 5", "more servers than keys"},
        {"--consistency ssp --staleness -1", "--staleness"},
        {"--consistency eventual", "expected one of: bsp, ssp, async"},
        {"--staleness 2", "ssp only"},
        {"--stragglers 1.5", "fraction"},
        {"--stragglers 0.5 --slowdown 0.5", "at least 1"},
    };
    char prefix[1024];
    snprintf(prefix, sizeof prefix, "run ps %s", common);
    test_distlab_refuses(prefix, cases, sizeof cases / sizeof *cases);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(one_worker_is_serial_sgd_for_any_servers),
        cmocka_unit_test(bsp_sim_and_real_give_the_same_bits),
        cmocka_unit_test(ssp_zero_is_exactly_bsp),
        cmocka_unit_test(ssp_staleness_never_exceeds_s),
        cmocka_unit_test(async_lets_stragglers_lag_and_starves_nobody),
        cmocka_unit_test(bsp_iteration_is_the_cost_formula),
        cmocka_unit_test(dead_worker_async_and_ssp_finish_without_it),
        cmocka_unit_test(dead_worker_stops_bsp_with_a_clear_error),
        cmocka_unit_test(bad_options_are_refused),
    };
    return cmocka_run_group_tests_name("ps", tests, NULL, NULL);
}
