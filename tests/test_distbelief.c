/* test_distbelief.c -- DistBelief (algorithms/distbelief*.c): a forward
 * and backward pass split by neurons across K partitions gives the loss
 * and gradient of the unpartitioned MLP (to float rounding), on both
 * backends and when K exceeds the classes, and so does a pass pipelined
 * through K stages of layers with any number of microbatches;
 * model-parallel training gives the same bits in sim and on real sockets
 * and follows the unpartitioned run; a size-only step takes exactly the
 * simulated time of a real one; one step's time against K stops falling
 * early for a small MLP and keeps falling for a large one (the paper's
 * figure 3); Downpour with one replica, fetch and push every step and SGD
 * on the server is serial SGD bit for bit (the model-parallel run, when
 * the replica is partitioned), and several partitioned replicas on real
 * sockets learn and report their bytes; Sandblaster's
 * replicas follow a one-rank L-BFGS, and its work units let a straggler
 * do less, so an evaluation ends sooner than with an even split; bad
 * options are refused with exit 2.
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
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "algorithms/distbelief.h"
#include "algorithms/sgd_allreduce.h"
#include "core/job.h"
#include "real/real_backend.h"
#include "sim/sim_backend.h"
#include "tests/util_distlab.h"

#define assert_contains(haystack, needle)                                              \
    do {                                                                               \
        if (!strstr((haystack), (needle)))                                             \
            fail_msg("\"%s\" does not mention \"%s\"", (haystack), (needle));          \
    } while (0)

typedef struct problem {
    ml_config ml;
    ml_problem prob;
} problem;

static void problem_load(problem *p, const char *dataset, const char *model, long epochs,
                         size_t batch, double lr, const char *optim)
{
    char err[512];
    ml_config_default(&p->ml);
    assert_int_equal(ml_config_set(&p->ml, "dataset", dataset, err, sizeof err), 0);
    assert_int_equal(ml_config_set(&p->ml, "model", model, err, sizeof err), 0);
    assert_int_equal(ml_config_set(&p->ml, "optimizer", optim, err, sizeof err), 0);
    p->ml.epochs = epochs;
    p->ml.batch = batch;
    p->ml.lr = lr;
    p->ml.l2 = 1e-3;
    if (ml_problem_load(&p->ml, &p->prob, err, sizeof err) != 0)
        fail_msg("loading %s: %s", dataset, err);
}

static size_t nparams(const problem *p) { return ml_model_nparams(p->prob.model); }

static job_config config(size_t P, int ranks, const job_backend *backend)
{
    job_config cfg = job_config_default();
    cfg.ranks = ranks;
    cfg.backend = backend;
    cfg.timeout_s = 20;
    cfg.result_bytes = train_out_bytes(P);
    return cfg;
}

/* ---- one partitioned pass ---- */

enum { PASS_BATCH = 24 };

typedef struct pass_arg {
    const problem *p;
    db_split split;
    int microbatches;
} pass_arg;

/* Each partition writes its part of the gradient into its slot's
 * parameters and the loss and the count predicted right into its stats. */
static int one_pass_rank(rt *r, void *arg)
{
    const pass_arg *a = arg;
    const problem *p = a->p;
    db_layout lay;
    db_part part = {0};
    db_pipe pipe = {0};
    char err[256];
    int K = rt_size(r), k = rt_rank(r), rc;
    if (db_layout_for(&lay, p->prob.model, K, a->split, err, sizeof err) != 0)
        return rt_fail(r, RT_EINVAL, "%s", err);
    train_out *o = job_slot(r);
    float *params = malloc(lay.P * sizeof *params);
    size_t idx[PASS_BATCH], correct;
    for (size_t i = 0; i < PASS_BATCH; i++)
        idx[i] = (7 * i + 3) % p->prob.train.n;
    ml_model_init_params(p->prob.model, params, 5);
    if (a->split == DB_SPLIT_LAYERS) {
        if ((rc = db_pipe_init(&pipe, r, &lay, k, 0, a->microbatches)) == RT_OK)
            rc = db_pipe_loss_grad(&pipe, params, &p->prob.train, idx, PASS_BATCH, p->ml.l2,
                                   train_out_params(o), &o->stats[0], &correct);
    } else if ((rc = db_part_init(&part, r, &lay, k, 0)) == RT_OK) {
        rc = db_part_loss_grad(&part, params, &p->prob.train, idx, PASS_BATCH, p->ml.l2,
                               train_out_params(o), &o->stats[0], &correct);
    }
    o->stats[1] = (double)correct;
    o->nparams = lay.P;
    db_part_free(&part);
    db_pipe_free(&pipe);
    free(params);
    return rc;
}

