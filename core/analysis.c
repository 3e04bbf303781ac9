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

static int by_message(const void *x, const void *y)
{
    const ref *p = x, *q = y;
    if (p->src != q->src)
        return p->src < q->src ? -1 : 1;
    if (p->dst != q->dst)
        return p->dst < q->dst ? -1 : 1;
    if (p->e->tag != q->e->tag)
        return p->e->tag < q->e->tag ? -1 : 1;
    if (p->e->start_s != q->e->start_s)
        return p->e->start_s < q->e->start_s ? -1 : 1;
    return (p->e > q->e) - (p->e < q->e);
}

static int by_start(const void *x, const void *y)
{
    const span *p = x, *q = y;
    return (p->a > q->a) - (p->a < q->a);
}

static int key_cmp(const ref *p, const ref *q)
{
    if (p->src != q->src)
        return p->src < q->src ? -1 : 1;
    if (p->dst != q->dst)
        return p->dst < q->dst ? -1 : 1;
    return (p->e->tag > q->e->tag) - (p->e->tag < q->e->tag);
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

/* Total length of the intersection of two merged span lists. */
static double overlap(const span *x, size_t nx, const span *y, size_t ny)
{
    double total = 0;
    size_t i = 0, j = 0;
    while (i < nx && j < ny) {
        double a = x[i].a > y[j].a ? x[i].a : y[j].a;
        double b = x[i].b < y[j].b ? x[i].b : y[j].b;
        if (b > a)
            total += b - a;
        if (x[i].b < y[j].b)
            i++;
        else
            j++;
    }
    return total;
}

int analysis_split_time(const rt_event *ev, size_t n, int ranks, double total_s,
                        analysis_split *per_rank, analysis_split *mean)
{
    memset(mean, 0, sizeof *mean);
    if (ranks <= 0)
        return 0;
    ref *sends = malloc((n ? n : 1) * sizeof *sends), *recvs = malloc((n ? n : 1) * sizeof *recvs);
    span *wire = malloc((2 * n + 1) * sizeof *wire); /* a transfer, counted at both ends */
    int *wire_rank = malloc((2 * n + 1) * sizeof *wire_rank);
    span *blocked = malloc((n ? n : 1) * sizeof *blocked);
    analysis_split *acc = calloc((size_t)ranks, sizeof *acc);
    int rc = -1;
    if (!sends || !recvs || !wire || !wire_rank || !blocked || !acc)
        goto done;

    size_t ns = 0, nr = 0, nw = 0;
    for (size_t i = 0; i < n; i++) {
        const rt_event *e = &ev[i];
        if (e->rank < 0 || e->rank >= ranks)
            continue;
        if (e->kind == RT_EV_COMPUTE)
            acc[e->rank].compute_s += e->end_s - e->start_s;
        else if (e->kind == RT_EV_SEND && e->peer >= 0)
            sends[ns++] = (ref){e, e->rank, e->peer};
        else if (e->kind == RT_EV_RECV && e->peer >= 0)
            recvs[nr++] = (ref){e, e->peer, e->rank};
    }
    qsort(sends, ns, sizeof *sends, by_message);
    qsort(recvs, nr, sizeof *recvs, by_message);
    /* pair the k-th send of each (src, dst, tag) with its k-th receive */
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

    for (int r = 0; r < ranks; r++) {
        size_t nb = 0, k = 0;
        for (size_t i = 0; i < n; i++)
            if (ev[i].rank == r && ev[i].kind == RT_EV_WAIT && ev[i].end_s > ev[i].start_s)
                blocked[nb++] = (span){ev[i].start_s, ev[i].end_s};
        nb = merge(blocked, nb);
        /* this rank's transfers, merged */
        span *tw = malloc((nw + 1) * sizeof *tw);
        if (!tw)
            goto done;
        for (size_t i = 0; i < nw; i++)
            if (wire_rank[i] == r)
                tw[k++] = wire[i];
        k = merge(tw, k);
        double blocked_s = 0;
        for (size_t i = 0; i < nb; i++)
            blocked_s += blocked[i].b - blocked[i].a;
        acc[r].comm_s = overlap(blocked, nb, tw, k);
        acc[r].wait_s = blocked_s - acc[r].comm_s;
        acc[r].other_s = total_s - acc[r].compute_s - blocked_s;
        if (acc[r].other_s < 0)
            acc[r].other_s = 0;
        free(tw);
        mean->compute_s += acc[r].compute_s / ranks;
        mean->comm_s += acc[r].comm_s / ranks;
        mean->wait_s += acc[r].wait_s / ranks;
        mean->other_s += acc[r].other_s / ranks;
    }
    if (per_rank)
        memcpy(per_rank, acc, (size_t)ranks * sizeof *acc);
    rc = 0;
done:
    free(sends);
    free(recvs);
    free(wire);
    free(wire_rank);
    free(blocked);
    free(acc);
    return rc;
}
