/* hogwild_figures.c -- the scaling figures of Hogwild! and its locked
 * baselines, drawn from `distlab run hogwild` run folders
 * (bench/hogwild_scaling.sh makes them and calls this).
 *
 *   hogwild_figures PREFIX RUNDIR...
 *       PREFIX-speedup.png         speedup in updates against workers P,
 *                                  one line per --sync mode, over the
 *                                  one-worker --sync none run (serial SGD)
 *       PREFIX-time-to-target.png  speedup in the time to the target
 *                                  training loss (--target-loss) against P,
 *                                  over the same run (a NaN: never reached)
 *
 * Every run does the same number of updates (epochs x examples), so the
 * ratio of training times is the ratio of update rates.
 * reference: Niu, Recht, Re & Wright, "Hogwild!", NIPS 2011, figure 4.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/records.h"
#include "plots/plot.h"

#define MAX_RUNS 64
#define NSYNC 3

static const char *const syncs[NSYNC] = {"none", "lock", "round-robin"};
static const char *const labels[NSYNC] = {"Hogwild! (no lock)", "one lock per update",
                                          "round-robin writes"};

static double field(const records_run *run, const char *key)
{
    char buf[64];
    const char *v = records_run_field(run, key, buf, sizeof buf);
    return v ? strtod(v, NULL) : NAN;
}

static int sync_of(const records_run *run)
{
    char buf[64];
    const char *v = records_run_field(run, "sync", buf, sizeof buf);
    for (int s = 0; v && s < NSYNC; s++)
        if (strcmp(v, syncs[s]) == 0)
            return s;
    return -1;
}

/* One series per sync mode: (workers, the summary field), by workers. */
static int gather(records_run *runs, int n, const char *key, double x[NSYNC][MAX_RUNS],
                  double y[NSYNC][MAX_RUNS], plot_series *series)
{
    int ns = 0;
    for (int s = 0; s < NSYNC; s++) {
        size_t k = 0;
        for (int i = 0; i < n; i++) {
            if (sync_of(&runs[i]) != s)
                continue;
            size_t j = k++;
            for (; j > 0 && x[s][j - 1] > runs[i].workers; j--) {
                x[s][j] = x[s][j - 1];
                y[s][j] = y[s][j - 1];
            }
            x[s][j] = runs[i].workers;
            y[s][j] = field(&runs[i], key);
        }
        if (k)
            series[ns++] = (plot_series){.name = labels[s], .x = x[s], .y = y[s], .n = k, .markers = 1};
    }
    return ns;
}

static int draw(const char *prefix, records_run *runs, int n, char *err, size_t errlen)
{
    static double x[NSYNC][MAX_RUNS], y[NSYNC][MAX_RUNS];
    plot_series series[NSYNC];
    char path[4096];
    double base = NAN;
    for (int i = 0; i < n; i++)
        if (runs[i].workers == 1 && sync_of(&runs[i]) == 0)
            base = field(&runs[i], "train_seconds");
    if (isnan(base)) {
        snprintf(err, errlen, "no one-worker --sync none run to measure speedup against");
        return -1;
    }
    char title[128];
    snprintf(title, sizeof title, "Hogwild! scaling (%s)", runs[0].backend ? runs[0].backend : "?");

    plot_scaling_spec sc = {.opts = plot_opts_default(), .series = series, .baseline_s = base};
    sc.nseries = gather(runs, n, "train_seconds", x, y, series);
    sc.opts.title = title;
    sc.opts.x.scale = PLOT_LOG2;
    sc.opts.y.scale = PLOT_LOG10; /* the locked baselines fall far below one */
    sc.opts.y.label = "speedup in updates (x one worker)";
    snprintf(path, sizeof path, "%s-speedup.png", prefix);
    if (plot_scaling(path, &sc, err, errlen) != 0)
        return -1;

    for (int i = 0; i < n; i++)
        if (runs[i].workers == 1 && sync_of(&runs[i]) == 0)
            sc.baseline_s = field(&runs[i], "seconds_to_target_loss");
    if (isnan(sc.baseline_s)) {
        snprintf(err, errlen, "the one-worker --sync none run never reached --target-loss");
        return -1;
    }
    sc.nseries = gather(runs, n, "seconds_to_target_loss", x, y, series);
    sc.opts.y.label = "speedup to target loss (x one worker)";
    snprintf(path, sizeof path, "%s-time-to-target.png", prefix);
    return plot_scaling(path, &sc, err, errlen);
}

int main(int argc, char **argv)
{
    if (argc < 3 || argc - 2 > MAX_RUNS) {
        fprintf(stderr, "usage: hogwild_figures PREFIX RUNDIR... (at most %d)\n", MAX_RUNS);
        return 2;
    }
    records_run runs[MAX_RUNS];
    int n = 0, status = 0;
    char err[1024];
    /* records_load zeroes the run first: free every one it was given */
    for (int i = 2; i < argc && !status; i++)
        if (records_load(argv[i], RECORDS_LOAD_SUMMARY, &runs[n++], err, sizeof err) != 0) {
            fprintf(stderr, "hogwild_figures: %s\n", err);
            status = 1;
        }
    if (!status && draw(argv[1], runs, n, err, sizeof err) != 0) {
        fprintf(stderr, "hogwild_figures: %s\n", err);
        status = 1;
    }
    for (int i = 0; i < n; i++)
        records_run_free(&runs[i]);
    return status;
}
