/* dp_horovod.c -- Horovod's schedule of a data-parallel step (dp.c's
 * `--framework horovod`): a background thread that wakes once a cycle,
 * agrees with every rank on the tensors ready everywhere, fuses them and
 * allreduces the fused buffers one after another.
 *
 * Horovod does not allreduce a gradient when backward makes it. Each
 * allreduce op enqueues its tensor; a background thread per process wakes
 * every HOROVOD_CYCLE_TIME (5 ms in the paper's era, 1 ms later) and
 *
 *   negotiates: every rank tells the coordinator (rank 0) which tensors it
 *               has ready, and rank 0 answers with those ready on every
 *               rank -- a collective must run with the same tensors
 *               everywhere;
 *   fuses:      the agreed tensors, in the order they became ready, into
 *               buffers of at most HOROVOD_FUSION_THRESHOLD bytes (64 MiB;
 *               a larger tensor is a buffer of its own);
 *   allreduces: each buffer in turn (NCCL's ring, or the hierarchy).
 *
 * Then it sleeps until the cycle's start plus the cycle time, or goes on at
 * once when the cycle's work took longer. Here the thread is the rank's
 * companion: one job per step (rt_async_post) runs cycles until every
 * tensor of the step is summed, while the rank's own code computes forward
 * and backward and counts the tensors backward has finished. A tensor is
 * a workload layer with parameters; they become ready output layer first.
 *
 * The negotiation is a binomial gather of the requests to rank 0 and a
 * binomial broadcast of the answer, as size-only messages: a rank's
 * request is DP_HVD_HEADER_BYTES plus DP_HVD_ENTRY_BYTES per new tensor
 * (Horovod's serialised requests: the op's name, type, shape and rank), a
 * subtree's message the requests of its ranks, the answer the header plus
 * one entry per agreed tensor. Size-only messages carry no data, so the
 * lengths carry the counts: a subtree's message is S (header + entries x
 * m) bytes, m the fewest new tensors on any of its S ranks, and the
 * answer's length says how many tensors are agreed. With every rank alike
 * that is each request's true length. With p ranks, L = ceil(log2 p), n
 * tensors new on every rank, q = H + E n (p a power of two):
 *
 *   negotiation(n) = L alpha + (p-1) q beta        [gather, into rank 0]
 *                  + L (alpha + q beta)             [broadcast]
 *
 * and a cycle that starts at w with tensors of f floats fused per buffer
 * ends at w + negotiation(n) + sum over its buffers of allreduce(f). The
 * next starts at max(w + T, that end). With the step's first cycle at
 * T after the background loop's last start (t0 on the first step), a
 * step whose tensors are all ready by its first cycle takes
 *
 *   T + negotiation(n) + sum_k allreduce(f_k)
 *
 * (tests/test_dp.c checks this and a three-cycle step to 1e-9 under
 * --net ideal). Left out: the copies into and out of the fusion buffer,
 * the gather of the requests' lengths that comes before Horovod's
 * MPI_Gatherv, and the coordinator's own bookkeeping time.
 *
 * References: Sergeev & Del Balso, "Horovod: fast and easy distributed
 * deep learning in TensorFlow", arXiv:1802.05799, 2018 (tensor fusion,
 * the coordinator); Horovod's docs, "Tensor Fusion" and "Autotune"
 * (HOROVOD_FUSION_THRESHOLD, HOROVOD_CYCLE_TIME).
 */
#include "algorithms/dp.h"

#include <stdlib.h>

enum { TAG_HVD_REQUEST = 0x4856, TAG_HVD_RESPONSE = 0x4857 };

/* One rank's background loop, shared with the rank's own code: `ready`
 * is written by the rank (tensors backward has finished this step) and
 * read by the companion, as in Horovod's queue of enqueued tensors. */
typedef struct hvd_loop {
    const dp_opts *o;
    const size_t *floats; /* each tensor's floats, in the order ready */
    int ntensors;
    int ready;            /* __atomic: tensors ready on this rank */
    int stopped;          /* __atomic: the rank's own code failed */
    double last_start_s;  /* the last cycle's start: cycles run across steps */
    int buffers, cycles;  /* this step's fused allreduces and cycles */
} hvd_loop;

static int lowest_bit(int v)
{
    int mask = 1;
    while (mask && !(v & mask))
        mask <<= 1;
    return mask;
}

/* The gather of requests to rank 0 and the broadcast of the answer:
 * *agreed, the tensors new on every rank, from `mine` new here. */
