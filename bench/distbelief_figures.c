/* distbelief_figures.c -- the figures of DistBelief (algorithms/distbelief*.c);
 * bench/distbelief_figures.sh runs them.
 *
 *   distbelief_figures scaling FILE
 *       the paper's figure 3: speedup of one training step (batch 32)
 *       against the partitions K = 1..64, for a small MLP (784-128-128-10,
 *       118 thousand parameters), a medium one (1024-2048x2-1000, 8.4
 *       million) and a large one (4096-8192x3-1000, 176 million), split
 *       by neurons, and the large one split by layers (K <= 4 stages, a
 *       pipeline of 8 microbatches), each simulated with size-only
 *       payloads on hosts of 10 Gflop/s linked at 1 Gb/s with 50 us
 *       latency (ideal network). It prints the table.
 *   distbelief_figures accuracy FILE RUNDIR...
 *       test accuracy against simulated time, one line per run, labelled
 *       by its mode, replicas and optimizer (or L-BFGS evaluations); prints
 *       the time each run first reached TARGET (default 0.75) test accuracy.
 * reference: Dean et al., "Large Scale Distributed Deep Networks", NIPS
 * 2012, figures 3 and 4.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "algorithms/distbelief.h"
#include "core/job.h"
#include "core/records.h"
#include "plots/plot.h"
#include "sim/sim_backend.h"

#define MAX_RUNS 16

/* ---- scaling: one step against K ---- */

enum { STEP_BATCH = 32, NK = 7 };

typedef struct step_arg {
    db_layout lay;
    db_split split;
    int microbatches;
} step_arg;

static int step_rank(rt *r, void *arg)
{
    const step_arg *a = arg;
    db_part part = {0};
    db_pipe pipe = {0};
    double loss;
    size_t correct;
    int rc;
    if (a->split == DB_SPLIT_LAYERS) {
        if ((rc = db_pipe_init(&pipe, r, &a->lay, rt_rank(r), 0, a->microbatches)) == RT_OK)
            rc = db_pipe_loss_grad(&pipe, NULL, NULL, NULL, STEP_BATCH, 0, NULL, &loss, &correct);
    } else if ((rc = db_part_init(&part, r, &a->lay, rt_rank(r), 0)) == RT_OK) {
        rc = db_part_loss_grad(&part, NULL, NULL, NULL, STEP_BATCH, 0, NULL, &loss, &correct);
    }
    db_part_free(&part);
    db_pipe_free(&pipe);
    return rc;
}

static int step_seconds(const size_t *width, int L, int K, db_split split, double *seconds,
                        char *err, size_t errlen)
{
    step_arg a = {.split = split, .microbatches = 8};
    if (db_layout_init(&a.lay, width, L, split == DB_SPLIT_LAYERS ? 1 : K, err, errlen) != 0)
        return -1;
    a.lay.K = K;
    if (split == DB_SPLIT_LAYERS && db_pipe_check(&a.lay, err, errlen) != 0)
        return -1;
    sim_config sim = sim_config_default();
    sim.size_only = 1;
    sim.bandwidth_Bps = 125e6;
    sim.latency_s = 50e-6;
    sim.speed_flops = 10e9;
    job_config cfg = sim_job_config(&sim);
    cfg.ranks = K;
    cfg.record_events = 0;
    job_result res;
    int rc = job_run(&cfg, step_rank, &a, &res);
    if (rc != 0)
        snprintf(err, errlen, "K = %d: %.900s", K, res.error);
    *seconds = res.seconds;
    job_result_free(&res);
    return rc ? -1 : 0;
}

static int draw_scaling(const char *path, char *err, size_t errlen)
{
    static const size_t small[] = {784, 128, 128, 10}, medium[] = {1024, 2048, 2048, 1000},
                        large[] = {4096, 8192, 8192, 8192, 1000};
    static const struct {
        const char *name;
        const size_t *width;
        int L;
        db_split split;
        int maxk;
    } nets[] = {
        {"784-128-128-10 (118 K parameters)", small, 3, DB_SPLIT_NEURONS, 64},
        {"1024-2048-2048-1000 (8.4 M)", medium, 3, DB_SPLIT_NEURONS, 64},
        {"4096-8192x3-1000 (176 M)", large, 4, DB_SPLIT_NEURONS, 64},
        {"176 M by layers, 8 microbatches", large, 4, DB_SPLIT_LAYERS, 4},
    };
    enum { NNETS = sizeof nets / sizeof *nets };
    static double ks[NK] = {1, 2, 4, 8, 16, 32, 64}, secs[NNETS][NK];
    plot_series s[NNETS];
    printf("%-36s %4s %14s %8s\n", "model", "K", "step_s", "speedup");
    for (int n = 0; n < NNETS; n++) {
        int nk = 0;
        for (int i = 0; i < NK && ks[i] <= nets[n].maxk; i++, nk++) {
            if (step_seconds(nets[n].width, nets[n].L, (int)ks[i], nets[n].split, &secs[n][i], err,
                             errlen) != 0)
                return -1;
            printf("%-36s %4.0f %14.6g %8.3g\n", nets[n].name, ks[i], secs[n][i],
                   secs[n][0] / secs[n][i]);
        }
        s[n] = (plot_series){.name = nets[n].name, .x = ks, .y = secs[n], .n = (size_t)nk,
                             .markers = 1};
    }
    plot_scaling_spec spec = {.opts = plot_opts_default(), .series = s, .nseries = NNETS};
    spec.opts.title = "Model parallelism: one training step";
    spec.opts.height_in = 4.5;
    spec.opts.x.scale = PLOT_LOG2;
    spec.opts.y.scale = PLOT_LOG2;
    spec.opts.x.label = "partitions (machines per model)";
    spec.opts.y.label = "speedup of one training step";
    return plot_scaling(path, &spec, err, errlen);
}

