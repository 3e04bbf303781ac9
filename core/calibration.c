/* calibration.c -- the calibration file, written and read with jansson
 * (see calibration.h). */
#include "core/calibration.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/files.h"
#include "core/units.h"

static int fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

calib_stat calib_stat_of(double *v, int n)
{
    calib_stat s = {NAN, NAN, NAN, n};
    if (n <= 0)
        return s;
    qsort(v, (size_t)n, sizeof *v, by_value);
    s.min = v[0];
    s.max = v[n - 1];
    s.median = n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
    return s;
}

/* ---- writing ---- */

static json_t *stat_json(calib_stat s)
{
    return json_pack("{s:f, s:f, s:f, s:i}", "median", s.median, "min", s.min, "max", s.max, "n", s.n);
}

int calib_write(const calibration *c, const char *path, char *err, size_t errlen)
{
    json_t *paths = json_array(), *compute = json_array(), *vector = json_array(), *messages = json_array();
    for (int i = 0; i < c->nmessages && messages; i++) {
        const calib_message *m = &c->messages[i];
        json_t *e = json_pack("{s:I, s:o}", "bytes", (json_int_t)m->bytes, "oneway_s", stat_json(m->oneway_s));
        if (e && m->exchange_s.n > 0)
            json_object_set_new(e, "exchange_s", stat_json(m->exchange_s));
        json_array_append_new(messages, e);
    }
    for (int i = 0; i < c->nvector && vector; i++)
        json_array_append_new(vector, json_pack("{s:I, s:f, s:o}", "floats", (json_int_t)c->vector[i].floats,
                                                "flops_per_call", c->vector[i].flops_per_call,
                                                "flops_per_s", stat_json(c->vector[i].flops_per_s)));
    for (int i = 0; i < c->npaths && paths; i++)
        json_array_append_new(paths, json_pack("{s:i, s:i, s:o, s:o}", "from", c->paths[i].from, "to",
                                               c->paths[i].to, "latency_s", stat_json(c->paths[i].latency_s),
                                               "bandwidth_Bps", stat_json(c->paths[i].bandwidth_Bps)));
    for (int i = 0; i < c->ncompute && compute; i++) {
        const calib_compute *m = &c->compute[i];
        json_array_append_new(compute, json_pack("{s:s, s:s, s:I, s:o, s:o, s:o}", "model", m->model, "dataset",
                                                 m->dataset, "batch", (json_int_t)m->batch,
                                                 "train_flops_per_s", stat_json(m->train_flops_per_s),
                                                 "eval_flops_per_s", stat_json(m->eval_flops_per_s),
                                                 "train_woken_flops_per_s", stat_json(m->train_woken_flops_per_s)));
    }
    json_t *root = json_pack("{s:s, s:i, s:s, s:s, s:s, s:s, s:i, s:i, s:f, s:o, s:o, s:o, s:o, s:o, s:o, "
                             "s:o, s:o, s:o, s:o, s:o, s:o}", "format",
                             CALIB_FORMAT, "format_version", CALIB_FORMAT_VERSION, "distlab_version",
                             c->distlab_version, "machine", c->machine, "date", c->date, "launch",
                             c->launch, "ranks", c->ranks, "cores", c->cores, "load_average", c->load_average,
                             "latency_s", stat_json(c->latency_s),
                             "bandwidth_Bps", stat_json(c->bandwidth_Bps), "send_overhead_s",
                             stat_json(c->send_overhead_s), "recv_overhead_s",
                             stat_json(c->recv_overhead_s), "exchange_factor",
                             stat_json(c->exchange_factor), "cpu_share", stat_json(c->cpu_share), "wake_s", stat_json(c->wake_s),
                             "reduce_flops_per_s",
                             stat_json(c->reduce_flops_per_s), "messages", messages, "vector", vector, "paths", paths, "compute", compute);
    if (!root)
        return fail(err, errlen, "calibration: out of memory");
    if ((c->gather_Bps.n > 0 && json_object_set_new(root, "gather_Bps", stat_json(c->gather_Bps)) != 0) ||
        (c->loss_flops_per_s.n > 0 &&
         json_object_set_new(root, "loss_flops_per_s", stat_json(c->loss_flops_per_s)) != 0)) {
        json_decref(root);
        return fail(err, errlen, "calibration: out of memory");
    }
    if (c->nshared > 0) { /* only where it was measured: ranks on one machine */
        json_t *shared = json_array();
        for (int i = 0; i < c->nshared && shared; i++)
            json_array_append_new(shared, json_pack("{s:I, s:o, s:o}", "floats", (json_int_t)c->shared[i].floats,
                                                    "read_Bps", stat_json(c->shared[i].read_Bps), "write_Bps",
                                                    stat_json(c->shared[i].write_Bps)));
        if (!shared || json_object_set_new(root, "shared", shared) != 0) {
            json_decref(root);
            return fail(err, errlen, "calibration: out of memory");
        }
    }
    int rc = json_dump_file(root, path, JSON_INDENT(2) | JSON_REAL_PRECISION(9));
    json_decref(root);
    if (rc != 0)
        return fail(err, errlen, "cannot write %s: %s", path, strerror(errno));
    return 0;
}

