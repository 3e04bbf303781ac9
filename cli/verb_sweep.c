/* verb_sweep.c -- `distlab sweep`: the same runs over a grid of one or two
 * settings, and the scaling figures from them.
 *
 *   distlab sweep --algos allreduce:ring,ps:bsp --vary workers=2,4,8,16
 *   distlab sweep --algos allreduce:ring --vary bandwidth=1Gbps,10Gbps,100Gbps \
 *                 --vary2 workers=8,32
 *
 * Every point is one `distlab run` into OUT/NAME/KEY=V[,KEY2=V2]/ (NAME as
 * experiment.h gives it; a '/' in V becomes '-'), so each value is given
 * once and `out` is not swept. The figures: time per epoch against the
 * varied setting (one line per run spec, and per value of the second
 * setting), and, when workers vary, the speedup against workers with the
 * ideal line; when workers or the batch vary, the final test error
 * against the global batch (workers x batch: Goyal et al.'s figure; with
 * --vary2 seed=..., each run's mean over the seeds, lowest and highest).
 * sweep.csv has the numbers: seconds per epoch, final test accuracy and
 * training loss, seconds to --target-accuracy, the global batch. The runs
 * come from --algos specs or an experiment file (--experiment, whose `run
 * ... --as NAME` lines name them).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/experiment.h"
#include "cli/run.h"
#include "core/records.h"
#include "core/units.h"
#include "plots/plot.h"

#define SWEEP_MAX_VALUES 16

typedef struct axis {
    const char *key;
    char *vals[SWEEP_MAX_VALUES];
    char *folder[SWEEP_MAX_VALUES]; /* the value as a folder name: '/' as '-' */
    double x[SWEEP_MAX_VALUES]; /* the values as numbers, in the label's unit */
    int n;
    int categorical;  /* values are names (bsp, async): bars, not lines */
    char label[64];
} axis;

static const cli_opt sweep_opts[] = {
    {"algos", "SPEC[,SPEC...]", "the runs, as for compare: allreduce:ring,ps:ssp:3,psgd:8 ..."},
    {"experiment", "FILE", "or the runs (and shared options) of an experiment file, as for compare"},
    {"vary", "KEY=V1,V2,...", "the setting to sweep: workers, bandwidth, latency, stragglers, consistency ..."},
    {"vary2", "KEY=V1,V2,...", "a second setting: one line per value"},
    {"frameworks", "F[,F...]", "instead of runs: dp steps of --workload W per framework (ddp, horovod, "
     "byteps, p3, tf-ps, ray-train, none), every other option going to dp"},
    {"out", "DIR", "where the runs and figures go (default runs/sweep)"},
    {"jobs", "N", "runs at once (default: the machine's cores; 1 with --backend real)"},
    {"target-accuracy", "F", "sweep.csv's seconds_to_target: the first evaluation at this test accuracy (default 0.8)"},
    {NULL, NULL, NULL},
};

/* The value as a number in the axis' unit: Gb/s, microseconds, or plain. */
static int to_number(axis *ax, int i)
{
    char err[256];
    double v;
    const char *s = ax->vals[i];
    if (strcmp(ax->key, "bandwidth") == 0) {
        if (units_rate(s, &v, err, sizeof err))
            goto bad;
        ax->x[i] = v * 8 / 1e9;
        snprintf(ax->label, sizeof ax->label, "link bandwidth (Gb/s)");
    } else if (strcmp(ax->key, "latency") == 0) {
        if (units_time(s, &v, err, sizeof err))
            goto bad;
        ax->x[i] = v * 1e6;
        snprintf(ax->label, sizeof ax->label, "latency (us)");
    } else if (strcmp(ax->key, "speed") == 0) {
        if (units_speed(s, &v, err, sizeof err))
            goto bad;
        ax->x[i] = v / 1e9;
        snprintf(ax->label, sizeof ax->label, "core speed (Gflop/s)");
    } else {
        if (units_double(s, &v, err, sizeof err))
            ax->categorical = 1; /* a name: every value is then a category */
        ax->x[i] = v;
        snprintf(ax->label, sizeof ax->label, "%s", ax->key);
    }
    return 0;
bad:
    fprintf(stderr, "distlab sweep: --vary %s: %s\n", ax->key, err);
    return -1;
}

