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
 * One step on a worker (each step's forward runs at the end of the step
 * before, so a step is backward, then the pushes and pulls and forward
 * that backward does not hide):
 *   backward: layer by layer, output first; as layer l is done its pieces
 *             join the worker's queue and a job is posted (rt_async_post)
 *             that pushes them, up to o->credit_bytes at once (at least one
 *             piece; ByteScheduler's credit), each freed place taken by
 *             the queue's best piece -- with o->priority the one nearest
 *             the input, else the one made first -- so pieces of the input
 *             side, ready last, overtake the output side's still queued.
 *             A piece's pull is posted as soon as its push is through (P3
 *             asks for each piece right after pushing it), so a piece
 *             summed early comes back during backward;
 *   forward:  in the job, once backward is over: layer l as soon as every
 *             piece of layer l is back, while the pushes of other layers
 *             are still going (P3: the next iteration starts on the first
 *             layers' parameters); the step ends with the last layer.
 * A server sums each piece once all W pushes of it are in (W-1 additions a
 * float) and sends it back to the W workers at once, one message per
 * worker at a time, best piece first by the same rule (older steps before
 * newer).
 *
 * Machines of G GPUs (o->coll.local_size, the last K ranks still the
 * servers): the first GPU of each machine is the machine's worker. The
 * others push each piece to it over the machine's link and pull the sum
 * from it; it adds the G parts (G-1 additions a float), pushes once and
 * hands the sum back to each GPU. So W is the number of machines. This is
 * what the PS frameworks do with several GPUs in a worker: TensorFlow's
 * ParameterServerStrategy has each worker "synchronously compute a
 * single gradient update across all GPUs" (its API docs, TF 1.15-2.1) and
 * MXNet's KVStore, on which P3 is built, sums the values pushed from a
 * machine's GPUs before pushing the total (KVStore API docs).
 *
 * What this leaves out. A job cannot be woken by its rank's code: while
 * it has pushes on the wire it sees a piece queued meanwhile when one of
 * them ends, not at once when the credit had room, and with none on the
 * wire it looks at the queue every DP_PS_LOOK_S. Inside a machine the
 * parts and sums go as a star to the first GPU, not as NCCL's rings. The
 * servers' optimizer work is not charged.
 *
 * References: Jayarajan et al., "Priority-based Parameter Propagation for
 * Distributed DNN Training" (P3), SysML 2019; Peng et al., "A Generic
 * Communication Scheduler for Distributed DNN Training Acceleration"
 * (ByteScheduler), SOSP 2019, and its bytecore.py (pieces of 1,000,000
 * parameters, credit 4,000,000 parameters by default).
 *
 * A server takes the next push from every worker at once and replies one
 * message at a time to each; a reply moves once its worker has asked for
 * it, which the worker does as soon as its push is through.
 */
#include "algorithms/dp.h"

#include <stdlib.h>
#include <string.h>

/* How often a worker's communication job with nothing on the wire looks
 * for pieces its backward has queued since (simulated seconds). */
#define DP_PS_LOOK_S 10e-6

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

/* A worker's requests, each in a slot region x n + piece of regions x n:
 * the pull of its sum (from the server, or from the machine's first GPU),
 * its push (to the server, or to the first GPU), and on a machine's first
 * GPU, per other GPU j of the machine, that GPU's part and the sum handed
 * back. */
enum { REQ_PULL, REQ_PUSH, REQ_LOCAL };

/* The live requests only, in slot order: a wait looks at these, not at
 * every slot, most of which are empty at any time (a push's slot while
 * the credit holds it back, a pull's until its push is through).
 * rt_waitany takes the first done in array order, so slot order keeps
 * the choice it made in one array of every slot. */
typedef struct live_reqs {
    rt_request **req;
    int *slot, n;
} live_reqs;

static void live_add(live_reqs *l, int slot, rt_request *q)
{
    int lo = 0, hi = l->n;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (l->slot[mid] < slot)
            lo = mid + 1;
        else
            hi = mid;
    }
    memmove(&l->req[lo + 1], &l->req[lo], (size_t)(l->n - lo) * sizeof *l->req);
    memmove(&l->slot[lo + 1], &l->slot[lo], (size_t)(l->n - lo) * sizeof *l->slot);
    l->req[lo] = q;
    l->slot[lo] = slot;
    l->n++;
}

