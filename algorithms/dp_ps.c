/* dp_ps.c -- the data-parallel step of dp.c through a parameter server,
 * with tensors cut into pieces and sent in priority order (P3,
 * ByteScheduler) or in the order backward makes them (a plain PS, as
 * TensorFlow's ParameterServerStrategy). Timing only, like dp.c.
 *
 * The job's first W ranks are workers (GPUs), the last K servers (CPU
 * machines). Each layer's gradient is cut into pieces of at most
 * o->partition_bytes (a whole layer when 0), numbered input layer first;
 * piece i lives on server i mod K (round-robin, as TensorFlow places
 * variables on its PS tasks).
 *
 * One step on a worker:
 *   forward:  layer by layer, input first; layer l starts once every piece
 *             of layer l has come back from its server (step 0: at once);
 *   backward: layer by layer, output first; as layer l is done its pieces
 *             join the worker's queue and jobs are posted (rt_async_post)
 *             that push them, up to o->credit_bytes at once (at least one
 *             piece; ByteScheduler's credit), each freed place taken by
 *             the queue's best piece -- with o->priority the one nearest
 *             the input, else the one made first -- so pieces of the input
 *             side, ready last, overtake the output side's still queued;
 *   drain:    the step ends when every piece is pushed (rt_async_drain)
 *             and the worker has asked for all of them back; the pulls
 *             are waited for in the next forward, layer by layer.
 * A server sums each piece once all W pushes of it are in (W-1 additions a
 * float) and sends it back to the W workers, one message at a time,
 * best piece first by the same rule (older steps before newer).
 *
 * What this leaves out. A rank's jobs run one after another and each
 * ends its own messages (runtime.h; in simulation a job is an actor, and
 * what it left on the wire would die with it). So the pushes still queued
 * when backward ends go before the next forward starts (P3 overlaps them
 * with it); a worker asks for its pieces back only when its backward is
 * done (P3 asks right after each push, so a piece summed early could come
 * back during backward); and a job blocked on its pushes sees a piece
 * queued meanwhile only when one of them ends, not at once when the
 * credit had room. All make the communication the forward hides smaller
 * than P3's: the priority gain shown is a lower bound. The servers'
 * optimizer work is not charged.
 *
 * References: Jayarajan et al., "Priority-based Parameter Propagation for
 * Distributed DNN Training" (P3), SysML 2019; Peng et al., "A Generic
 * Communication Scheduler for Distributed DNN Training Acceleration"
 * (ByteScheduler), SOSP 2019, and its bytecore.py (pieces of 1,000,000
 * parameters, credit 4,000,000 parameters by default).
 *
 * A server takes the next push from every worker at once and replies one
 * message at a time; a reply moves once its worker has asked for it.
 */
#include "algorithms/dp.h"

#include <stdlib.h>
#include <string.h>

typedef struct piece {
    int layer, server; /* server: a rank */
    size_t floats;
} piece;

/* A binary min-heap of piece numbers by key. */
typedef struct heap {
    int *item, n;
    long *key; /* by piece */
} heap;

