/* test_allreduce_lbfgs.c -- Agarwal et al.'s hybrid learner
 * (algorithms/allreduce_lbfgs.c): bad options are refused with what was
 * wrong; one worker is a serial AdaGrad pass plus serial L-BFGS written
 * here straight on ml/ and liblbfgs, bit for bit; the allreduce sums are
 * the serial objective, gradient and Hessian diagonal; that diagonal is
 * the objective's (central differences); sim and real threads give the
 * same model bits; the hybrid beats L-BFGS from zero at every pass of a
 * small budget, and the online passes alone;
 * speculation shortens a run with a 4x straggler in simulation and runs
 * its backups as planned.
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
#include <lbfgs.h>

#include "algorithms/allreduce_lbfgs.h"
#include "core/job.h"
#include "real/real_backend.h"
#include "sim/sim_backend.h"
#include "tests/util_distlab.h"
#include "tests/util_files.h"

/* Sparse logistic regression, small enough that train_loss (measured on
 * up to 10,000 examples) is the whole training objective. */
#define SPARSE "synth-sparse:n=5000,d=2000,nnz=20"

typedef struct problem {
    ml_config ml;
    ml_problem prob;
} problem;

static void problem_load(problem *p, const char *dataset, const char *model, long epochs,
                         double l2)
{
    char err[512];
    ml_config_default(&p->ml);
    assert_int_equal(ml_config_set(&p->ml, "dataset", dataset, err, sizeof err), 0);
    assert_int_equal(ml_config_set(&p->ml, "model", model, err, sizeof err), 0);
    p->ml.epochs = epochs;
    p->ml.batch = 1;
    p->ml.lr = 0.5;
    p->ml.l2 = l2;
    p->ml.optimizer = ML_OPTIM_ADAGRAD;
    if (ml_problem_load(&p->ml, &p->prob, err, sizeof err) != 0)
        fail_msg("loading %s: %s", dataset, err);
}

static size_t nparams(const problem *p) { return ml_model_nparams(p->prob.model); }

typedef struct run {
    job_result res;
    const train_out *out; /* the reporter's slot */
    const float *params;
} run;

static train_setup setup_of(problem *p, const alb_opts *o, int workers)
{
    return (train_setup){.ml = &p->ml, .prob = &p->prob, .workers = workers, .reporter = 0,
                         .quiet = 1, .algo = o, .nextra = ALB_COLS, .nstats = ALB_STATS};
}

/* speed_flops: the simulated cores' speed (0: the default, 1 Gflop/s) */
static void run_alb(run *o, problem *p, const alb_opts *opt, int workers,
                    const job_backend *backend, const double *slowdown, double speed_flops)
{
    train_setup setup = setup_of(p, opt, workers);
    sim_config sim = sim_config_default();
    if (speed_flops > 0)
        sim.speed_flops = speed_flops;
    job_config cfg = job_config_default();
    cfg.ranks = alb_ranks(opt, workers);
    cfg.backend = backend;
    cfg.settings = backend == &sim_backend ? (const void *)&sim : NULL;
    cfg.timeout_s = 60;
    cfg.slowdown = slowdown;
    cfg.result_bytes = train_out_bytes(nparams(p));
    if (job_run(&cfg, alb_rank, &setup, &o->res) != 0)
        fail_msg("%d workers on %s: %s", workers, backend->name, o->res.error);
    o->out = job_result_slot(&o->res, 0);
    o->params = train_out_params((train_out *)o->out);
    assert_true(o->out->npoints > 1);
}

/* The objective (train_loss) at the last point at or before `passes`. */
static double loss_at(const run *o, double passes)
{
    double loss = NAN;
    for (int i = 0; i < o->out->npoints; i++)
        if (o->out->points[i].epoch <= passes + 1e-9)
            loss = o->out->points[i].train_loss;
    return loss;
}

/* ---- refusals ---- */

static void check_says(problem *p, const alb_opts *o, int workers, const char *words)
{
    train_setup setup = setup_of(p, o, workers);
    char err[512] = "";
    if (alb_check(&setup, err, sizeof err) == 0)
        fail_msg("accepted what should say '%s'", words);
    if (!strstr(err, words))
        fail_msg("expected '%s' in: %s", words, err);
}

