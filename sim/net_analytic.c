/* net_analytic.c -- the flow model behind --net analytic (net_analytic.h).
 *
 * State: each link keeps the flows on it (an array; each flow remembers
 * its place in every array it sits in, so leaving is O(route length)).
 * Every flow has one pending event, its latency paid or its end, in one
 * binary heap ordered by (time, the caller's order): events of one instant
 * come out in an order that does not depend on when their flows were
 * started, so neither do the links' flow lists, the rates (their sums'
 * rounding), nor the order of done(). The heap holds the event's
 * time and order beside the flow, so that sifting compares entries
 * without reading the flows (at thousands of flows each read was a cache
 * miss); a flow whose time changes gets a new entry and its old one goes
 * stale (its version no longer the flow's), skipped when it comes up.
 * Flows live in slabs and are reused, so a stale entry always points to
 * a flow's memory. An entry that comes no earlier than the last one
 * pushed in order goes instead at the end of a sorted run (a FIFO) beside
 * the heap, and the next event is the earlier of the two heads: the same
 * events in the same order, but a ring's step, whose p flows start and
 * end in order, then costs O(1) per event instead of O(log p) (the
 * heap's pops were an eighth of a 512-rank ring's instructions).
 *
 * When flows join or leave, or a bandwidth changes, the links touched are
 * "dirty". Rates are found again only for the flows connected to a dirty
 * link through shared links (the component: link -> its flows -> their
 * shared links -> ...), by progressive filling: raise a common level; a
 * flow of weight w gets w x level; the shared link whose spare capacity
 * divided by the weight of its unfixed flows is smallest saturates first
 * and fixes its flows' rates; a flow whose own bound (the slowest FATPIPE
 * of its route) is reached first is fixed at that bound; repeat. A heap of
 * candidate levels keeps this O((flows x route + links) log links) per
 * component. A ring or a pingpong has one flow per link, so each message
 * costs O(route length) here; an incast of k flows O(k) per join or leave.
 *
 * A flow's bytes are brought up to date only when its rate changes
 * (remaining -= rate x time since the last change), and a rate that comes
 * out the same leaves the flow alone, so a flow that never shares ends at
 * exactly start + latency + bytes / bandwidth.
 */
#include "sim/net_analytic.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct na_link {
    double bw;
    int shared;
    na_flow **flows; /* the flows in their sharing phase on it */
    int n, cap;
    /* progressive filling's scratch */
    double rem, wsum;
    int nfree;
    unsigned ver, mark;
} na_link;

struct na_flow {
    const int *route;
    void *user;
    double weight, remaining, rate, t_last, due;
    double bound;     /* filling: the FATPIPE bound */
    double new_rate;  /* filling: its result */
    long long order;  /* the caller's rank of it among one instant's events */
    int nlinks;
    unsigned ver;     /* its heap entry's version; kept across reuse */
    unsigned mark;
    short room;       /* the length of its slot array */
    char joined;      /* 0: paying its latency; 1: sharing */
    char fixed;
    int slot[];       /* its index in each route link's flows; then, for a
                       * short route, the route itself (route points there) */
};

/* A pending event: valid while ver is its flow's. */
typedef struct na_event {
    double due;
    long long order;
    na_flow *f;
    unsigned ver;
} na_event;

typedef struct fill_entry {
    double level;
    int link;         /* >= 0: a link; < 0: flow -1 - link of the component */
    unsigned ver;
} fill_entry;