/* --vary or --vary2 (name) KEY=V1,V2,... */
static int parse_axis(const char *name, const char *spec, axis *ax)
{
    memset(ax, 0, sizeof *ax);
    const char *eq = strchr(spec, '=');
    if (!eq || eq == spec || !eq[1]) {
        fprintf(stderr, "distlab sweep: --%s '%s': expected KEY=V1,V2,...\n", name, spec);
        return -1;
    }
    ax->key = strndup(spec, (size_t)(eq - spec));
    int known = 0;
    for (int i = 0; run_algo_at(i) && !known; i++)
        known = run_algo_accepts(run_algo_at(i), ax->key);
    if (!known) {
        fprintf(stderr, "distlab sweep: --%s: no algorithm takes an option '%s'\n", name, ax->key);
        return -1;
    }
    if (strcmp(ax->key, "out") == 0) {
        fprintf(stderr, "distlab sweep: --%s out: every point gets its own folder under "
                "--out already\n", name);
        return -1;
    }
    char opt[300], **item;
    snprintf(opt, sizeof opt, "%s %.200s", name, ax->key);
    int n = cli_split_list("sweep", opt, eq + 1, &item);
    if (n < 0)
        return -1;
    if (n > SWEEP_MAX_VALUES) {
        fprintf(stderr, "distlab sweep: --%s: at most %d values\n", opt, SWEEP_MAX_VALUES);
        free(item);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        ax->vals[ax->n] = strdup(item[i]);
        if (!ax->vals[ax->n] || to_number(ax, ax->n++) != 0) {
            free(item);
            return -1;
        }
    }
    free(item);
    /* each value is one folder KEY=VALUE: two that name one folder (or one
     * point: 4 and 4.0) would write over each other */
    for (int i = 0; i < ax->n; i++) {
        if (!(ax->folder[i] = strdup(ax->vals[i])))
            return -1;
        for (char *c = ax->folder[i]; *c; c++)
            if (*c == '/')
                *c = '-'; /* a file's path as one folder name, not nested ones */
        for (int k = 0; k < i; k++)
            if (strcmp(ax->folder[k], ax->folder[i]) == 0 || (!ax->categorical && ax->x[k] == ax->x[i])) {
                fprintf(stderr, "distlab sweep: --vary %s: '%s' and '%s' are the same value; "
                        "give each once\n", ax->key, ax->vals[k], ax->vals[i]);
                return -1;
            }
    }
    for (int i = 0; ax->categorical && i < ax->n; i++)
        ax->x[i] = i + 1;
    return 0;
}

static void free_axis(axis *ax)
{
    free((char *)ax->key);
    for (int i = 0; i < ax->n; i++) {
        free(ax->vals[i]);
        free(ax->folder[i]);
    }
}

/* What a sweep keeps of each finished point; NaN where unreadable. */
typedef struct sweep_point {
    double per_epoch;      /* seconds per epoch */
    double accuracy, loss; /* final test accuracy, final training loss */
    double to_target;      /* seconds to the first evaluation at --target-accuracy */
    double global_batch;   /* the run's global_batch (replicas x batch) */
} sweep_point;