static void check_pass(problem *p, int K, const job_backend *backend, db_split split, int microbatches)
{
    size_t P = nparams(p);
    job_config cfg = config(P, K, backend);
    job_result res;
    pass_arg arg = {.p = p, .split = split, .microbatches = microbatches};
    const char *how = split == DB_SPLIT_LAYERS ? "layers" : "neurons";
    if (job_run(&cfg, one_pass_rank, &arg, &res) != 0)
        fail_msg("K = %d by %s: %s", K, how, res.error);
    /* the reference: the whole MLP on one rank */
    ml_grad g;
    assert_int_equal(ml_grad_init(&g, P), 0);
    g.dense_only = 1;
    float *params = malloc(P * sizeof *params), *grad = malloc(P * sizeof *grad);
    size_t idx[PASS_BATCH];
    for (size_t i = 0; i < PASS_BATCH; i++)
        idx[i] = (7 * i + 3) % p->prob.train.n;
    ml_model_init_params(p->prob.model, params, 5);
    double loss, flops, acc, eval_loss;
    char err[256];
    assert_int_equal(ml_model_loss_grad(p->prob.model, params, &p->prob.train, idx, PASS_BATCH,
                                        &g, &loss, &flops, err, sizeof err), 0);
    assert_int_equal(ml_model_evaluate(p->prob.model, params, &p->prob.train, idx, PASS_BATCH,
                                       &eval_loss, &acc, NULL, &flops, err, sizeof err), 0);
    db_layout lay;
    assert_int_equal(db_layout_for(&lay, p->prob.model, K, split, err, sizeof err), 0);
    float *packed = malloc(P * sizeof *packed);
    for (int k = 0; k < K; k++) {
        train_out *o = job_result_slot(&res, k);
        /* the pipeline's loss is known to its last stage only */
        if (split == DB_SPLIT_NEURONS || k == K - 1) {
            if (fabs(o->stats[0] - loss) > 1e-6 * fabs(loss))
                fail_msg("K = %d by %s, partition %d: loss %.9g, unpartitioned %.9g", K, how, k,
                         o->stats[0], loss);
            assert_int_equal((long)o->stats[1], (long)lround(acc * PASS_BATCH));
        }
        /* take partition k's part from its own slot */
        if (split == DB_SPLIT_LAYERS) {
            size_t first, count;
            db_pipe_range(&lay, k, &first, &count);
            memcpy(grad + first, train_out_params(o) + first, count * sizeof *grad);
        } else {
            db_pack(&lay, k, train_out_params(o), packed);
            db_unpack(&lay, k, packed, grad);
        }
    }
    for (size_t i = 0; i < P; i++)
        if (fabsf(grad[i] - g.dense[i]) > 1e-5f * fabsf(g.dense[i]) + 1e-7f)
            fail_msg("K = %d by %s, %s: gradient %zu is %.9g, unpartitioned %.9g", K, how,
                     backend->name, i, grad[i], g.dense[i]);
    free(packed);
    free(params);
    free(grad);
    ml_grad_free(&g);
    job_result_free(&res);
}

