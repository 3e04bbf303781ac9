/* analysis.c -- compute / communication / wait split of a run (analysis.h). */
#include "core/analysis.h"

#include <stdlib.h>
#include <string.h>

typedef struct span {
    double a, b;
} span;

typedef struct ref {
    const rt_event *e;
    int src, dst; /* the message's ends */
} ref;

static int key_cmp(const ref *p, const ref *q)
{
    if (p->src != q->src)
        return p->src < q->src ? -1 : 1;
    if (p->dst != q->dst)
        return p->dst < q->dst ? -1 : 1;
    return (p->e->tag > q->e->tag) - (p->e->tag < q->e->tag);
}

static int by_message(const void *x, const void *y)
{
    const ref *p = x, *q = y;
    int k = key_cmp(p, q);
    if (k)
        return k;
    if (p->e->start_s != q->e->start_s)
        return p->e->start_s < q->e->start_s ? -1 : 1;
    return (p->e > q->e) - (p->e < q->e);
}

static int by_start(const void *x, const void *y)
{
    const span *p = x, *q = y;
    return (p->a > q->a) - (p->a < q->a);
}

/* Sort and merge overlapping spans in place; returns the new count. */
static size_t merge(span *s, size_t n)
{
    if (n == 0)
        return 0;
    qsort(s, n, sizeof *s, by_start);
    size_t k = 0;
    for (size_t i = 1; i < n; i++) {
        if (s[i].a <= s[k].b) {
            if (s[i].b > s[k].b)
                s[k].b = s[i].b;
        } else {
            s[++k] = s[i];
        }
    }
    return k + 1;
}

/* The intersection of two merged span lists, appended to out (which has
 * room for nx + ny spans); returns how many it appended. */
static size_t intersect(const span *x, size_t nx, const span *y, size_t ny, span *out)
{
    size_t i = 0, j = 0, k = 0;
    while (i < nx && j < ny) {
        double a = x[i].a > y[j].a ? x[i].a : y[j].a;
        double b = x[i].b < y[j].b ? x[i].b : y[j].b;
        if (b > a)
            out[k++] = (span){a, b};
        if (x[i].b < y[j].b)
            i++;
        else
            j++;
    }
    return k;
}

/* Per rank, in buckets: the rank's blocked spans (its wait events) and the
 * spans its own messages were on the wire, both merged. */
typedef struct per_rank_spans {
    span *blocked, *wire;
    size_t *boff, *woff; /* [ranks + 1]: rank r's spans are [off[r], off[r+1]) */
    size_t *bn, *wn;     /* counts after merging */
} per_rank_spans;

static void free_spans(per_rank_spans *s)
{
    free(s->blocked);
    free(s->wire);
    free(s->boff);
    free(s->woff);
    free(s->bn);
    free(s->wn);
}

static int build_spans(const rt_event *ev, size_t n, int ranks, per_rank_spans *s)
{
    memset(s, 0, sizeof *s);
    size_t R = (size_t)ranks;
    ref *sends = malloc((n + 1) * sizeof *sends), *recvs = malloc((n + 1) * sizeof *recvs);
    span *wire = malloc((2 * n + 1) * sizeof *wire);
    int *wire_rank = malloc((2 * n + 1) * sizeof *wire_rank);
    s->blocked = malloc((n + 1) * sizeof *s->blocked);
    s->wire = malloc((2 * n + 1) * sizeof *s->wire);
    s->boff = calloc(R + 1, sizeof *s->boff);
    s->woff = calloc(R + 1, sizeof *s->woff);
    s->bn = calloc(R, sizeof *s->bn);
    s->wn = calloc(R, sizeof *s->wn);
    int rc = -1;
    if (!sends || !recvs || !wire || !wire_rank || !s->blocked || !s->wire || !s->boff ||
        !s->woff || !s->bn || !s->wn)
        goto done;

    /* pair the k-th send of each (src, dst, tag) with its k-th receive:
     * the bytes move from when both are posted until the receive ends */
    size_t ns = 0, nr = 0, nw = 0;
    for (size_t i = 0; i < n; i++) {
        const rt_event *e = &ev[i];
        if (e->rank < 0 || e->rank >= ranks || e->peer < 0)
            continue;
        if (e->kind == RT_EV_SEND)
            sends[ns++] = (ref){e, e->rank, e->peer};
        else if (e->kind == RT_EV_RECV)
            recvs[nr++] = (ref){e, e->peer, e->rank};
    }
    qsort(sends, ns, sizeof *sends, by_message);
    qsort(recvs, nr, sizeof *recvs, by_message);
    for (size_t i = 0, j = 0; j < nr; j++) {
        while (i < ns && key_cmp(&sends[i], &recvs[j]) < 0)
            i++;
        double start = recvs[j].e->start_s;
        if (i < ns && key_cmp(&sends[i], &recvs[j]) == 0) {
            if (sends[i].e->start_s > start)
                start = sends[i].e->start_s;
            i++;
        }
        span w = {start, recvs[j].e->end_s};
        if (w.b <= w.a)
            continue;
        wire[nw] = w;
        wire_rank[nw++] = recvs[j].dst;
        if (recvs[j].src != recvs[j].dst && recvs[j].src < ranks) {
            wire[nw] = w;
            wire_rank[nw++] = recvs[j].src;
        }
    }

    /* bucket by rank (counting sort), then merge each rank's spans */
    for (size_t i = 0; i < n; i++)
        if (ev[i].rank >= 0 && ev[i].rank < ranks && ev[i].kind == RT_EV_WAIT && ev[i].end_s > ev[i].start_s)
            s->boff[ev[i].rank + 1]++;
    for (size_t i = 0; i < nw; i++)
        s->woff[wire_rank[i] + 1]++;
    for (size_t r = 0; r < R; r++) {
        s->boff[r + 1] += s->boff[r];
        s->woff[r + 1] += s->woff[r];
    }
    size_t *bfill = s->bn, *wfill = s->wn; /* used as cursors, then set to the merged counts */
    for (size_t i = 0; i < n; i++)
        if (ev[i].rank >= 0 && ev[i].rank < ranks && ev[i].kind == RT_EV_WAIT && ev[i].end_s > ev[i].start_s) {
            size_t r = (size_t)ev[i].rank;
            s->blocked[s->boff[r] + bfill[r]++] = (span){ev[i].start_s, ev[i].end_s};
        }
    for (size_t i = 0; i < nw; i++) {
        size_t r = (size_t)wire_rank[i];
        s->wire[s->woff[r] + wfill[r]++] = wire[i];
    }
    for (size_t r = 0; r < R; r++) {
        s->bn[r] = merge(s->blocked + s->boff[r], s->boff[r + 1] - s->boff[r]);
        s->wn[r] = merge(s->wire + s->woff[r], s->woff[r + 1] - s->woff[r]);
    }
    rc = 0;
done:
    free(sends);
    free(recvs);
    free(wire);
    free(wire_rank);
    if (rc)
        free_spans(s);
    return rc;
}