static sweep_point read_point(const char *dir, double target)
{
    sweep_point p = {NAN, NAN, NAN, NAN, NAN};
    records_run r;
    char err[512], buf[1024];
    if (records_load(dir, RECORDS_LOAD_SUMMARY | RECORDS_LOAD_METRICS, &r, err, sizeof err) == 0) {
        const double *ep = records_run_column(&r, "epoch"), *t = records_run_column(&r, "time_s");
        const double *acc = records_run_column(&r, "test_accuracy");
        double last = ep && r.nrows ? ep[r.nrows - 1] : NAN;
        if (last > 0)
            p.per_epoch = r.seconds / last;
        p.accuracy = r.final_accuracy;
        p.loss = r.final_loss;
        for (size_t i = 0; acc && t && i < r.nrows && isnan(p.to_target); i++)
            if (acc[i] >= target)
                p.to_target = t[i];
        /* as the run counted it (model parallelism's partitions share one
         * batch); older records: workers x batch */
        const char *gb = records_run_field(&r, "global_batch", buf, sizeof buf);
        const char *ml = gb ? NULL : records_run_field(&r, "ml", buf, sizeof buf);
        const char *b = ml ? strstr(ml, "batch=") : NULL;
        if (gb)
            p.global_batch = atof(gb);
        else if (b && r.workers > 0)
            p.global_batch = (double)r.workers * atof(b + 6);
    } else {
        fprintf(stderr, "distlab sweep: %s\n", err);
    }
    records_run_free(&r);
    return p;
}

/* Final test error against the global batch, one line per run: the
 * figure of Goyal et al.'s large-minibatch result. With seeds > 1 (the
 * second setting is the seed) the seeds of a run are one line, their
 * mean, between thin dashed lines at the lowest and the highest. */
static int draw_final_error(const char *out, const sweep_point *pts, int nlines, int n, int seeds,
                            const plot_series *s, char *err, size_t errlen)
{
    int nruns = nlines / seeds, per = seeds > 1 ? 3 : 1;
    double *x = malloc(sizeof(double) * (size_t)(nruns * n)), *y = malloc(sizeof(double) * (size_t)(3 * nruns * n));
    plot_series lines[3 * EXP_MAX_RUNS * SWEEP_MAX_VALUES];
    int colour[3 * EXP_MAX_RUNS * SWEEP_MAX_VALUES];
    char names[EXP_MAX_RUNS * SWEEP_MAX_VALUES][160];
    int rc = -1;
    if (!x || !y) {
        snprintf(err, errlen, "out of memory");
        goto done;
    }
    for (int r = 0; r < nruns; r++) {
        double *mean = y + 3 * r * n, *lo = mean + n, *hi = lo + n;
        for (int i = 0; i < n; i++) {
            x[r * n + i] = pts[r * seeds * n + i].global_batch;
            mean[i] = 0;
            lo[i] = INFINITY;
            hi[i] = -INFINITY;
            for (int j = 0; j < seeds; j++) {
                double e = 100 * (1 - pts[(r * seeds + j) * n + i].accuracy);
                mean[i] += e / seeds;
                lo[i] = fmin(lo[i], e);
                hi[i] = fmax(hi[i], e);
            }
        }
        /* "scaled, seed=1" names the run's first seed: the run is "scaled" */
        const char *name = s[r * seeds].name, *cut = seeds > 1 ? strstr(name, ", seed=") : NULL;
        snprintf(names[r], sizeof names[r], "%.*s", cut ? (int)(cut - name) : (int)strlen(name), name);
        lines[per * r] = (plot_series){names[r], x + r * n, mean, (size_t)n, 1};
        colour[per * r] = r;
        for (int k = 1; k < per; k++) {
            lines[per * r + k] = (plot_series){NULL, x + r * n, k == 1 ? lo : hi, (size_t)n, 0};
            colour[per * r + k] = r;
        }
    }
    plot_lines_spec spec = {.opts = plot_opts_default(), .series = lines, .nseries = per * nruns,
                            .colour = colour};
    char title[80];
    snprintf(title, sizeof title, "Final test error (mean of %d seeds, range dashed)", seeds);
    spec.opts.title = seeds > 1 ? title : "Final test error against the global batch";
    spec.opts.x.label = "global batch (workers x batch, examples)";
    spec.opts.x.scale = PLOT_LOG2;
    spec.opts.y.label = "final test error (%)";
    char path[4200];
    snprintf(path, sizeof path, "%s/final_error.png", out);
    rc = plot_lines(path, &spec, err, errlen);
done:
    free(x);
    free(y);
    return rc;
}