static void partitioned_pass_is_the_unpartitioned_mlp(void **state)
{
    (void)state;
    problem p;
    problem_load(&p, "synth-dense:n=200,d=13,classes=3,test=40", "mlp:9,7", 1, 16, 0.1, "sgd");
    int Ks[] = {1, 2, 3, 5, 7}; /* 5 and 7: more partitions than the 3 classes */
    for (size_t i = 0; i < sizeof Ks / sizeof *Ks; i++)
        check_pass(&p, Ks[i], &sim_backend, DB_SPLIT_NEURONS, 0);
    check_pass(&p, 3, &real_backend, DB_SPLIT_NEURONS, 0);
    ml_problem_free(&p.prob);
}

static void pipelined_pass_is_the_unpartitioned_mlp(void **state)
{
    (void)state;
    problem p;
    problem_load(&p, "synth-dense:n=200,d=13,classes=3,test=40", "mlp:9,7", 1, 16, 0.1, "sgd");
    for (int K = 1; K <= 3; K++)
        for (int M = 1; M <= 7; M += 3) /* 7 microbatches of a batch of 24: uneven sizes */
            check_pass(&p, K, &sim_backend, DB_SPLIT_LAYERS, M);
    check_pass(&p, 3, &real_backend, DB_SPLIT_LAYERS, 4);
    ml_problem_free(&p.prob);
}

/* ---- model-parallel training ---- */

static void train_mp(problem *p, int K, const job_backend *backend, job_result *res)
{
    db_opts o = {.mode = DB_MODEL_PARALLEL, .partitions = K, .replicas = 1};
    train_setup setup = {.ml = &p->ml, .prob = &p->prob, .workers = K, .quiet = 1, .algo = &o};
    job_config cfg = config(nparams(p), K, backend);
    if (job_run(&cfg, db_rank, &setup, res) != 0)
        fail_msg("model-parallel, K = %d: %s", K, res->error);
}

static void model_parallel_training_is_backend_independent(void **state)
{
    (void)state;
    problem p;
    problem_load(&p, "synth-dense:n=240,d=10,classes=4,test=60", "mlp:12,8", 2, 20, 0.1, "sgd");
    size_t P = nparams(&p);
    job_result one, sim, real;
    train_mp(&p, 1, &sim_backend, &one);
    train_mp(&p, 4, &sim_backend, &sim);
    train_mp(&p, 4, &real_backend, &real);
    const train_out *o1 = job_result_slot(&one, 0), *os = job_result_slot(&sim, 0),
                    *orl = job_result_slot(&real, 0);
    assert_int_equal(os->npoints, o1->npoints);
    assert_true(os->points[os->npoints - 1].train_loss < os->points[0].train_loss);
    if (memcmp(train_out_params((train_out *)os), train_out_params((train_out *)orl), P * sizeof(float)))
        fail_msg("K = 4: sim and real sockets trained different models");
    const float *a = train_out_params((train_out *)o1), *b = train_out_params((train_out *)os);
    for (size_t i = 0; i < P; i++)
        if (fabsf(a[i] - b[i]) > 1e-4f * fabsf(a[i]) + 1e-5f)
            fail_msg("parameter %zu: K = 1 gives %.9g, K = 4 %.9g", i, a[i], b[i]);
    assert_true(os->stats[DB_STAT_PARTITION_BYTES] > 0);
    job_result_free(&one);
    job_result_free(&sim);
    job_result_free(&real);
    ml_problem_free(&p.prob);
}

/* ---- timing: size-only, and the speedup against K ---- */

typedef struct step_arg {
    db_layout lay;
    db_split split;
    const ml_dataset *ds;
} step_arg;