/* ---- reading ---- */

static int read_stat(json_t *obj, const char *key, calib_stat *s, const char *where, char *err,
                     size_t errlen)
{
    json_t *v = json_object_get(obj, key);
    json_t *med = v ? json_object_get(v, "median") : NULL;
    json_t *lo = v ? json_object_get(v, "min") : NULL;
    json_t *hi = v ? json_object_get(v, "max") : NULL;
    json_t *n = v ? json_object_get(v, "n") : NULL;
    if (!json_is_number(med) || !json_is_number(lo) || !json_is_number(hi) || !json_is_integer(n))
        return fail(err, errlen, "%s: %s needs numbers median, min, max and a count n", where, key);
    s->median = json_number_value(med);
    s->min = json_number_value(lo);
    s->max = json_number_value(hi);
    json_int_t count = json_integer_value(n);
    s->n = count > 0 && count <= INT_MAX ? (int)count : 0;
    /* a wake-up may cost nothing: where no rank polls (calib_network) */
    int zero_ok = strcmp(key, "wake_s") == 0;
    if (!(isfinite(s->median) && isfinite(s->min) && isfinite(s->max) && (s->min > 0 || (zero_ok && s->min == 0)) &&
          s->min <= s->median && s->median <= s->max && s->n > 0))
        return fail(err, errlen, "%s: %s must be %s and finite with min <= median <= max, n a count "
                    "(got %g, %g, %g, n %lld)", where, key, zero_ok ? "0 or more" : "positive", s->min, s->median, s->max, (long long)count);
    /* the medians become a simulation's latency, bandwidth and speeds:
     * in the ranges the options take (a latency of 1e30 s, or 1e-300
     * flop/s, were refused only as a generated cluster, or deadlocked) */
    size_t len = strlen(key);
    const char *unit = NULL;
    double from = 0, to = 0;
    if (len >= 11 && strcmp(key + len - 11, "flops_per_s") == 0) {
        unit = "flop/s";
        from = UNITS_SPEED_MIN_FLOPS;
        to = UNITS_SPEED_MAX_FLOPS;
    } else if (len > 4 && strcmp(key + len - 4, "_Bps") == 0) {
        unit = "B/s";
        from = UNITS_RATE_MIN_BPS;
        to = UNITS_RATE_MAX_BPS;
    } else if (len > 2 && strcmp(key + len - 2, "_s") == 0) {
        unit = "s";
        to = UNITS_TIME_MAX_S;
    } else if (strcmp(key, "exchange_factor") == 0) {
        /* an exchange is one 4 MiB transfer each way at once: 1 (full
         * duplex) to 2 (one shared copy) one-way times, which a simulation
         * takes it as (calib_network). A loaded machine's samples stray
         * far, and one that lost its core for a moment strays a hundred
         * times (0.0022 and 122 beside medians of 1.1 and 2.5, at load
         * 4-7): only the median, which is what a simulation uses, must lie
         * in the range; one stray sample does not void the calibration */
        if (!(s->median >= 0.01 && s->median <= 100))
            return fail(err, errlen, "%s: %s has a median of %g one-way times, outside 0.01 to 100 one-way times",
                        where, key, s->median);
    } else if (strcmp(key, "cpu_share") == 0) { /* CPU time over wall time, capped at 1 */
        unit = "of the wall time";
        to = 1;
    }
    if (unit && !(s->min >= from && s->max <= to))
        return fail(err, errlen, "%s: %s runs from %g to %g %s, outside %g to %g %s", where, key, s->min, s->max,
                    unit, from, to, unit);
    return 0;
}

