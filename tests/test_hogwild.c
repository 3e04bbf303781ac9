/* test_hogwild.c -- Hogwild! (algorithms/hogwild.c) on both backends: it
 * reaches serial SGD's test accuracy, its staleness grows with the number
 * of workers, simulated time shows perfect parallelism and is
 * deterministic, the lock really serialises updates (staleness 0, serial
 * time), round-robin turns bound staleness by P - 1, threads and
 * processes share one weight vector, and wrong setups are refused.
 *
 * `make tsan` runs this binary under ThreadSanitizer: the lock-free
 * updates race by design, but through relaxed atomics only, so it must
 * report nothing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "algorithms/hogwild.h"
#include "algorithms/sgd_allreduce.h"
#include "core/job.h"
#include "real/real_backend.h"
#include "sim/sim_backend.h"

/* RCV1-like and small: 4000 examples with 20 of 500 power-law features,
 * 2000 test examples (so one example is 0.05 points of accuracy). */
#define SPARSE "synth-sparse:n=4000,d=500,nnz=20,test=2000"
#define DENSE "synth-dense:n=2000,d=50,classes=4"

typedef struct run {
    double accuracy, loss;
    double stats[HOGWILD_NSTATS];
    double seconds;
    char error[1024];
    int npoints;
    double last_staleness_mean;
    float *params;
    size_t nparams;
} run;

typedef struct problem {
    ml_config ml;
    ml_problem prob;
} problem;

static void problem_load(problem *p, const char *dataset, const char *model, long epochs)
{
    char err[512];
    ml_config_default(&p->ml);
    const char *kv[][2] = {{"dataset", dataset}, {"model", model}, {"batch", "1"},
                           {"lr", "0.5"},        {"schedule", "inv:t0=0.2"}};
    for (size_t i = 0; i < sizeof kv / sizeof *kv; i++)
        if (ml_config_set(&p->ml, kv[i][0], kv[i][1], err, sizeof err) != 0)
            fail_msg("--%s %s: %s", kv[i][0], kv[i][1], err);
    p->ml.epochs = epochs;
    if (ml_problem_load(&p->ml, &p->prob, err, sizeof err) != 0)
        fail_msg("%s: %s", dataset, err);
}

static void run_free(run *o) { free(o->params); }

/* Run fn on P ranks; cfg's backend settings as given. Returns job_run's code. */
static int run_job(job_config *cfg, problem *p, job_main fn, const void *algo, int P, run *o)
{
    train_setup setup = {.ml = &p->ml, .prob = &p->prob, .workers = P, .quiet = 1};
    static hogwild_opts hw;
    if (fn == hogwild_rank) {
        hw = *(const hogwild_opts *)algo;
        train_setup_columns(&setup, &hogwild_algo);
        setup.algo = &hw;
    } else {
        setup.algo = algo;
    }
    size_t nparams = ml_model_nparams(p->prob.model);
    cfg->ranks = P;
    cfg->result_bytes = train_out_bytes(nparams);
    cfg->record_events = 0;
    job_result res;
    memset(o, 0, sizeof *o);
    int rc = job_run(cfg, fn, &setup, &res);
    snprintf(o->error, sizeof o->error, "%s", res.error);
    train_out *out = job_result_slot(&res, 0);
    if (rc == 0 && out && out->npoints > 0) {
        const train_point *last = &out->points[out->npoints - 1];
        o->accuracy = last->test_accuracy;
        o->loss = last->train_loss;
        o->npoints = out->npoints;
        o->last_staleness_mean = last->extra[HOGWILD_X_STALENESS_MEAN];
        memcpy(o->stats, out->stats, sizeof o->stats);
        o->nparams = out->nparams;
        o->params = malloc(nparams * sizeof *o->params);
        memcpy(o->params, train_out_params(out), nparams * sizeof *o->params);
    }
    o->seconds = res.seconds;
    job_result_free(&res);
    return rc;
}

/* A sim job on one host of P cores, a real one launched so. Jobs run one
 * at a time: each call's settings stay until the next call. */
static job_config sim_one_host(int P)
{
    static sim_config sim;
    sim = sim_config_default();
    sim.hosts = 1;
    sim.cores = P;
    return sim_job_config(&sim);
}

