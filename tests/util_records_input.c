/* util_records_input.c -- see util_records_input.h. */
#include "tests/util_records_input.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/records.h"
#include "plots/figures.h"
#include "plots/plot.h"
#include "plots/plot_internal.h"

static const char *const part_files[3] = {RECORDS_SUMMARY_FILE, RECORDS_METRICS_FILE, RECORDS_EVENTS_FILE};

static int write_part(const char *dir, const char *file, const unsigned char *p, size_t n)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    int ok = fwrite(p, 1, n, f) == n;
    return fclose(f) == 0 && ok ? 0 : -1;
}

static void remove_parts(const char *dir)
{
    static const char *const made[] = {RECORDS_SUMMARY_FILE, RECORDS_METRICS_FILE, RECORDS_EVENTS_FILE,
                                       "trace.json", "plot.png", "timeline.png", NULL};
    char path[4200];
    for (int i = 0; made[i]; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, made[i]);
        unlink(path);
    }
}

/* Ticks and labels for the range of one column, on every scale. */
static void tick_column(const double *v, size_t n)
{
    double lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < n; i++)
        if (!isnan(v[i])) {
            lo = fmin(lo, v[i]);
            hi = fmax(hi, v[i]);
        }
    for (int s = PLOT_LINEAR; s <= PLOT_LOG2; s++) {
        plot_ticks t;
        char label[128];
        if (plot_ticks_choose(lo, hi, (plot_scale)s, 6, &t) == 0)
            for (int k = 0; k < t.n; k++)
                plot_tick_label(t.v[k], &t, (plot_scale)s, label, sizeof label);
    }
}

static int check_events(const char *dir, const records_run *run, int draw, char *why, size_t whylen)
{
    char path[4200], err[1024] = "";
    for (size_t i = 0; i < run->nevents; i++)
        if (!isfinite(run->events[i].start_s) || !isfinite(run->events[i].end_s)) {
            snprintf(why, whylen, "event %zu loaded with a time that is not finite", i);
            return -1;
        }
    snprintf(path, sizeof path, "%s/trace.json", dir);
    if (records_write_trace(path, run->events, run->nevents, err, sizeof err) == 0) {
        json_error_t je;
        json_t *doc = json_load_file(path, 0, &je);
        if (!doc) {
            snprintf(why, whylen, "the trace of loaded events does not parse: line %d: %s", je.line, je.text);
            return -1;
        }
        json_decref(doc);
    } else if (!err[0]) {
        snprintf(why, whylen, "the trace writer failed without a message");
        return -1;
    }
    if (draw) {
        snprintf(path, sizeof path, "%s/timeline.png", dir);
        err[0] = '\0';
        if (figures_timeline(path, dir, NAN, NAN, NULL, err, sizeof err) != 0 && !err[0]) {
            snprintf(why, whylen, "the timeline failed without a message");
            return -1;
        }
    }
    return 0;
}

static int check_metrics(const char *dir, const records_run *run, int draw, char *why, size_t whylen)
{
    for (int c = 0; c < run->ncols; c++) {
        for (size_t r = 0; r < run->nrows; r++)
            if (isinf(run->cols[c][r])) {
                snprintf(why, whylen, "metrics column %s loaded an infinity", run->col_names[c]);
                return -1;
            }
        tick_column(run->cols[c], run->nrows);
    }
    if (draw) {
        char path[4200], err[1024] = "";
        const char *dirs[1] = {dir};
        snprintf(path, sizeof path, "%s/plot.png", dir);
        if (figures_runs(path, dirs, 1, "time", "loss", 1, NULL, err, sizeof err) != 0 && !err[0]) {
            snprintf(why, whylen, "the plot failed without a message");
            return -1;
        }
    }
    return 0;
}

int records_input_run(const char *dir, const unsigned char *data, size_t size, int draw, char *why,
                      size_t whylen)
{
    /* ---- the parts, into files ---- */
    remove_parts(dir);
    const unsigned char *p = data, *end = data + size;
    for (int part = 0; part < 3 && p <= end; part++) {
        const unsigned char *sep = NULL;
        for (const unsigned char *q = p; q + 3 <= end && !sep; q++)
            if (q[0] == '@' && q[1] == '@' && q[2] == '\n' && (q == data || q[-1] == '\n'))
                sep = q;
        size_t n = (size_t)((sep ? sep : end) - p);
        if (write_part(dir, part_files[part], p, n) != 0) {
            snprintf(why, whylen, "cannot write %s/%s", dir, part_files[part]);
            return -1;
        }
        if (!sep)
            break;
        p = sep + 3;
    }

    /* ---- each reader alone, then what draws from it ---- */
    static const unsigned what[3] = {RECORDS_LOAD_SUMMARY, RECORDS_LOAD_METRICS, RECORDS_LOAD_EVENTS};
    int rc = 0;
    for (int k = 0; k < 3 && rc == 0; k++) {
        records_run run;
        char err[1024] = "";
        if (records_load(dir, what[k], &run, err, sizeof err) != 0) {
            if (!err[0]) {
                snprintf(why, whylen, "%s refused without a message", part_files[k]);
                rc = -1;
            }
        } else if (k == 0 && ((!isnan(run.seconds) && !isfinite(run.seconds)) || run.workers < 1)) {
            snprintf(why, whylen, "summary.json loaded seconds %g, workers %d", run.seconds, run.workers);
            rc = -1;
        } else if (k == 1) {
            rc = check_metrics(dir, &run, draw, why, whylen);
        } else if (k == 2) {
            rc = check_events(dir, &run, draw, why, whylen);
        }
        records_run_free(&run);
    }
    return rc;
}
