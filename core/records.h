/* records.h -- the run records every run writes to its --out folder, and
 * the readers that load them back for figures and comparisons.
 *
 * One module for every algorithm and both backends, so that `distlab plot`
 * can overlay any two runs and a student can open any run folder in a
 * spreadsheet. A run folder holds:
 *
 *   metrics.csv    one row per evaluation point, header row first:
 *                  time_s,epoch,step,train_loss,test_loss,test_accuracy
 *                  then the run's extra columns (e.g. staleness_steps).
 *                  A value that was not measured is an empty field.
 *   events.csv     rank,kind,start_s,end_s,bytes,peer,tag: what the runtime
 *                  recorded (algorithms/runtime.h, rt_event). A row of
 *                  kind span (rt_span) is the algorithm's own work; its
 *                  tag indexes summary.json's span_names.
 *   summary.json   algo, backend, workers, settings {name: value},
 *                  final_loss, final_accuracy, seconds, bytes_sent,
 *                  messages, span_names (when the run has spans), and
 *                  any extra fields.
 *
 * Writing:
 *   records *rec = records_open("out/run1", err, sizeof err);
 *   records_set_str(rec, "algo", "allreduce");
 *   records_set_str(rec, "backend", "sim");
 *   records_set_int(rec, "workers", 8);
 *   records_set_setting(rec, "lr", "0.1");              (each CLI setting)
 *   records_metric m = records_metric_empty();          (NaN = not measured)
 *   m.time_s = 1.5; m.epoch = 1; m.step = 100; m.train_loss = 0.7;
 *   records_add_metric(rec, &m, NULL, err, sizeof err);
 *   records_add_job(rec, &cfg, &res, err, sizeof err);   (events, seconds,
 *                                                         bytes, messages)
 *   records_close(rec, err, sizeof err);                 (writes summary)
 *
 * The figures drawn from a closed run folder are plots/'s
 * (plots/figures.h: figures_default and the rest); this layer only writes
 * and reads the records.
 *
 * Errors: every call that can fail returns 0 or -1 and, where it takes
 * one, fills the caller's err buffer with what went wrong and where
 * ("out/run1/metrics.csv:7: field 2 (step) is 'x', not a number").
 * Nothing here prints or exits.
 */
#ifndef DISTLAB_RECORDS_H
#define DISTLAB_RECORDS_H

#include <stddef.h>
#include <stdint.h>

#include "algorithms/runtime.h"
#include "core/job.h"

/* FNV-1a, 64 bits: the hash a run folder gives its model
 * (summary.json's model_fnv1a64), and what checks compare models by.
 * fnv1a64_add folds more bytes into a hash begun at FNV1A64_INIT. */
#define FNV1A64_INIT 0xcbf29ce484222325ull
uint64_t fnv1a64_add(uint64_t h, const void *data, size_t n);
static inline uint64_t fnv1a64(const void *data, size_t n)
{
    return fnv1a64_add(FNV1A64_INIT, data, n);
}

#define RECORDS_METRICS_FILE "metrics.csv"
#define RECORDS_EVENTS_FILE "events.csv"
#define RECORDS_SUMMARY_FILE "summary.json"

/* ---- writing ---- */

typedef struct records records;

/* One evaluation point. NaN (or -1 for epoch/step) means not measured and
 * is written as an empty field. */
typedef struct records_metric {
    double time_s;        /* simulated (sim) or wall (real) seconds */
    double epoch;         /* may be fractional: 2.5 = half-way through epoch 3 */
    long step;            /* optimiser steps so far (whole job) */
    double train_loss;
    double test_loss;
    double test_accuracy; /* fraction in [0, 1] */
} records_metric;

records_metric records_metric_empty(void);

/* Open outdir for a new run (created with its parents if missing; the
 * records and default figures of an earlier run in it are removed).
 * NULL on error. */
records *records_open(const char *outdir, char *err, size_t errlen);
/* Extra metric columns after the six standard ones, declared before the
 * first row. Names carry their unit ("staleness_steps", "lr"). Copied. */
int records_metric_columns(records *rec, int n, const char *const *names, char *err, size_t errlen);
/* Append one row; extra holds one value per declared extra column (NULL
 * when none were declared). The row is flushed to disk at once. */
