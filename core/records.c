/* records.c -- write a run's records: metrics.csv, events.csv and
 * summary.json (see records.h for the format and the reasons).
 *
 * metrics.csv is appended and flushed row by row, so a run that dies
 * half-way still leaves its curve behind; summary.json is written once, at
 * close, from a jansson document built up as the run goes.
 */
#include "core/records.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/records_internal.h"

uint64_t fnv1a64_add(uint64_t h, const void *data, size_t n)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

#define RECORDS_MAX_EXTRA 64

struct records {
    char *dir;
    json_t *summary;       /* owned */
    FILE *metrics;         /* NULL until the first row */
    int nextra;
    char *extra[RECORDS_MAX_EXTRA];
    double last_train_loss, last_test_accuracy;
};

void records_seterr(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

char *records_path(const char *dir, const char *file)
{
    size_t n = strlen(dir) + strlen(file) + 2;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/%s", dir, file);
    return p;
}

/* mkdir -p: create dir and any missing parents. */
static int make_dirs(const char *dir, char *err, size_t errlen)
{
    char *p = strdup(dir);
    if (!p) {
        records_seterr(err, errlen, "out of memory");
        return -1;
    }
    for (char *s = p + 1;; s++) {
        char c = *s;
        if (c != '/' && c != '\0')
            continue;
        *s = '\0';
        if (mkdir(p, 0777) != 0 && errno != EEXIST) {
            records_seterr(err, errlen, "cannot create folder %s: %s", p, strerror(errno));
            free(p);
            return -1;
        }
        *s = c;
        if (c == '\0')
            break;
    }
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        records_seterr(err, errlen, "%s exists and is not a folder", dir);
        free(p);
        return -1;
    }
    free(p);
    return 0;
}

records_metric records_metric_empty(void)
{
    return (records_metric){.time_s = NAN, .epoch = NAN, .step = -1,
                            .train_loss = NAN, .test_loss = NAN, .test_accuracy = NAN};
}

records *records_open(const char *outdir, char *err, size_t errlen)
{
    records *rec = NULL;
    if (!outdir || !*outdir) {
        records_seterr(err, errlen, "no output folder given");
        return NULL;
    }
    if (make_dirs(outdir, err, errlen))
        return NULL;
    rec = calloc(1, sizeof *rec);
    if (!rec)
        goto oom;
    rec->dir = strdup(outdir);
    rec->summary = json_object();
    if (!rec->dir || !rec->summary || json_object_set_new(rec->summary, "settings", json_object()))
        goto oom;
    rec->last_train_loss = rec->last_test_accuracy = NAN;
    /* An earlier run's files in this folder would now mislead. */
    static const char *const stale[] = {RECORDS_METRICS_FILE, RECORDS_EVENTS_FILE, RECORDS_SUMMARY_FILE,
                                        "loss.png", "timeline.png"};
    for (size_t i = 0; i < sizeof stale / sizeof stale[0]; i++) {
        char *path = records_path(outdir, stale[i]);
        if (!path)
            goto oom;
        if (remove(path) != 0 && errno != ENOENT) {
            records_seterr(err, errlen, "cannot replace %s: %s", path, strerror(errno));
            free(path);
            goto fail;
        }
        free(path);
    }
    return rec;
oom:
    records_seterr(err, errlen, "out of memory");
fail:
    if (rec) {
        free(rec->dir);
        json_decref(rec->summary);
        free(rec);
    }
    return NULL;
}

static int valid_column_name(const char *s)
{
    if (!s || !*s)
        return 0;
    for (; *s; s++)
        if (*s == ',' || *s == '"' || *s == '\n' || *s == '\r')
            return 0;
    return 1;
}

