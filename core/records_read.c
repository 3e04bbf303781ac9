/* records_read.c -- load a run folder back: summary.json, metrics.csv and
 * events.csv (see records.h).
 *
 * Run folders get copied, hand-edited and half-written by runs that died,
 * so every check here names the file, the line and what was expected: the
 * person reading the message should not need to open this file.
 */
#include "core/records.h"

#include <errno.h>
#include <float.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/records_internal.h"

/* Split line (modified in place) at commas into at most max fields. */
static int split_csv(char *line, char **fields, int max)
{
    size_t n = strlen(line);
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    int nf = 0;
    for (char *s = line;;) {
        if (nf == max)
            return max + 1;
        fields[nf++] = s;
        char *c = strchr(s, ',');
        if (!c)
            break;
        *c = '\0';
        s = c + 1;
    }
    return nf;
}

/* A CSV number: empty is "not measured" (NaN). distlab writes only finite
 * numbers (a NaN or an infinity is written empty), so "inf", "nan" and
 * numbers past a double's range are refused. */
static int parse_num(const char *s, double *out)
{
    if (*s == '\0') {
        *out = NAN;
        return 0;
    }
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end != '\0' || !isfinite(v)) /* an underflow (ERANGE too) is a number */
        return -1;
    *out = v;
    return 0;
}

/* What a field parse_num refused should have been. */
static const char *what_number(const char *s)
{
    char *end;
    strtod(s, &end);
    return end != s && *end == '\0' ? "a finite number" : "a number";
}

/* What is wrong with a metrics field's value v (finite or NaN), or NULL:
 * times, epochs, steps and accuracies have ranges. */
static const char *metric_range(int col, double v)
{
    if (isnan(v))
        return NULL;
    switch (col) {
    case 0:
        return v >= 0 && v <= RECORDS_MAX_SECONDS ? NULL : "a time from 0 to 1e15 s";
    case 1:
        return v >= 0 && v <= RECORDS_MAX_EPOCHS ? NULL : "an epoch from 0 to 1e9";
    case 2:
        return v >= 0 && v <= 9007199254740992.0 && v == floor(v) ? NULL : "a step, a whole number >= 0";
    case 5:
        return v >= 0 && v <= 1 ? NULL : "an accuracy from 0 to 1";
    default:
        return NULL;
    }
}

static int blank(const char *line)
{
    return line[strspn(line, " \t\r\n")] == '\0';
}

/* A run folder's part that exists but is no file: a folder opens and then
 * fails to read, a FIFO would block the open until someone writes. */
static int not_a_file(const char *path, char *err, size_t errlen)
{
    struct stat st;
    if (stat(path, &st) != 0 || S_ISREG(st.st_mode))
        return 0;
    records_seterr(err, errlen, "%s: %s, not a file", path, S_ISDIR(st.st_mode) ? "a folder" : "a device, FIFO or socket");
    return -1;
}

static FILE *open_part(const char *dir, const char *file, char **path, char *err, size_t errlen)
{
    *path = records_path(dir, file);
    if (!*path) {
        records_seterr(err, errlen, "out of memory");
        return NULL;
    }
    if (not_a_file(*path, err, errlen))
        return NULL;
    FILE *f = fopen(*path, "r");
    if (!f)
        records_seterr(err, errlen, "%s: %s", *path, errno == ENOENT ? "no such file" : strerror(errno));
    return f;
}

/* ---- summary.json ---- */