static void bad_options_are_refused(void **state)
{
    (void)state;
    problem p;
    problem_load(&p, SPARSE, "logreg", 5, 1e-4);
    alb_opts o = alb_opts_default();
    train_setup ok = setup_of(&p, &o, 4);
    char err[512];
    assert_int_equal(alb_check(&ok, err, sizeof err), 0);
    o.warmstart = 6;
    check_says(&p, &o, 4, "--warmstart 6");
    o.warmstart = -1;
    check_says(&p, &o, 4, "--warmstart -1");
    o = alb_opts_default();
    o.warmstart = 0;
    o.speculative = 1;
    check_says(&p, &o, 4, "--speculative on");
    o = alb_opts_default();
    o.speculative = 1;
    o.spares = 5;
    check_says(&p, &o, 4, "--spares 5");
    o = alb_opts_default();
    o.lbfgs_m = 0;
    check_says(&p, &o, 4, "--lbfgs-m 0");
    o = alb_opts_default();
    o.lbfgs_epsilon = -1;
    check_says(&p, &o, 4, "--lbfgs-epsilon");
    o = alb_opts_default();
    check_says(&p, &o, 100000, "more workers than");
    ml_problem_free(&p.prob);

    problem q;
    problem_load(&q, SPARSE, "svm", 5, 1e-4);
    o = alb_opts_default();
    check_says(&q, &o, 4, "--model svm");
    ml_problem_free(&q.prob);
}

/* The command line's own refusals (and the descriptor's check through it). */
static void the_command_refuses_what_does_not_apply(void **state)
{
    (void)state;
    if (!test_distlab()) /* the TSan build has no binary of its own */
        skip();
    const test_refusal cases[] = {
        {"--optimizer sgd", "the online passes use AdaGrad"},
        {"--schedule inv:t0=2", "--schedule and --momentum do not apply"},
        {"--momentum 0.9", "--schedule and --momentum do not apply"},
        {"--spares 2", "needs --speculative on"},
        {"--speculative maybe", "expected one of: off, on"},
        {"--precondition yes", "expected one of: off, on"},
        {"--warmstart -1", "--warmstart"},
        {"--warmstart 7", "--warmstart 7: between 0 and --epochs (6)"},
        {"--speculative on --warmstart 0", "needs --warmstart 1 or more"},
        {"--model svm", "--model svm"},
        {"--lbfgs-m 0", "--lbfgs-m"},
        {"--allreduce star", "unknown algorithm 'star'"},
    };
    test_distlab_refuses("run allreduce-lbfgs --dataset " SPARSE " --model logreg --epochs 6 "
                         "--quiet --no-figures --out /nonexistent/never",
                         cases, sizeof cases / sizeof *cases);
}

/* compare's allreduce-lbfgs:PASSES is --warmstart PASSES: online only,
 * L-BFGS from zero and the hybrid in one command, each run's records in
 * its own folder. */
static void compare_spec_sets_the_warmstart(void **state)
{
    (void)state;
    if (!test_distlab())
        skip();
    char dir[256], out[8192], path[512], json[65536];
    size_t n;
    assert_int_equal(test_tmpdir(dir, sizeof dir, "alb"), 0);
    int rc = test_distlab_run(out, sizeof out, "compare --algos allreduce-lbfgs:4,allreduce-lbfgs:0,"
                              "allreduce-lbfgs:1 --dataset " SPARSE " --model logreg --lr 0.5 "
                              "--batch 1 --epochs 4 --workers 2 --quiet --out %s", dir);
    if (rc != 0)
        fail_msg("compare exited %d: %s", rc, out);
    const char *want[] = {"4", "0", "1"};
    for (int k = 0; k < 3; k++) {
        snprintf(path, sizeof path, "%s/allreduce-lbfgs-%s/summary.json", dir, want[k]);
        assert_int_equal(test_read_file(path, json, sizeof json - 1, &n), 0);
        json[n] = 0;
        char field[64];
        snprintf(field, sizeof field, "\"warmstart\": %s,", want[k]);
        if (!strstr(json, field))
            fail_msg("%s lacks %s", path, field);
    }
    test_rmtree(dir);
}