int records_metric_columns(records *rec, int n, const char *const *names, char *err, size_t errlen)
{
    if (rec->metrics) {
        records_seterr(err, errlen, "metric columns must be declared before the first row");
        return -1;
    }
    if (n < 0 || n > RECORDS_MAX_EXTRA) {
        records_seterr(err, errlen, "%d extra metric columns (at most %d)", n, RECORDS_MAX_EXTRA);
        return -1;
    }
    for (int i = 0; i < n; i++)
        if (!valid_column_name(names[i])) {
            records_seterr(err, errlen, "metric column name '%s' is empty or holds a comma, quote or newline",
                           names[i] ? names[i] : "(null)");
            return -1;
        }
    for (int i = 0; i < rec->nextra; i++)
        free(rec->extra[i]);
    rec->nextra = 0;
    for (int i = 0; i < n; i++) {
        if (!(rec->extra[i] = strdup(names[i]))) {
            records_seterr(err, errlen, "out of memory");
            return -1;
        }
        rec->nextra = i + 1;
    }
    return 0;
}

/* A number as CSV wants it: empty when not measured, else round-trippable. */
static void put_num(FILE *f, double v)
{
    if (isfinite(v))
        fprintf(f, "%.10g", v);
}

static int open_metrics(records *rec, char *err, size_t errlen)
{
    char *path = records_path(rec->dir, RECORDS_METRICS_FILE);
    if (!path) {
        records_seterr(err, errlen, "out of memory");
        return -1;
    }
    rec->metrics = fopen(path, "w");
    if (!rec->metrics) {
        records_seterr(err, errlen, "cannot write %s: %s", path, strerror(errno));
        free(path);
        return -1;
    }
    free(path);
    fputs(RECORDS_METRICS_HEADER, rec->metrics);
    for (int i = 0; i < rec->nextra; i++)
        fprintf(rec->metrics, ",%s", rec->extra[i]);
    fputc('\n', rec->metrics);
    return 0;
}

int records_add_metric(records *rec, const records_metric *m, const double *extra,
                       char *err, size_t errlen)
{
    if (rec->nextra > 0 && !extra) {
        records_seterr(err, errlen, "the row has no values for its %d extra columns", rec->nextra);
        return -1;
    }
    if (!rec->metrics && open_metrics(rec, err, errlen))
        return -1;
    FILE *f = rec->metrics;
    put_num(f, m->time_s);
    fputc(',', f);
    put_num(f, m->epoch);
    fputc(',', f);
    if (m->step >= 0)
        fprintf(f, "%ld", m->step);
    fputc(',', f);
    put_num(f, m->train_loss);
    fputc(',', f);
    put_num(f, m->test_loss);
    fputc(',', f);
    put_num(f, m->test_accuracy);
    for (int i = 0; i < rec->nextra; i++) {
        fputc(',', f);
        put_num(f, extra[i]);
    }
    fputc('\n', f);
    if (fflush(f) != 0 || ferror(f)) {
        records_seterr(err, errlen, "cannot write %s/%s: %s", rec->dir, RECORDS_METRICS_FILE, strerror(errno));
        return -1;
    }
    if (isfinite(m->train_loss))
        rec->last_train_loss = m->train_loss;
    if (isfinite(m->test_accuracy))
        rec->last_test_accuracy = m->test_accuracy;
    return 0;
}

int records_write_events(records *rec, const rt_event *ev, size_t n, char *err, size_t errlen)
{
    int rc = -1;
    char *path = records_path(rec->dir, RECORDS_EVENTS_FILE);
    FILE *f = NULL;
    if (!path) {
        records_seterr(err, errlen, "out of memory");
        goto fail;
    }
    if (!(f = fopen(path, "w"))) {
        records_seterr(err, errlen, "cannot write %s: %s", path, strerror(errno));
        goto fail;
    }
    fputs(RECORDS_EVENTS_HEADER "\n", f);
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%d,%s,%.12g,%.12g,%llu,%d,%d\n", ev[i].rank, rt_event_kind_name(ev[i].kind),
                ev[i].start_s, ev[i].end_s, (unsigned long long)ev[i].bytes, ev[i].peer, ev[i].tag);
    if (fflush(f) != 0 || ferror(f)) {
        records_seterr(err, errlen, "cannot write %s: %s", path, strerror(errno));
        goto fail;
    }
    rc = 0;
fail:
    if (f && fclose(f) != 0 && rc == 0) {
        records_seterr(err, errlen, "cannot write %s: %s", path, strerror(errno));
        rc = -1;
    }
    free(path);
    return rc;
}

