/* verb_compare.c -- `distlab compare`: several algorithms on the same
 * cluster, data, model and budget, and the figures that compare them.
 *
 * Each run goes through `distlab run` into OUT/NAME/; then the comparison
 * reads the run records back and draws
 *   accuracy.png   test accuracy against (simulated) time
 *   loss.png       training loss against time
 *   breakdown.png  time per epoch split into compute, communication and
 *                  waiting (core/analysis.h), one stacked bar per run
 *   bytes.png      bytes on the wire per epoch, per run
 * and writes compare.csv with the numbers behind them.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/experiment.h"
#include "cli/run.h"
#include "core/analysis.h"
#include "core/records.h"
#include "plots/plot.h"

typedef struct outcome {
    const exp_run *run;
    records_run rec;
    int loaded;
    double epochs, seconds, final_acc, best_acc, final_loss, bytes;
    double job_seconds; /* the span of events.csv, which the split divides */
    analysis_split split; /* mean over ranks, whole run */
    double time_to_target;
} outcome;

static const cli_opt compare_opts[] = {
    {"algos", "SPEC[,SPEC...]", "the runs, e.g. allreduce:ring,ps:bsp,ps:ssp:3,ps:async,psgd:8"},
    {"experiment", "FILE", "an experiment file (shared options and 'run SPEC' lines); a bare name "
                           "not found here is looked for in the installed labs/ (demo.exp)"},
    {"frameworks", "F[,F...]", "instead of runs: dp steps of --workload W per framework (ddp, horovod, "
     "byteps, p3, tf-ps, ray-train, none), every other option going to dp"},
    {"out", "DIR", "where every run's records and the figures go (default runs/compare)"},
    {"jobs", "N", "runs at once (default: the machine's cores; 1 with --backend real)"},
    {"target-accuracy", "X", "report the time to this test accuracy, in [0,1] (default: the "
                             "best accuracy every run reached)"},
    {NULL, NULL, NULL},
};

static double column_last(const records_run *r, const char *name)
{
    const double *c = records_run_column(r, name);
    for (size_t i = r->nrows; c && i > 0; i--)
        if (!isnan(c[i - 1]))
            return c[i - 1];
    return NAN;
}

static int load_outcome(outcome *o, const char *dir, char *err, size_t errlen)
{
    if (records_load(dir, RECORDS_LOAD_ALL, &o->rec, err, errlen) != 0)
        return -1;
    o->loaded = 1;
    o->epochs = column_last(&o->rec, "epoch");
    o->seconds = o->rec.seconds;
    char js[64];
    const char *job = records_run_field(&o->rec, "job_seconds", js, sizeof js);
    o->job_seconds = job ? atof(job) : o->seconds;
    o->final_acc = column_last(&o->rec, "test_accuracy");
    o->final_loss = column_last(&o->rec, "train_loss");
    o->bytes = (double)o->rec.bytes_sent;
    const double *acc = records_run_column(&o->rec, "test_accuracy");
    o->best_acc = 0;
    for (size_t i = 0; acc && i < o->rec.nrows; i++)
        if (acc[i] > o->best_acc)
            o->best_acc = acc[i];
    int ranks = 0;
    for (size_t i = 0; i < o->rec.nevents; i++)
        if (o->rec.events[i].rank + 1 > ranks)
            ranks = o->rec.events[i].rank + 1;
    analysis_split *per = calloc((size_t)(ranks ? ranks : 1), sizeof *per);
    if (!per || analysis_split_time(o->rec.events, o->rec.nevents, ranks, o->job_seconds, per, &o->split) != 0) {
        free(per);
        snprintf(err, errlen, "out of memory splitting the time of %.1000s", dir);
        return -1;
    }
    /* the split of the workers: a parameter server's server ranks (the
     * first `servers`) mostly wait for requests by design */
    char buf[64];
    const char *sv = records_run_field(&o->rec, "servers", buf, sizeof buf);
    int first = sv ? atoi(sv) : 0;
    if (first > 0 && first < ranks) {
        memset(&o->split, 0, sizeof o->split);
        for (int r = first; r < ranks; r++) {
            o->split.compute_s += per[r].compute_s / (ranks - first);
            o->split.comm_s += per[r].comm_s / (ranks - first);
            o->split.wait_s += per[r].wait_s / (ranks - first);
            o->split.other_s += per[r].other_s / (ranks - first);
        }
    }
    free(per);
    return 0;
}