/* ---- one worker: the serial algorithm, written here without runtime ---- */

typedef struct serial {
    problem *p;
    ml_model *data;
    float *w;
    size_t *all;
    ml_grad g;
    long passes, evals;
    double *D, *x, f0, *g0; /* x = D y; the start's f and gradient in y, handed out once */
} serial;

/* f and g (in x) of the whole objective at x. */
static double serial_fg(serial *s, const double *x, double *g, int n)
{
    const ml_dataset *train = &s->p->prob.train;
    double loss, flops, reg = 0, l2 = s->p->ml.l2;
    char err[512];
    for (int i = 0; i < n; i++)
        s->w[i] = (float)x[i];
    assert_int_equal(ml_model_loss_grad(s->data, s->w, train, s->all, train->n, &s->g, &loss,
                                        &flops, err, sizeof err), 0);
    for (int i = 0; i < n; i++) {
        g[i] = (double)s->g.dense[i] + l2 * x[i];
        reg += x[i] * x[i];
    }
    s->evals++;
    return loss + 0.5 * l2 * reg;
}

static lbfgsfloatval_t serial_evaluate(void *inst, const lbfgsfloatval_t *y, lbfgsfloatval_t *g,
                                       const int n, const lbfgsfloatval_t step)
{
    (void)step;
    serial *s = inst;
    if (s->g0) {
        memcpy(g, s->g0, (size_t)n * sizeof *g);
        free(s->g0);
        s->g0 = NULL;
        return s->f0;
    }
    for (int i = 0; i < n; i++)
        s->x[i] = s->D[i] * y[i];
    double f = serial_fg(s, s->x, g, n);
    for (int i = 0; i < n; i++)
        g[i] *= s->D[i];
    return f;
}

static int serial_progress(void *inst, const lbfgsfloatval_t *x, const lbfgsfloatval_t *g,
                           const lbfgsfloatval_t fx, const lbfgsfloatval_t xnorm,
                           const lbfgsfloatval_t gnorm, const lbfgsfloatval_t step, int n, int k,
                           int ls)
{
    (void)x, (void)g, (void)fx, (void)xnorm, (void)gnorm, (void)step, (void)n, (void)k, (void)ls;
    serial *s = inst;
    return s->passes + s->evals >= s->p->ml.epochs;
}

/* `warm` passes of AdaGrad over the whole (one-shard) training set in
 * train_shard's order, then liblbfgs on the full objective. */