/* ---- accuracy against time ---- */

static const char *field(const records_run *run, const char *key, char *buf, size_t len)
{
    const char *v = records_run_field(run, key, buf, len);
    return v ? v : "?";
}

static int draw_accuracy(const char *path, double target, records_run *runs, int n, char *err,
                         size_t errlen)
{
    plot_series s[MAX_RUNS];
    static char labels[MAX_RUNS][128];
    for (int i = 0; i < n; i++) {
        char mode[64], reps[16], opt[32], evals[32];
        field(&runs[i], "mode", mode, sizeof mode);
        field(&runs[i], "replicas", reps, sizeof reps);
        char ml[1024];
        const char *o = strstr(field(&runs[i], "ml", ml, sizeof ml), "optimizer=");
        snprintf(opt, sizeof opt, "%s", o ? o + 10 : "?");
        opt[strcspn(opt, " ")] = '\0';
        if (strcmp(mode, "downpour") == 0)
            snprintf(labels[i], sizeof labels[i], "downpour, R = %s, %s", reps, opt);
        else if (strcmp(mode, "sandblaster") == 0)
            snprintf(labels[i], sizeof labels[i], "sandblaster L-BFGS, R = %s, %s evaluations", reps,
                     field(&runs[i], "evaluations", evals, sizeof evals));
        else
            snprintf(labels[i], sizeof labels[i], "%s, %s", mode, opt);
        const double *t = records_run_column(&runs[i], "time_s"),
                     *a = records_run_column(&runs[i], "test_accuracy");
        if (!t || !a) {
            snprintf(err, errlen, "%s: no time_s or test_accuracy column", runs[i].dir);
            return -1;
        }
        double reached = NAN;
        for (size_t r = 0; r < runs[i].nrows && isnan(reached); r++)
            if (a[r] >= target)
                reached = t[r];
        printf("%-40s final accuracy %.4f after %.4g s; reached %.2f at %.4g s\n", labels[i],
               a[runs[i].nrows - 1], t[runs[i].nrows - 1], target, reached);
        s[i] = (plot_series){.name = labels[i], .x = t, .y = a, .n = runs[i].nrows};
    }
    plot_lines_spec spec = {.opts = plot_opts_default(), .series = s, .nseries = n};
    spec.opts.title = "DistBelief on Fashion-MNIST (MLP)";
    spec.opts.width_in = 7;
    spec.opts.height_in = 6;
    spec.opts.x.label = "simulated time (s, log scale)";
    spec.opts.x.scale = PLOT_LOG10;
    spec.opts.y.label = "test accuracy (fraction)";
    spec.opts.y.min = 0.5;
    spec.opts.y.max = 0.9;
    return plot_lines(path, &spec, err, errlen);
}

int main(int argc, char **argv)
{
    char err[1024];
    if (argc == 3 && strcmp(argv[1], "scaling") == 0) {
        if (draw_scaling(argv[2], err, sizeof err) != 0) {
            fprintf(stderr, "distbelief_figures: %s\n", err);
            return 1;
        }
        return 0;
    }
    double target = getenv("TARGET") ? strtod(getenv("TARGET"), NULL) : 0.75;
    if (argc < 4 || strcmp(argv[1], "accuracy") || argc - 3 > MAX_RUNS) {
        fprintf(stderr, "usage: distbelief_figures scaling FILE\n"
                        "       [TARGET=0.75] distbelief_figures accuracy FILE RUNDIR... (at most %d)\n",
                MAX_RUNS);
        return 2;
    }
    records_run runs[MAX_RUNS];
    int n = 0, status = 0;
    for (int i = 3; i < argc && !status; i++)
        if (records_load(argv[i], RECORDS_LOAD_SUMMARY | RECORDS_LOAD_METRICS, &runs[n++], err,
                         sizeof err) != 0) {
            fprintf(stderr, "distbelief_figures: %s\n", err);
            status = 1;
        }
    if (!status && draw_accuracy(argv[2], target, runs, n, err, sizeof err) != 0) {
        fprintf(stderr, "distbelief_figures: %s\n", err);
        status = 1;
    }
    for (int i = 0; i < n; i++)
        records_run_free(&runs[i]);
    return status;
}