int verb_sweep(int argc, char **argv)
{
    if (dp_figures_wanted(argc, argv))
        return dp_figures("sweep", argc, argv);
    static cli_opt table[2 * RUN_MAX_OPTS];
    experiment_known_opts(table, 2 * RUN_MAX_OPTS, sweep_opts);
    cli_args a;
    int code;
    if (cli_parse(argc, argv,
                  "sweep --algos SPEC,... --vary KEY=V1,V2,... [--vary2 KEY=...] [shared run options]\n\n"
                  "SPECs as for compare (allreduce:ring, ps:ssp:3, psgd:8 ...). KEY is any run\n"
                  "option: workers, bandwidth, latency, speed, stragglers, batch ...",
                  table, 1, &a, &code))
        return code;
    if (a.npos) {
        fprintf(stderr, "distlab sweep: unexpected argument '%s'\n", a.pos[0]);
        return 2;
    }
    static experiment e;
    experiment_init(&e);
    axis ax1 = {0}, ax2 = {0};
    double *t = NULL, target = NAN;
    sweep_point *pts = NULL;
    exp_task *tasks = NULL;
    int status = 2;
    const char *list = cli_get(&a, "algos"), *v1 = cli_get(&a, "vary"), *v2 = cli_get(&a, "vary2");
    const char *file = cli_get(&a, "experiment");
    if ((!list && !file) || !v1) {
        fprintf(stderr, "distlab sweep: give --algos SPEC,... (or --experiment FILE) and --vary KEY=V1,V2,...\n");
        goto done;
    }
    char found[4096];
    if (file && (!(file = cli_find_shared(file, "labs", ".exp", found, sizeof found)) ||
                 experiment_load(&e, "sweep", file) != 0))
        goto done;
    char **spec = NULL;
    int nspecs = list ? cli_split_list("sweep", "algos", list, &spec) : 0;
    if (nspecs < 0)
        goto done;
    for (int i = 0; i < nspecs; i++)
        if (experiment_add_run(&e, "sweep", spec[i], 0, NULL) != 0) {
            free(spec);
            goto done;
        }
    free(spec);
    if (e.nruns == 0) { /* an experiment file of options only: it went on to "cannot write sweep.csv", exit 1 */
        fprintf(stderr, "distlab sweep: experiment file '%s' holds no 'run SPEC' line, and no --algos was "
                "given: nothing to sweep\n", file);
        goto done;
    }
    if (parse_axis("vary", v1, &ax1) || (v2 && parse_axis("vary2", v2, &ax2)))
        goto done;
    if (!v2) {
        ax2.n = 1; /* one line per spec */
    }
    for (int i = 0; i < a.n; i++) {
        const char *k = a.key[i];
        if (strcmp(k, "algos") && strcmp(k, "vary") && strcmp(k, "vary2") && strcmp(k, "out") &&
            strcmp(k, "jobs") && strcmp(k, "experiment") && strcmp(k, "target-accuracy")) {
            if (strcmp(k, ax1.key) == 0 || (v2 && strcmp(k, ax2.key) == 0)) {
                fprintf(stderr, "distlab sweep: --%s is swept; do not also set it\n", k);
                goto done;
            }
            if (experiment_add_shared(&e, k, a.val[i]) != 0) {
                fprintf(stderr, "distlab sweep: at most %d shared options\n", EXP_MAX_OPTS);
                goto done;
            }
        }
    }
    target = 0.8;
    if (cli_get_double(&a, "sweep", "target-accuracy", &target))
        goto done;
    if (!(target > 0 && target <= 1)) {
        fprintf(stderr, "distlab sweep: --target-accuracy: a fraction in (0, 1], not %g (for 80%% write 0.8)\n",
                target);
        goto done;
    }
    const char *out = cli_get(&a, "out") ? cli_get(&a, "out") : "runs/sweep";
    if (cli_check_out("sweep", out) != 0)
        goto done;
    int nlines = e.nruns * ax2.n;
    int jobs, npoints = nlines * ax1.n;
    if (experiment_jobs(&a, &e, "sweep", &jobs))
        goto done;
    t = malloc((size_t)npoints * sizeof *t);
    pts = malloc((size_t)npoints * sizeof *pts);
    tasks = calloc((size_t)npoints, sizeof *tasks);
    if (!t || !pts || !tasks)
        goto done;
    status = 1;
    char path[4200], err[1024];
    snprintf(path, sizeof path, "%s/sweep.csv", out);
    /* point (r, j, i) is task (r * ax2.n + j) * ax1.n + i, as t's index */
    for (int r = 0; r < e.nruns; r++)
        for (int j = 0; j < ax2.n; j++)
            for (int i = 0; i < ax1.n; i++) {
                exp_task *k = &tasks[(r * ax2.n + j) * ax1.n + i];
                k->run = &e.runs[r];
                k->extra[0] = (exp_opt){(char *)ax1.key, ax1.vals[i]};
                k->extra[1] = (exp_opt){(char *)ax2.key, v2 ? ax2.vals[j] : NULL};
                k->nextra = v2 ? 2 : 1;
                if (v2)
                    snprintf(k->outdir, sizeof k->outdir, "%s/%s/%s=%s,%s=%s", out, e.runs[r].name, ax1.key,
                             ax1.folder[i], ax2.key, ax2.folder[j]);
                else
                    snprintf(k->outdir, sizeof k->outdir, "%s/%s/%s=%s", out, e.runs[r].name, ax1.key,
                             ax1.folder[i]);
            }
    int failed = experiment_run_all(&e, tasks, npoints, jobs, "sweep");
    if (failed != 0) {
        status = failed; /* 2 for bad input, as the run said */
        for (int p = 0; p < npoints; p++)
            if (tasks[p].status > 0) {
                fprintf(stderr, "distlab sweep: %s at %s=%s failed; stopping\n", tasks[p].run->label, ax1.key,
                        tasks[p].extra[0].val);
                break;
            }
        goto done;
    }
    for (int p = 0; p < npoints; p++) {
        pts[p] = read_point(tasks[p].outdir, target);
        t[p] = pts[p].per_epoch;
    }

    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "distlab sweep: cannot write %s\n", path);
        goto done;
    }
    fprintf(f, "run,%s,%s%sseconds_per_epoch,final_test_accuracy,final_train_loss,seconds_to_target,"
            "global_batch\n", ax1.key, v2 ? ax2.key : "", v2 ? "," : "");
    plot_series s[EXP_MAX_RUNS * SWEEP_MAX_VALUES];
    char names[EXP_MAX_RUNS * SWEEP_MAX_VALUES][160];
    for (int r = 0; r < e.nruns; r++)
        for (int j = 0; j < ax2.n; j++) {
            int line = r * ax2.n + j;
            for (int i = 0; i < ax1.n; i++) {
                const sweep_point *p = &pts[line * ax1.n + i];
                fprintf(f, "%s,%s,%s%s%.9g,%.6g,%.9g,%.9g,%.9g\n", e.runs[r].label, ax1.vals[i],
                        v2 ? ax2.vals[j] : "", v2 ? "," : "", p->per_epoch, p->accuracy, p->loss,
                        p->to_target, p->global_batch);
            }
            if (v2)
                snprintf(names[line], sizeof names[line], "%s, %s=%s", e.runs[r].label, ax2.key, ax2.vals[j]);
            else
                snprintf(names[line], sizeof names[line], "%s", e.runs[r].label);
            s[line] = (plot_series){names[line], ax1.x, t + line * ax1.n, (size_t)ax1.n, 1};
        }
    fclose(f);

    if (ax1.categorical) {
        /* named values: one group of bars per value, one bar per run */
        const char *bar_names[EXP_MAX_RUNS * SWEEP_MAX_VALUES];
        for (int l = 0; l < nlines; l++)
            bar_names[l] = names[l];
        plot_bars_spec bars = {.opts = plot_opts_default(), .ngroups = ax1.n,
                               .groups = (const char *const *)ax1.vals, .nseries = nlines,
                               .series = bar_names, .values = t};
        bars.opts.title = "Time per epoch";
        bars.opts.x.label = ax1.label;
        bars.opts.y.label = "time per epoch (s)";
        snprintf(path, sizeof path, "%s/time_per_epoch.png", out);
        if (plot_bars(path, &bars, err, sizeof err) != 0) {
            fprintf(stderr, "distlab sweep: %s\n", err);
            goto done;
        }
        printf("\ndistlab sweep: %d run%s; figures in %s/: time_per_epoch.png; numbers in %s/sweep.csv\n",
               nlines * ax1.n, nlines * ax1.n == 1 ? "" : "s", out, out);
        status = 0;
        goto done;
    }
    plot_lines_spec lines = {.opts = plot_opts_default(), .series = s, .nseries = nlines};
    lines.opts.title = "Time per epoch";
    lines.opts.x.label = ax1.label;
    lines.opts.y.label = "time per epoch (s)";
    int is_workers = strcmp(ax1.key, "workers") == 0;
    double lo = INFINITY, hi = 0;
    for (int i = 0; i < ax1.n; i++) {
        lo = fmin(lo, ax1.x[i]);
        hi = fmax(hi, ax1.x[i]);
    }
    if (is_workers) {
        lines.opts.x.scale = PLOT_LOG2;
        lines.opts.y.scale = PLOT_LOG10;
    } else if (lo > 0 && hi / lo >= 20) {
        lines.opts.x.scale = PLOT_LOG10; /* values a decade or more apart: 1, 10, 100 Gb/s */
    }
    snprintf(path, sizeof path, "%s/time_per_epoch.png", out);
    if (plot_lines(path, &lines, err, sizeof err) != 0) {
        fprintf(stderr, "distlab sweep: %s\n", err);
        goto done;
    }
    if (is_workers) {
        plot_scaling_spec sc = {.opts = plot_opts_default(), .series = s, .nseries = nlines};
        sc.opts.title = "Speedup (time per epoch, first point as baseline)";
        snprintf(path, sizeof path, "%s/speedup.png", out);
        if (plot_scaling(path, &sc, err, sizeof err) != 0) {
            fprintf(stderr, "distlab sweep: %s\n", err);
            goto done;
        }
    }
    int measured = 0; /* runs without a test accuracy (lda) have no error to draw */
    for (int i = 0; i < nlines * ax1.n; i++)
        measured |= isfinite(pts[i].accuracy);
    int by_batch = (is_workers || strcmp(ax1.key, "batch") == 0) && measured;
    int seeds = v2 && strcmp(ax2.key, "seed") == 0 ? ax2.n : 1;
    if (by_batch && draw_final_error(out, pts, nlines, ax1.n, seeds, s, err, sizeof err) != 0) {
        fprintf(stderr, "distlab sweep: %s\n", err);
        goto done;
    }
    printf("\ndistlab sweep: %d run%s; figures in %s/: time_per_epoch.png%s%s; numbers in %s/sweep.csv\n",
           nlines * ax1.n, nlines * ax1.n == 1 ? "" : "s", out, is_workers ? " speedup.png" : "",
           by_batch ? " final_error.png" : "", out);
    status = 0;
done:
    free(t);
    free(pts);
    free(tasks);
    free_axis(&ax1);
    if (v2)
        free_axis(&ax2);
    experiment_free(&e);
    return status;
}