/* Entry k, which a wait has ended (its handle NULL now): out; its slot. */
static int live_remove(live_reqs *l, int k)
{
    int slot = l->slot[k];
    memmove(&l->req[k], &l->req[k + 1], (size_t)(l->n - k - 1) * sizeof *l->req);
    memmove(&l->slot[k], &l->slot[k + 1], (size_t)(l->n - k - 1) * sizeof *l->slot);
    l->n--;
    return slot;
}

typedef struct worker {
    const dp_opts *o;
    const plan *pl;
    int first, nlocal;     /* the machine's first GPU; its other GPUs (on the first GPU), else 0 */
    int up;                /* where pushes go: -1 the piece's server, else this rank */
    size_t credit;         /* floats of pushes on the wire at once (one piece always) */
    heap queue;            /* pieces ready to push */
    long made;             /* pieces queued so far: the FIFO key */
    int *parts;            /* by piece: parts in this step (own and the machine's GPUs') */
    int *layer_left;       /* by layer: pieces not back yet */
    live_reqs live;        /* room for regions x pl->n, see above */
    int regions, outstanding, locals_posted;
    size_t on_wire;
    int backward_done, fwd; /* fwd: the next forward's layers done */
    double spent;          /* the step's compute */
    dp_slot *slot;
    int step;
} worker;

static int piece_dst(const worker *wk, int i) { return wk->up < 0 ? wk->pl->pc[i].server : wk->up; }

/* Post piece i's send (to) or receive (from peer) of region's slot. */
static int post(rt *r, worker *wk, int region, int i, int send, int peer)
{
    rt_request *q = NULL;
    size_t bytes = wk->pl->pc[i].floats * 4;
    int rc = send ? rt_isend(r, peer, i, NULL, bytes, &q) : rt_irecv(r, peer, i, NULL, bytes, &q);
    if (q)
        live_add(&wk->live, region * wk->pl->n + i, q);
    wk->outstanding++;
    return rc;
}

/* Piece i has one more part in; with all of the machine's parts it joins
 * the queue, keyed by priority (input side first) or by when it came. */
static void piece_ready(worker *wk, int i)
{
    if (++wk->parts[i] < 1 + wk->nlocal)
        return;
    wk->queue.key[i] = wk->o->priority ? i : wk->made;
    wk->made++;
    heap_push(&wk->queue, i);
}

/* rt_compute, adding its time to *spent. */
static int timed_compute(rt *r, double flops, double *spent)
{
    double t = rt_now(r);
    int rc = rt_compute(r, flops);
    *spent += rt_now(r) - t;
    return rc;
}

/* rt_async_fn: the worker's communication, and once backward is over the
 * next forward. Pushes keep up to the credit on the wire, each freed
 * place taken by the queue's best piece; a pushed piece's pull is posted
 * at once (P3: the server sends a sum back as soon as it has it); a sum
 * back on a machine's first GPU goes on to the machine's other GPUs; each
 * forward layer runs once its pieces are back. A job returns when it has
 * nothing in flight (every request it starts ends with it: in simulation
 * a job is an actor, and what it left on the wire would die with it);
 * the jobs posted after it find what is left. */