int records_add_metric(records *rec, const records_metric *m, const double *extra,
                       char *err, size_t errlen);
/* Write events.csv from n events (replaces an earlier call's file). */
int records_write_events(records *rec, const rt_event *ev, size_t n, char *err, size_t errlen);
/* From a finished job: backend, seconds, bytes_sent, messages, network
 * model (where the backend has one), and its events when it recorded them. */
int records_add_job(records *rec, const job_config *cfg, const job_result *res,
                    char *err, size_t errlen);

/* Summary fields (top level of summary.json); a later set replaces an
 * earlier one. Return -1 only when out of memory or key is empty. */
int records_set_str(records *rec, const char *key, const char *value);
int records_set_num(records *rec, const char *key, double value); /* NaN -> null */
int records_set_int(records *rec, const char *key, long long value);
/* One of the run's settings, as given: summary.json's "settings" object. */
int records_set_setting(records *rec, const char *key, const char *value);
/* The names of the run's spans (runtime.h: rt_span), by index:
 * summary.json's "span_names". Each is 1 to RECORDS_SPAN_NAME_MAX
 * printable ASCII characters without a quote, backslash, <, > or &
 * (they go into JSON and figure text as they are); -1 otherwise. */
#define RECORDS_SPAN_NAME_MAX 63
int records_set_span_names(records *rec, int n, const char *const *names);
/* 1 when name is such a name. */
int records_span_name_ok(const char *name);

/* Write summary.json and free rec (always, even on error). final_loss and
 * final_accuracy default to the last measured train_loss and
 * test_accuracy of metrics.csv. algo, backend and workers must be set. */
int records_close(records *rec, char *err, size_t errlen);

/* ---- reading ---- */

enum {
    RECORDS_LOAD_SUMMARY = 1,
    RECORDS_LOAD_METRICS = 2,
    RECORDS_LOAD_EVENTS = 4,
    RECORDS_LOAD_ALL = 7,
};

typedef struct records_run {
    char *dir;
    /* summary.json */
    char *algo, *backend;
    int workers;
    int ranks;            /* the job's ranks (workers, servers...); 0 when the summary has none */
    double final_loss, final_accuracy, seconds; /* NaN when absent */
    uint64_t bytes_sent, messages;
    void *summary;        /* the whole document (jansson json_t *) */
    /* metrics.csv, column by column; NaN where a field was empty */
    int ncols;
    char **col_names;
    double **cols;        /* cols[c][row] */
    size_t nrows;
    /* events.csv */
    rt_event *events;
    size_t nevents;
    /* summary.json's span_names (into the summary document); NULL, 0 when
     * it has none */
    const char *const *span_names;
    int nspan_names;
} records_run;

/* Load the parts named by `what` from a run folder into *run (zeroed
 * first; free it with records_run_free whatever this returns). */
int records_load(const char *dir, unsigned what, records_run *run, char *err, size_t errlen);
void records_run_free(records_run *run);
/* A metrics column by name, nrows long; NULL when the run has none. */
const double *records_run_column(const records_run *run, const char *name);
/* A summary field or setting as text ("0.1", "sim"); NULL when absent. */
const char *records_run_field(const records_run *run, const char *key, char *buf, size_t len);
/* A short legend label, the variant in a compare spec's form where the
 * summary names one: "allreduce:ring, 8 workers (sim)", "ps:ssp:4, 16
 * workers (sim)" (the timeline's title says which consistency it shows). */
void records_run_label(const records_run *run, char *buf, size_t len);

/* ---- exports ---- */

/* Chrome trace-event JSON (opens in Perfetto and chrome://tracing): one
 * complete ('X') event per interval, pid = rank, microsecond times. A
 * span is named by names[tag] (nnames of them; "span N" past them). */
int records_write_trace_named(const char *path, const rt_event *ev, size_t n,
                              const char *const *names, int nnames, char *err, size_t errlen);
/* The same with no span names. */
int records_write_trace(const char *path, const rt_event *ev, size_t n, char *err, size_t errlen);
/* A span's name for a figure or trace: names[tag], else "span TAG". */
const char *records_span_label(const char *const *names, int nnames, int tag, char *buf, size_t len);

#endif