static void serial_hybrid(problem *p, long warm, float *out)
{
    const ml_dataset *train = &p->prob.train;
    size_t P = nparams(p);
    char err[512];
    serial s = {.p = p};
    ml_model *m;
    assert_int_equal(ml_model_create("logreg", train->d, train->classes, p->ml.l2, &m, err,
                                     sizeof err), 0);
    assert_int_equal(ml_model_set_freq(m, train, err, sizeof err), 0);
    assert_int_equal(ml_model_create("logreg", train->d, train->classes, 0.0, &s.data, err,
                                     sizeof err), 0);
    s.w = malloc(P * sizeof *s.w);
    s.all = malloc(train->n * sizeof *s.all);
    size_t *batch = malloc(sizeof *batch);
    assert_non_null(s.w);
    assert_non_null(s.all);
    for (size_t i = 0; i < train->n; i++)
        s.all[i] = i;
    ml_grad gs;
    assert_int_equal(ml_grad_init(&gs, P), 0);
    assert_int_equal(ml_grad_init(&s.g, P), 0);
    s.g.dense_only = 1;
    train_shard order;
    assert_int_equal(train_shard_init(&order, train, 0, 1, p->ml.seed), 0);
    ml_optim ada;
    assert_int_equal(ml_optim_init(&ada, ML_OPTIM_ADAGRAD, P, 0, 0, err, sizeof err), 0);
    ml_model_init_params(m, s.w, p->ml.seed);
    for (long pass = 0; pass < warm; pass++) {
        for (size_t k = 0; k < train->n; k++) {
            double loss, flops;
            assert_int_equal(train_shard_next(&order, 1, batch), 1);
            assert_int_equal(ml_model_loss_grad(m, s.w, train, batch, 1, &gs, &loss, &flops, err,
                                                sizeof err), 0);
            assert_true(gs.sparse);
            ml_optim_step_sparse(&ada, s.w, gs.index, gs.value, gs.nnz, (float)p->ml.lr);
        }
        s.passes++;
    }
    /* preconditioned: x = D y, D = c diag(H)^(-1/2) at the start, c the
     * norm of diag(H)^(-1/2) g there */
    lbfgsfloatval_t *y = lbfgs_malloc((int)P), fx;
    s.D = malloc(P * sizeof *s.D);
    s.x = malloc(P * sizeof *s.x);
    s.g0 = malloc(P * sizeof *s.g0);
    float *h = malloc(P * sizeof *h);
    for (size_t i = 0; i < P; i++)
        s.x[i] = s.w[i];
    s.f0 = serial_fg(&s, s.x, s.g0, (int)P);
    double flops, c = 0;
    assert_int_equal(ml_model_hessian_diag(s.data, s.w, train, s.all, train->n, h, &flops, err,
                                           sizeof err), 0);
    for (size_t i = 0; i < P; i++) {
        double hi = (double)h[i] + p->ml.l2;
        s.D[i] = hi > 0 ? 1.0 / sqrt(hi) : 1.0;
        c += (s.D[i] * s.g0[i]) * (s.D[i] * s.g0[i]);
    }
    c = c > 0 ? sqrt(c) : 1.0;
    for (size_t i = 0; i < P; i++) {
        s.D[i] *= c;
        y[i] = s.x[i] / s.D[i];
        s.g0[i] *= s.D[i];
    }
    lbfgs_parameter_t param;
    lbfgs_parameter_init(&param);
    param.max_iterations = (int)(p->ml.epochs - warm);
    lbfgs((int)P, y, &fx, serial_evaluate, serial_progress, &s, &param);
    for (size_t i = 0; i < P; i++)
        out[i] = (float)(s.D[i] * y[i]);
    lbfgs_free(y);
    free(s.D);
    free(s.x);
    free(s.g0);
    free(h);
    ml_optim_free(&ada);
    train_shard_free(&order);
    ml_grad_free(&gs);
    ml_grad_free(&s.g);
    ml_model_free(m);
    ml_model_free(s.data);
    free(s.w);
    free(s.all);
    free(batch);
}

static void one_worker_is_serial_bit_for_bit(void **state)
{
    (void)state;
    problem p;
    problem_load(&p, SPARSE, "logreg", 8, 1e-4);
    size_t P = nparams(&p);
    float *want = malloc(P * sizeof *want);
    for (long warm = 0; warm <= 2; warm += 2) {
        serial_hybrid(&p, warm, want);
        alb_opts o = alb_opts_default();
        o.warmstart = warm;
        run a;
        run_alb(&a, &p, &o, 1, &sim_backend, NULL, 0);
        if (memcmp(a.params, want, P * sizeof *want) != 0)
            fail_msg("--warmstart %ld: one worker differs from the serial run", warm);
        assert_true(a.out->stats[ALB_STAT_ONLINE_PASSES] == (double)warm);
        assert_true(a.out->stats[ALB_STAT_EVALUATIONS] >= (double)(p.ml.epochs - warm));
        job_result_free(&a.res);
    }
    free(want);
    ml_problem_free(&p.prob);
}

/* ---- the sums: alb_objective on W ranks against the serial objective ---- */

typedef struct objective_arg {
    train_setup setup;
    const double *x;
} objective_arg;

static int objective_rank(rt *r, void *arg)
{
    objective_arg *a = arg;
    size_t P = ml_model_nparams(a->setup.prob->model);
    double *slot = job_slot(r); /* f, g, the Hessian's diagonal */
    return alb_objective(r, &a->setup, a->x, slot, slot + 1, slot + 1 + P);
}