/* One partitioned step (a pipeline of 4 microbatches when split by layers). */
static int one_step_rank(rt *r, void *arg)
{
    step_arg *a = arg;
    db_part part = {0};
    db_pipe pipe = {0};
    float *params = NULL, *grad = NULL;
    size_t idx[32], correct;
    double loss;
    for (size_t i = 0; i < 32; i++)
        idx[i] = i;
    if (!rt_size_only(r)) {
        params = calloc(a->lay.P, sizeof *params);
        grad = calloc(a->lay.P, sizeof *grad);
    }
    const ml_dataset *ds = rt_size_only(r) ? NULL : a->ds;
    int rc;
    if (a->split == DB_SPLIT_LAYERS) {
        if ((rc = db_pipe_init(&pipe, r, &a->lay, rt_rank(r), 0, 4)) == RT_OK)
            rc = db_pipe_loss_grad(&pipe, params, ds, idx, 32, 0, grad, &loss, &correct);
    } else if ((rc = db_part_init(&part, r, &a->lay, rt_rank(r), 0)) == RT_OK) {
        rc = db_part_loss_grad(&part, params, ds, idx, 32, 0, grad, &loss, &correct);
    }
    db_part_free(&part);
    db_pipe_free(&pipe);
    free(params);
    free(grad);
    return rc;
}

static double step_seconds(const size_t *width, int L, int K, db_split split, int size_only,
                           const ml_dataset *ds)
{
    step_arg a = {.split = split, .ds = ds};
    char err[256];
    if (db_layout_init(&a.lay, width, L, split == DB_SPLIT_LAYERS ? 1 : K, err, sizeof err) != 0)
        fail_msg("%s", err);
    a.lay.K = K;
    if (split == DB_SPLIT_LAYERS && db_pipe_check(&a.lay, err, sizeof err) != 0)
        fail_msg("%s", err);
    sim_config sim = sim_config_default();
    sim.size_only = size_only;
    sim.bandwidth_Bps = 125e6; /* 1 Gb/s */
    sim.speed_flops = 10e9;
    job_config cfg = config(0, K, &sim_backend);
    cfg.settings = &sim;
    cfg.record_events = 0;
    job_result res;
    if (job_run(&cfg, one_step_rank, &a, &res) != 0)
        fail_msg("K = %d: %s", K, res.error);
    double t = res.seconds;
    job_result_free(&res);
    return t;
}

static void size_only_step_takes_the_time_of_a_real_one(void **state)
{
    (void)state;
    problem p;
    problem_load(&p, "synth-dense:n=64,d=20,classes=5,test=10", "mlp:16,12", 1, 16, 0.1, "sgd");
    size_t width[] = {20, 16, 12, 5};
    for (int split = 0; split <= 1; split++)
        for (int K = 1; K <= (split ? 3 : 4); K++) {
            double real = step_seconds(width, 3, K, (db_split)split, 0, &p.prob.train);
            double so = step_seconds(width, 3, K, (db_split)split, 1, NULL);
            if (fabs(real - so) > 1e-9 * real)
                fail_msg("K = %d by %s: a step takes %.12g s with data, %.12g s size-only", K,
                         split ? "layers" : "neurons", real, so);
        }
    ml_problem_free(&p.prob);
}

static void small_mlp_stops_gaining_large_keeps_gaining(void **state)
{
    (void)state;
    size_t small[] = {784, 128, 128, 10};
    size_t large[] = {4096, 8192, 8192, 8192, 1000};
    const db_split n = DB_SPLIT_NEURONS;
    double s1 = step_seconds(small, 3, 1, n, 1, NULL), s8 = step_seconds(small, 3, 8, n, 1, NULL),
           s32 = step_seconds(small, 3, 32, n, 1, NULL);
    double l1 = step_seconds(large, 4, 1, n, 1, NULL), l16 = step_seconds(large, 4, 16, n, 1, NULL),
           l64 = step_seconds(large, 4, 64, n, 1, NULL);
    /* small: little gain by 8, and 32 is no better than 8 */
    if (!(s1 / s8 < 4 && s32 >= 0.9 * s8))
        fail_msg("small MLP: speedup %.3g at K = 8, %.3g at K = 32", s1 / s8, s1 / s32);
    /* large: still gaining well from 16 to 64 */
    if (!(l1 / l64 > 1.5 * (l1 / l16) && l1 / l64 > 20))
        fail_msg("large MLP: speedup %.3g at K = 16, %.3g at K = 64", l1 / l16, l1 / l64);
}

