/* figures.c -- from run folders to figures: the glue between the run
 * records (core/records.h) and the charts (plots/plot.h).
 *
 * This is where a metrics column becomes an axis label with its unit, a
 * summary becomes a legend entry, and a run folder becomes its default
 * figures, so the verbs in cli/ stay a page of option handling each.
 */
#include "plots/figures.h"

#include <jansson.h>
#include <libgen.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/records.h"
#include "core/records_internal.h"
#include "plots/plot.h"

#define LABEL_LEN 160
#define MAX_DIFFERING 3

/* Short names the command line accepts for metrics columns. */
static const char *column_of(const char *name)
{
    static const struct { const char *alias, *column; } aliases[] = {
        {"time", "time_s"}, {"loss", "train_loss"}, {"accuracy", "test_accuracy"},
    };
    for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
        if (strcmp(name, aliases[i].alias) == 0)
            return aliases[i].column;
    return name;
}

/* An axis label, with its unit, for a metrics column. */
static const char *label_of(const char *column, const char *time_label)
{
    static const struct { const char *column, *label; } labels[] = {
        {"epoch", "epoch"}, {"step", "step"}, {"train_loss", "training loss"},
        {"test_loss", "test loss"}, {"test_accuracy", "test accuracy (fraction)"},
    };
    if (strcmp(column, "time_s") == 0)
        return time_label;
    for (size_t i = 0; i < sizeof labels / sizeof labels[0]; i++)
        if (strcmp(column, labels[i].column) == 0)
            return labels[i].label;
    return column;
}

static const char *time_label(const records_run *runs, int n)
{
    int sim = 0, real = 0;
    for (int i = 0; i < n; i++) {
        sim += runs[i].backend && strcmp(runs[i].backend, "sim") == 0;
        real += runs[i].backend && strcmp(runs[i].backend, "real") == 0;
    }
    return sim == n ? "simulated time (s)" : real == n ? "wall time (s)" : "time (s)";
}

static int same_label(char (*labels)[LABEL_LEN], int n)
{
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++)
            if (strcmp(labels[i], labels[j]) == 0)
                return 1;
    return 0;
}