struct na_net {
    na_link *links;
    int nlinks, cap_links;
    na_event *heap;
    size_t nheap, cap_heap;
    na_event *run;    /* the sorted run: nrun events from run_head, cap_run a power of 2 */
    size_t run_head, nrun, cap_run;
    size_t nflows;    /* under way */
    unsigned epoch;
    int *dirty;
    int ndirty, cap_dirty;
    na_flow **lone;   /* joined flows whose rate no dirty link will reach */
    int nlone, cap_lone;
    na_flow **solo;   /* joined flows alone on each shared link (join_links) */
    int nsolo, cap_solo;
    /* scratch of a re-rating */
    na_flow **comp;
    size_t ncomp, cap_comp;
    int *clinks;
    size_t nclinks, cap_clinks;
    fill_entry *fill;
    size_t nfill, cap_fill;
    na_flow **ended;
    size_t nended, cap_ended;
    na_flow *spare;   /* ended flows of short routes, for reuse (next in user) */
    na_flow *spare_long; /* ended flows of longer routes (next in user) */
    char **slabs;     /* where the short-route flows live */
    size_t nslabs, cap_slabs, slab_used;
    na_flow **longs;  /* the longer-route flows, each its own block */
    size_t nlongs, cap_longs;
};

/* A flow's slot array is at least this long, so that the flows of short
 * routes (a star: 2 links; two racks: 4) are all one size and ended ones
 * can be reused: a ring of p ranks starts 2p(p-1) flows. Such a flow
 * keeps a copy of its route after its slots: joining, re-rating and
 * leaving read the route, and the caller's copy (in sim.c, the receiver's
 * record of its peer) is one of thousands of records no longer in any
 * cache by then -- at 16,384 ranks those reads were most of the misses
 * of na_advance and rerate (perf annotate). The slabs' flows are read in
 * the order they were made, which the prefetcher follows. */
#define NA_SHORT_ROUTE 4
#define NA_FLOW_BYTES (sizeof(na_flow) + 2 * NA_SHORT_ROUTE * sizeof(int))
#define NA_SLAB 1024 /* flows per slab */
_Static_assert(NA_FLOW_BYTES == 128, "a short-route flow is two cache lines");

/* Grow *arr (of elem-size items) to hold need; 0, or -1 when out of memory. */
static int grow(void **arr, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t c = *cap ? *cap : 16;
    while (c < need)
        c *= 2;
    void *p = realloc(*arr, c * elem);
    if (!p)
        return -1;
    *arr = p;
    *cap = c;
    return 0;
}

static int grow_int(void **arr, int *cap, int need, size_t elem)
{
    size_t c = (size_t)*cap;
    int rc = grow(arr, &c, (size_t)need, elem);
    *cap = (int)c;
    return rc;
}

na_net *na_new(void) { return calloc(1, sizeof(na_net)); }

void na_free(na_net *n)
{
    if (!n)
        return;
    for (size_t i = 0; i < n->nslabs; i++)
        free(n->slabs[i]);
    for (size_t i = 0; i < n->nlongs; i++)
        free(n->longs[i]);
    free(n->slabs);
    free(n->longs);
    for (int l = 0; l < n->nlinks; l++)
        free(n->links[l].flows);
    free(n->links);
    free(n->heap);
    free(n->run);
    free(n->dirty);
    free(n->lone);
    free(n->solo);
    free(n->comp);
    free(n->clinks);
    free(n->fill);
    free(n->ended);
    free(n);
}

int na_link_add(na_net *n, double bandwidth_Bps, int shared)
{
    if (grow_int((void **)&n->links, &n->cap_links, n->nlinks + 1, sizeof *n->links) != 0)
        return -1;
    na_link *l = &n->links[n->nlinks];
    memset(l, 0, sizeof *l);
    l->bw = bandwidth_Bps;
    l->shared = shared;
    return n->nlinks++;
}

double na_flow_rate(const na_flow *f) { return f->joined ? f->rate : 0; }
size_t na_flows(const na_net *n) { return n->nflows; }

/* ---- the event heap: (due, order) ---- */

static int before(const na_event *a, const na_event *b)
{
    return a->due < b->due || (a->due == b->due && a->order < b->order);
}

static na_event *run_at(const na_net *n, size_t k)
{
    return &n->run[(n->run_head + k) & (n->cap_run - 1)];
}

