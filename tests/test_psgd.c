/* test_psgd.c -- parallelized SGD and local SGD (algorithms/psgd.c):
 * --average-every refuses what is not a step count; one worker is plain
 * SGD bit for bit; H = 1 is synchronous SGD up to rounding; the one-shot
 * average beats each worker's own model but closes a shrinking share of
 * the gap to the all-data model as W grows (Zinkevich et al. 2010); the
 * rounds and the bytes are what the period says and nothing more; the
 * observer allreduce costs no training time and changes no weight; larger
 * H is faster on a slow network; sim and real give the same bits.
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

#include "algorithms/psgd.h"
#include "algorithms/sgd_allreduce.h"
#include "core/job.h"
#include "real/real_backend.h"
#include "sim/sim_backend.h"

/* A small dense multiclass problem: converges in a fraction of a second,
 * yet each worker's shard is small enough to leave its model noisy. */
typedef struct problem {
    ml_config ml;
    ml_problem prob;
} problem;

static void problem_load(problem *p, const char *dataset, long epochs)
{
    char err[512];
    ml_config_default(&p->ml);
    assert_int_equal(ml_config_set(&p->ml, "dataset", dataset, err, sizeof err), 0);
    assert_int_equal(ml_config_set(&p->ml, "model", "softmax", err, sizeof err), 0);
    p->ml.epochs = epochs;
    if (ml_problem_load(&p->ml, &p->prob, err, sizeof err) != 0)
        fail_msg("loading %s: %s", dataset, err);
}

typedef struct run {
    job_result res;
    const train_out *out; /* the reporter's slot */
    const float *params;
    const train_point *last;
} run;

static void run_job(run *o, problem *p, job_main fn, const void *algo, int workers,
                    const job_backend *backend, double bandwidth_Bps)
{
    train_setup setup = {
        .ml = &p->ml, .prob = &p->prob, .workers = workers, .reporter = 0, .quiet = 1,
        .algo = algo, .nextra = fn == psgd_rank ? PSGD_COLS : 0, .nstats = PSGD_STATS,
    };
    sim_config sim = sim_config_default();
    sim.bandwidth_Bps = bandwidth_Bps;
    job_config cfg = job_config_default();
    cfg.ranks = workers;
    cfg.backend = backend;
    cfg.settings = backend == &sim_backend ? &sim : NULL; /* sim: this bandwidth */
    cfg.timeout_s = 30;
    cfg.result_bytes = train_out_bytes(ml_model_nparams(p->prob.model));
    if (job_run(&cfg, fn, &setup, &o->res) != 0)
        fail_msg("%d workers on %s: %s", workers, backend->name, o->res.error);
    o->out = job_result_slot(&o->res, 0);
    o->params = train_out_params((train_out *)o->out);
    assert_true(o->out->npoints > 0);
    o->last = &o->out->points[o->out->npoints - 1];
}

static void run_psgd(run *o, problem *p, int workers, long every, psgd_eval eval,
                     const job_backend *backend, double bandwidth_Bps)
{
    psgd_opts opt = {.average_every_steps = every, .algo = ALLREDUCE_RING, .eval = eval};
    run_job(o, p, psgd_rank, &opt, workers, backend, bandwidth_Bps);
}

static size_t nparams(const problem *p) { return ml_model_nparams(p->prob.model); }

/* Every worker scores its own final model (before the last average) into
 * its own slot; their mean is what one worker on its 1/W share achieves. */
static double mean_local_loss(const run *o)
{
    double sum = 0;
    for (int i = 0; i < o->res.ranks; i++) {
        const train_out *slot = job_result_slot(&o->res, i);
        assert_true(slot->stats[PSGD_STAT_LOCAL_LOSS] > 0);
        sum += slot->stats[PSGD_STAT_LOCAL_LOSS];
    }
    return sum / o->res.ranks;
}

static void parse_every_refuses_what_is_not_a_step_count(void **state)
{
    (void)state;
    long H = -1;
    char err[256];
    assert_int_equal(psgd_parse_every("end", &H, err, sizeof err), 0);
    assert_int_equal(H, 0);
    assert_int_equal(psgd_parse_every("64", &H, err, sizeof err), 0);
    assert_int_equal(H, 64);
    const char *bad[] = {"0", "-3", "", "abc", "8x", "1.5", "99999999999999999999999", NULL};
    for (int i = 0; bad[i]; i++) {
        if (psgd_parse_every(bad[i], &H, err, sizeof err) != -1)
            fail_msg("--average-every '%s' was accepted", bad[i]);
        assert_non_null(strstr(err, "'end'"));
    }
}