/* ---- Downpour ---- */

static void train_downpour(problem *p, const db_opts *o, const job_backend *backend, job_result *res)
{
    train_setup setup = {.ml = &p->ml, .prob = &p->prob, .workers = o->replicas * o->partitions,
                         .quiet = 1, .algo = o};
    job_config cfg = config(nparams(p), db_ranks(o), backend);
    if (job_run(&cfg, db_rank, &setup, res) != 0)
        fail_msg("downpour, R = %d, K = %d, S = %d: %s", o->replicas, o->partitions, o->servers,
                 res->error);
}

static void downpour_one_replica_is_synchronous_sgd(void **state)
{
    (void)state;
    problem p;
    problem_load(&p, "synth-dense:n=200,d=10,classes=3,test=40", "mlp:8", 2, 16, 0.1, "sgd");
    size_t P = nparams(&p);
    sgd_allreduce_opts ar = {.algo = ALLREDUCE_RING};
    train_setup setup = {.ml = &p.ml, .prob = &p.prob, .workers = 1, .quiet = 1, .algo = &ar};
    job_config cfg = config(P, 1, &sim_backend);
    job_result serial;
    if (job_run(&cfg, sgd_allreduce_rank, &setup, &serial) != 0)
        fail_msg("serial: %s", serial.error);
    for (int S = 1; S <= 3; S += 2) {
        db_opts o = {.mode = DB_DOWNPOUR, .partitions = 1, .replicas = 1, .servers = S,
                     .push_every = 1, .fetch_every = 1};
        job_result dp;
        train_downpour(&p, &o, &sim_backend, &dp);
        if (memcmp(train_out_params(job_result_slot(&dp, 0)),
                   train_out_params(job_result_slot(&serial, 0)), P * sizeof(float)) != 0)
            fail_msg("downpour with one replica and %d servers is not serial SGD", S);
        job_result_free(&dp);
    }
    /* two partitions: their runs start inside a server's range */
    job_result mp;
    train_mp(&p, 2, &sim_backend, &mp);
    for (int S = 1; S <= 3; S += 2) {
        db_opts o = {.mode = DB_DOWNPOUR, .partitions = 2, .replicas = 1, .servers = S,
                     .push_every = 1, .fetch_every = 1};
        job_result dp;
        train_downpour(&p, &o, &sim_backend, &dp);
        if (memcmp(train_out_params(job_result_slot(&dp, 0)),
                   train_out_params(job_result_slot(&mp, 0)), P * sizeof(float)) != 0)
            fail_msg("downpour with one replica of 2 partitions and %d servers is not the "
                     "model-parallel run", S);
        job_result_free(&dp);
    }
    job_result_free(&mp);
    job_result_free(&serial);
    ml_problem_free(&p.prob);
}

static void downpour_partitioned_replicas_learn_on_real_sockets(void **state)
{
    (void)state;
    problem p;
    problem_load(&p, "synth-dense:n=400,d=10,classes=3,test=80", "mlp:12,8", 3, 10, 0.1,
                 "adagrad");
    db_opts o = {.mode = DB_DOWNPOUR, .partitions = 2, .replicas = 3, .servers = 3,
                 .push_every = 2, .fetch_every = 3};
    job_result res;
    train_downpour(&p, &o, &real_backend, &res);
    const train_out *out = job_result_slot(&res, 0);
    assert_true(out->npoints >= 2);
    const train_point *first = &out->points[0], *last = &out->points[out->npoints - 1];
    if (!(last->train_loss < 0.8 * first->train_loss))
        fail_msg("train loss %.4f -> %.4f", first->train_loss, last->train_loss);
    assert_true(fabs(last->epoch - 3) < 1e-6);
    double part = 0, server = 0;
    for (int i = 0; i < db_ranks(&o); i++) {
        const train_out *t = job_result_slot(&res, i);
        part += t->stats[DB_STAT_PARTITION_BYTES];
        server += t->stats[DB_STAT_SERVER_BYTES];
    }
    assert_true(part > 0);
    assert_true(server > 0);
    job_result_free(&res);
    ml_problem_free(&p.prob);
}