/* e at the end of the run; -1 when out of memory. */
static int run_push(na_net *n, const na_event *e)
{
    if (n->nrun == n->cap_run) {
        size_t cap = n->cap_run ? 2 * n->cap_run : 64;
        na_event *a = malloc(cap * sizeof *a);
        if (!a)
            return -1;
        for (size_t k = 0; k < n->nrun; k++)
            a[k] = *run_at(n, k);
        free(n->run);
        n->run = a;
        n->run_head = 0;
        n->cap_run = cap;
    }
    n->nrun++;
    *run_at(n, n->nrun - 1) = *e;
    return 0;
}

/* An entry for f's due (f->ver moved on already): on the run when it
 * comes no earlier than the run's last, else on the heap; -1 when out of
 * memory. */
static int heap_push(na_net *n, na_flow *f)
{
    na_event e = {f->due, f->order, f, f->ver};
    if (!n->nrun || !before(&e, run_at(n, n->nrun - 1)))
        return run_push(n, &e);
    if (grow((void **)&n->heap, &n->cap_heap, n->nheap + 1, sizeof *n->heap) != 0)
        return -1;
    size_t i = n->nheap++;
    while (i > 0 && before(&e, &n->heap[(i - 1) / 2])) {
        n->heap[i] = n->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    n->heap[i] = e;
    return 0;
}

static void heap_pop(na_net *n)
{
    na_event last = n->heap[--n->nheap];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n->nheap)
            break;
        if (c + 1 < n->nheap && before(&n->heap[c + 1], &n->heap[c]))
            c++;
        if (!before(&n->heap[c], &last))
            break;
        n->heap[i] = n->heap[c];
        i = c;
    }
    if (n->nheap)
        n->heap[i] = last;
}

/* The next event: the earlier of the run's first and the heap's top;
 * NULL when there is none. */
static const na_event *next_event(const na_net *n)
{
    const na_event *r = n->nrun ? &n->run[n->run_head] : NULL, *h = n->nheap ? &n->heap[0] : NULL;
    if (!r || !h)
        return r ? r : h;
    return before(h, r) ? h : r;
}

/* Take next_event out. */
static void next_pop(na_net *n)
{
    if (n->nrun && (!n->nheap || !before(&n->heap[0], &n->run[n->run_head]))) {
        n->run_head = (n->run_head + 1) & (n->cap_run - 1);
        n->nrun--;
    } else {
        heap_pop(n);
    }
}

static int stale(const na_event *e) { return e->ver != e->f->ver; }

/* Drop stale entries from the top, so that na_next reads a live one. */
static void heap_clean(na_net *n)
{
    const na_event *e;
    while ((e = next_event(n)) && stale(e))
        next_pop(n);
}

/* f's due changed: its old entry goes stale, a new one goes in. */
static int heap_move(na_net *n, na_flow *f)
{
    f->ver++;
    return f->due < INFINITY ? heap_push(n, f) : 0;
}

double na_next(const na_net *n)
{
    const na_event *e = next_event(n);
    return e ? e->due : INFINITY;
}

/* ---- links' flow lists ---- */

static int mark_dirty(na_net *n, int link)
{
    if (grow_int((void **)&n->dirty, &n->cap_dirty, n->ndirty + 1, sizeof *n->dirty) != 0)
        return -1;
    n->dirty[n->ndirty++] = link;
    return 0;
}

/* f joins its links. When it is alone on each shared one (a ring's step,
 * a pingpong), no other flow's share changes and its own is its slowest
 * link's: it goes on the solo list for that, and its links are not made
 * dirty, so no component is gathered for it (what rerate would find:
 * fill_alone). Otherwise its links are dirty. */