static void one_worker_is_serial_sgd_bit_for_bit(void **state)
{
    (void)state;
    problem p;
    problem_load(&p, "synth-dense:n=1000,d=20,classes=4", 2);
    run a, b;
    sgd_allreduce_opts serial = {.algo = ALLREDUCE_RING};
    run_job(&a, &p, sgd_allreduce_rank, &serial, 1, &sim_backend, 1.25e9);
    run_psgd(&b, &p, 1, 8, PSGD_EVAL_AVERAGE, &sim_backend, 1.25e9);
    assert_memory_equal(a.params, b.params, nparams(&p) * sizeof(float));
    assert_true(a.last->time_s == b.last->time_s);
    assert_true(b.out->stats[PSGD_STAT_ROUNDS] == 0); /* nothing to average */
    job_result_free(&a.res);
    job_result_free(&b.res);
    ml_problem_free(&p.prob);
}

static void every_step_is_synchronous_sgd(void **state)
{
    (void)state;
    problem p;
    problem_load(&p, "synth-dense:n=1000,d=20,classes=4", 2);
    run a, b;
    sgd_allreduce_opts sync = {.algo = ALLREDUCE_RING};
    run_job(&a, &p, sgd_allreduce_rank, &sync, 4, &sim_backend, 1.25e9);
    run_psgd(&b, &p, 4, 1, PSGD_EVAL_AVERAGE, &sim_backend, 1.25e9);
    double worst = 0;
    for (size_t i = 0; i < nparams(&p); i++)
        worst = fmax(worst, fabs((double)a.params[i] - b.params[i]) / (1e-3 + fabs(a.params[i])));
    if (worst > 1e-4)
        fail_msg("H=1 and allreduce SGD differ by %g (relative)", worst);
    /* one allreduce of P floats per step, as allreduce SGD: the same cost */
    assert_true(b.out->stats[PSGD_STAT_ROUNDS] == (double)a.last->step);
    assert_true(b.res.bytes_sent == a.res.bytes_sent);
    assert_true(fabs(b.last->time_s - a.last->time_s) <= 1e-9 * a.last->time_s);
    job_result_free(&a.res);
    job_result_free(&b.res);
    ml_problem_free(&p.prob);
}

/* --scale-lr multiplies the rate by the number of workers, with the
 * default constant schedule too: the run must change, and one worker must
 * not. */
static void scale_lr_changes_a_constant_schedule_run(void **state)
{
    (void)state;
    problem p;
    problem_load(&p, "synth-dense:n=1000,d=20,classes=4", 2);
    run a, b, c, d;
    sgd_allreduce_opts plain = {.algo = ALLREDUCE_RING}, scaled = {.algo = ALLREDUCE_RING, .scale_lr = 1};
    run_job(&a, &p, sgd_allreduce_rank, &plain, 4, &sim_backend, 1.25e9);
    run_job(&b, &p, sgd_allreduce_rank, &scaled, 4, &sim_backend, 1.25e9);
    assert_memory_not_equal(a.params, b.params, nparams(&p) * sizeof(float));
    run_job(&c, &p, sgd_allreduce_rank, &plain, 1, &sim_backend, 1.25e9);
    run_job(&d, &p, sgd_allreduce_rank, &scaled, 1, &sim_backend, 1.25e9);
    assert_memory_equal(c.params, d.params, nparams(&p) * sizeof(float));
    job_result_free(&a.res);
    job_result_free(&b.res);
    job_result_free(&c.res);
    job_result_free(&d.res);
    ml_problem_free(&p.prob);
}

/* Zinkevich et al.: averaging W models beats any one of them. With the
 * total examples fixed, each model sees 1/W of them, and the average
 * closes a shrinking share of the gap between one worker's model and the
 * model trained on everything: diminishing returns. */
static void one_shot_average_gains_with_diminishing_returns(void **state)
{
    (void)state;
    problem p;
    problem_load(&p, "synth-dense:n=4000,d=100,classes=5", 10);
    run all;
    run_psgd(&all, &p, 1, 0, PSGD_EVAL_AVERAGE, &sim_backend, 1.25e9);
    double all_loss = all.last->test_loss, share_before = 1.0;
    for (int W = 2; W <= 8; W *= 2) {
        run o;
        run_psgd(&o, &p, W, 0, PSGD_EVAL_AVERAGE, &sim_backend, 1.25e9);
        double avg = o.last->test_loss, local = mean_local_loss(&o);
        double share = (local - avg) / (local - all_loss);
        print_message("# W=%d: average %.4f, one worker (mean) %.4f, all data %.4f: %.0f%% of the gap closed\n",
                      W, avg, local, all_loss, 100 * share);
        assert_true(o.out->stats[PSGD_STAT_ROUNDS] == 1);
        assert_true(avg < local);
        assert_true(local > all_loss);
        assert_true(share < share_before);
        share_before = share;
        job_result_free(&o.res);
    }
    job_result_free(&all.res);
    ml_problem_free(&p.prob);
}