static int load_summary(records_run *run, char *err, size_t errlen)
{
    char *path = records_path(run->dir, RECORDS_SUMMARY_FILE);
    json_error_t je;
    int rc = -1;
    if (!path) {
        records_seterr(err, errlen, "out of memory");
        return -1;
    }
    if (not_a_file(path, err, errlen)) {
        free(path);
        return -1;
    }
    json_t *doc = json_load_file(path, 0, &je);
    if (!doc) {
        struct stat st;
        if (stat(path, &st) != 0)
            records_seterr(err, errlen, "%s: no such file (not a run folder, or the run did not finish)", path);
        else
            records_seterr(err, errlen, "%s:%d: malformed JSON: %s", path, je.line, je.text);
        goto fail;
    }
    run->summary = doc;
    if (!json_is_object(doc)) {
        records_seterr(err, errlen, "%s: expected a JSON object at the top", path);
        goto fail;
    }
    json_t *algo = json_object_get(doc, "algo"), *backend = json_object_get(doc, "backend");
    json_t *workers = json_object_get(doc, "workers");
    if (!json_is_string(algo) || !json_is_string(backend)) {
        records_seterr(err, errlen, "%s: \"%s\" must be a string", path, json_is_string(algo) ? "backend" : "algo");
        goto fail;
    }
    if (!json_is_integer(workers) || json_integer_value(workers) < 1 ||
        json_integer_value(workers) > RECORDS_MAX_RANK) {
        records_seterr(err, errlen, "%s: \"workers\" must be a whole number from 1 to %d", path,
                       RECORDS_MAX_RANK);
        goto fail;
    }
    run->algo = strdup(json_string_value(algo));
    run->backend = strdup(json_string_value(backend));
    if (!run->algo || !run->backend) {
        records_seterr(err, errlen, "out of memory");
        goto fail;
    }
    run->workers = (int)json_integer_value(workers);
    json_t *ranks = json_object_get(doc, "ranks"); /* absent from hand-made summaries */
    if (ranks && (!json_is_integer(ranks) || json_integer_value(ranks) < 1 ||
                  json_integer_value(ranks) > RECORDS_MAX_RANK)) {
        records_seterr(err, errlen, "%s: \"ranks\" must be a whole number from 1 to %d", path,
                       RECORDS_MAX_RANK);
        goto fail;
    }
    run->ranks = ranks ? (int)json_integer_value(ranks) : 0;
    /* jansson reads 1e400 as an error but 1e308 as a number: ranges too */
    struct { const char *key; double *out, lo, hi; const char *range; } nums[] = {
        {"final_loss", &run->final_loss, -DBL_MAX, DBL_MAX, "a finite number"},
        {"final_accuracy", &run->final_accuracy, 0, 1, "an accuracy from 0 to 1"},
        {"seconds", &run->seconds, 0, RECORDS_MAX_SECONDS, "seconds from 0 to 1e15"},
    };
    for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++) {
        json_t *v = json_object_get(doc, nums[i].key);
        if (v && !json_is_number(v) && !json_is_null(v)) {
            records_seterr(err, errlen, "%s: \"%s\" must be a number or null", path, nums[i].key);
            goto fail;
        }
        double x = json_is_number(v) ? json_number_value(v) : NAN;
        if (!isnan(x) && !(x >= nums[i].lo && x <= nums[i].hi)) {
            records_seterr(err, errlen, "%s: \"%s\" is %g; expected %s or null", path, nums[i].key, x,
                           nums[i].range);
            goto fail;
        }
        *nums[i].out = x;
    }
    struct { const char *key; uint64_t *out; } counts[] = {
        {"bytes_sent", &run->bytes_sent}, {"messages", &run->messages},
    };
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
        json_t *v = json_object_get(doc, counts[i].key);
        if (v && (!json_is_integer(v) || json_integer_value(v) < 0)) {
            records_seterr(err, errlen, "%s: \"%s\" must be a whole number", path, counts[i].key);
            goto fail;
        }
        *counts[i].out = v ? (uint64_t)json_integer_value(v) : 0;
    }
    json_t *settings = json_object_get(doc, "settings");
    if (settings && !json_is_object(settings)) {
        records_seterr(err, errlen, "%s: \"settings\" must be an object", path);
        goto fail;
    }
    json_t *names = json_object_get(doc, "span_names");
    if (names && (!json_is_array(names) || json_array_size(names) > RT_TAG_MAX)) {
        records_seterr(err, errlen, "%s: \"span_names\" must be an array of names", path);
        goto fail;
    }
    size_t nnames = names ? json_array_size(names) : 0;
    const char **list = nnames ? malloc(nnames * sizeof *list) : NULL;
    if (nnames && !list) {
        records_seterr(err, errlen, "out of memory");
        goto fail;
    }
    run->span_names = list;
    for (size_t i = 0; i < nnames; i++) {
        const char *name = json_string_value(json_array_get(names, i));
        if (!records_span_name_ok(name)) {
            records_seterr(err, errlen, "%s: span_names[%zu] must be 1 to %d printable characters "
                           "without a quote, backslash, <, > or &", path, i, RECORDS_SPAN_NAME_MAX);
            goto fail;
        }
        list[i] = name;
    }
    run->nspan_names = (int)nnames;
    rc = 0;