static int ps_comm(rt *r, void *arg)
{
    worker *wk = arg;
    const plan *pl = wk->pl;
    const ml_workload *w = wk->o->w;
    int n = pl->n, rc = RT_OK;
    /* the machine's other GPUs' parts: taken as they come, all step long */
    for (int j = 0; j < wk->nlocal && !wk->locals_posted && !rc; j++)
        for (int i = 0; i < n && !rc; i++)
            rc = post(r, wk, REQ_LOCAL + j, i, 0, wk->first + 1 + j);
    wk->locals_posted = 1;
    while (!rc) {
        /* ---- pushes: the best queued piece while the credit has room ---- */
        while (!rc && wk->queue.n &&
               (wk->on_wire == 0 || wk->on_wire + pl->pc[wk->queue.item[0]].floats <= wk->credit)) {
            int i = heap_pop(&wk->queue);
            if (wk->step == wk->o->steps - 1 && wk->slot->pushes < DP_ORDER)
                wk->slot->push_order[wk->slot->pushes++] = i;
            if (wk->nlocal) /* the machine's sum of the piece */
                rc = rt_compute_as(r, RT_WORK_VECTOR, (double)wk->nlocal * (double)pl->pc[i].floats);
            if (!rc)
                rc = post(r, wk, REQ_PUSH, i, 1, piece_dst(wk, i));
            else
                wk->outstanding++;
            wk->on_wire += pl->pc[i].floats;
        }
        /* ---- the next forward, each layer once its pieces are back ---- */
        if (!rc && wk->backward_done && wk->fwd < w->nlayers && wk->layer_left[wk->fwd] == 0) {
            rc = timed_compute(r, 2.0 * w->layers[wk->fwd].fwd_macs * wk->o->batch, &wk->spent);
            wk->fwd++;
            continue;
        }
        if (rc || wk->outstanding == 0)
            break;
        /* with nothing on the wire, backward's next pieces are looked for
         * every DP_PS_LOOK_S (a job cannot be woken by its rank's code) */
        int k;
        if (!wk->backward_done && wk->on_wire == 0)
            rc = rt_waitany_for(r, wk->live.n, wk->live.req, DP_PS_LOOK_S, &k, NULL);
        else
            rc = rt_waitany(r, wk->live.n, wk->live.req, &k, NULL);
        if (rc || k < 0)
            continue;
        wk->outstanding--;
        int slot = live_remove(&wk->live, k), region = slot / n, i = slot % n;
        if (region == REQ_PUSH) { /* ---- pushed: ask for its sum ---- */
            wk->on_wire -= pl->pc[i].floats;
            rc = post(r, wk, REQ_PULL, i, 0, piece_dst(wk, i));
        } else if (region == REQ_PULL) { /* ---- back: to the machine's GPUs too ---- */
            wk->layer_left[pl->pc[i].layer]--;
            for (int j = 0; j < wk->nlocal && !rc; j++)
                rc = post(r, wk, REQ_LOCAL + wk->nlocal + j, i, 1, wk->first + 1 + j);
        } else if (region < REQ_LOCAL + wk->nlocal) { /* a GPU's part */
            piece_ready(wk, i);
        }
    }
    if (rc) {
        rt_waitall(r, wk->live.n, wk->live.req, NULL);
        wk->live.n = 0;
    }
    return rc;
}

/* One worker: a GPU. On machines of G GPUs (o->coll.local_size) the
 * machine's first GPU sums its GPUs' parts of each piece, pushes and
 * pulls it, and hands the sum back; the others push to it and pull from
 * it. */