/* Rounds are ceil(steps / H) (the last one forced at the end), and the
 * job sends nothing but those allreduces: p ranks x 2(p-1) ring blocks of
 * ceil(P/p) floats each. */
static void rounds_and_bytes_follow_the_period(void **state)
{
    (void)state;
    problem p;
    problem_load(&p, "synth-dense:n=1000,d=20,classes=4", 2);
    const int W = 4;
    size_t P = nparams(&p), block = (P + W - 1) / W;
    double per_round = (double)W * 2 * (W - 1) * block * sizeof(float);
    long periods[] = {1, 5, 64, 0};
    for (int k = 0; k < 4; k++) {
        run o;
        run_psgd(&o, &p, W, periods[k], PSGD_EVAL_LOCAL, &sim_backend, 1.25e9);
        long steps = o.last->step, H = periods[k];
        double rounds = H ? (double)((steps + H - 1) / H) : 1;
        assert_true(o.out->stats[PSGD_STAT_ROUNDS] == rounds);
        assert_true(o.out->stats[PSGD_STAT_OBSERVE] == 0);
        assert_true((double)o.res.bytes_sent == rounds * per_round);
        assert_true(o.last->extra[PSGD_COL_ROUNDS] == rounds);
        job_result_free(&o.res);
    }
    ml_problem_free(&p.prob);
}

/* The observer allreduce exists only to evaluate: it changes no weight,
 * and on the ring (every rank leaves it at the same moment) it moves the
 * training clock by nothing at all. With --eval local the points between
 * rounds are the reporter's own model and say so. */
static void observer_changes_no_weight_and_costs_no_time(void **state)
{
    (void)state;
    problem p;
    problem_load(&p, "synth-dense:n=1000,d=20,classes=4", 3);
    p.ml.eval_every_epochs = 0.5;
    run avg, loc;
    run_psgd(&avg, &p, 4, 0, PSGD_EVAL_AVERAGE, &sim_backend, 1.25e8);
    run_psgd(&loc, &p, 4, 0, PSGD_EVAL_LOCAL, &sim_backend, 1.25e8);
    assert_memory_equal(avg.params, loc.params, nparams(&p) * sizeof(float));
    assert_int_equal(avg.out->npoints, loc.out->npoints);
    assert_true(avg.out->stats[PSGD_STAT_OBSERVE] == avg.out->npoints - 2);
    assert_true(avg.out->stats[PSGD_STAT_OBSERVE_S] > 0);
    assert_true(avg.res.seconds > loc.res.seconds); /* it did take time... */
    for (int i = 0; i < avg.out->npoints; i++) {
        const train_point *a = &avg.out->points[i], *l = &loc.out->points[i];
        assert_true(fabs(a->time_s - l->time_s) <= 1e-9 * (1 + l->time_s)); /* ...not training time */
        int between = i > 0 && i < avg.out->npoints - 1;
        assert_true(a->extra[PSGD_COL_AVERAGED] == 1);
        assert_true(l->extra[PSGD_COL_AVERAGED] == (between ? 0 : 1));
        /* the same local model under both, evaluated by both */
        assert_true(a->extra[PSGD_COL_LOCAL_LOSS] == l->extra[PSGD_COL_LOCAL_LOSS]);
        if (between)
            assert_true(a->test_loss != l->test_loss);
    }
    job_result_free(&avg.res);
    job_result_free(&loc.res);
    ml_problem_free(&p.prob);
}

/* On a 1 Gb/s network the allreduce of the model dominates a step:
 * averaging less often finishes the same epochs sooner. */
static void rarer_averaging_is_faster_on_a_slow_network(void **state)
{
    (void)state;
    problem p;
    problem_load(&p, "synth-dense:n=1000,d=20,classes=4", 3);
    p.ml.batch = 8; /* 96 steps: H = 64 still averages once before the end */
    long periods[] = {1, 8, 64, 0};
    double before = INFINITY;
    for (int k = 0; k < 4; k++) {
        run o;
        run_psgd(&o, &p, 4, periods[k], PSGD_EVAL_LOCAL, &sim_backend, 1.25e8);
        assert_true(o.last->time_s < before);
        before = o.last->time_s;
        job_result_free(&o.res);
    }
    ml_problem_free(&p.prob);
}

