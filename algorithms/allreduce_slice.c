/* allreduce_slice.c -- allreduce one slice of a vector with the sums the
 * whole vector's allreduce would make: what a bucketed trainer needs so
 * that buckets change the schedule, not the model's bits.
 *
 * Float addition is not associative: (a + b) + c and a + (b + c) can
 * differ in the last bit, so the order in which an allreduce adds the p
 * ranks' copies of an element decides the element's bits. It is commutative
 * (a + b == b + a exactly), so only the order of the chain matters, not
 * which rank holds which operand.
 *
 *   tree, rd, rabenseifner: every element goes through the same tree of
 *   additions over the ranks (a binomial tree; the butterfly of recursive
 *   doubling or halving, after the same fold of the extra ranks), whatever
 *   its place in the vector. The slice is summed as a vector of its own.
 *
 *   ring: the element's block decides where its chain starts. The whole
 *   vector of n floats is cut into p blocks of m = ceil(n/p); block j's sum
 *   starts at rank j+1 and goes once around the ring (allreduce_ring.c).
 *   So the slice keeps the whole vector's blocks: its block j is its part
 *   of the whole vector's block j (empty when they do not meet), and the
 *   ring runs with those uneven blocks, each rank sending block me-s-1 in
 *   step s as the plain ring does.
 *
 *   hierarchical: phases 1 and 3 are trees (as above); phase 2 is the ring
 *   among the N leaders, with the whole vector's N blocks.
 *
 * Cost, ring, slice of c floats, c_j its part of block j, c_max the
 * largest: every step waits for the largest message in flight, so
 *
 *   Cost <= 2(p-1) alpha + 2(p-1) c_max beta + (p-1) c_max gamma
 *
 * with c_max = c/p (the plain ring's cost) for a slice that spans all
 * blocks evenly, and c_max = c for one that lies inside one block: then
 * one rank's block is the whole slice and the ring carries it p-1 times
 * in each phase, up to p times the plain ring's bandwidth term. That is
 * the price of equal bits; DDP and Horovod do not pay it (their buckets
 * are rings of their own, whose sums differ from one big allreduce's in
 * the last bits). Steps with nothing to send send nothing.
 *
 * Source: Patarasuk & Yuan, JPDC 69(2), 2009 (the ring); Goldberg, "What
 * every computer scientist should know about floating-point arithmetic",
 * 1991 (why the order matters).
 */
#include <stdlib.h>

#include "algorithms/collectives.h"

enum { TAG_SRS = COLL_TAG_BASE + 11, TAG_SAG = COLL_TAG_BASE + 12 };

/* The slice [first, first+count) cut at the whole vector's p blocks of
 * `block` floats: part j has len[j] floats, at off[j] within the slice. */
static void slice_blocks(size_t first, size_t count, size_t block, int p, size_t *off, size_t *len)
{
    for (int j = 0; j < p; j++) {
        size_t lo = (size_t)j * block, hi = lo + block;
        lo = lo > first ? lo : first;
        hi = hi < first + count ? hi : first + count;
        len[j] = hi > lo ? hi - lo : 0;
        off[j] = hi > lo ? lo - first : 0;
    }
}

/* One ring step with uneven blocks: nout floats to the right, nin from the
 * left into `in`, in segments of `seg`; with `add`, each received segment
 * is added into acc as it lands (acc and in NULL in size-only runs). */
static int ring_step(rt *r, int right, int left, int tag, const float *out, size_t nout, float *in,
                     size_t nin, int add, float *acc, size_t seg, rt_request **reqs)
{
    size_t nrecv = (nin + seg - 1) / seg, nsend = (nout + seg - 1) / seg;
    int rc = RT_OK;
    for (size_t k = 0; k < nrecv && !rc; k++) {
        size_t o = k * seg, n = nin - o < seg ? nin - o : seg;
        rc = rt_irecv(r, left, tag, in ? in + o : NULL, n * sizeof(float), &reqs[k]);
    }
    for (size_t k = 0; k < nsend && !rc; k++) {
        size_t o = k * seg, n = nout - o < seg ? nout - o : seg;
        rc = rt_isend(r, right, tag, out ? out + o : NULL, n * sizeof(float), &reqs[nrecv + k]);
    }
    for (size_t k = 0; k < nrecv && !rc; k++) {
        size_t o = k * seg, n = nin - o < seg ? nin - o : seg;
        rc = rt_wait(r, &reqs[k], NULL);
        if (!rc && add)
            rc = coll_add(r, acc ? acc + o : NULL, in ? in + o : NULL, n);
    }
    int rc2 = rt_waitall(r, (int)(nrecv + nsend), reqs, NULL);
    return rc ? rc : rc2;
}