static int ps_worker(rt *r, const dp_opts *o, const plan *pl, dp_slot *s)
{
    const ml_workload *w = o->w;
    int G = o->coll.local_size > 1 ? o->coll.local_size : 1, me = rt_rank(r);
    worker wk = {.o = o, .pl = pl, .slot = s, .first = me - me % G, .up = -1,
                 .credit = o->credit_bytes / 4};
    if (me % G) { /* to the machine's first GPU, over its fast link: no credit */
        wk.up = wk.first;
        wk.credit = (size_t)-1;
    } else {
        wk.nlocal = G - 1;
    }
    wk.regions = REQ_LOCAL + 2 * wk.nlocal;
    size_t n = (size_t)(pl->n ? pl->n : 1);
    s->buckets = pl->n;
    wk.queue.item = malloc(n * sizeof *wk.queue.item);
    wk.queue.key = malloc(n * sizeof *wk.queue.key);
    wk.parts = malloc(n * sizeof *wk.parts);
    wk.layer_left = malloc((size_t)w->nlayers * sizeof *wk.layer_left);
    wk.live.req = malloc(n * (size_t)wk.regions * sizeof *wk.live.req);
    wk.live.slot = malloc(n * (size_t)wk.regions * sizeof *wk.live.slot);
    int rc = RT_OK;
    if (!wk.queue.item || !wk.queue.key || !wk.parts || !wk.layer_left || !wk.live.req || !wk.live.slot) {
        rc = rt_fail(r, RT_ENOMEM, "dp: no memory for %d pieces", pl->n);
        goto done;
    }
    double t0 = rt_now(r);
    for (int step = 0; step < o->steps && !rc; step++) {
        wk.step = step;
        wk.spent = 0;
        wk.backward_done = wk.fwd = wk.locals_posted = 0;
        memset(wk.parts, 0, n * sizeof *wk.parts);
        for (int l = 0; l < w->nlayers; l++)
            wk.layer_left[l] = pl->first[l + 1] - pl->first[l];
        /* ---- forward, input first (later steps': in the step before) ---- */
        for (int l = 0; l < w->nlayers && !rc && step == 0; l++)
            rc = timed_compute(r, 2.0 * w->layers[l].fwd_macs * o->batch, &wk.spent);
        /* ---- backward, output first; pieces queued as layers finish ---- */
        for (int l = w->nlayers - 1; l >= 0 && !rc; l--) {
            rc = timed_compute(r, 2.0 * WORKLOAD_BWD_PER_FWD * w->layers[l].fwd_macs * o->batch,
                               &wk.spent);
            for (int i = pl->first[l]; i < pl->first[l + 1]; i++)
                piece_ready(&wk, i);
            if (!rc)
                rc = rt_async_post(r, ps_comm, &wk);
        }
        s->backward_end_s[step] = rt_now(r) - t0;
        /* ---- the rest of the pushes and pulls, and the next forward ---- */
        wk.backward_done = 1;
        if (!rc)
            rc = rt_async_post(r, ps_comm, &wk);
        int drained = rt_async_drain(r);
        rc = rc ? rc : drained;
        s->step_s[step] = rt_now(r) - t0;
        s->compute_s[step] = wk.spent;
        t0 = rt_now(r);
    }
done:
    free(wk.queue.item);
    free(wk.queue.key);
    free(wk.parts);
    free(wk.layer_left);
    free(wk.live.req);
    free(wk.live.slot);
    return rc;
}

/* ---- the server ---- */

/* A server: the next push from every worker is taken at once; a summed
 * piece joins a reply queue per worker, and each worker has one reply on
 * the wire at a time, the best of its queue (older steps first; then
 * nearest the input with priority, else summed first). */
static int ps_server(rt *r, const dp_opts *o, const plan *pl, int W, int G)
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
                rc = rt_irecv(r, d * G, RT_ANY_TAG, NULL, pl->max_floats * 4, &req[d]);
            if (!rc && !req[W + d] && rep[d].n) {
                int i = heap_pop(&rep[d]);
                rc = rt_isend(r, d * G, i, NULL, pl->pc[i].floats * 4, &req[W + d]);
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
    int W = rt_size(r) - o->servers, G = o->coll.local_size > 1 ? o->coll.local_size : 1;
    plan pl = {0};
    if (o->servers < 1 || W < 1 || W % G)
        return rt_fail(r, RT_EINVAL, "dp: a parameter server needs 1 or more servers and workers in "
                       "whole machines (%d ranks, %d servers, machines of %d GPUs)", rt_size(r),
                       o->servers, G);
    if (plan_make(o, W, &pl) != 0) {
        plan_free(&pl);
        return rt_fail(r, RT_EINVAL, "dp: %s in pieces of %zu bytes, for %d workers: more than "
                       "2^24 pieces times workers (or no memory for them)", o->w->name,
                       o->partition_bytes, W);
    }
    int rc = rt_barrier(r);
    if (!rc)
        rc = rt_rank(r) < W ? ps_worker(r, o, &pl, rt_slot(r)) : ps_server(r, o, &pl, W / G, G);
    plan_free(&pl);
    return rc;
}