static void sim_and_real_give_the_same_model(void **state)
{
    (void)state;
    problem p;
    problem_load(&p, "synth-dense:n=1000,d=20,classes=4", 2);
    long periods[] = {3, 0};
    for (int k = 0; k < 2; k++) {
        run s, r;
        run_psgd(&s, &p, 3, periods[k], PSGD_EVAL_AVERAGE, &sim_backend, 1.25e9);
        run_psgd(&r, &p, 3, periods[k], PSGD_EVAL_AVERAGE, &real_backend, 1.25e9);
        assert_memory_equal(s.params, r.params, nparams(&p) * sizeof(float));
        assert_true(s.out->stats[PSGD_STAT_ROUNDS] == r.out->stats[PSGD_STAT_ROUNDS]);
        assert_true(s.last->test_loss == r.last->test_loss);
        job_result_free(&s.res);
        job_result_free(&r.res);
    }
    ml_problem_free(&p.prob);
}

/* More workers than examples: the workers with empty shards take no step
 * but must still join every allreduce, observer included. */
static void workers_without_data_join_every_round(void **state)
{
    (void)state;
    problem p;
    problem_load(&p, "synth-dense:n=10,d=5,classes=3", 2);
    p.ml.eval_every_epochs = 0.5;
    run s, r;
    run_psgd(&s, &p, 16, 0, PSGD_EVAL_AVERAGE, &sim_backend, 1.25e9);
    run_psgd(&r, &p, 16, 0, PSGD_EVAL_AVERAGE, &real_backend, 1.25e9);
    assert_memory_equal(s.params, r.params, nparams(&p) * sizeof(float));
    assert_true(s.out->stats[PSGD_STAT_ROUNDS] == 1);
    job_result_free(&s.res);
    job_result_free(&r.res);
    ml_problem_free(&p.prob);
}

/* A momentum that only a caller bypassing ml_config_set could give (the
 * option check refuses what rounds to 1 as a float) fails the job with
 * the optimizer's message, said once. */
static void a_bad_momentum_fails_with_one_prefix(void **state)
{
    (void)state;
    problem p;
    problem_load(&p, "synth-dense:n=200,d=8,classes=2", 1);
    p.ml.momentum = 1.0;
    for (int k = 0; k < 2; k++) {
        train_setup setup = {.ml = &p.ml, .prob = &p.prob, .workers = 2, .reporter = 0, .quiet = 1};
        sgd_allreduce_opts sync = {.algo = ALLREDUCE_RING};
        psgd_opts opt = {.average_every_steps = 4, .algo = ALLREDUCE_RING, .eval = PSGD_EVAL_AVERAGE};
        setup.algo = k ? (const void *)&opt : (const void *)&sync;
        setup.nextra = k ? PSGD_COLS : 0;
        setup.nstats = PSGD_STATS;
        job_config cfg = sim_job_config(NULL);
        cfg.ranks = 2;
        cfg.result_bytes = train_out_bytes(ml_model_nparams(p.prob.model));
        job_result res;
        assert_int_not_equal(job_run(&cfg, k ? psgd_rank : sgd_allreduce_rank, &setup, &res), 0);
        if (!strstr(res.error, "optimizer: momentum 1 must be in [0, 1)") || strstr(res.error, "optimizer: optimizer"))
            fail_msg("%s: '%s'", k ? "psgd" : "allreduce", res.error);
        job_result_free(&res);
    }
    ml_problem_free(&p.prob);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parse_every_refuses_what_is_not_a_step_count),
        cmocka_unit_test(one_worker_is_serial_sgd_bit_for_bit),
        cmocka_unit_test(every_step_is_synchronous_sgd),
        cmocka_unit_test(scale_lr_changes_a_constant_schedule_run),
        cmocka_unit_test(one_shot_average_gains_with_diminishing_returns),
        cmocka_unit_test(rounds_and_bytes_follow_the_period),
        cmocka_unit_test(observer_changes_no_weight_and_costs_no_time),
        cmocka_unit_test(rarer_averaging_is_faster_on_a_slow_network),
        cmocka_unit_test(sim_and_real_give_the_same_model),
        cmocka_unit_test(workers_without_data_join_every_round),
        cmocka_unit_test(a_bad_momentum_fails_with_one_prefix),
    };
    return cmocka_run_group_tests_name("psgd", tests, NULL, NULL);
}