int records_add_job(records *rec, const job_config *cfg, const job_result *res,
                    char *err, size_t errlen)
{
    if (records_set_str(rec, "backend", cfg->backend ? cfg->backend->name : NULL) ||
        records_set_num(rec, "seconds", res->seconds) ||
        records_set_int(rec, "bytes_sent", (long long)res->bytes_sent) ||
        records_set_int(rec, "messages", (long long)res->messages) ||
        records_set_int(rec, "ranks", res->ranks) ||
        (res->cpu_seconds > 0 && records_set_num(rec, "cpu_seconds", res->cpu_seconds)) ||
        (res->net_model[0] &&
         records_set_str(rec, "net_model", res->net_model))) {
        records_seterr(err, errlen, "out of memory");
        return -1;
    }
    if (res->events && res->nevents > 0)
        return records_write_events(rec, res->events, res->nevents, err, errlen);
    return 0;
}

static int set(records *rec, const char *key, json_t *v)
{
    if (!v || !key || !*key) {
        json_decref(v);
        return -1;
    }
    return json_object_set_new(rec->summary, key, v) ? -1 : 0;
}

int records_set_str(records *rec, const char *key, const char *value)
{
    return set(rec, key, value ? json_string(value) : json_null());
}

int records_set_num(records *rec, const char *key, double value)
{
    return set(rec, key, isfinite(value) ? json_real(value) : json_null());
}

int records_set_int(records *rec, const char *key, long long value)
{
    return set(rec, key, json_integer(value));
}

int records_set_setting(records *rec, const char *key, const char *value)
{
    if (!key || !*key || !value)
        return -1;
    return json_object_set_new(json_object_get(rec->summary, "settings"), key, json_string(value)) ? -1 : 0;
}

int records_span_name_ok(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (n < 1 || n > RECORDS_SPAN_NAME_MAX)
        return 0;
    for (const char *c = name; *c; c++)
        if (*c < 0x20 || *c > 0x7e || strchr("\"\\<>&", *c))
            return 0;
    return 1;
}

int records_set_span_names(records *rec, int n, const char *const *names)
{
    json_t *a = json_array();
    for (int i = 0; a && i < n; i++)
        if (!records_span_name_ok(names[i]) || json_array_append_new(a, json_string(names[i]))) {
            json_decref(a);
            return -1;
        }
    return set(rec, "span_names", a);
}

int records_close(records *rec, char *err, size_t errlen)
{
    int rc = -1;
    char *path = NULL;
    if (!rec) {
        records_seterr(err, errlen, "no records to close");
        return -1;
    }
    if (!rec->metrics && open_metrics(rec, err, errlen))
        goto out;
    if (!json_object_get(rec->summary, "final_loss") &&
        records_set_num(rec, "final_loss", rec->last_train_loss))
        goto oom;
    if (!json_object_get(rec->summary, "final_accuracy") &&
        records_set_num(rec, "final_accuracy", rec->last_test_accuracy))
        goto oom;
    if (!(path = records_path(rec->dir, RECORDS_SUMMARY_FILE)))
        goto oom;
    /* Written even when incomplete, so the error below is not the only
     * trace of the run. */
    if (json_dump_file(rec->summary, path, JSON_INDENT(2) | JSON_SORT_KEYS | JSON_REAL_PRECISION(12)) != 0) {
        records_seterr(err, errlen, "cannot write %s: %s", path, strerror(errno));
        goto out;
    }
    static const char *const required[] = {"algo", "backend", "workers"};
    for (size_t i = 0; i < sizeof required / sizeof required[0]; i++)
        if (!json_object_get(rec->summary, required[i])) {
            records_seterr(err, errlen, "%s: '%s' was never set (records_set_*)", path, required[i]);
            goto out;
        }
    rc = 0;
    goto out;
oom:
    records_seterr(err, errlen, "out of memory");
out:
    if (rec->metrics && fclose(rec->metrics) != 0 && rc == 0) {
        records_seterr(err, errlen, "cannot write %s/%s: %s", rec->dir, RECORDS_METRICS_FILE, strerror(errno));
        rc = -1;
    }
    for (int i = 0; i < rec->nextra; i++)
        free(rec->extra[i]);
    json_decref(rec->summary);
    free(rec->dir);
    free(path);
    free(rec);
    return rc;
}