static int join_links(na_net *n, na_flow *f)
{
    int alone = 1;
    for (int i = 0; i < f->nlinks; i++) {
        na_link *l = &n->links[f->route[i]];
        if (grow_int((void **)&l->flows, &l->cap, l->n + 1, sizeof *l->flows) != 0)
            return -1;
        f->slot[i] = l->n;
        l->flows[l->n++] = f;
        alone &= !l->shared || l->n == 1;
    }
    if (f->nlinks == 0) {
        if (grow_int((void **)&n->lone, &n->cap_lone, n->nlone + 1, sizeof *n->lone) != 0)
            return -1;
        n->lone[n->nlone++] = f;
        return 0;
    }
    if (alone) {
        if (grow_int((void **)&n->solo, &n->cap_solo, n->nsolo + 1, sizeof *n->solo) != 0)
            return -1;
        n->solo[n->nsolo++] = f;
        return 0;
    }
    for (int i = 0; i < f->nlinks; i++)
        if (mark_dirty(n, f->route[i]) != 0)
            return -1;
    return 0;
}

/* f leaves its links; those that still carry flows are dirty (an empty
 * one would bring no flow to re-rate). */
static int leave_links(na_net *n, na_flow *f)
{
    for (int i = 0; i < f->nlinks; i++) {
        int id = f->route[i];
        na_link *l = &n->links[id];
        na_flow *last = l->flows[--l->n];
        if (last != f) {
            l->flows[f->slot[i]] = last;
            for (int j = 0; j < last->nlinks; j++)
                if (last->route[j] == id && last->slot[j] == l->n) {
                    last->slot[j] = f->slot[i];
                    break;
                }
        }
        if (l->n > 0 && mark_dirty(n, id) != 0)
            return -1;
    }
    return 0;
}

/* ---- progressive filling ---- */

static int fill_push(na_net *n, double level, int link, unsigned ver)
{
    if (grow((void **)&n->fill, &n->cap_fill, n->nfill + 1, sizeof *n->fill) != 0)
        return -1;
    size_t i = n->nfill++;
    fill_entry e = {level, link, ver};
    while (i > 0 && n->fill[(i - 1) / 2].level > level) {
        n->fill[i] = n->fill[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    n->fill[i] = e;
    return 0;
}

static fill_entry fill_pop(na_net *n)
{
    fill_entry top = n->fill[0], last = n->fill[--n->nfill];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n->nfill)
            break;
        if (c + 1 < n->nfill && n->fill[c + 1].level < n->fill[c].level)
            c++;
        if (n->fill[c].level >= last.level)
            break;
        n->fill[i] = n->fill[c];
        i = c;
    }
    if (n->nfill)
        n->fill[i] = last;
    return top;
}

static int link_push(na_net *n, int id)
{
    na_link *l = &n->links[id];
    l->ver++;
    if (l->nfree == 0)
        return 0;
    double rem = l->rem > 0 ? l->rem : 0;
    return fill_push(n, rem / l->wsum, id, l->ver);
}

/* Fix f at rate r: it takes r from each shared link of its route. */
static int fix(na_net *n, na_flow *f, double r)
{
    f->fixed = 1;
    f->new_rate = r;
    for (int i = 0; i < f->nlinks; i++) {
        na_link *l = &n->links[f->route[i]];
        if (!l->shared)
            continue;
        l->rem -= r;
        l->wsum -= f->weight;
        l->nfree--;
        if (link_push(n, f->route[i]) != 0)
            return -1;
    }
    return 0;
}