int analysis_split_time(const rt_event *ev, size_t n, int ranks, double total_s,
                        analysis_split *per_rank, analysis_split *mean)
{
    memset(mean, 0, sizeof *mean);
    if (ranks <= 0)
        return 0;
    per_rank_spans s;
    analysis_split *acc = calloc((size_t)ranks, sizeof *acc);
    span *both = NULL;
    size_t most = 0;
    if (!acc || build_spans(ev, n, ranks, &s) != 0) {
        free(acc);
        return -1;
    }
    for (int r = 0; r < ranks; r++)
        if (s.bn[r] + s.wn[r] > most)
            most = s.bn[r] + s.wn[r];
    both = malloc((most + 1) * sizeof *both);
    if (!both) {
        free(acc);
        free_spans(&s);
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        if (ev[i].kind == RT_EV_COMPUTE && ev[i].rank >= 0 && ev[i].rank < ranks)
            acc[ev[i].rank].compute_s += ev[i].end_s - ev[i].start_s;
    for (int r = 0; r < ranks; r++) {
        const span *bl = s.blocked + s.boff[r], *wi = s.wire + s.woff[r];
        double blocked_s = 0, comm_s = 0;
        for (size_t i = 0; i < s.bn[r]; i++)
            blocked_s += bl[i].b - bl[i].a;
        size_t k = intersect(bl, s.bn[r], wi, s.wn[r], both);
        for (size_t i = 0; i < k; i++)
            comm_s += both[i].b - both[i].a;
        acc[r].comm_s = comm_s;
        acc[r].wait_s = blocked_s - comm_s;
        acc[r].other_s = total_s - acc[r].compute_s - blocked_s;
        if (acc[r].other_s < 0)
            acc[r].other_s = 0;
        mean->compute_s += acc[r].compute_s / ranks;
        mean->comm_s += acc[r].comm_s / ranks;
        mean->wait_s += acc[r].wait_s / ranks;
        mean->other_s += acc[r].other_s / ranks;
    }
    if (per_rank)
        memcpy(per_rank, acc, (size_t)ranks * sizeof *acc);
    free(both);
    free(acc);
    free_spans(&s);
    return 0;
}

int analysis_comm_spans(const rt_event *ev, size_t n, int ranks, rt_event **out, size_t *nout)
{
    *out = NULL;
    *nout = 0;
    if (ranks <= 0)
        return 0;
    per_rank_spans s;
    if (build_spans(ev, n, ranks, &s) != 0)
        return -1;
    size_t cap = 0;
    for (int r = 0; r < ranks; r++)
        cap += s.bn[r] + s.wn[r];
    rt_event *res = malloc((cap + 1) * sizeof *res);
    span *both = malloc((cap + 1) * sizeof *both);
    if (!res || !both) {
        free(res);
        free(both);
        free_spans(&s);
        return -1;
    }
    size_t m = 0;
    for (int r = 0; r < ranks; r++) {
        size_t k = intersect(s.blocked + s.boff[r], s.bn[r], s.wire + s.woff[r], s.wn[r], both);
        for (size_t i = 0; i < k; i++)
            res[m++] = (rt_event){.rank = r, .kind = ANALYSIS_EV_COMM, .start_s = both[i].a,
                                  .end_s = both[i].b, .bytes = 0, .peer = -1, .tag = -1};
    }
    free(both);
    free_spans(&s);
    *out = res;
    *nout = m;
    return 0;
}