static void sums_are_the_serial_objective(void **state)
{
    (void)state;
    const char *cases[][2] = {{SPARSE, "logreg"},
                              {"synth-dense:n=1500,d=12,classes=3", "softmax"}};
    for (int c = 0; c < 2; c++) {
        problem p;
        problem_load(&p, cases[c][0], cases[c][1], 4, 1e-4);
        const ml_dataset *train = &p.prob.train;
        size_t P = nparams(&p);
        double *x = malloc(P * sizeof *x), *gref = malloc(P * sizeof *gref);
        float *w = malloc(P * sizeof *w), *href = malloc(P * sizeof *href);
        size_t *all = malloc(train->n * sizeof *all);
        for (size_t i = 0; i < P; i++) {
            x[i] = 0.3 * sin(0.7 * (double)i + 1);
            w[i] = (float)x[i];
        }
        for (size_t i = 0; i < train->n; i++)
            all[i] = i;
        /* serial: the mean loss over every example + l2/2 ||x||^2 */
        double loss, flops, reg = 0;
        char err[512];
        ml_model *m;
        ml_grad g;
        assert_int_equal(ml_model_create(cases[c][1], train->d, train->classes, 0, &m, err,
                                         sizeof err), 0);
        assert_int_equal(ml_grad_init(&g, P), 0);
        g.dense_only = 1;
        assert_int_equal(ml_model_loss_grad(m, w, train, all, train->n, &g, &loss, &flops, err,
                                            sizeof err), 0);
        double gmax = 0;
        for (size_t i = 0; i < P; i++) {
            gref[i] = (double)g.dense[i] + p.ml.l2 * x[i];
            gmax = fmax(gmax, fabs(gref[i]));
            reg += x[i] * x[i];
        }
        double fref = loss + 0.5 * p.ml.l2 * reg, hmax = 0;
        assert_int_equal(ml_model_hessian_diag(m, w, train, all, train->n, href, &flops, err,
                                               sizeof err), 0);
        for (size_t i = 0; i < P; i++)
            hmax = fmax(hmax, (double)href[i] + p.ml.l2);
        for (int W = 1; W <= 5; W += 2) {
            alb_opts o = alb_opts_default();
            objective_arg arg = {.setup = setup_of(&p, &o, W), .x = x};
            job_config cfg = job_config_default();
            cfg.ranks = W;
            cfg.backend = &sim_backend;
            cfg.result_bytes = (2 * P + 1) * sizeof(double);
            job_result res;
            if (job_run(&cfg, objective_rank, &arg, &res) != 0)
                fail_msg("%d ranks: %s", W, res.error);
            for (int k = 0; k < W; k++) {
                const double *got = job_result_slot(&res, k);
                if (!(fabs(got[0] - fref) <= 1e-12 * fabs(fref)))
                    fail_msg("%s, %d workers, rank %d: f %.17g, serial %.17g", cases[c][1], W,
                             k, got[0], fref);
                for (size_t i = 0; i < P; i++)
                    if (!(fabs(got[1 + i] - gref[i]) <= 1e-5 * gmax))
                        fail_msg("%s, %d workers, rank %d: g[%zu] %.9g, serial %.9g",
                                 cases[c][1], W, k, i, got[1 + i], gref[i]);
                for (size_t i = 0; i < P; i++)
                    if (!(fabs(got[1 + P + i] - ((double)href[i] + p.ml.l2)) <= 1e-5 * hmax))
                        fail_msg("%s, %d workers, rank %d: Hessian diagonal [%zu] %.9g, "
                                 "serial %.9g", cases[c][1], W, k, i, got[1 + P + i],
                                 (double)href[i] + p.ml.l2);
                if (W == 1 && memcmp(got + 1, gref, P * sizeof *gref) != 0)
                    fail_msg("%s: one worker's gradient is not the serial one's bits",
                             cases[c][1]);
            }
            job_result_free(&res);
        }
        ml_grad_free(&g);
        ml_model_free(m);
        free(x);
        free(gref);
        free(w);
        free(href);
        free(all);
        ml_problem_free(&p.prob);
    }
}

/* ---- the preconditioner: the Hessian's diagonal ---- */

/* ml_model_hessian_diag against central differences of the gradient,
 * d g_j / d w_j, on a few coordinates of each model. */