/* The ring of opts' group over the slice, with the whole vector's blocks. */
static int ring_slice(rt *r, float *buf, size_t first, size_t count, size_t total,
                      const coll_opts *opts)
{
    int p, me, rc = coll_group(r, opts, "allreduce (slice)", &p, &me);
    if (rc || p == 1 || count == 0)
        return rc;
    size_t block = (total + (size_t)p - 1) / (size_t)p, big = 0;
    size_t *off = malloc(2 * (size_t)p * sizeof *off), *len = off ? off + p : NULL;
    if (!off)
        return rt_fail(r, RT_ENOMEM, "allreduce (slice): no memory for %d blocks", p);
    slice_blocks(first, count, block, p, off, len);
    for (int j = 0; j < p; j++)
        big = len[j] > big ? len[j] : big;
    size_t seg = opts && opts->segment_bytes ? opts->segment_bytes / sizeof(float) : big;
    seg = seg == 0 ? 1 : seg < big ? seg : big;
    float *tmp = buf ? malloc(big * sizeof *tmp) : NULL;
    rt_request **reqs = calloc(2 * ((big + seg - 1) / seg), sizeof *reqs);
    if ((buf && !tmp) || !reqs) {
        rc = rt_fail(r, RT_ENOMEM, "allreduce (slice): no memory for a %zu-float block", big);
        goto done;
    }
    int right = coll_member(opts, (me + 1) % p), left = coll_member(opts, (me - 1 + p) % p);
#define AT(j) (buf ? buf + off[j] : NULL)
    /* ---- phase 1: reduce-scatter, block by block as the plain ring ---- */
    for (int s = 0; s < p - 1 && !rc; s++) {
        int snd = (me - s - 1 + 2 * p) % p, rcv = (me - s - 2 + 2 * p) % p;
        rc = ring_step(r, right, left, TAG_SRS, AT(snd), len[snd], tmp, len[rcv], 1, AT(rcv), seg,
                       reqs);
    }
    /* ---- phase 2: allgather of the finished blocks ---- */
    for (int s = 0; s < p - 1 && !rc; s++) {
        int snd = (me - s + p) % p, rcv = (me - s - 1 + 2 * p) % p;
        rc = ring_step(r, right, left, TAG_SAG, AT(snd), len[snd], AT(rcv), len[rcv], 0, NULL, seg,
                       reqs);
    }
#undef AT
done:
    free(tmp);
    free(reqs);
    free(off);
    return rc;
}

int allreduce_slice(rt *r, allreduce_algo algo, float *buf, size_t first, size_t count,
                    size_t total, const coll_opts *opts)
{
    if (first > total || count > total - first)
        return rt_fail(r, RT_EINVAL, "allreduce (slice): floats %zu..%zu of a %zu-float vector",
                       first, first + count, total);
    if (algo == ALLREDUCE_RING)
        return ring_slice(r, buf, first, count, total, opts);
    if (algo != ALLREDUCE_HIERARCHICAL)
        return allreduce(r, algo, buf, count, opts);
    int p = rt_size(r), me = rt_rank(r);
    int G = opts && opts->local_size > 1 ? opts->local_size : 1;
    if (p % G != 0)
        return rt_fail(r, RT_EINVAL, "hierarchical allreduce: %d ranks are not whole nodes of %d "
                       "(the ranks per node must divide the ranks)", p, G);
    if (p == 1 || count == 0)
        return RT_OK;
    int N = p / G, node = me / G, rc = RT_OK;
    coll_opts local = {.group_first = node * G, .group_size = G};
    coll_opts leaders = {.group_first = 0, .group_size = N, .group_stride = G,
                         .segment_bytes = opts ? opts->segment_bytes : 0};
    /* ---- the three phases of allreduce_hierarchical.c ---- */
    if (G > 1)
        rc = reduce_group(r, buf, count, 0, &local);
    if (!rc && me % G == 0 && N > 1)
        rc = ring_slice(r, buf, first, count, total, &leaders);
    if (!rc && G > 1)
        rc = bcast_group(r, buf, count, 0, &local);
    return rc;
}