fail:
    free(path);
    return rc;
}

/* ---- metrics.csv ---- */

static int load_metrics(records_run *run, char *err, size_t errlen)
{
    static const char *const std_cols[RECORDS_METRICS_NSTD] = {
        "time_s", "epoch", "step", "train_loss", "test_loss", "test_accuracy"};
    enum { MAX_COLS = 128 };
    char *path = NULL, *line = NULL, *fields[MAX_COLS + 1];
    size_t cap = 0, rows_cap = 0;
    long lineno = 1;
    int rc = -1;
    FILE *f = open_part(run->dir, RECORDS_METRICS_FILE, &path, err, errlen);
    if (!f)
        goto fail;
    if (getline(&line, &cap, f) < 0) {
        records_seterr(err, errlen, "%s:1: empty file (expected the header %s)", path, RECORDS_METRICS_HEADER);
        goto fail;
    }
    int nf = split_csv(line, fields, MAX_COLS);
    if (nf > MAX_COLS) {
        records_seterr(err, errlen, "%s:1: more than %d columns", path, MAX_COLS);
        goto fail;
    }
    if (nf < RECORDS_METRICS_NSTD) {
        records_seterr(err, errlen, "%s:1: header has %d columns; expected at least %s", path, nf,
                       RECORDS_METRICS_HEADER);
        goto fail;
    }
    for (int c = 0; c < RECORDS_METRICS_NSTD; c++)
        if (strcmp(fields[c], std_cols[c]) != 0) {
            records_seterr(err, errlen, "%s:1: column %d is '%s'; expected '%s' (header %s)", path, c + 1,
                           fields[c], std_cols[c], RECORDS_METRICS_HEADER);
            goto fail;
        }
    run->ncols = nf;
    run->col_names = calloc((size_t)nf, sizeof *run->col_names);
    run->cols = calloc((size_t)nf, sizeof *run->cols);
    if (!run->col_names || !run->cols)
        goto oom;
    for (int c = 0; c < nf; c++)
        if (!(run->col_names[c] = strdup(fields[c])))
            goto oom;
    while (getline(&line, &cap, f) >= 0) {
        lineno++;
        if (blank(line))
            continue;
        int n = split_csv(line, fields, MAX_COLS);
        if (n != run->ncols) {
            records_seterr(err, errlen, "%s:%ld: %d fields; the header has %d", path, lineno,
                           n > MAX_COLS ? MAX_COLS + 1 : n, run->ncols);
            goto fail;
        }
        if (run->nrows == rows_cap) {
            rows_cap = rows_cap ? 2 * rows_cap : 64;
            for (int c = 0; c < run->ncols; c++) {
                double *p = realloc(run->cols[c], rows_cap * sizeof *p);
                if (!p)
                    goto oom;
                run->cols[c] = p;
            }
        }
        for (int c = 0; c < run->ncols; c++) {
            const char *range = NULL;
            if (parse_num(fields[c], &run->cols[c][run->nrows]) ||
                (range = metric_range(c, run->cols[c][run->nrows]))) {
                records_seterr(err, errlen, "%s:%ld: field %d (%s) is '%s', not %s", path, lineno, c + 1,
                               run->col_names[c], fields[c], range ? range : what_number(fields[c]));
                goto fail;
            }
        }
        run->nrows++;
    }
    if (ferror(f)) {
        records_seterr(err, errlen, "%s: read error: %s", path, strerror(errno));
        goto fail;
    }
    rc = 0;
    goto fail;
oom:
    records_seterr(err, errlen, "out of memory");
fail:
    if (f)
        fclose(f);
    free(line);
    free(path);
    return rc;
}

/* ---- events.csv ---- */

static int kind_from_name(const char *s)
{
    for (int k = 0; k < RT_EV_KINDS; k++)
        if (strcmp(s, rt_event_kind_name(k)) == 0)
            return k;
    return strcmp(s, rt_event_kind_name(RT_EV_SPAN)) == 0 ? RT_EV_SPAN : -1;
}