static int negotiate(rt *r, const hvd_loop *h, int mine, int *agreed)
{
    int p = rt_size(r), me = rt_rank(r), m = mine, rc = RT_OK;
    const size_t per = DP_HVD_HEADER_BYTES + DP_HVD_ENTRY_BYTES * (size_t)h->ntensors;
    /* ---- gather: each subtree's requests up the binomial tree ---- */
    int top = me ? lowest_bit(me) : 1 << 30;
    for (int mask = 1; mask < top && me + mask < p && !rc; mask <<= 1) {
        rt_status st;
        size_t sub = (size_t)(mask < p - me - mask ? mask : p - me - mask);
        rc = rt_recv(r, me + mask, TAG_HVD_REQUEST, NULL, sub * per, &st);
        if (rc)
            break;
        size_t each = st.bytes / sub;
        if (st.bytes % sub || each < DP_HVD_HEADER_BYTES || (each - DP_HVD_HEADER_BYTES) % DP_HVD_ENTRY_BYTES)
            return rt_fail(r, RT_EPROTO, "horovod: a request of %zu bytes from rank %d's %zu ranks", st.bytes,
                           me + mask, sub);
        int got = (int)((each - DP_HVD_HEADER_BYTES) / DP_HVD_ENTRY_BYTES);
        m = got < m ? got : m;
    }
    if (!rc && me) {
        size_t sub = (size_t)(top < p - me ? top : p - me);
        rc = rt_send(r, me - top, TAG_HVD_REQUEST, NULL,
                     sub * (DP_HVD_HEADER_BYTES + DP_HVD_ENTRY_BYTES * (size_t)m));
    }
    /* ---- broadcast: rank 0's answer down the same tree ---- */
    if (!rc && me) {
        rt_status st;
        rc = rt_recv(r, me - top, TAG_HVD_RESPONSE, NULL, per, &st);
        if (!rc && (st.bytes < DP_HVD_HEADER_BYTES || (st.bytes - DP_HVD_HEADER_BYTES) % DP_HVD_ENTRY_BYTES))
            return rt_fail(r, RT_EPROTO, "horovod: an answer of %zu bytes from rank %d", st.bytes, me - top);
        m = rc ? 0 : (int)((st.bytes - DP_HVD_HEADER_BYTES) / DP_HVD_ENTRY_BYTES);
    }
    int mask = me ? top >> 1 : 1;
    while (!me && mask < p)
        mask <<= 1;
    for (; mask > 0 && !rc; mask >>= 1)
        if (me + mask < p) {
            rt_request *q;
            rc = rt_isend(r, me + mask, TAG_HVD_RESPONSE, NULL,
                          DP_HVD_HEADER_BYTES + DP_HVD_ENTRY_BYTES * (size_t)m, &q);
            if (!rc)
                rc = rt_wait(r, &q, NULL);
        }
    *agreed = m;
    return rc;
}

/* The step's cycles, on the companion: until every tensor is summed. */
static int hvd_cycles(rt *r, void *arg)
{
    hvd_loop *h = arg;
    const dp_opts *o = h->o;
    int done = 0, rc = RT_OK;
    h->buffers = h->cycles = 0;
    while (done < h->ntensors && !rc) {
        if (__atomic_load_n(&h->stopped, __ATOMIC_ACQUIRE))
            return RT_EINVAL; /* the rank's own error is the one it reports */
        /* ---- sleep out the rest of the cycle ---- */
        double wait = h->last_start_s + o->cycle_s - rt_now(r);
        if (wait > 0) {
            rt_request *none = NULL;
            int idx;
            rc = rt_waitany_for(r, 1, &none, wait, &idx, NULL);
            if (rc)
                break;
        }
        h->last_start_s = rt_now(r);
        h->cycles++;
        /* ---- negotiate the tensors ready everywhere ---- */
        int mine = __atomic_load_n(&h->ready, __ATOMIC_ACQUIRE) - done, agreed = 0;
        rc = negotiate(r, h, mine, &agreed);
        /* ---- fuse them, in order, and allreduce buffer by buffer ---- */
        for (int i = done; i < done + agreed && !rc;) {
            double fused = (double)h->floats[i++];
            while (i < done + agreed && 4.0 * (fused + (double)h->floats[i]) <= (double)o->bucket_bytes)
                fused += (double)h->floats[i++];
            rc = allreduce(r, o->algo, NULL, (size_t)fused, &o->coll);
            h->buffers++;
        }
        done += agreed;
    }
    return rc;
}

int dp_horovod_rank(rt *r, const dp_opts *o)
{
    dp_slot *s = rt_slot(r);
    const ml_workload *w = o->w;
    if (!(o->cycle_s > 0))
        return rt_fail(r, RT_EINVAL, "horovod: the cycle time must be above 0 s, not %g", o->cycle_s);
    size_t *floats = malloc((size_t)w->nlayers * sizeof *floats);
    if (!floats)
        return rt_fail(r, RT_ENOMEM, "horovod: no memory for %d layers", w->nlayers);
    hvd_loop h = {.o = o, .floats = floats};
    for (int i = w->nlayers - 1; i >= 0; i--)
        if (w->layers[i].params > 0)
            floats[h.ntensors++] = (size_t)w->layers[i].params;
    int rc = rt_barrier(r);
    h.last_start_s = rt_now(r);
    for (int step = 0; step < o->steps && !rc; step++) {
        double t0 = rt_now(r);
        __atomic_store_n(&h.ready, 0, __ATOMIC_RELEASE);
        rc = rt_async_post(r, hvd_cycles, &h);
        /* ---- forward, input first ---- */
        if (!rc)
            rc = rt_compute(r, 2.0 * w->fwd_macs * o->batch);
        /* ---- backward, output first; each tensor enqueued when done ---- */
        for (int i = w->nlayers - 1; i >= 0 && !rc; i--) {
            rc = rt_compute(r, 2.0 * WORKLOAD_BWD_PER_FWD * w->layers[i].fwd_macs * o->batch);
            if (!rc && w->layers[i].params > 0)
                __atomic_add_fetch(&h.ready, 1, __ATOMIC_RELEASE);
        }
        if (rc)
            __atomic_store_n(&h.stopped, 1, __ATOMIC_RELEASE);
        s->backward_end_s[step] = s->compute_s[step] = rt_now(r) - t0;
        /* ---- the cycles that sum what is left ---- */
        int drained = rt_async_drain(r);
        rc = rc ? rc : drained;
        s->step_s[step] = rt_now(r) - t0;
        s->buckets = h.buffers;
        s->cycles = h.cycles;
    }
    free(floats);
    return rc;
}