/* Settings that say where a run's output went, not what it did. */
static int incidental(const char *key)
{
    static const char *const keys[] = {"out", "quiet", "no-figures", "no-events", "timeout", "listen",
                                       "checkpoint-every", "resume"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (strcmp(key, keys[i]) == 0)
            return 1;
    return 0;
}

/* Add key to differ[] (at most MAX_DIFFERING) when runs a and b disagree
 * on it. */
static void note_difference(const records_run *a, const records_run *b, const char *key,
                            const char **differ, int *nd)
{
    char va[128], vb[128];
    if (*nd == MAX_DIFFERING || incidental(key))
        return;
    for (int d = 0; d < *nd; d++)
        if (strcmp(differ[d], key) == 0)
            return;
    const char *x = records_run_field(a, key, va, sizeof va), *y = records_run_field(b, key, vb, sizeof vb);
    if (!x || !y || strcmp(x, y) != 0)
        differ[(*nd)++] = key;
}

/* Legend labels from the summaries; a run that would share its label
 * with another gets the settings that tell the two apart ("lr=0.1"), or
 * else its folder name. */
static void run_labels(const records_run *runs, int n, char (*labels)[LABEL_LEN])
{
    for (int i = 0; i < n; i++)
        records_run_label(&runs[i], labels[i], LABEL_LEN);
    if (!same_label(labels, n))
        return;
    /* Settings are compared against the base labels, so work on copies. */
    char (*orig)[LABEL_LEN] = malloc((size_t)n * sizeof *orig);
    if (!orig)
        return;
    memcpy(orig, labels, (size_t)n * sizeof *orig);
    for (int i = 0; i < n; i++) {
        const char *differ[MAX_DIFFERING];
        int nd = 0;
        for (int j = 0; j < n; j++) {
            if (j == i || strcmp(orig[i], orig[j]) != 0)
                continue;
            const char *key;
            json_t *v;
            json_object_foreach(json_object_get(runs[i].summary, "settings"), key, v)
                note_difference(&runs[i], &runs[j], key, differ, &nd);
            json_object_foreach(json_object_get(runs[j].summary, "settings"), key, v)
                note_difference(&runs[i], &runs[j], key, differ, &nd);
        }
        for (int d = 0; d < nd; d++) {
            char v[128];
            const char *val = records_run_field(&runs[i], differ[d], v, sizeof v);
            size_t len = strlen(labels[i]);
            snprintf(labels[i] + len, LABEL_LEN - len, "%s%s=%s", d ? " " : ", ", differ[d], val ? val : "default");
        }
    }
    free(orig);
    if (!same_label(labels, n))
        return;
    for (int i = 0; i < n; i++) {
        char dir[256];
        snprintf(dir, sizeof dir, "%s", runs[i].dir);
        size_t len = strlen(labels[i]);
        snprintf(labels[i] + len, LABEL_LEN - len, " [%s]", basename(dir));
    }
}

int figures_parse_size(const char *s, figures_style *style, char *err, size_t errlen)
{
    double w, h;
    char tail;
    if (sscanf(s, "%lfx%lf%c", &w, &h, &tail) != 2 || !(w >= 1 && w <= 40 && h >= 1 && h <= 40)) {
        snprintf(err, errlen, "'%s' is not a figure size: expected WIDTHxHEIGHT in inches, "
                              "each 1 to 40 (e.g. 3.5x2.4)", s);
        return -1;
    }
    style->width_in = w;
    style->height_in = h;
    return 0;
}

static void apply_style(plot_opts *o, const figures_style *style)
{
    if (!style)
        return;
    if (style->title)
        o->title = style->title;
    o->width_in = style->width_in;
    o->height_in = style->height_in;
}

/* A run's metrics columns, comma-separated into buf; only those with a
 * finite value when with_values. */
static void list_columns(const records_run *r, int with_values, char *buf, size_t len)
{
    buf[0] = '\0';
    for (int c = 0; c < r->ncols; c++) {
        size_t i = 0;
        while (with_values && i < r->nrows && !isfinite(r->cols[c][i]))
            i++;
        if (with_values && i == r->nrows)
            continue;
        size_t at = strlen(buf);
        snprintf(buf + at, len - at, "%s%s", at ? ", " : "", r->col_names[c]);
    }
}

/* Whether any row has both values finite. */
static int has_point(const double *xs, const double *ys, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (isfinite(xs[i]) && isfinite(ys[i]))
            return 1;
    return 0;
}

int figures_runs(const char *out, const char *const *dirs, int ndirs, const char *x, const char *y,
                 int log_y, const figures_style *style, char *err, size_t errlen)
{
    int rc = -1;
    records_run *runs = calloc((size_t)ndirs + 1, sizeof *runs);
    plot_series *series = calloc((size_t)ndirs + 1, sizeof *series);
    char (*labels)[LABEL_LEN] = calloc((size_t)ndirs + 1, sizeof *labels);
    if (!runs || !series || !labels) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    if (ndirs < 1) {
        snprintf(err, errlen, "no run folders given");
        goto fail;
    }
    const char *xc = column_of(x), *yc = column_of(y);
    for (int i = 0; i < ndirs; i++) {
        rc = FIGURES_BAD_RUN;
        if (records_load(dirs[i], RECORDS_LOAD_SUMMARY | RECORDS_LOAD_METRICS, &runs[i], err, errlen))
            goto fail;
        const double *xs = records_run_column(&runs[i], xc), *ys = records_run_column(&runs[i], yc);
        if (!xs || !ys) {
            char cols[512];
            list_columns(&runs[i], 0, cols, sizeof cols);
            snprintf(err, errlen, "%s/metrics.csv has no column '%s' (its columns: %s)", dirs[i], xs ? yc : xc,
                     cols);
            goto fail;
        }
        rc = -1;
        series[i] = (plot_series){labels[i], xs, ys, runs[i].nrows, 0};
    }
    /* A run that trains nothing (dp times a workload's steps) has no
     * loss: say what it does have rather than draw an empty frame. */
    int any = 0, any_y = 0;
    for (int i = 0; i < ndirs && !any; i++) {
        any = has_point(series[i].x, series[i].y, series[i].n);
        any_y |= has_point(series[i].y, series[i].y, series[i].n);
    }
    if (!any) {
        char cols[512];
        list_columns(&runs[0], 1, cols, sizeof cols);
        int dp = runs[0].algo && strcmp(runs[0].algo, "dp") == 0;
        snprintf(err, errlen, "nothing to plot: no run has a value in metrics.csv's %s column (--%s %s); "
                 "%s has values only in %s%s%s%s", any_y ? xc : yc, any_y ? "x" : "y", any_y ? x : y, dirs[0],
                 cols[0] ? cols : "no column",
                 dp ? " (a dp run times a workload's steps and trains no model: its step_seconds and "
                      "scaling_efficiency are in summary.json, and distlab timeline " : "",
                 dp ? dirs[0] : "", dp ? " -o FILE draws its steps)" : "");
        rc = FIGURES_BAD_RUN;
        goto fail;
    }
    run_labels(runs, ndirs, labels);
    plot_lines_spec spec = {.opts = plot_opts_default(), .series = series, .nseries = ndirs};
    apply_style(&spec.opts, style);
    spec.opts.x.label = label_of(xc, time_label(runs, ndirs));
    spec.opts.y.label = label_of(yc, time_label(runs, ndirs));
    spec.opts.y.scale = log_y ? PLOT_LOG10 : PLOT_LINEAR;
    if (strcmp(xc, "time_s") == 0 || strcmp(xc, "epoch") == 0 || strcmp(xc, "step") == 0)
        spec.opts.x.min = 0;
    rc = plot_lines(out, &spec, err, errlen);
fail:
    for (int i = 0; runs && i < ndirs; i++)
        records_run_free(&runs[i]);
    free(runs);
    free(series);
    free(labels);
    return rc;
}

int figures_timeline(const char *out, const char *dir, double from_s, double to_s,
                     const figures_style *style, char *err, size_t errlen)
{
    records_run run;
    char label[LABEL_LEN];
    int rc = FIGURES_BAD_RUN;
    if (records_load(dir, RECORDS_LOAD_SUMMARY | RECORDS_LOAD_EVENTS, &run, err, errlen))
        goto fail;
    records_run_label(&run, label, sizeof label);
    plot_timeline_spec spec = {.opts = plot_opts_default(), .events = run.events, .nevents = run.nevents,
                               .span_names = run.span_names, .nspan_names = run.nspan_names};
    spec.opts.title = label;
    apply_style(&spec.opts, style);
    spec.opts.x.min = from_s;
    spec.opts.x.max = to_s;
    rc = plot_timeline(out, &spec, err, errlen);
fail:
    records_run_free(&run);
    return rc;
}

int figures_trace(const char *out, const char *dir, char *err, size_t errlen)
{
    records_run run;
    int rc = FIGURES_BAD_RUN;
    /* the summary names the spans; a folder of events alone still traces */
    char *summary = records_path(dir, RECORDS_SUMMARY_FILE);
    unsigned what = RECORDS_LOAD_EVENTS | (summary && access(summary, F_OK) == 0 ? RECORDS_LOAD_SUMMARY : 0);
    free(summary);
    if (records_load(dir, what, &run, err, errlen) == 0)
        rc = records_write_trace_named(out, run.events, run.nevents, run.span_names, run.nspan_names,
                                       err, errlen);
    records_run_free(&run);
    return rc;
}

int figures_default(const char *outdir, char *err, size_t errlen)
{
    records_run run;
    int rc = -1;
    char label[LABEL_LEN], *path = NULL;
    if (records_load(outdir, RECORDS_LOAD_SUMMARY | RECORDS_LOAD_METRICS, &run, err, errlen))
        goto fail;
    records_run_label(&run, label, sizeof label);
    size_t plen = strlen(outdir) + 32;
    if (!(path = malloc(plen))) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }

    /* ---- loss.png: training (and test) loss against time ---- */
    const double *t = records_run_column(&run, "time_s");
    const double *train = records_run_column(&run, "train_loss"), *test = records_run_column(&run, "test_loss");
    int have_train = 0, have_test = 0;
    for (size_t i = 0; i < run.nrows; i++) {
        have_train |= isfinite(train[i]) && isfinite(t[i]);
        have_test |= isfinite(test[i]) && isfinite(t[i]);
    }
    if (have_train || have_test) {
        plot_series s[2];
        int ns = 0;
        if (have_train)
            s[ns++] = (plot_series){"training", t, train, run.nrows, 0};
        if (have_test)
            s[ns++] = (plot_series){"test", t, test, run.nrows, 0};
        plot_lines_spec spec = {.opts = plot_opts_default(), .series = s, .nseries = ns};
        spec.opts.title = label;
        spec.opts.x.label = time_label(&run, 1);
        spec.opts.y.label = "loss";
        spec.opts.x.min = 0;
        snprintf(path, plen, "%s/loss.png", outdir);
        if (plot_lines(path, &spec, err, errlen))
            goto fail;
    }

    /* ---- timeline.png: when the run recorded its events ---- */
    struct stat st;
    snprintf(path, plen, "%s/%s", outdir, RECORDS_EVENTS_FILE);
    if (stat(path, &st) == 0 && st.st_size > (off_t)sizeof RECORDS_EVENTS_HEADER) { /* not just a header */
        snprintf(path, plen, "%s/timeline.png", outdir);
        if (figures_timeline(path, outdir, NAN, NAN, NULL, err, errlen))
            goto fail;
    }
    rc = 0;
fail:
    free(path);
    records_run_free(&run);
    return rc;
}
