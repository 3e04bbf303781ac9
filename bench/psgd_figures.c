/* psgd_figures.c -- the two figures of parallelized SGD / local SGD, drawn
 * from `distlab run psgd` run folders (bench/psgd_figures.sh makes them).
 *
 *   psgd_figures oneshot FILE RUNDIR...
 *       one-shot averaging against the number of workers W, the total
 *       examples fixed: test loss of one worker's model (its 1/W share),
 *       of the average of the W models, and of the one-worker run on all
 *       the data (the run with workers = 1), as grouped bars.
 *   psgd_figures tradeoff FILE RUNDIR...
 *       test loss against simulated time, one line per averaging period H,
 *       each labelled with its rounds and the bytes its averaging sent.
 *
 * `distlab plot` overlays runs too, but labels them by algorithm and
 * workers, which is the same for every H; these figures say what differs.
 * reference: Zinkevich, Weimer, Smola & Li, "Parallelized Stochastic
 * Gradient Descent", NIPS 2010.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/records.h"
#include "plots/plot.h"

#define MAX_RUNS 16

static double field(const records_run *run, const char *key)
{
    char buf[64];
    return records_run_field(run, key, buf, sizeof buf) ? strtod(buf, NULL) : NAN;
}

static double last_of(const records_run *run, const char *column)
{
    const double *c = records_run_column(run, column);
    return c && run->nrows ? c[run->nrows - 1] : NAN;
}

/* ---- one-shot gain against W ---- */
static int draw_oneshot(const char *path, records_run *runs, int n, char *err, size_t errlen)
{
    static const char *const series[] = {"one worker, its 1/W share (mean of the W)", "average of the W models",
                                         "one worker, all the data"};
    const char *groups[MAX_RUNS];
    char names[MAX_RUNS][16];
    double values[3 * MAX_RUNS], all_data = NAN;
    int ngroups = 0;
    for (int i = 0; i < n; i++)
        if (runs[i].workers == 1)
            all_data = last_of(&runs[i], "test_loss");
    for (int i = 0; i < n; i++) {
        if (runs[i].workers == 1)
            continue;
        snprintf(names[ngroups], sizeof names[ngroups], "W = %d", runs[i].workers);
        groups[ngroups] = names[ngroups];
        ngroups++;
    }
    for (int i = 0, g = 0; i < n; i++) {
        if (runs[i].workers == 1)
            continue;
        double local = field(&runs[i], "mean_local_final_test_loss"), avg = last_of(&runs[i], "test_loss");
        values[0 * ngroups + g] = local;
        values[1 * ngroups + g] = avg;
        values[2 * ngroups + g] = all_data;
        printf("oneshot W=%d one-worker %.4f average %.4f all-data %.4f gain %.4f gap-closed %.0f%%\n",
               runs[i].workers, local, avg, all_data, local - avg,
               100 * (local - avg) / (local - all_data));
        g++;
    }
    if (ngroups == 0) {
        snprintf(err, errlen, "no run with more than one worker");
        return -1;
    }
    plot_bars_spec spec = {.opts = plot_opts_default(), .ngroups = ngroups, .groups = groups,
                           .nseries = 3, .series = series, .values = values};
    spec.opts.title = "One-shot model averaging, total examples fixed";
    spec.opts.x.label = "workers";
    spec.opts.y.label = "test loss (cross-entropy)";
    return plot_bars(path, &spec, err, errlen);
}

/* ---- loss against time, one line per H ---- */
static int draw_tradeoff(const char *path, records_run *runs, int n, char *err, size_t errlen)
{
    plot_series s[MAX_RUNS];
    char labels[MAX_RUNS][128];
    for (int i = 0; i < n; i++) {
        char every[32];
        if (!records_run_field(&runs[i], "average_every", every, sizeof every))
            snprintf(every, sizeof every, "?");
        double rounds = field(&runs[i], "averaging_rounds"), bytes = field(&runs[i], "averaging_bytes");
        snprintf(labels[i], sizeof labels[i], "H = %s: %.0f round%s, %.3g MB", every, rounds,
                 rounds == 1 ? "" : "s", bytes / 1e6);
        s[i] = (plot_series){.name = labels[i], .x = records_run_column(&runs[i], "time_s"),
                             .y = records_run_column(&runs[i], "test_loss"), .n = runs[i].nrows,
                             .markers = 1};
        if (!s[i].x || !s[i].y) {
            snprintf(err, errlen, "%s: no time_s or test_loss column", runs[i].dir);
            return -1;
        }
        printf("tradeoff H=%s rounds %.0f averaging-bytes %.0f final-time-s %.6g final-test-loss %.4f\n",
               every, rounds, bytes, last_of(&runs[i], "time_s"), last_of(&runs[i], "test_loss"));
    }
    plot_lines_spec spec = {.opts = plot_opts_default(), .series = s, .nseries = n};
    spec.opts.title = "Local SGD: averaging every H steps";
    spec.opts.x.label = "simulated time (s)";
    spec.opts.y.label = "test loss of the average model";
    return plot_lines(path, &spec, err, errlen);
}

int main(int argc, char **argv)
{
    if (argc < 4 || (strcmp(argv[1], "oneshot") && strcmp(argv[1], "tradeoff")) ||
        argc - 3 > MAX_RUNS) {
        fprintf(stderr, "usage: psgd_figures oneshot|tradeoff FILE RUNDIR... (at most %d)\n", MAX_RUNS);
        return 2;
    }
    records_run runs[MAX_RUNS];
    int n = 0, status = 0;
    char err[1024];
    /* records_load zeroes the run first: free every one it was given */
    for (int i = 3; i < argc && !status; i++)
        if (records_load(argv[i], RECORDS_LOAD_SUMMARY | RECORDS_LOAD_METRICS, &runs[n++], err,
                         sizeof err) != 0) {
            fprintf(stderr, "psgd_figures: %s\n", err);
            status = 1;
        }
    int (*draw)(const char *, records_run *, int, char *, size_t) =
        strcmp(argv[1], "oneshot") == 0 ? draw_oneshot : draw_tradeoff;
    if (!status && draw(argv[2], runs, n, err, sizeof err) != 0) {
        fprintf(stderr, "psgd_figures: %s\n", err);
        status = 1;
    }
    for (int i = 0; i < n; i++)
        records_run_free(&runs[i]);
    return status;
}