/* ---- Sandblaster ---- */

static void train_sandblaster(problem *p, const db_opts *o, const double *slowdown,
                              job_result *res)
{
    train_setup setup = {.ml = &p->ml, .prob = &p->prob, .workers = o->replicas * o->partitions,
                         .reporter = db_reporter(o), .quiet = 1, .algo = o};
    job_config cfg = config(nparams(p), db_ranks(o), &sim_backend);
    cfg.slowdown = slowdown;
    if (job_run(&cfg, db_rank, &setup, res) != 0)
        fail_msg("sandblaster, R = %d, K = %d, S = %d: %s", o->replicas, o->partitions,
                 o->servers, res->error);
}

static void sandblaster_partitioned_replicas_follow_one_rank(void **state)
{
    (void)state;
    problem p;
    problem_load(&p, "synth-dense:n=300,d=10,classes=3,test=60", "mlp:8", 4, 16, 0.1, "sgd");
    db_opts one = {.mode = DB_SANDBLASTER, .partitions = 1, .replicas = 1, .servers = 1,
                   .unit_examples = 50, .lbfgs_m = 5, .lbfgs_epsilon = 1e-5};
    db_opts many = one;
    many.partitions = 2;
    many.replicas = 3;
    many.servers = 3;
    job_result a, b;
    train_sandblaster(&p, &one, NULL, &a);
    train_sandblaster(&p, &many, NULL, &b);
    const train_out *oa = job_result_slot(&a, db_reporter(&one)),
                    *ob = job_result_slot(&b, db_reporter(&many));
    const train_point *la = &oa->points[oa->npoints - 1], *lb = &ob->points[ob->npoints - 1];
    if (!(la->train_loss < 0.9 * oa->points[0].train_loss))
        fail_msg("L-BFGS did not descend: %.5f -> %.5f", oa->points[0].train_loss, la->train_loss);
    if (fabs(la->train_loss - lb->train_loss) > 1e-3 * la->train_loss)
        fail_msg("one rank ends at %.6f, 3 replicas of 2 partitions at %.6f", la->train_loss,
                 lb->train_loss);
    job_result_free(&a);
    job_result_free(&b);
    ml_problem_free(&p.prob);
}

static void sandblaster_balancing_beats_even_split_with_a_straggler(void **state)
{
    (void)state;
    problem p;
    problem_load(&p, "synth-dense:n=800,d=40,classes=3,test=40", "mlp:64", 1, 16, 0.1, "sgd");
    db_opts o = {.mode = DB_SANDBLASTER, .partitions = 1, .replicas = 4, .servers = 1,
                 .unit_examples = 25, .lbfgs_m = 5, .lbfgs_epsilon = 1e-5};
    double slow[6] = {1, 4, 1, 1, 1, 1}; /* replica 0 (rank 1) computes 4 times slower */
    double per_eval[2];
    for (int even = 0; even <= 1; even++) {
        o.balance_even = even;
        job_result res;
        train_sandblaster(&p, &o, slow, &res);
        const train_out *out = job_result_slot(&res, db_reporter(&o));
        per_eval[even] = res.seconds / out->stats[DB_STAT_STEPS];
        /* dynamic: the straggler took fewer units than the others */
        long units0 = (long)((train_out *)job_result_slot(&res, 1))->stats[DB_STAT_STEPS],
             units1 = (long)((train_out *)job_result_slot(&res, 2))->stats[DB_STAT_STEPS];
        if (even)
            assert_int_equal(units0, units1);
        else if (!(units0 < units1))
            fail_msg("dynamic: the straggler did %ld units, a fast replica %ld", units0, units1);
        job_result_free(&res);
    }
    if (!(per_eval[0] < 0.5 * per_eval[1]))
        fail_msg("an evaluation takes %.6g s balanced, %.6g s split evenly", per_eval[0],
                 per_eval[1]);
    ml_problem_free(&p.prob);
}