static int read_str(json_t *obj, const char *key, char *out, size_t cap, const char *where, char *err,
                    size_t errlen)
{
    json_t *v = json_object_get(obj, key);
    if (!json_is_string(v))
        return fail(err, errlen, "%s: %s must be a string", where, key);
    if (strlen(json_string_value(v)) >= cap)
        return fail(err, errlen, "%s: %s is longer than %zu characters", where, key, cap - 1);
    snprintf(out, cap, "%s", json_string_value(v));
    return 0;
}

static int read_body(json_t *root, const char *path, const char *version, calibration *c, char *err,
                     size_t errlen)
{
    json_t *fmt = json_object_get(root, "format"), *fv = json_object_get(root, "format_version");
    if (!json_is_string(fmt) || strcmp(json_string_value(fmt), CALIB_FORMAT) != 0)
        return fail(err, errlen, "%s: not a distlab calibration file (no \"format\": \"%s\")", path,
                    CALIB_FORMAT);
    if (!json_is_integer(fv) || json_integer_value(fv) != CALIB_FORMAT_VERSION)
        return fail(err, errlen, "%s: calibration format version %lld, this distlab reads %d: run "
                    "distlab calibrate again", path, json_is_integer(fv) ? (long long)json_integer_value(fv) : -1LL,
                    CALIB_FORMAT_VERSION);
    if (read_str(root, "distlab_version", c->distlab_version, sizeof c->distlab_version, path, err, errlen) ||
        read_str(root, "machine", c->machine, sizeof c->machine, path, err, errlen) ||
        read_str(root, "date", c->date, sizeof c->date, path, err, errlen) ||
        read_str(root, "launch", c->launch, sizeof c->launch, path, err, errlen))
        return -1;
    if (version && strcmp(c->distlab_version, version) != 0)
        return fail(err, errlen, "%s: measured by distlab %s, this is distlab %s: run distlab calibrate "
                    "again", path, c->distlab_version, version);
    json_t *ranks = json_object_get(root, "ranks");
    if (!json_is_integer(ranks) || json_integer_value(ranks) < 2 || json_integer_value(ranks) > 1 << 20)
        return fail(err, errlen, "%s: ranks must be a whole number of at least 2", path);
    c->ranks = (int)json_integer_value(ranks);
    json_t *cores = json_object_get(root, "cores");
    if (!json_is_integer(cores) || json_integer_value(cores) < 1 || json_integer_value(cores) > 4096)
        return fail(err, errlen, "%s: cores must be a whole number from 1 to 4096", path);
    c->cores = (int)json_integer_value(cores);
    if (read_stat(root, "latency_s", &c->latency_s, path, err, errlen) ||
        read_stat(root, "bandwidth_Bps", &c->bandwidth_Bps, path, err, errlen) ||
        read_stat(root, "send_overhead_s", &c->send_overhead_s, path, err, errlen) ||
        read_stat(root, "recv_overhead_s", &c->recv_overhead_s, path, err, errlen) ||
        read_stat(root, "exchange_factor", &c->exchange_factor, path, err, errlen) ||
        read_stat(root, "cpu_share", &c->cpu_share, path, err, errlen) ||
        read_stat(root, "wake_s", &c->wake_s, path, err, errlen) ||
        read_stat(root, "reduce_flops_per_s", &c->reduce_flops_per_s, path, err, errlen))
        return -1;
    /* optional: earlier builds did not measure it */
    if ((json_object_get(root, "gather_Bps") && read_stat(root, "gather_Bps", &c->gather_Bps, path, err, errlen)) ||
        (json_object_get(root, "loss_flops_per_s") &&
         read_stat(root, "loss_flops_per_s", &c->loss_flops_per_s, path, err, errlen)))
        return -1;
    json_t *load = json_object_get(root, "load_average");
    if (!json_is_number(load) || !(json_number_value(load) >= 0) || !isfinite(json_number_value(load)))
        return fail(err, errlen, "%s: load_average must be a number of at least 0", path);
    c->load_average = json_number_value(load);

    json_t *paths = json_object_get(root, "paths"), *compute = json_object_get(root, "compute");
    json_t *vector = json_object_get(root, "vector"), *messages = json_object_get(root, "messages");
    if (!json_is_array(messages) || json_array_size(messages) > CALIB_MAX_MESSAGES)
        return fail(err, errlen, "%s: messages must be a list of at most %d sizes", path, CALIB_MAX_MESSAGES);
    if (!json_is_array(vector) || json_array_size(vector) < 1 || json_array_size(vector) > CALIB_MAX_VECTOR)
        return fail(err, errlen, "%s: vector must be a list of 1 to %d rates", path, CALIB_MAX_VECTOR);
    if (!json_is_array(paths) || json_array_size(paths) > CALIB_MAX_PATHS)
        return fail(err, errlen, "%s: paths must be a list of at most %d", path, CALIB_MAX_PATHS);
    if (!json_is_array(compute) || json_array_size(compute) > CALIB_MAX_COMPUTE)
        return fail(err, errlen, "%s: compute must be a list of at most %d", path, CALIB_MAX_COMPUTE);
    char where[4300];
    size_t i;
    json_t *v;
    json_array_foreach(paths, i, v) {
        calib_path *p = &c->paths[c->npaths++];
        snprintf(where, sizeof where, "%s: paths[%zu]", path, i);
        json_t *from = json_object_get(v, "from"), *to = json_object_get(v, "to");
        if (!json_is_integer(from) || !json_is_integer(to) || json_integer_value(from) < 0 ||
            json_integer_value(to) < 0 || json_integer_value(from) >= c->ranks ||
            json_integer_value(to) >= c->ranks)
            return fail(err, errlen, "%s: from and to must be ranks below %d", where, c->ranks);
        p->from = (int)json_integer_value(from);
        p->to = (int)json_integer_value(to);
        if (read_stat(v, "latency_s", &p->latency_s, where, err, errlen) ||
            read_stat(v, "bandwidth_Bps", &p->bandwidth_Bps, where, err, errlen))
            return -1;
    }
    json_array_foreach(messages, i, v) {
        calib_message *e = &c->messages[c->nmessages++];
        snprintf(where, sizeof where, "%s: messages[%zu]", path, i);
        json_t *bytes = json_object_get(v, "bytes");
        if (!json_is_integer(bytes) || json_integer_value(bytes) < 1 ||
            (i > 0 && (size_t)json_integer_value(bytes) <= e[-1].bytes))
            return fail(err, errlen, "%s: bytes must be a whole number of at least 1, the sizes increasing", where);
        e->bytes = (size_t)json_integer_value(bytes);
        if (read_stat(v, "oneway_s", &e->oneway_s, where, err, errlen))
            return -1;
        /* measured from 64 KiB up, and needed there */
        if (e->bytes >= CALIB_SCALE_FROM && read_stat(v, "exchange_s", &e->exchange_s, where, err, errlen))
            return -1;
    }
    json_array_foreach(vector, i, v) {
        calib_vector *e = &c->vector[c->nvector++];
        snprintf(where, sizeof where, "%s: vector[%zu]", path, i);
        json_t *floats = json_object_get(v, "floats"), *per_call = json_object_get(v, "flops_per_call");
        if (!json_is_integer(floats) || json_integer_value(floats) < 1)
            return fail(err, errlen, "%s: floats must be a whole number of at least 1", where);
        e->floats = (size_t)json_integer_value(floats);
        if (!json_is_number(per_call) || !(json_number_value(per_call) > 0) ||
            !isfinite(json_number_value(per_call)))
            return fail(err, errlen, "%s: flops_per_call must be positive and finite", where);
        e->flops_per_call = json_number_value(per_call);
        if (i > 0 && !(e->flops_per_call > e[-1].flops_per_call))
            return fail(err, errlen, "%s: the rates must come in increasing flops_per_call", where);
        if (read_stat(v, "flops_per_s", &e->flops_per_s, where, err, errlen))
            return -1;
    }
    /* optional: measured only with every rank on one machine, and not
     * by the builds before it (their files are read as they were) */
    json_t *shared = json_object_get(root, "shared");
    if (shared && (!json_is_array(shared) || json_array_size(shared) > CALIB_MAX_VECTOR))
        return fail(err, errlen, "%s: shared must be a list of at most %d lengths", path, CALIB_MAX_VECTOR);
    json_array_foreach(shared, i, v) {
        calib_shared *e = &c->shared[c->nshared++];
        snprintf(where, sizeof where, "%s: shared[%zu]", path, i);
        json_t *floats = json_object_get(v, "floats");
        if (!json_is_integer(floats) || json_integer_value(floats) < 1 ||
            (i > 0 && (size_t)json_integer_value(floats) <= e[-1].floats))
            return fail(err, errlen, "%s: floats must be a whole number of at least 1, the lengths increasing",
                        where);
        e->floats = (size_t)json_integer_value(floats);
        if (read_stat(v, "read_Bps", &e->read_Bps, where, err, errlen) ||
            read_stat(v, "write_Bps", &e->write_Bps, where, err, errlen))
            return -1;
    }
    json_array_foreach(compute, i, v) {
        calib_compute *m = &c->compute[c->ncompute++];
        snprintf(where, sizeof where, "%s: compute[%zu]", path, i);
        json_t *batch = json_object_get(v, "batch");
        if (read_str(v, "model", m->model, sizeof m->model, where, err, errlen) ||
            read_str(v, "dataset", m->dataset, sizeof m->dataset, where, err, errlen))
            return -1;
        if (!json_is_integer(batch) || json_integer_value(batch) < 1)
            return fail(err, errlen, "%s: batch must be a whole number of at least 1", where);
        m->batch = (size_t)json_integer_value(batch);
        if (read_stat(v, "train_flops_per_s", &m->train_flops_per_s, where, err, errlen) ||
            read_stat(v, "eval_flops_per_s", &m->eval_flops_per_s, where, err, errlen) ||
            read_stat(v, "train_woken_flops_per_s", &m->train_woken_flops_per_s, where, err, errlen))
            return -1;
    }
    return 0;
}