/* Gather the component of the dirty links and the lone flows. */
static int gather(na_net *n)
{
    unsigned ep = ++n->epoch;
    n->ncomp = n->nclinks = 0;
    for (int d = 0; d < n->ndirty; d++) {
        int id = n->dirty[d];
        if (n->links[id].mark == ep)
            continue;
        n->links[id].mark = ep;
        if (grow((void **)&n->clinks, &n->cap_clinks, n->nclinks + 1, sizeof *n->clinks) != 0)
            return -1;
        n->clinks[n->nclinks++] = id;
    }
    n->ndirty = 0;
    for (int i = 0; i < n->nlone; i++) {
        if (grow((void **)&n->comp, &n->cap_comp, n->ncomp + 1, sizeof *n->comp) != 0)
            return -1;
        n->lone[i]->mark = ep;
        n->comp[n->ncomp++] = n->lone[i];
    }
    n->nlone = 0;
    /* breadth first: a FATPIPE link brings its flows, but does not join
     * them to each other */
    for (size_t k = 0; k < n->nclinks; k++) {
        na_link *l = &n->links[n->clinks[k]];
        for (int j = 0; j < l->n; j++) {
            na_flow *f = l->flows[j];
            if (f->mark == ep)
                continue;
            f->mark = ep;
            if (grow((void **)&n->comp, &n->cap_comp, n->ncomp + 1, sizeof *n->comp) != 0)
                return -1;
            n->comp[n->ncomp++] = f;
            for (int i = 0; i < f->nlinks; i++) {
                na_link *m = &n->links[f->route[i]];
                if (!m->shared || m->mark == ep)
                    continue;
                m->mark = ep;
                if (grow((void **)&n->clinks, &n->cap_clinks, n->nclinks + 1, sizeof *n->clinks) != 0)
                    return -1;
                n->clinks[n->nclinks++] = f->route[i];
            }
        }
    }
    return 0;
}

/* Is every flow of the component alone on each shared link of its route
 * (a ring's step, a pingpong)? */
static int all_alone(const na_net *n)
{
    for (size_t c = 0; c < n->ncomp; c++) {
        const na_flow *f = n->comp[c];
        for (int i = 0; i < f->nlinks; i++) {
            const na_link *l = &n->links[f->route[i]];
            if (l->shared && l->n != 1)
                return 0;
        }
    }
    return 1;
}

/* The bandwidth of the slowest link of f's route (INFINITY: none). */
static double slowest_link(const na_net *n, const na_flow *f)
{
    double r = INFINITY;
    for (int i = 0; i < f->nlinks; i++)
        if (n->links[f->route[i]].bw < r)
            r = n->links[f->route[i]].bw;
    return r;
}

/* Progressive filling for flows that share nothing: each gets the
 * bandwidth of the slowest link of its route (its own share of a shared
 * one, all of it, or a FATPIPE's bound), as the filling below gives it,
 * without its heap (an O(log) push and pop per link and flow). */
static void fill_alone(na_net *n)
{
    for (size_t c = 0; c < n->ncomp; c++) {
        na_flow *f = n->comp[c];
        double r = slowest_link(n, f);
        f->fixed = r < INFINITY;
        f->new_rate = r;
    }
}

/* f's rate from now on is r: its bytes so far are counted at the old one
 * and its end moves; a rate that comes out the same changes nothing. */
static int set_rate(na_net *n, na_flow *f, double r, double now)
{
    if (r == f->rate && f->t_last <= now)
        return 0;
    if (f->rate > 0 && f->rate < INFINITY) {
        f->remaining -= f->rate * (now - f->t_last);
        if (f->remaining < 0)
            f->remaining = 0;
    }
    f->t_last = now;
    f->rate = r;
    f->due = r == INFINITY ? now : r > 0 ? now + f->remaining / r : INFINITY;
    return heap_move(n, f);
}