static void heap_push(heap *h, int it)
{
    int i = h->n++;
    while (i > 0 && h->key[h->item[(i - 1) / 2]] > h->key[it]) {
        h->item[i] = h->item[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h->item[i] = it;
}

static int heap_pop(heap *h)
{
    int top = h->item[0], last = h->item[--h->n], i = 0;
    for (;;) {
        int c = 2 * i + 1;
        if (c >= h->n)
            break;
        if (c + 1 < h->n && h->key[h->item[c + 1]] < h->key[h->item[c]])
            c++;
        if (h->key[h->item[c]] >= h->key[last])
            break;
        h->item[i] = h->item[c];
        i = c;
    }
    if (h->n)
        h->item[i] = last;
    return top;
}

typedef struct plan {
    int n, *first; /* pieces; first[l] .. first[l+1]-1 are layer l's */
    piece *pc;
    size_t max_floats;
} plan;

long dp_ps_pieces(const ml_workload *w, size_t partition_bytes)
{
    size_t per = partition_bytes / 4;
    long n = 0;
    for (int l = 0; l < w->nlayers; l++) {
        size_t p = (size_t)w->layers[l].params;
        n += p == 0 ? 0 : per ? (long)((p + per - 1) / per) : 1;
    }
    return n;
}

static int plan_make(const dp_opts *o, int W, plan *pl)
{
    const ml_workload *w = o->w;
    size_t per = o->partition_bytes / 4;
    long n = dp_ps_pieces(w, o->partition_bytes);
    if (n > DP_PS_MAX_PIECES / W)
        return -1;
    pl->n = (int)n;
    pl->first = malloc(((size_t)w->nlayers + 1) * sizeof *pl->first);
    pl->pc = malloc((size_t)(n ? n : 1) * sizeof *pl->pc);
    if (!pl->first || !pl->pc)
        return -1;
    int i = 0;
    pl->max_floats = 0;
    for (int l = 0; l < w->nlayers; l++) {
        size_t p = (size_t)w->layers[l].params, k = p == 0 ? 0 : per ? (p + per - 1) / per : 1;
        pl->first[l] = i;
        /* k pieces of p: the first p mod k one float longer */
        for (size_t j = 0; j < k; j++, i++) {
            pl->pc[i] = (piece){.layer = l, .server = W + i % o->servers,
                                .floats = p / k + (j < p % k)};
            if (pl->pc[i].floats > pl->max_floats)
                pl->max_floats = pl->pc[i].floats;
        }
    }
    pl->first[w->nlayers] = i;
    return 0;
}

static void plan_free(plan *pl)
{
    free(pl->first);
    free(pl->pc);
}

/* ---- the worker ---- */

typedef struct worker {
    const dp_opts *o;
    const plan *pl;
    heap queue;
    long made;             /* pieces queued so far: the FIFO key */
    rt_request **pull;     /* by piece */
    rt_request **win;      /* the pushes on the wire, and their pieces */
    int *win_piece;
    dp_slot *slot;
    int step;
} worker;

/* rt_async_fn: the worker's pushes, while there are pieces queued. Up to
 * credit_bytes go at once (at least one piece); as one ends, the queue's
 * best piece takes its place -- with priority the one nearest the input,
 * so a piece queued later can overtake those queued before it. Every
 * request a job makes ends with it (in simulation a job is an actor of
 * its own, and what it left on the wire would die with it): the job
 * returns when the queue is empty and its pushes are through, and the
 * jobs posted for pieces it already took find nothing and return. */
static int push_pieces(rt *r, void *arg)
{
    worker *wk = arg;
    const plan *pl = wk->pl;
    size_t credit = wk->o->credit_bytes / 4, on_wire = 0;
    int n = 0, rc = RT_OK;
    for (;;) {
        while (!rc && wk->queue.n &&
               (n == 0 || on_wire + pl->pc[wk->queue.item[0]].floats <= credit)) {
            int i = heap_pop(&wk->queue);
            if (wk->step == wk->o->steps - 1 && wk->slot->pushes < DP_ORDER)
                wk->slot->push_order[wk->slot->pushes++] = i;
            rc = rt_isend(r, pl->pc[i].server, i, NULL, pl->pc[i].floats * 4, &wk->win[n]);
            wk->win_piece[n++] = i;
            on_wire += pl->pc[i].floats;
        }
        if (rc || n == 0)
            break;
        int done;
        if ((rc = rt_waitany(r, n, wk->win, &done, NULL)) || done < 0)
            break;
        on_wire -= pl->pc[wk->win_piece[done]].floats;
        n--;
        wk->win[done] = wk->win[n];
        wk->win_piece[done] = wk->win_piece[n];
        wk->win[n] = NULL;
    }
    if (rc)
        rt_waitall(r, n, wk->win, NULL);
    return rc;
}

/* rt_compute, adding its time to *spent. */
static int timed_compute(rt *r, double flops, double *spent)
{
    double t = rt_now(r);
    int rc = rt_compute(r, flops);
    *spent += rt_now(r) - t;
    return rc;
}

static int ps_worker(rt *r, const dp_opts *o, const plan *pl, dp_slot *s)
{
    const ml_workload *w = o->w;
    worker wk = {.o = o, .pl = pl, .slot = s};
    size_t n = (size_t)(pl->n ? pl->n : 1);
    s->buckets = pl->n;
    wk.queue.item = malloc(n * sizeof *wk.queue.item);
    wk.queue.key = malloc(n * sizeof *wk.queue.key);
    wk.pull = calloc(n, sizeof *wk.pull);
    wk.win = calloc(n, sizeof *wk.win);
    wk.win_piece = malloc(n * sizeof *wk.win_piece);
    int rc = RT_OK;
    if (!wk.queue.item || !wk.queue.key || !wk.pull || !wk.win || !wk.win_piece) {
        rc = rt_fail(r, RT_ENOMEM, "dp: no memory for %d pieces", pl->n);
        goto done;
    }
    for (int step = 0; step < o->steps && !rc; step++) {
        double t0 = rt_now(r), spent = 0;
        wk.step = step;
        /* ---- forward, input first, each layer once its pieces are back ---- */
        for (int l = 0; l < w->nlayers && !rc; l++) {
            for (int i = pl->first[l]; i < pl->first[l + 1] && !rc && step > 0; i++)
                rc = rt_wait(r, &wk.pull[i], NULL);
            if (!rc)
                rc = timed_compute(r, 2.0 * w->layers[l].fwd_macs * o->batch, &spent);
        }
        /* ---- backward, output first; pieces queued as layers finish ---- */
        for (int l = w->nlayers - 1; l >= 0 && !rc; l--) {
            rc = timed_compute(r, 2.0 * WORKLOAD_BWD_PER_FWD * w->layers[l].fwd_macs * o->batch,
                               &spent);
            for (int i = pl->first[l]; i < pl->first[l + 1] && !rc; i++) {
                wk.queue.key[i] = o->priority ? i : wk.made;
                wk.made++;
                heap_push(&wk.queue, i);
                rc = rt_async_post(r, push_pieces, &wk);
            }
        }
        s->backward_end_s[step] = rt_now(r) - t0;
        /* ---- every piece pushed; ask for them back ---- */
        int drained = rt_async_drain(r);
        rc = rc ? rc : drained;
        for (int i = 0; i < pl->n && !rc; i++)
            rc = rt_irecv(r, pl->pc[i].server, i, NULL, pl->pc[i].floats * 4, &wk.pull[i]);
        s->step_s[step] = rt_now(r) - t0;
        s->compute_s[step] = spent;
    }
    /* the last step's pulls, outside the steps */
    if (wk.pull) {
        int rc2 = rt_waitall(r, pl->n, wk.pull, NULL);
        rc = rc ? rc : rc2;
    }
done:
    free(wk.queue.item);
    free(wk.queue.key);
    free(wk.pull);
    free(wk.win);
    free(wk.win_piece);
    return rc;
}

/* ---- the server ---- */

/* A server: the next push from every worker is taken at once; a summed
 * piece joins a reply queue per worker, and each worker has one reply on
 * the wire at a time, the best of its queue (older steps first; then
 * nearest the input with priority, else summed first). */
static int ps_server(rt *r, const dp_opts *o, const plan *pl, int W)
{
    int me = rt_rank(r), mine = 0, rc = RT_OK;
    for (int i = 0; i < pl->n; i++)
        mine += pl->pc[i].server == me;
    size_t n = (size_t)(pl->n ? pl->n : 1);
    /* a piece waits in a worker's queue for one step at most: a worker
     * pushes step k+1's piece only after its pull of step k */
    int *seen = calloc(n, sizeof *seen);
    long *key = malloc(n * sizeof *key);
    heap *rep = calloc((size_t)W, sizeof *rep);
    /* req[d]: the next push from worker d; req[W + d]: the reply to it */
    rt_request **req = calloc(2 * (size_t)W, sizeof *req);
    long *left = calloc((size_t)W, sizeof *left); /* pushes still to come, by worker */
    int ok = seen && key && rep && req && left;
    /* a worker's queue holds only this server's pieces */
    for (int d = 0; ok && d < W; d++) {
        rep[d] = (heap){.item = malloc((size_t)(mine ? mine : 1) * sizeof(int)), .key = key};
        ok = rep[d].item != NULL;
        left[d] = (long)o->steps * mine;
    }
    if (!ok) {
        rc = rt_fail(r, RT_ENOMEM, "dp: server: no memory for %d pieces and %d workers", pl->n, W);
        goto done;
    }
    long done_pieces = 0;
    while (!rc) {
        for (int d = 0; d < W && !rc; d++) {
            if (!req[d] && left[d] > 0)
                rc = rt_irecv(r, d, RT_ANY_TAG, NULL, pl->max_floats * 4, &req[d]);
            if (!rc && !req[W + d] && rep[d].n) {
                int i = heap_pop(&rep[d]);
                rc = rt_isend(r, d, i, NULL, pl->pc[i].floats * 4, &req[W + d]);
            }
        }
        int which;
        rt_status st;
        if (rc || (rc = rt_waitany(r, 2 * W, req, &which, &st)) || which >= W)
            continue;
        if (which < 0)
            break; /* nothing left to take or give */
        left[which]--;
        int i = st.tag;
        if (i < 0 || i >= pl->n || pl->pc[i].server != me) {
            rc = rt_fail(r, RT_EINVAL, "dp: server %d: push of piece %d from rank %d is not mine",
                         me, i, st.source);
            break;
        }
        if (++seen[i] % W)
            continue;
        /* ---- all W pushes of piece i: sum it, queue it for everyone ---- */
        if (W > 1 && (rc = rt_compute_as(r, RT_WORK_VECTOR, (double)(W - 1) * (double)pl->pc[i].floats)))
            break;
        long step = seen[i] / W - 1;
        key[i] = o->priority ? step * (long)pl->n + i : done_pieces;
        done_pieces++;
        for (int d = 0; d < W; d++)
            heap_push(&rep[d], i);
    }
    if (rc)
        rt_waitall(r, 2 * W, req, NULL);
done:
    for (int d = 0; rep && d < W; d++)
        free(rep[d].item);
    free(rep);
    free(seen);
    free(key);
    free(req);
    free(left);
    return rc;
}

int dp_ps_rank(rt *r, const dp_opts *o)
{
    int W = rt_size(r) - o->servers;
    plan pl = {0};
    if (o->servers < 1 || W < 1)
        return rt_fail(r, RT_EINVAL, "dp: a parameter server needs 1 or more servers and workers "
                       "(%d ranks, %d servers)", rt_size(r), o->servers);
    if (plan_make(o, W, &pl) != 0) {
        plan_free(&pl);
        return rt_fail(r, RT_EINVAL, "dp: %s in pieces of %zu bytes, for %d workers: more than "
                       "2^24 pieces times workers (or no memory for them)", o->w->name,
                       o->partition_bytes, W);
    }
    int rc = rt_barrier(r);
    if (!rc)
        rc = rt_rank(r) < W ? ps_worker(r, o, &pl, rt_slot(r)) : ps_server(r, o, &pl, W);
    plan_free(&pl);
    return rc;
}