static void hessian_diagonal_matches_differences(void **state)
{
    (void)state;
    const char *cases[][2] = {{"synth-sparse:n=600,d=50,nnz=8", "logreg"},
                              {"synth-dense:n=600,d=6,classes=3", "softmax"}};
    for (int c = 0; c < 2; c++) {
        problem p;
        problem_load(&p, cases[c][0], cases[c][1], 1, 1e-4);
        const ml_dataset *train = &p.prob.train;
        size_t P = nparams(&p), n = train->n;
        char err[512];
        ml_model *m;
        assert_int_equal(ml_model_create(cases[c][1], train->d, train->classes, 0, &m, err,
                                         sizeof err), 0);
        float *w = malloc(P * sizeof *w), *h = malloc(P * sizeof *h);
        ml_grad g;
        assert_int_equal(ml_grad_init(&g, P), 0);
        g.dense_only = 1;
        for (size_t i = 0; i < P; i++)
            w[i] = (float)(0.2 * cos(1.3 * (double)i));
        double flops, loss;
        assert_int_equal(ml_model_hessian_diag(m, w, train, NULL, n, h, &flops, err,
                                               sizeof err), 0);
        assert_true(flops > 0);
        size_t *all = malloc(n * sizeof *all);
        for (size_t i = 0; i < n; i++)
            all[i] = i;
        for (size_t j = 0; j < P; j += P / 7 + 1) {
            const float step = 1e-2f;
            float keep = w[j];
            w[j] = keep + step;
            assert_int_equal(ml_model_loss_grad(m, w, train, all, n, &g, &loss, &flops, err,
                                                sizeof err), 0);
            double up = g.dense[j];
            w[j] = keep - step;
            assert_int_equal(ml_model_loss_grad(m, w, train, all, n, &g, &loss, &flops, err,
                                                sizeof err), 0);
            w[j] = keep;
            double diff = (up - g.dense[j]) / (2.0 * step);
            if (!(fabs(diff - h[j]) <= 2e-3 * fmax(fabs(diff), 1e-2)))
                fail_msg("%s: d2/dw[%zu]^2: diagonal %.6g, differences %.6g", cases[c][1], j,
                         h[j], diff);
        }
        ml_model *svm;
        assert_int_equal(ml_model_create("svm", train->d, 2, 0, &svm, err, sizeof err), 0);
        if (c == 0)
            assert_int_equal(ml_model_hessian_diag(svm, w, train, NULL, n, h, &flops, err,
                                                   sizeof err), -1);
        ml_model_free(svm);
        ml_grad_free(&g);
        ml_model_free(m);
        free(w);
        free(h);
        free(all);
        ml_problem_free(&p.prob);
    }
}

/* ---- sim and real ---- */

static void sim_and_real_give_the_same_bits(void **state)
{
    (void)state;
    problem p;
    problem_load(&p, SPARSE, "logreg", 6, 1e-4);
    size_t P = nparams(&p);
    alb_opts o = alb_opts_default();
    for (int spec = 0; spec <= 2; spec++) { /* off; on; on with a spare */
        o.speculative = spec > 0;
        o.spares = spec == 2;
        run a, b;
        run_alb(&a, &p, &o, 3, &sim_backend, NULL, 0);
        run_alb(&b, &p, &o, 3, &real_backend, NULL, 0);
        if (memcmp(a.params, b.params, P * sizeof(float)) != 0)
            fail_msg("speculative %s, %d spares: sim and real threads trained different "
                     "models", spec ? "on" : "off", o.spares);
        assert_int_equal(a.out->npoints, b.out->npoints);
        job_result_free(&a.res);
        job_result_free(&b.res);
    }
    ml_problem_free(&p.prob);
}

/* ---- the paper's finding, at the scale of a test ---- */

/* One online pass, then L-BFGS, on a weakly regularised problem: below
 * L-BFGS from zero after every pass up to 9 of a 12-pass budget (they
 * end within 3e-4 of each other), and below the online passes alone. */