static int parse_long(const char *s, long long lo, long long hi, long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (end == s || *end != '\0' || errno == ERANGE || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

static int load_events(records_run *run, char *err, size_t errlen)
{
    char *path = NULL, *line = NULL, *fields[8];
    size_t cap = 0, ev_cap = 0;
    long lineno = 1;
    int rc = -1;
    FILE *f = open_part(run->dir, RECORDS_EVENTS_FILE, &path, err, errlen);
    if (!f)
        goto fail;
    int have_header = getline(&line, &cap, f) >= 0;
    if (have_header)
        line[strcspn(line, "\r\n")] = '\0';
    int want = 7; /* fields per line: 6 in files written before the tag column */
    if (have_header && strcmp(line, RECORDS_EVENTS_HEADER_V1) == 0)
        want = 6;
    else if (!have_header || strcmp(line, RECORDS_EVENTS_HEADER) != 0) {
        records_seterr(err, errlen, "%s:1: expected the header %s", path, RECORDS_EVENTS_HEADER);
        goto fail;
    }
    while (getline(&line, &cap, f) >= 0) {
        lineno++;
        if (blank(line))
            continue;
        int n = split_csv(line, fields, want);
        if (n != want) {
            records_seterr(err, errlen, "%s:%ld: %d fields; expected %d (%s)", path, lineno,
                           n > want ? want + 1 : n, want,
                           want == 7 ? RECORDS_EVENTS_HEADER : RECORDS_EVENTS_HEADER_V1);
            goto fail;
        }
        rt_event e = {0};
        long long rank, bytes, peer, tag = -1;
        const char *what = NULL;
        if (parse_long(fields[0], 0, RECORDS_MAX_RANK - 1, &rank))
            what = "rank must be a whole number from 0 to " RECORDS_MAX_RANK_TEXT;
        else if ((e.kind = kind_from_name(fields[1])) < 0)
            what = "kind must be compute, send, recv, wait or span";
        else if (parse_num(fields[2], &e.start_s) || !(fabs(e.start_s) <= RECORDS_MAX_SECONDS))
            what = "start_s must be a number of seconds from -1e15 to 1e15";
        else if (parse_num(fields[3], &e.end_s) || !(fabs(e.end_s) <= RECORDS_MAX_SECONDS))
            what = "end_s must be a number of seconds from -1e15 to 1e15";
        else if (e.end_s < e.start_s)
            what = "end_s is before start_s";
        else if (parse_long(fields[4], 0, INT64_MAX, &bytes))
            what = "bytes must be a whole number >= 0";
        else if (parse_long(fields[5], -1, RECORDS_MAX_RANK - 1, &peer))
            what = "peer must be a rank or -1";
        else if (want == 7 && parse_long(fields[6], -1, INT32_MAX, &tag))
            what = "tag must be a whole number >= -1";
        else if (e.kind == RT_EV_SPAN && (tag < 0 || tag > RT_TAG_MAX))
            what = "a span's tag (its name) must be a whole number from 0 to " RECORDS_TAG_MAX_TEXT;
        if (what) {
            records_seterr(err, errlen, "%s:%ld: %s", path, lineno, what);
            goto fail;
        }
        if (e.kind == RT_EV_SPAN && run->span_names && tag >= run->nspan_names) {
            records_seterr(err, errlen, "%s:%ld: span name %lld, but summary.json's span_names has "
                           "%d (0..%d)", path, lineno, tag, run->nspan_names, run->nspan_names - 1);
            goto fail;
        }
        /* a figure has a row per rank: one past the job's would size it
         * by a number nobody ran (rank 16000000: 570 MB for a timeline) */
        if (run->ranks > 0 && (rank >= run->ranks || peer >= run->ranks)) {
            records_seterr(err, errlen, "%s:%ld: %s %lld, but the run had %d rank%s (0..%d, summary.json's "
                           "\"ranks\")", path, lineno, rank >= run->ranks ? "rank" : "peer",
                           rank >= run->ranks ? rank : peer, run->ranks, run->ranks == 1 ? "" : "s",
                           run->ranks - 1);
            goto fail;
        }
        e.rank = (int32_t)rank;
        e.bytes = (uint64_t)bytes;
        e.peer = (int32_t)peer;
        e.tag = (int32_t)tag;
        if (run->nevents == ev_cap) {
            ev_cap = ev_cap ? 2 * ev_cap : 1024;
            rt_event *p = realloc(run->events, ev_cap * sizeof *p);
            if (!p) {
                records_seterr(err, errlen, "out of memory");
                goto fail;
            }
            run->events = p;
        }
        run->events[run->nevents++] = e;
    }
    if (ferror(f)) {
        records_seterr(err, errlen, "%s: read error: %s", path, strerror(errno));
        goto fail;
    }
    rc = 0;
fail:
    if (f)
        fclose(f);
    free(line);
    free(path);
    return rc;
}

/* ---- the run ---- */

int records_load(const char *dir, unsigned what, records_run *run, char *err, size_t errlen)
{
    memset(run, 0, sizeof *run);
    run->final_loss = run->final_accuracy = run->seconds = NAN;
    struct stat st;
    if (!dir || stat(dir, &st) != 0) {
        records_seterr(err, errlen, "%s: no such run folder", dir ? dir : "(null)");
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        records_seterr(err, errlen, "%s: not a folder (expected a run folder holding %s)", dir,
                       RECORDS_SUMMARY_FILE);
        return -1;
    }
    if (!(run->dir = strdup(dir))) {
        records_seterr(err, errlen, "out of memory");
        return -1;
    }
    if ((what & RECORDS_LOAD_SUMMARY) && load_summary(run, err, errlen))
        return -1;
    if ((what & RECORDS_LOAD_METRICS) && load_metrics(run, err, errlen))
        return -1;
    if ((what & RECORDS_LOAD_EVENTS) && load_events(run, err, errlen))
        return -1;
    return 0;
}

void records_run_free(records_run *run)
{
    for (int c = 0; c < run->ncols; c++) {
        if (run->col_names)
            free(run->col_names[c]);
        if (run->cols)
            free(run->cols[c]);
    }
    free(run->col_names);
    free(run->cols);
    free(run->events);
    free((void *)run->span_names);
    json_decref(run->summary);
    free(run->algo);
    free(run->backend);
    free(run->dir);
    memset(run, 0, sizeof *run);
}

const double *records_run_column(const records_run *run, const char *name)
{
    for (int c = 0; c < run->ncols; c++)
        if (strcmp(run->col_names[c], name) == 0)
            return run->cols[c];
    return NULL;
}

const char *records_run_field(const records_run *run, const char *key, char *buf, size_t len)
{
    json_t *v = json_object_get(run->summary, key);
    if (!v)
        v = json_object_get(json_object_get(run->summary, "settings"), key);
    if (!v || len == 0)
        return NULL;
    if (json_is_string(v))
        snprintf(buf, len, "%s", json_string_value(v));
    else if (json_is_integer(v))
        snprintf(buf, len, "%lld", (long long)json_integer_value(v));
    else if (json_is_real(v))
        snprintf(buf, len, "%g", json_real_value(v));
    else if (json_is_boolean(v))
        snprintf(buf, len, "%s", json_is_true(v) ? "true" : "false");
    else
        return NULL;
    return buf;
}

/* The summary field that names an algorithm's variant, as a compare spec
 * writes it after the ':' (ps:ssp:4, allreduce:tree, psgd:16). */
static const struct {
    const char *algo, *field;
} variants[] = {
    {"ps", "consistency"}, {"allreduce", "allreduce"}, {"psgd", "average_every"},
    {"hogwild", "sync"},   {"distbelief", "mode"}, {"lda", "consistency"},
    {"ray-ps", "mode"},
};

void records_run_label(const records_run *run, char *buf, size_t len)
{
    if (!run->algo) {
        snprintf(buf, len, "%s", run->dir ? run->dir : "?");
        return;
    }
    char spec[160], v[64], s[32];
    snprintf(spec, sizeof spec, "%s", run->algo);
    for (size_t i = 0; i < sizeof variants / sizeof *variants; i++) {
        const char *val;
        if (strcmp(run->algo, variants[i].algo) != 0 ||
            !(val = records_run_field(run, variants[i].field, v, sizeof v)))
            continue;
        const char *bound = strcmp(val, "ssp") == 0 ? records_run_field(run, "staleness_bound", s, sizeof s)
                                                    : NULL;
        size_t used = strlen(spec);
        snprintf(spec + used, sizeof spec - used, ":%s%s%s", val, bound ? ":" : "", bound ? bound : "");
    }
    snprintf(buf, len, "%s, %d worker%s (%s)", spec, run->workers, run->workers == 1 ? "" : "s",
             run->backend);
}