int calib_read(const char *path, const char *version, calibration *c, char *err, size_t errlen)
{
    memset(c, 0, sizeof *c);
    char why[512];
    if (files_check_regular(path, why, sizeof why) != 0) /* a FIFO blocked the read */
        return fail(err, errlen, "calibration %s", why);
    json_error_t jerr;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        FILE *f = fopen(path, "r");
        if (!f)
            return fail(err, errlen, "cannot read calibration %s: %s", path, strerror(errno));
        fclose(f);
        return fail(err, errlen, "%s:%d: not a whole calibration file (%s)", path, jerr.line, jerr.text);
    }
    int rc = json_is_object(root) ? read_body(root, path, version, c, err, errlen)
                                  : fail(err, errlen, "%s: not a distlab calibration file", path);
    json_decref(root);
    return rc;
}

void calib_network(const calibration *c, double *wire_latency_s, double *send_overhead_s,
                   double *recv_overhead_s, double *exchange_factor)
{
    double a = c->latency_s.median, os = c->send_overhead_s.median, orv = c->recv_overhead_s.median;
    /* the overheads are measured apart from the pingpong: where noise
     * makes them more than it, they keep their proportion and leave the
     * wire a twentieth of it, so that a pingpong still costs latency_s */
    if (os + orv > 0.95 * a) {
        double k = 0.95 * a / (os + orv);
        os *= k;
        orv *= k;
    }
    *send_overhead_s = os;
    *recv_overhead_s = orv;
    *wire_latency_s = a - os - orv;
    *exchange_factor = fmin(2, fmax(1, c->exchange_factor.median));
}