static void hybrid_beats_lbfgs_from_zero_and_online(void **state)
{
    (void)state;
    problem p;
    problem_load(&p, "synth-sparse:n=12000,d=1000,nnz=20", "logreg", 12, 1e-5);
    alb_opts o = alb_opts_default();
    run hybrid, zero, online;
    o.warmstart = 1;
    run_alb(&hybrid, &p, &o, 4, &sim_backend, NULL, 0);
    o.warmstart = 0;
    run_alb(&zero, &p, &o, 4, &sim_backend, NULL, 0);
    o.warmstart = 12;
    run_alb(&online, &p, &o, 4, &sim_backend, NULL, 0);
    for (int passes = 1; passes <= 9; passes++) {
        double h = loss_at(&hybrid, passes), z = loss_at(&zero, passes);
        if (!(h < z))
            fail_msg("after %d passes: hybrid %.6f, L-BFGS from zero %.6f", passes, h, z);
    }
    double h = loss_at(&hybrid, 12), z = loss_at(&zero, 12), on = loss_at(&online, 12);
    if (!(fabs(h - z) < 3e-4 && h < on - 0.01))
        fail_msg("after 12 passes: hybrid %.6f, L-BFGS from zero %.6f, online %.6f", h, z, on);
    job_result_free(&hybrid.res);
    job_result_free(&zero.res);
    job_result_free(&online.res);
    ml_problem_free(&p.prob);
}

/* ---- speculation ---- */

static void speculation_shortens_a_run_with_a_straggler(void **state)
{
    (void)state;
    problem p;
    problem_load(&p, SPARSE, "logreg", 6, 1e-4);
    int W = 4;
    /* worker 2 computes 4x slower; at 10 Mflop/s a pass takes ~10 ms,
     * against 50 us network latency */
    double slow[6] = {1, 1, 4, 1, 1, 1};
    alb_opts o = alb_opts_default();
    run off;
    run_alb(&off, &p, &o, W, &sim_backend, slow, 1e7);
    /* the backup runs on a worker that finished its own pass (which then
     * computes two shards per evaluation), or on a spare rank */
    const double most[2] = {0.7, 0.6};
    for (int spares = 0; spares <= 1; spares++) {
        o.speculative = 1;
        o.spares = spares;
        run on, calm;
        run_alb(&on, &p, &o, W, &sim_backend, slow, 1e7);
        run_alb(&calm, &p, &o, W, &sim_backend, NULL, 1e7);
        /* one backup, of worker 2's shard, and it won */
        assert_true(on.out->stats[ALB_STAT_BACKUPS] == 1);
        assert_true(on.out->stats[ALB_STAT_BACKUP_WINS] == 1);
        assert_true(calm.out->stats[ALB_STAT_BACKUPS] == 0);
        if (!(on.res.seconds < most[spares] * off.res.seconds))
            fail_msg("%d spares: speculative on %.6g s, off %.6g s", spares, on.res.seconds,
                     off.res.seconds);
        /* whoever computed a shard, the sums are the same: the same bits;
         * and since adding zeros is exact and the tree pairs the four
         * workers as it does without the extra ranks, the same as
         * without speculation */
        if (memcmp(on.params, calm.params, nparams(&p) * sizeof(float)) != 0)
            fail_msg("%d spares: the backup's run trained a different model", spares);
        if (memcmp(on.params, off.params, nparams(&p) * sizeof(float)) != 0)
            fail_msg("%d spares: speculation changed the model", spares);
        job_result_free(&on.res);
        job_result_free(&calm.res);
    }
    job_result_free(&off.res);
    ml_problem_free(&p.prob);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(bad_options_are_refused),
        cmocka_unit_test(the_command_refuses_what_does_not_apply),
        cmocka_unit_test(compare_spec_sets_the_warmstart),
        cmocka_unit_test(one_worker_is_serial_bit_for_bit),
        cmocka_unit_test(sums_are_the_serial_objective),
        cmocka_unit_test(hessian_diagonal_matches_differences),
        cmocka_unit_test(sim_and_real_give_the_same_bits),
        cmocka_unit_test(hybrid_beats_lbfgs_from_zero_and_online),
        cmocka_unit_test(speculation_shortens_a_run_with_a_straggler),
    };
    return cmocka_run_group_tests_name("allreduce_lbfgs", tests, NULL, NULL);
}
