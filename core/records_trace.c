/* records_trace.c -- a run's events as Chrome trace-event JSON, the format
 * Perfetto and chrome://tracing open (as Horovod's timeline does).
 *
 * reference: "Trace Event Format", Google, docs.google.com/document/d/
 * 1CvAClvFfyA5R-PhYUmn5OOQtYMH4h6I0nSsKchNAySU
 *
 * Each rank is a process (pid = rank). Complete ('X') events on one thread
 * must nest, but a rank's sends overlap its compute and each other, so
 * every kind gets its own threads and intervals that overlap within a kind
 * are spread over as many threads as needed (first free lane). Compute and
 * wait share the "activity" lanes: a rank is doing one or the other.
 * Spans (rt_span: a Ray task, an object transfer) come first, on lanes of
 * their own, under their names; a span inside another (a task that ran
 * while another waited in get) takes the next lane.
 *
 * The file is streamed with fprintf rather than built as a jansson tree:
 * a run can hold millions of events. Every string written here is a fixed
 * name or a span name, which records_span_name_ok keeps free of anything
 * JSON would need escaped (a name that is not is written as "span N").
 */
#include "core/records.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/records_internal.h"

enum { GROUP_SPAN, GROUP_ACTIVITY, GROUP_SEND, GROUP_RECV, NGROUPS };

static const char *const group_names[NGROUPS] = {"tasks", "compute/wait", "send", "recv"};

static int group_of(int kind)
{
    return kind == RT_EV_SPAN ? GROUP_SPAN : kind == RT_EV_SEND ? GROUP_SEND
         : kind == RT_EV_RECV ? GROUP_RECV : GROUP_ACTIVITY;
}

const char *records_span_label(const char *const *names, int nnames, int tag, char *buf, size_t len)
{
    if (names && tag >= 0 && tag < nnames && records_span_name_ok(names[tag]))
        return names[tag];
    snprintf(buf, len, "span %d", tag);
    return buf;
}

typedef struct lane_set {
    double *end_s;  /* per lane: when its last interval ends */
    int n, cap;
} lane_set;

/* The first lane free at start_s (a new one if none is); -1 out of memory. */
static int lane_take(lane_set *ls, double start_s, double end_s)
{
    for (int i = 0; i < ls->n; i++)
        if (ls->end_s[i] <= start_s) {
            ls->end_s[i] = end_s;
            return i;
        }
    if (ls->n == ls->cap) {
        int cap = ls->cap ? 2 * ls->cap : 4;
        double *p = realloc(ls->end_s, (size_t)cap * sizeof *p);
        if (!p)
            return -1;
        ls->end_s = p;
        ls->cap = cap;
    }
    ls->end_s[ls->n] = end_s;
    return ls->n++;
}

static int by_rank_start(const void *a, const void *b)
{
    const rt_event *x = *(const rt_event *const *)a, *y = *(const rt_event *const *)b;
    if (x->rank != y->rank)
        return x->rank < y->rank ? -1 : 1;
    return x->start_s < y->start_s ? -1 : x->start_s > y->start_s;
}

int records_write_trace(const char *path, const rt_event *ev, size_t n, char *err, size_t errlen)
{
    return records_write_trace_named(path, ev, n, NULL, 0, err, errlen);
}

int records_write_trace_named(const char *path, const rt_event *ev, size_t n,
                              const char *const *names, int nnames, char *err, size_t errlen)
{
    int rc = -1;
    const rt_event **order = NULL;
    lane_set lanes[NGROUPS] = {{0}};
    FILE *f = fopen(path, "w");
    if (!f) {
        records_seterr(err, errlen, "cannot write %s: %s", path, strerror(errno));
        return -1;
    }
    /* Lanes are first-fit in start order, so sort pointers by rank, start. */
    if (n && !(order = malloc(n * sizeof *order))) {
        records_seterr(err, errlen, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < n; i++) {
        /* Trace-event JSON has no inf or NaN: a time that is not finite
         * (not from records_load, which refuses them) is an error, not a
         * file no viewer opens. */
        if (!isfinite(ev[i].start_s * 1e6) || !isfinite((ev[i].end_s - ev[i].start_s) * 1e6)) {
            records_seterr(err, errlen, "event %zu (rank %d): times %g to %g s cannot be written as "
                           "trace microseconds", i, ev[i].rank, ev[i].start_s, ev[i].end_s);
            goto fail;
        }
        order[i] = &ev[i];
    }
    if (n)
        qsort(order, n, sizeof *order, by_rank_start);

    fputs("{\"displayTimeUnit\":\"ms\",\"traceEvents\":[\n", f);
    int first = 1;
    for (size_t i = 0; i < n;) {
        int rank = order[i]->rank;
        for (int g = 0; g < NGROUPS; g++)
            lanes[g].n = 0;
        fprintf(f, "%s{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":%d,\"args\":{\"name\":\"rank %d\"}}",
                first ? "" : ",\n", rank, rank);
        fprintf(f, ",\n{\"name\":\"process_sort_index\",\"ph\":\"M\",\"pid\":%d,\"args\":{\"sort_index\":%d}}",
                rank, rank);
        first = 0;
        for (; i < n && order[i]->rank == rank; i++) {
            const rt_event *e = order[i];
            int g = group_of(e->kind);
            int nlanes = lanes[g].n;
            int lane = lane_take(&lanes[g], e->start_s, e->end_s);
            if (lane < 0) {
                records_seterr(err, errlen, "out of memory");
                goto fail;
            }
            int tid = lane * NGROUPS + g; /* lane 0 of each group first */
            if (lanes[g].n > nlanes) { /* a new lane: name it */
                char name[48];
                if (lane)
                    snprintf(name, sizeof name, "%s %d", group_names[g], lane + 1);
                else
                    snprintf(name, sizeof name, "%s", group_names[g]);
                fprintf(f, ",\n{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":%d,\"tid\":%d,"
                           "\"args\":{\"name\":\"%s\"}}", rank, tid, name);
                fprintf(f, ",\n{\"name\":\"thread_sort_index\",\"ph\":\"M\",\"pid\":%d,\"tid\":%d,"
                           "\"args\":{\"sort_index\":%d}}", rank, tid, tid);
            }
            char label[32];
            const char *name = e->kind == RT_EV_SPAN
                                   ? records_span_label(names, nnames, e->tag, label, sizeof label)
                                   : rt_event_kind_name(e->kind);
            fprintf(f, ",\n{\"name\":\"%s\",\"cat\":\"%s\",\"ph\":\"X\",\"pid\":%d,\"tid\":%d,"
                       "\"ts\":%.3f,\"dur\":%.3f,\"args\":{\"bytes\":%llu,\"peer\":%d}}",
                    name, rt_event_kind_name(e->kind), rank, tid,
                    e->start_s * 1e6, (e->end_s - e->start_s) * 1e6,
                    (unsigned long long)e->bytes, e->peer);
        }
    }
    fputs("\n]}\n", f);
    if (fflush(f) != 0 || ferror(f)) {
        records_seterr(err, errlen, "cannot write %s: %s", path, strerror(errno));
        goto fail;
    }
    rc = 0;
fail:
    if (fclose(f) != 0 && rc == 0) {
        records_seterr(err, errlen, "cannot write %s: %s", path, strerror(errno));
        rc = -1;
    }
    for (int g = 0; g < NGROUPS; g++)
        free(lanes[g].end_s);
    free(order);
    return rc;
}