static job_config real_launched(real_launch launch)
{
    static real_config real;
    real = real_config_default();
    real.launch = launch;
    return real_job_config(&real);
}

static void hogwild(job_config cfg, problem *p, hogwild_sync sync, int P, run *o)
{
    hogwild_opts opt = {.sync = sync, .target_loss = NAN};
    if (run_job(&cfg, p, hogwild_rank, &opt, P, o) != 0)
        fail_msg("hogwild --sync %s, %d workers: %s", hogwild_sync_names[sync], P, o->error);
}

static void serial(problem *p, run *o)
{
    job_config cfg = sim_one_host(1);
    sgd_allreduce_opts opt = {.algo = ALLREDUCE_RING};
    if (run_job(&cfg, p, sgd_allreduce_rank, &opt, 1, o) != 0)
        fail_msg("serial: %s", o->error);
}

#define assert_near(a, b, tol)                                                             \
    do {                                                                                   \
        double a_ = (a), b_ = (b);                                                         \
        if (!(fabs(a_ - b_) <= (tol)))                                                     \
            fail_msg("%s = %.6g, expected %.6g within %g", #a, a_, b_, (double)(tol));      \
    } while (0)

/* ---- simulation ---- */

static void sim_reaches_serial_accuracy(void **state)
{
    (void)state;
    problem p;
    problem_load(&p, SPARSE, "svm", 10);
    run s, h;
    serial(&p, &s);
    hogwild(sim_one_host(8), &p, HOGWILD_SYNC_NONE, 8, &h);
    print_message("# serial %.2f%%, hogwild 8 workers %.2f%%\n", 100 * s.accuracy, 100 * h.accuracy);
    assert_true(s.accuracy > 0.6); /* it learned something */
    assert_near(h.accuracy, s.accuracy, 0.01);
    assert_int_equal((long)h.stats[HOGWILD_S_UPDATES], 10 * 4000);
    run_free(&s);
    run_free(&h);
    ml_problem_free(&p.prob);
}

static void sim_staleness_grows_with_workers(void **state)
{
    (void)state;
    problem p;
    problem_load(&p, SPARSE, "svm", 1);
    double prev = -1;
    const int Ps[] = {1, 2, 4, 16};
    for (size_t i = 0; i < sizeof Ps / sizeof *Ps; i++) {
        run h;
        hogwild(sim_one_host(Ps[i]), &p, HOGWILD_SYNC_NONE, Ps[i], &h);
        double st = h.stats[HOGWILD_S_STALENESS_MEAN];
        print_message("# %2d workers: staleness mean %.3f, max %.0f\n", Ps[i], st,
                      h.stats[HOGWILD_S_STALENESS_MAX]);
        assert_true(st > prev);
        /* every other worker lands about one update per read-write window */
        assert_near(st, Ps[i] - 1, 0.25 * Ps[i]);
        assert_near(h.last_staleness_mean, st, 0.25 * Ps[i]);
        prev = st;
        run_free(&h);
    }
    ml_problem_free(&p.prob);
}

/* One core per worker: P workers do the same flops P times faster, and the
 * same seed gives the same bits. */
static void sim_time_is_parallel_and_deterministic(void **state)
{
    (void)state;
    problem p;
    problem_load(&p, SPARSE, "logreg", 1);
    run one, a, b;
    hogwild(sim_one_host(1), &p, HOGWILD_SYNC_NONE, 1, &one);
    hogwild(sim_one_host(8), &p, HOGWILD_SYNC_NONE, 8, &a);
    hogwild(sim_one_host(8), &p, HOGWILD_SYNC_NONE, 8, &b);
    double speedup = one.stats[HOGWILD_S_TRAIN_SECONDS] / a.stats[HOGWILD_S_TRAIN_SECONDS];
    print_message("# simulated speedup on 8 cores: %.3f\n", speedup);
    assert_near(speedup, 8, 0.4);
    assert_true(a.stats[HOGWILD_S_UPDATES_PER_S] > 7.5 * one.stats[HOGWILD_S_UPDATES_PER_S]);
    assert_memory_equal(a.params, b.params, a.nparams * sizeof *a.params);
    assert_true(memcmp(a.params, one.params, a.nparams * sizeof *a.params) != 0);
    run_free(&one);
    run_free(&a);
    run_free(&b);
    /* fewer cores than workers: they share them, no speedup beyond 2 */
    job_config cfg = sim_one_host(2);
    hogwild(cfg, &p, HOGWILD_SYNC_NONE, 8, &a);
    hogwild(sim_one_host(1), &p, HOGWILD_SYNC_NONE, 1, &one);
    assert_near(one.stats[HOGWILD_S_TRAIN_SECONDS] / a.stats[HOGWILD_S_TRAIN_SECONDS], 2, 0.1);
    run_free(&a);
    run_free(&one);
    ml_problem_free(&p.prob);
}

/* The lock serialises whole updates: nothing lands between a read and
 * its write, and P workers are no faster than one (each hand-off of the
 * lock costs a message on the host's loopback besides). */
static void sim_lock_serialises(void **state)
{
    (void)state;
    problem p;
    problem_load(&p, SPARSE, "svm", 1);
    run one, h;
    hogwild(sim_one_host(1), &p, HOGWILD_SYNC_NONE, 1, &one);
    hogwild(sim_one_host(4), &p, HOGWILD_SYNC_LOCK, 4, &h);
    assert_true(h.stats[HOGWILD_S_STALENESS_MAX] == 0);
    assert_int_equal((long)h.stats[HOGWILD_S_UPDATES], 4000);
    assert_true(h.stats[HOGWILD_S_TRAIN_SECONDS] / one.stats[HOGWILD_S_TRAIN_SECONDS] > 0.98);
    run_free(&one);
    run_free(&h);
    ml_problem_free(&p.prob);
}

/* Round-robin: gradients in parallel, writes in turn, so exactly P - 1
 * updates land in every window once the ring is going. */
static void sim_round_robin_takes_turns(void **state)
{
    (void)state;
    problem p;
    problem_load(&p, SPARSE, "svm", 1);
    run h;
    hogwild(sim_one_host(4), &p, HOGWILD_SYNC_ROUND_ROBIN, 4, &h);
    assert_true(h.stats[HOGWILD_S_STALENESS_MAX] == 3);
    assert_near(h.stats[HOGWILD_S_STALENESS_MEAN], 3, 0.01);
    assert_int_equal((long)h.stats[HOGWILD_S_UPDATES], 4000);
    run_free(&h);
    ml_problem_free(&p.prob);
}

/* Dense data: every update touches every weight; the algorithm still
 * converges, with the staleness of the sparse case. */
static void sim_dense_softmax(void **state)
{
    (void)state;
    problem p;
    problem_load(&p, DENSE, "softmax", 2);
    run s, h;
    serial(&p, &s);
    hogwild(sim_one_host(4), &p, HOGWILD_SYNC_NONE, 4, &h);
    print_message("# dense: serial %.2f%%, hogwild 4 workers %.2f%%, staleness %.2f\n",
                  100 * s.accuracy, 100 * h.accuracy, h.stats[HOGWILD_S_STALENESS_MEAN]);
    assert_true(s.accuracy > 0.5);
    assert_near(h.accuracy, s.accuracy, 0.02);
    assert_near(h.stats[HOGWILD_S_STALENESS_MEAN], 3, 0.5);
    run_free(&s);
    run_free(&h);
    ml_problem_free(&p.prob);
}

static void sim_refuses_wrong_setups(void **state)
{
    (void)state;
    problem p;
    problem_load(&p, SPARSE, "svm", 1);
    hogwild_opts opt = {.sync = HOGWILD_SYNC_NONE, .target_loss = NAN};
    run o;
    /* two hosts: two different shared blocks */
    sim_config sim = sim_config_default();
    sim.hosts = 2;
    job_config cfg = sim_job_config(&sim);
    assert_int_not_equal(run_job(&cfg, &p, hogwild_rank, &opt, 4, &o), 0);
    assert_non_null(strstr(o.error, "one host"));
    /* momentum would need shared state */
    p.ml.momentum = 0.9;
    cfg = sim_one_host(2);
    assert_int_not_equal(run_job(&cfg, &p, hogwild_rank, &opt, 2, &o), 0);
    assert_non_null(strstr(o.error, "plain SGD"));
    ml_problem_free(&p.prob);
}

/* ---- real threads and processes ---- */

static void real_threads_reach_serial_accuracy(void **state)
{
    (void)state;
    problem p;
    problem_load(&p, SPARSE, "svm", 10);
    run s, h;
    serial(&p, &s);
    hogwild(real_launched(REAL_LAUNCH_THREADS), &p, HOGWILD_SYNC_NONE, 4, &h);
    print_message("# real threads: serial %.2f%%, hogwild 4 workers %.2f%%, staleness %.2f\n",
                  100 * s.accuracy, 100 * h.accuracy, h.stats[HOGWILD_S_STALENESS_MEAN]);
    /* the interleaving is the scheduler's, so the final iterate differs
     * from run to run (measured: 84.8-85.5% against serial's 85.4%, on a
     * loaded 2-core machine); a 2-point margin keeps this from flaking,
     * simulation checks the 1-point target */
    assert_near(h.accuracy, s.accuracy, 0.02);
    assert_int_equal((long)h.stats[HOGWILD_S_UPDATES], 10 * 4000);
    assert_true(h.stats[HOGWILD_S_UPDATES_PER_S] > 0);
    run_free(&s);
    run_free(&h);
    ml_problem_free(&p.prob);
}

/* On real threads the lock must still exclude: 4 threads on however few
 * cores, and not one update lands inside another. */
static void real_lock_excludes(void **state)
{
    (void)state;
    problem p;
    problem_load(&p, SPARSE, "svm", 1);
    run h;
    hogwild(real_launched(REAL_LAUNCH_THREADS), &p, HOGWILD_SYNC_LOCK, 4, &h);
    assert_true(h.stats[HOGWILD_S_STALENESS_MAX] == 0);
    assert_int_equal((long)h.stats[HOGWILD_S_UPDATES], 4000);
    run_free(&h);
    ml_problem_free(&p.prob);
}

static void real_round_robin_bounds_staleness(void **state)
{
    (void)state;
    problem p;
    problem_load(&p, SPARSE, "svm", 1);
    p.ml.train_size = 1000;
    ml_problem_free(&p.prob);
    char err[512];
    if (ml_problem_load(&p.ml, &p.prob, err, sizeof err) != 0)
        fail_msg("%s", err);
    run h;
    hogwild(real_launched(REAL_LAUNCH_THREADS), &p, HOGWILD_SYNC_ROUND_ROBIN, 3, &h);
    assert_true(h.stats[HOGWILD_S_STALENESS_MAX] == 2);
    assert_int_equal((long)h.stats[HOGWILD_S_UPDATES], 3 * 334); /* ceil(1000 / 3) each */
    run_free(&h);
    ml_problem_free(&p.prob);
}

/* Processes share the weights through one mapping: they train one model. */
static void real_procs_share_the_weights(void **state)
{
    (void)state;
    problem p;
    problem_load(&p, SPARSE, "svm", 10);
    run s, h;
    serial(&p, &s);
    hogwild(real_launched(REAL_LAUNCH_PROCS), &p, HOGWILD_SYNC_NONE, 2, &h);
    assert_near(h.accuracy, s.accuracy, 0.02);
    assert_int_equal((long)h.stats[HOGWILD_S_UPDATES], 10 * 4000);
    run_free(&s);
    run_free(&h);
    ml_problem_free(&p.prob);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sim_reaches_serial_accuracy),
        cmocka_unit_test(sim_staleness_grows_with_workers),
        cmocka_unit_test(sim_time_is_parallel_and_deterministic),
        cmocka_unit_test(sim_lock_serialises),
        cmocka_unit_test(sim_round_robin_takes_turns),
        cmocka_unit_test(sim_dense_softmax),
        cmocka_unit_test(sim_refuses_wrong_setups),
        cmocka_unit_test(real_threads_reach_serial_accuracy),
        cmocka_unit_test(real_lock_excludes),
        cmocka_unit_test(real_round_robin_bounds_staleness),
        cmocka_unit_test(real_procs_share_the_weights),
    };
    return cmocka_run_group_tests_name("hogwild", tests, NULL, NULL);
}