static double time_to(const records_run *r, double target)
{
    const double *t = records_run_column(r, "time_s"), *a = records_run_column(r, "test_accuracy");
    for (size_t i = 0; t && a && i < r->nrows; i++)
        if (a[i] >= target)
            return t[i];
    return NAN;
}

/* Decimal bytes in the unit that keeps the number below 1000. */
static const char *bytes_unit(double bytes, double *scale)
{
    static const char *const names[] = {"B", "kB", "MB", "GB", "TB", "PB"};
    int i = 0;
    *scale = 1;
    while (i < 5 && bytes / *scale >= 999.5) {
        *scale *= 1000;
        i++;
    }
    return names[i];
}

static void fmt_bytes(double bytes, char *buf, size_t len)
{
    double scale;
    const char *unit = bytes_unit(bytes, &scale);
    snprintf(buf, len, "%.3g %s", bytes / scale, unit);
}

static int draw(const char *out, outcome *o, int n, const char *clock, int *drew_accuracy, char *err,
                size_t errlen)
{
    char path[4200];
    const char *names[EXP_MAX_RUNS];
    plot_series s[EXP_MAX_RUNS];
    double *pct[EXP_MAX_RUNS] = {0};
    for (int i = 0; i < n; i++) {
        names[i] = o[i].run->label;
        const double *a = records_run_column(&o[i].rec, "test_accuracy");
        pct[i] = malloc((o[i].rec.nrows + 1) * sizeof(double));
        for (size_t k = 0; pct[i] && a && k < o[i].rec.nrows; k++)
            pct[i][k] = 100 * a[k];
        s[i] = (plot_series){names[i], records_run_column(&o[i].rec, "time_s"), pct[i],
                             a ? o[i].rec.nrows : 0, 1};
    }
    char xlabel[64];
    snprintf(xlabel, sizeof xlabel, "%s time (s)", clock);
    plot_lines_spec lines = {.opts = plot_opts_default(), .series = s, .nseries = n};
    lines.opts.title = "Test accuracy";
    /* zoom on where the runs differ: from a little below the lowest
     * accuracy after the first evaluation (the untrained model's) */
    double low = 100;
    for (int i = 0; i < n; i++)
        for (size_t k = 1; pct[i] && k < s[i].n; k++)
            low = pct[i][k] < low ? pct[i][k] : low;
    if (low < 100)
        lines.opts.y.min = low > 10 ? 10 * floor((low - 5) / 10) : 0;
    lines.opts.x.label = xlabel;
    lines.opts.y.label = "test accuracy (%)";
    snprintf(path, sizeof path, "%s/accuracy.png", out);
    int measured = 0; /* runs without a test accuracy (lda) have no accuracy figure */
    for (int i = 0; i < n; i++)
        for (size_t k = 0; pct[i] && k < s[i].n; k++)
            measured |= isfinite(pct[i][k]);
    int rc = measured ? plot_lines(path, &lines, err, errlen) : 0;
    *drew_accuracy = measured;
    for (int i = 0; i < n; i++)
        free(pct[i]);
    if (rc)
        return rc;

    for (int i = 0; i < n; i++)
        s[i].y = records_run_column(&o[i].rec, "train_loss");
    lines.opts.title = "Training loss";
    lines.opts.y.label = "training loss";
    lines.opts.y.scale = PLOT_LOG10;
    lines.opts.y.min = NAN; /* the accuracy figure's zoom is no loss's: it hid every curve */
    snprintf(path, sizeof path, "%s/loss.png", out);
    if ((rc = plot_lines(path, &lines, err, errlen)))
        return rc;

    static const char *const parts[] = {"compute", "communication", "wait"};
    double values[3 * EXP_MAX_RUNS], bytes[EXP_MAX_RUNS], most = 0, scale;
    for (int i = 0; i < n; i++) {
        double ep = o[i].epochs > 0 ? o[i].epochs : 1;
        values[0 * n + i] = o[i].split.compute_s / ep;
        values[1 * n + i] = o[i].split.comm_s / ep;
        values[2 * n + i] = o[i].split.wait_s / ep;
        bytes[i] = o[i].bytes / ep;
        most = bytes[i] > most ? bytes[i] : most;
    }
    const char *unit = bytes_unit(most, &scale);
    for (int i = 0; i < n; i++)
        bytes[i] /= scale;
    char ylabel[64];
    snprintf(ylabel, sizeof ylabel, "%s time per epoch (s)", clock);
    plot_bars_spec bars = {.opts = plot_opts_default(), .ngroups = n, .groups = names,
                           .nseries = 3, .series = parts, .values = values, .stacked = 1};
    bars.opts.title = "Where an epoch's time goes (mean over workers)";
    bars.opts.width_in = n > 3 ? 1.2 + 1.0 * n : 0; /* room for every run's name */
    bars.opts.y.label = ylabel;
    snprintf(path, sizeof path, "%s/breakdown.png", out);
    if ((rc = plot_bars(path, &bars, err, errlen)))
        return rc;

    static const char *const sent[] = {"bytes sent"};
    plot_bars_spec b2 = {.opts = plot_opts_default(), .ngroups = n, .groups = names,
                         .nseries = 1, .series = sent, .values = bytes, .value_format = "%.3g"};
    b2.opts.title = "Bytes on the wire per epoch (all ranks)";
    b2.opts.width_in = bars.opts.width_in;
    char blabel[64];
    snprintf(blabel, sizeof blabel, "data sent per epoch (%s)", unit);
    b2.opts.y.label = blabel;
    snprintf(path, sizeof path, "%s/bytes.png", out);
    return plot_bars(path, &b2, err, errlen);
}