int calib_wire_scale(const calibration *c, double *bytes, double *scale, int max)
{
    int n = 0;
    for (int i = 0; i < c->nmessages && n < max; i++) {
        const calib_message *m = &c->messages[i];
        double over = m->oneway_s.median - c->latency_s.median;
        if (m->bytes < CALIB_SCALE_FROM || !(over > 0))
            continue;
        /* a size more than twice or less than half the line's cost is
         * the machine's noise (a busy machine's 64 KiB pingpong: 22x),
         * not its caches: held to that */
        bytes[n] = (double)m->bytes;
        scale[n++] = fmin(CALIB_SCALE_MAX, fmax(1 / CALIB_SCALE_MAX, over * c->bandwidth_Bps.median / (double)m->bytes));
    }
    return n;
}

int calib_exchange_share(const calibration *c, double *bytes, double *share, int max)
{
    double wire, os, orv, F;
    calib_network(c, &wire, &os, &orv, &F);
    const calib_message *top = NULL;
    for (int i = 0; i < c->nmessages; i++)
        if (c->messages[i].bytes >= CALIB_SCALE_FROM && c->messages[i].exchange_s.n > 0)
            top = &c->messages[i];
    if (!top)
        return 0;
    double f_top = top->exchange_s.median / top->oneway_s.median;
    int n = 0;
    for (int i = 0; i < c->nmessages && n < max; i++) {
        const calib_message *m = &c->messages[i];
        if (m->bytes < CALIB_SCALE_FROM || m->exchange_s.n <= 0)
            continue;
        double f = m->exchange_s.median / m->oneway_s.median;
        bytes[n] = (double)m->bytes;
        share[n++] = fmin(1, fmax(1 / F, f / f_top));
    }
    return n;
}