/* ---- bad options ---- */

static void bad_options_are_refused(void **state)
{
    (void)state;
    const char *common = "--dataset synth-dense:n=100,d=5,classes=3 --model mlp:6,4 --epochs 1 "
                         "--quiet --no-figures --out /tmp/distlab-test-distbelief";
    const test_refusal cases[] = {
        {"--partitions 5", "hidden layer 2 has only 4 neurons"},
        {"--mode downpour --replicas 0", "--replicas"},
        {"--mode downpour --servers 0", "--servers"},
        {"--mode downpour --push-every 0", "--push-every"},
        {"--mode gossip", "model-parallel"},
        {"--replicas 2", "need --mode downpour"},
        {"--mode sandblaster --lbfgs-epsilon -1", "liblbfgs wants a tolerance >= 0"},
        {"--mode sandblaster --lbfgs-m 0", "--lbfgs-m"},
        {"--mode sandblaster --replicas 0", "--replicas"},
        {"--mode sandblaster --balance greedy", "dynamic"},
        {"--split layers --partitions 4", "only 3 layers"},
        {"--split layers --mode downpour", "model-parallel"},
        {"--split rows", "neurons"},
        {"--mode downpour --partitions 2 --workers 3", "multiple of --partitions"},
        {"--model softmax", "mlp:H1,H2"},
    };
    char prefix[1024];
    snprintf(prefix, sizeof prefix, "run distbelief %s", common);
    test_distlab_refuses(prefix, cases, sizeof cases / sizeof *cases);
}

/* --stragglers draws only from the ranks that train (the partitions of
 * every replica), never from the servers or sandblaster's coordinator. */
static void only_partitions_straggle(void **state)
{
    (void)state;
    static const struct {
        db_opts o;
        int first, count;
    } cases[] = {
        {{.mode = DB_MODEL_PARALLEL, .partitions = 3, .replicas = 1, .servers = 1}, 0, 3},
        {{.mode = DB_DOWNPOUR, .partitions = 2, .replicas = 3, .servers = 4}, 4, 6},
        {{.mode = DB_SANDBLASTER, .partitions = 1, .replicas = 4, .servers = 2}, 2, 4},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        train_shape sh = train_algo_shape(&db_algo, &cases[i].o, 0);
        assert_int_equal(sh.ranks, db_ranks(&cases[i].o));
        assert_int_equal(sh.first, cases[i].first);
        assert_int_equal(sh.count, cases[i].count);
        assert_true(sh.first + sh.count <= sh.ranks);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(partitioned_pass_is_the_unpartitioned_mlp),
        cmocka_unit_test(pipelined_pass_is_the_unpartitioned_mlp),
        cmocka_unit_test(model_parallel_training_is_backend_independent),
        cmocka_unit_test(size_only_step_takes_the_time_of_a_real_one),
        cmocka_unit_test(small_mlp_stops_gaining_large_keeps_gaining),
        cmocka_unit_test(downpour_one_replica_is_synchronous_sgd),
        cmocka_unit_test(downpour_partitioned_replicas_learn_on_real_sockets),
        cmocka_unit_test(sandblaster_partitioned_replicas_follow_one_rank),
        cmocka_unit_test(sandblaster_balancing_beats_even_split_with_a_straggler),
        cmocka_unit_test(bad_options_are_refused),
        cmocka_unit_test(only_partitions_straggle),
    };
    return cmocka_run_group_tests_name("distbelief", tests, NULL, NULL);
}