static int write_csv(const char *out, outcome *o, int n, double target)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/compare.csv", out);
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fprintf(f, "run,algo,epochs,seconds,final_test_accuracy,final_train_loss,"
               "compute_s_per_epoch,comm_s_per_epoch,wait_s_per_epoch,bytes_per_epoch,"
               "target_accuracy,time_to_target_s\n");
    for (int i = 0; i < n; i++) {
        double ep = o[i].epochs > 0 ? o[i].epochs : 1;
        fprintf(f, "%s,%s,%g,%.9g,%.6g,%.6g,%.9g,%.9g,%.9g,%.0f,%.6g,%.9g\n", o[i].run->label,
                o[i].run->algo, o[i].epochs, o[i].seconds, o[i].final_acc, o[i].final_loss,
                o[i].split.compute_s / ep, o[i].split.comm_s / ep, o[i].split.wait_s / ep,
                o[i].bytes / ep, target, o[i].time_to_target);
    }
    return fclose(f);
}

/* Three lines a person can read: who was fastest to the target, who
 * talked most, who waited most. */
static void tell(outcome *o, int n, double target, const char *clock)
{
    int fast = -1, slow = -1, talk = 0, quiet = 0, waits = 0;
    for (int i = 0; i < n; i++) {
        if (!isnan(o[i].time_to_target)) {
            if (fast < 0 || o[i].time_to_target < o[fast].time_to_target)
                fast = i;
            if (slow < 0 || o[i].time_to_target > o[slow].time_to_target)
                slow = i;
        }
        double ep_i = o[i].epochs > 0 ? o[i].epochs : 1;
        if (o[i].bytes / ep_i > o[talk].bytes / (o[talk].epochs > 0 ? o[talk].epochs : 1))
            talk = i;
        if (o[i].bytes / ep_i < o[quiet].bytes / (o[quiet].epochs > 0 ? o[quiet].epochs : 1))
            quiet = i;
        double wi = o[i].split.wait_s / (o[i].job_seconds > 0 ? o[i].job_seconds : 1);
        double ww = o[waits].split.wait_s / (o[waits].job_seconds > 0 ? o[waits].job_seconds : 1);
        if (wi > ww)
            waits = i;
    }
    /* (a tie names no run: "fastest: allreduce; slowest: allreduce" would
     * read as one run, when the two are allreduce and allreduce_2) */
    if (fast >= 0 && o[slow].time_to_target > o[fast].time_to_target)
        printf("  - fastest to %.6g%% test accuracy: %s, %.3g s %s; slowest: %s, %.3g s (%.1fx)\n",
               100 * target, o[fast].run->label, o[fast].time_to_target, clock, o[slow].run->label,
               o[slow].time_to_target, o[slow].time_to_target / o[fast].time_to_target);
    else if (fast >= 0)
        printf("  - fastest to %.6g%% test accuracy: a tie, %.3g s %s\n", 100 * target, o[fast].time_to_target,
               clock);
    double ept = o[talk].epochs > 0 ? o[talk].epochs : 1, epq = o[quiet].epochs > 0 ? o[quiet].epochs : 1;
    char most[32], least[32];
    fmt_bytes(o[talk].bytes / ept, most, sizeof most);
    fmt_bytes(o[quiet].bytes / epq, least, sizeof least);
    if (strcmp(most, least) != 0)
        printf("  - most data on the wire: %s, %s per epoch; least: %s, %s per epoch\n",
               o[talk].run->label, most, o[quiet].run->label, least);
    else
        printf("  - data on the wire: %s per epoch in every run\n", most);
    double span = o[waits].job_seconds > 0 ? o[waits].job_seconds : 1;
    printf("  - most time waiting for others: %s, %.0f%% of its workers' time (compute %.0f%%, "
           "communication %.0f%%)\n", o[waits].run->label, 100 * o[waits].split.wait_s / span,
           100 * o[waits].split.compute_s / span, 100 * o[waits].split.comm_s / span);
}