int calib_one_machine(const calibration *c)
{
    return strcmp(c->launch, "hosts") != 0;
}

int calib_train_rate(const calibration *c, const char *model, size_t batch, double *flops_per_s,
                     double *woken_flops_per_s, size_t *measured_batch, char *err, size_t errlen)
{
    int best = -1;
    double best_d = INFINITY;
    for (int i = 0; i < c->ncompute; i++) {
        if (strcmp(c->compute[i].model, model) != 0)
            continue;
        double d = fabs(log((double)c->compute[i].batch / (double)(batch ? batch : 1)));
        if (d < best_d) {
            best_d = d;
            best = i;
        }
    }
    if (best < 0) {
        char have[1024] = "";
        for (int i = 0; i < c->ncompute; i++)
            if (!strstr(have, c->compute[i].model) && strlen(have) + strlen(c->compute[i].model) + 3 < sizeof have)
                snprintf(have + strlen(have), sizeof have - strlen(have), "%s%s", *have ? ", " : "",
                         c->compute[i].model);
        return fail(err, errlen, "the calibration has no rate for model %s (it has: %s); run distlab "
                    "calibrate --models %s", model, *have ? have : "none", model);
    }
    *flops_per_s = c->compute[best].train_flops_per_s.median;
    if (woken_flops_per_s)
        *woken_flops_per_s = c->compute[best].train_woken_flops_per_s.median;
    if (measured_batch)
        *measured_batch = c->compute[best].batch;
    return 0;
}