/* New rates for the component, applied at now. */
static int rerate(na_net *n, double now)
{
    if (gather(n) != 0)
        return -1;
    if (all_alone(n)) {
        fill_alone(n);
        goto apply;
    }
    n->nfill = 0;
    for (size_t k = 0; k < n->nclinks; k++) {
        na_link *l = &n->links[n->clinks[k]];
        l->rem = l->bw;
        l->wsum = 0;
        l->nfree = 0;
        if (!l->shared)
            continue;
        for (int j = 0; j < l->n; j++)
            l->wsum += l->flows[j]->weight;
        l->nfree = l->n;
        if (link_push(n, n->clinks[k]) != 0)
            return -1;
    }
    for (size_t c = 0; c < n->ncomp; c++) {
        na_flow *f = n->comp[c];
        f->fixed = 0;
        f->bound = INFINITY;
        for (int i = 0; i < f->nlinks; i++) {
            const na_link *l = &n->links[f->route[i]];
            if (!l->shared && l->bw < f->bound)
                f->bound = l->bw;
        }
        if (f->bound < INFINITY && fill_push(n, f->bound / f->weight, -1 - (int)c, 0) != 0)
            return -1;
    }
    while (n->nfill) {
        fill_entry e = fill_pop(n);
        if (e.link < 0) {
            na_flow *f = n->comp[-1 - e.link];
            if (!f->fixed && fix(n, f, f->bound) != 0)
                return -1;
            continue;
        }
        na_link *l = &n->links[e.link];
        if (e.ver != l->ver || l->nfree == 0)
            continue;
        /* the link saturates: each unfixed flow on it gets its weight's
         * part of what is left (the last one all of it, exactly) */
        for (int j = 0; j < l->n && l->nfree > 0; j++) {
            na_flow *f = l->flows[j];
            if (f->fixed)
                continue;
            double rem = l->rem > 0 ? l->rem : 0;
            double r = l->nfree == 1 ? rem : rem * (f->weight / l->wsum);
            if (f->bound < r)
                r = f->bound;
            if (fix(n, f, r) != 0)
                return -1;
        }
    }
apply:
    for (size_t c = 0; c < n->ncomp; c++) {
        na_flow *f = n->comp[c];
        if (set_rate(n, f, f->fixed ? f->new_rate : INFINITY /* no link holds it back */, now) != 0)
            return -1;
    }
    return 0;
}

/* The solo flows' rates: each its route's slowest link, as fill_alone
 * gives it. Before rerate, which re-rates one that a later join of the
 * same instant made share a link. */
static int rate_solos(na_net *n, double now)
{
    for (int k = 0; k < n->nsolo; k++) {
        na_flow *f = n->solo[k];
        if (set_rate(n, f, slowest_link(n, f), now) != 0)
            return -1;
    }
    n->nsolo = 0;
    return 0;
}

/* ---- flows' memory ---- */

/* A flow record with room for nlinks slots, zeroed but for its version
 * and room: a reused one, or one from a slab (short routes) or a block of
 * its own (kept until na_free, as a stale heap entry may point to it). */
static na_flow *flow_new(na_net *n, int nlinks)
{
    na_flow *f = NULL;
    if (nlinks > SHRT_MAX) /* room is a short; no platform has such a route */
        return NULL;
    if (nlinks <= NA_SHORT_ROUTE) {
        if ((f = n->spare)) {
            n->spare = f->user;
        } else {
            if (!n->nslabs || n->slab_used == NA_SLAB) {
                char *slab = aligned_alloc(64, NA_SLAB * NA_FLOW_BYTES);
                if (slab)
                    memset(slab, 0, NA_SLAB * NA_FLOW_BYTES);
                if (!slab || grow((void **)&n->slabs, &n->cap_slabs, n->nslabs + 1, sizeof *n->slabs) != 0) {
                    free(slab);
                    return NULL;
                }
                n->slabs[n->nslabs++] = slab;
                n->slab_used = 0;
            }
            f = (na_flow *)(n->slabs[n->nslabs - 1] + n->slab_used++ * NA_FLOW_BYTES);
            f->room = NA_SHORT_ROUTE;
        }
    } else if (n->spare_long && n->spare_long->room >= nlinks) {
        f = n->spare_long;
        n->spare_long = f->user;
    } else {
        if (grow((void **)&n->longs, &n->cap_longs, n->nlongs + 1, sizeof *n->longs) != 0 ||
            !(f = calloc(1, sizeof *f + (size_t)nlinks * sizeof(int))))
            return NULL;
        f->room = nlinks;
        n->longs[n->nlongs++] = f;
    }
    unsigned ver = f->ver;
    int room = f->room;
    memset(f, 0, sizeof *f);
    f->ver = ver + 1; /* what pointed to it before is stale */
    f->room = room;
    return f;
}