int verb_compare(int argc, char **argv)
{
    if (dp_figures_wanted(argc, argv))
        return dp_figures("compare", argc, argv);
    static cli_opt table[2 * RUN_MAX_OPTS];
    experiment_known_opts(table, 2 * RUN_MAX_OPTS, compare_opts);
    cli_args a;
    int code;
    if (cli_parse(argc, argv,
                  "compare --algos SPEC,SPEC... | --experiment FILE [shared run options]\n\n"
                  "A SPEC names a run: serial; allreduce[:ring|tree|rd|rabenseifner];\n"
                  "ps[:bsp|async|ssp[:S]]; psgd[:H|end]; hogwild[:none|lock|round-robin];\n"
                  "distbelief[:model-parallel|downpour|sandblaster]; allreduce-lbfgs[:PASSES];\n"
                  "ray-ps[:sync|async]\n"
                  "(--warmstart). An experiment file holds shared options, one per line\n"
                  "('workers 16'), and 'run SPEC [--opt v]...' lines; see labs/demo.exp.\n"
                  "Every other option goes to each run that takes it.",
                  table, 1, &a, &code))
        return code;
    if (a.npos) {
        fprintf(stderr, "distlab compare: unexpected argument '%s'\n", a.pos[0]);
        return 2;
    }
    static experiment e;
    experiment_init(&e);
    int status = 2;
    outcome *o = NULL;
    exp_task *tasks = NULL;
    char found[4096];
    const char *file = cli_get(&a, "experiment"), *list = cli_get(&a, "algos");
    if (file) /* "demo.exp": the one an installed distlab keeps in SHARE/labs */
        file = cli_find_shared(file, "labs", ".exp", found, sizeof found);
    if (file && experiment_load(&e, "compare", file) != 0)
        goto done;
    if (list) {
        char **spec;
        int nspecs = cli_split_list("compare", "algos", list, &spec);
        if (nspecs < 0)
            goto done;
        for (int i = 0; i < nspecs; i++)
            if (experiment_add_run(&e, "compare", spec[i], 0, NULL) != 0) {
                free(spec);
                goto done;
            }
        free(spec);
    }
    if (e.nruns == 0 && file) {
        fprintf(stderr, "distlab compare: experiment file '%s' holds no 'run SPEC' line, and no --algos was "
                "given: nothing to compare\n", file);
        goto done;
    }
    if (e.nruns == 0) {
        fprintf(stderr, "distlab compare: no runs: give --algos SPEC,SPEC... or --experiment FILE\n");
        goto done;
    }
    /* command-line options come after the file's, so they win */
    for (int i = 0; i < a.n; i++) {
        const char *k = a.key[i];
        if (strcmp(k, "algos") && strcmp(k, "experiment") && strcmp(k, "out") &&
            strcmp(k, "target-accuracy") && strcmp(k, "jobs"))
            if (experiment_add_shared(&e, k, a.val[i]) != 0) {
                fprintf(stderr, "distlab compare: at most %d shared options\n", EXP_MAX_OPTS);
                goto done;
            }
    }
    double target = NAN;
    if (cli_get_double(&a, "compare", "target-accuracy", &target))
        goto done;
    if (!isnan(target) && !(target > 0 && target <= 1)) {
        fprintf(stderr, "distlab compare: --target-accuracy: a fraction in (0, 1], not %g "
                "(for 80%% write 0.8)\n", target);
        goto done;
    }
    const char *out = cli_get(&a, "out") ? cli_get(&a, "out") : "runs/compare";
    if (cli_check_out("compare", out) != 0)
        goto done;

    int jobs;
    if (experiment_jobs(&a, &e, "compare", &jobs))
        goto done;
    o = calloc((size_t)e.nruns, sizeof *o);
    tasks = calloc((size_t)e.nruns, sizeof *tasks);
    if (!o || !tasks)
        goto done;
    status = 1;
    char err[2048];
    for (int i = 0; i < e.nruns; i++) {
        tasks[i].run = &e.runs[i];
        snprintf(tasks[i].outdir, sizeof tasks[i].outdir, "%s/%s", out, e.runs[i].name);
    }
    if ((status = experiment_run_all(&e, tasks, e.nruns, jobs, "compare")) != 0) {
        for (int i = 0; i < e.nruns; i++)
            if (tasks[i].status > 0) {
                fprintf(stderr, "distlab compare: run %s failed; stopping\n", e.runs[i].label);
                break;
            }
        goto done;
    }
    status = 1;
    for (int i = 0; i < e.nruns; i++) {
        o[i].run = &e.runs[i];
        if (load_outcome(&o[i], tasks[i].outdir, err, sizeof err) != 0) {
            fprintf(stderr, "distlab compare: %s\n", err);
            goto done;
        }
    }
    if (isnan(target)) {
        target = 1;
        for (int i = 0; i < e.nruns; i++)
            target = o[i].best_acc < target ? o[i].best_acc : target;
    }
    for (int i = 0; i < e.nruns; i++)
        o[i].time_to_target = time_to(&o[i].rec, target);
    const char *clock = o[0].rec.backend && strcmp(o[0].rec.backend, "real") == 0 ? "wall" : "simulated";
    int drew_accuracy = 0;
    if (draw(out, o, e.nruns, clock, &drew_accuracy, err, sizeof err) != 0) {
        fprintf(stderr, "distlab compare: drawing the figures: %s\n", err);
        goto done;
    }
    if (write_csv(out, o, e.nruns, target) != 0) {
        fprintf(stderr, "distlab compare: cannot write %s/compare.csv\n", out);
        goto done;
    }
    printf("\ndistlab compare: %d run%s; figures in %s/: %sloss.png breakdown.png bytes.png; "
           "numbers in %s/compare.csv\n", e.nruns, e.nruns == 1 ? "" : "s", out,
           drew_accuracy ? "accuracy.png " : "", out);
    tell(o, e.nruns, target, clock);
    status = 0;
done:
    for (int i = 0; o && i < e.nruns; i++)
        if (o[i].loaded)
            records_run_free(&o[i].rec);
    free(o);
    free(tasks);
    experiment_free(&e);
    return status;
}