/* An ended flow goes back for reuse. */
static void flow_spare(na_net *n, na_flow *f)
{
    f->ver++;
    if (f->room <= NA_SHORT_ROUTE) {
        f->user = n->spare;
        n->spare = f;
    } else {
        f->user = n->spare_long;
        n->spare_long = f;
    }
}

/* ---- the API ---- */

na_flow *na_flow_start(na_net *n, const int *route, int nlinks, double latency_s, double bytes,
                       double weight, double now, long long order, void *user)
{
    na_flow *f = flow_new(n, nlinks);
    if (!f)
        return NULL;
    if (f->room == NA_SHORT_ROUTE && nlinks <= NA_SHORT_ROUTE) {
        int *copy = f->slot + NA_SHORT_ROUTE;
        memcpy(copy, route, (size_t)nlinks * sizeof *copy);
        f->route = copy;
    } else {
        f->route = route;
    }
    f->nlinks = nlinks;
    f->weight = weight > 0 ? weight : 1;
    f->remaining = bytes;
    f->t_last = now;
    f->due = now + latency_s;
    f->order = order;
    f->user = user;
    if (heap_push(n, f) != 0) {
        flow_spare(n, f);
        return NULL;
    }
    n->nflows++;
    return f;
}

void na_link_set_bandwidth(na_net *n, int link, double bandwidth_Bps, double now)
{
    n->links[link].bw = bandwidth_Bps;
    if (mark_dirty(n, link) == 0)
        rerate(n, now);
    heap_clean(n);
}

static int by_order(const void *a, const void *b)
{
    long long x = (*(na_flow *const *)a)->order, y = (*(na_flow *const *)b)->order;
    return (x > y) - (x < y);
}

int na_advance(na_net *n, double now, void (*done)(void *user, void *ctx), void *ctx)
{
    double limit = now + 1e-12 * (fabs(now) > 1e-3 ? fabs(now) : 1e-3);
    n->nended = 0;
    const na_event *next;
    while ((next = next_event(n)) && next->due <= limit) {
        na_event e = *next;
        next_pop(n);
        na_flow *f = e.f;
        if (e.ver != f->ver)
            continue;
        f->ver++; /* no entry of it is left */
        if (!f->joined) { /* its latency is paid: it joins its links */
            f->joined = 1;
            f->t_last = now;
            f->rate = 0;
            f->due = INFINITY; /* until rerate gives it a rate */
            if (join_links(n, f) != 0)
                return -1;
            continue;
        }
        n->nflows--;
        if (leave_links(n, f) != 0)
            return -1;
        if (grow((void **)&n->ended, &n->cap_ended, n->nended + 1, sizeof *n->ended) != 0)
            return -1;
        n->ended[n->nended++] = f;
    }
    /* a flow that has joined but has its rate still to find sits at
     * INFINITY: rerate reaches it through its links (or the lone list) */
    if (n->nsolo && rate_solos(n, now) != 0)
        return -1;
    if ((n->ndirty || n->nlone) && rerate(n, now) != 0)
        return -1;
    heap_clean(n);
    /* the heap gives them by (end, order): usually in order already
     * (ends within the tolerance but not equal are not), and glibc's
     * qsort would allocate a buffer for nothing */
    size_t k = n->nended;
    for (size_t i = 1; i < k; i++)
        if (n->ended[i - 1]->order > n->ended[i]->order) {
            qsort(n->ended, k, sizeof *n->ended, by_order);
            break;
        }
    for (size_t i = 0; i < k; i++) {
        na_flow *f = n->ended[i];
        done(f->user, ctx);
        flow_spare(n, f);
    }
    return (int)k;
}
