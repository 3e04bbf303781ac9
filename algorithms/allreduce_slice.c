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
 *   step s as the plain ring does. The whole vector itself goes to
 *   allreduce_ring.
 *
 *   hierarchical: phases 1 and 3 are trees (as above); phase 2 is the ring
 *   among the N leaders, with the whole vector's N blocks.
 *
 * A slice inside one block would move as one rank's block, p-1 times in
 * turn in each phase: (p-1) c beta for c floats, up to p times a ring of
 * its own. So the ring here streams: blocks move in segments of S floats
 * (--segment, else m/p, at least 16 KiB), and a rank forwards segment k
 * of a block as soon as it has come in and been added, without waiting
 * for the rest of the step. A block then crosses the p-1 hops as a
 * pipeline, and with c_max the slice's largest part,
 *
 *   Cost ~ 2 (p - 2 + c_max/S) (alpha + S beta) + (p-1) c_max gamma
 *
 * for a slice inside one block about 2 c beta (a ring of its own:
 * 2 (p-1)/p c beta), and for a slice spanning all blocks evenly the plain
 * ring's bandwidth term with more, smaller messages (every link carries
 * p-1 blocks per phase either way). That is the price of equal bits; DDP
 * and Horovod do not pay it (their buckets are rings of their own, whose
 * sums differ from one big allreduce's in the last bits).
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

/* One phase of the ring, streamed: in step s a rank sends block
 * snd(s) and receives block snd(s+1), both cut into segments of `seg`,
 * and forwards segment k of step s as soon as it is there -- its own data
 * in step 0, later once segment k of step s-1 has come in (phase 1: and
 * been added). So a block passes the ring as a pipeline of segments, not
 * one whole step after another. Sends go out in (step, segment) order and
 * receives are posted in that order, so one tag per phase matches them.
 * rs: reduce-scatter (snd(s) = me-s-1, received into tmp and added),
 * else allgather (snd(s) = me-s, received in place). */
static int ring_phase(rt *r, int right, int left, int tag, int p, int me, int rs, float *buf,
                      float *tmp, const size_t *off, const size_t *len, size_t seg,
                      size_t *rbase, rt_request **reqs)
{
#define SND(s) ((me - (s) - (rs ? 1 : 0) + 2 * p) % p)
#define NSEG(j) ((len[j] + seg - 1) / seg)
    size_t nrecv = 0, nsend = NSEG(SND(0)), ri = 0, si = 0;
    for (int s = 0; s < p - 1; s++) {
        rbase[s] = nrecv;
        nrecv += NSEG(SND(s + 1));
    }
    nsend += nrecv - NSEG(SND(p - 1));
    rt_request **recvs = reqs, **sends = reqs + nrecv;
    int rc = RT_OK;
    for (int s = 0; s < p - 1 && !rc; s++) {
        int j = SND(s + 1);
        for (size_t k = 0; k < NSEG(j) && !rc; k++) {
            size_t o = off[j] + k * seg, n = len[j] - k * seg < seg ? len[j] - k * seg : seg;
            float *in = rs ? tmp : buf;
            rc = rt_irecv(r, left, tag, in ? in + o : NULL, n * sizeof(float), &recvs[rbase[s] + k]);
        }
    }
    int s_next = 0;
    size_t k_next = 0;
    while (!rc) {
        /* ---- forward every segment that is there, in order ---- */
        while (!rc && si < nsend) {
            int j = SND(s_next);
            if (k_next == NSEG(j)) {
                s_next++;
                k_next = 0;
                continue;
            }
            if (s_next > 0 && rbase[s_next - 1] + k_next >= ri)
                break; /* not in yet */
            size_t o = off[j] + k_next * seg, n = len[j] - k_next * seg < seg ? len[j] - k_next * seg : seg;
            rc = rt_isend(r, right, tag, buf ? buf + o : NULL, n * sizeof(float), &sends[si++]);
            k_next++;
        }
        if (rc || ri == nrecv)
            break;
        /* ---- the next segment in (they come in order) ---- */
        int s = 0;
        while (s + 1 < p - 1 && rbase[s + 1] <= ri)
            s++;
        int j = SND(s + 1);
        size_t k = ri - rbase[s], o = off[j] + k * seg;
        size_t n = len[j] - k * seg < seg ? len[j] - k * seg : seg;
        rc = rt_wait(r, &recvs[ri], NULL);
        if (!rc && rs)
            rc = coll_add(r, buf ? buf + o : NULL, tmp ? tmp + o : NULL, n);
        ri++;
    }
#undef SND
#undef NSEG
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
    size_t *off = malloc(3 * (size_t)p * sizeof *off), *len = off ? off + p : NULL;
    if (!off)
        return rt_fail(r, RT_ENOMEM, "allreduce (slice): no memory for %d blocks", p);
    slice_blocks(first, count, block, p, off, len);
    for (int j = 0; j < p; j++)
        big = len[j] > big ? len[j] : big;
    /* segments: --segment, else a p-th of the whole vector's block (so a
     * slice inside one block streams in about p pieces), at least 16 KiB */
    size_t seg = opts && opts->segment_bytes ? opts->segment_bytes / sizeof(float)
                                             : (block + (size_t)p - 1) / (size_t)p;
    if (!(opts && opts->segment_bytes) && seg < 4096)
        seg = 4096;
    seg = seg == 0 ? 1 : seg < big ? seg : big;
    size_t nreq = 2 * (count / seg + (size_t)p + 1);
    float *tmp = buf ? malloc(count * sizeof *tmp) : NULL;
    rt_request **reqs = calloc(nreq, sizeof *reqs);
    if ((buf && !tmp) || !reqs) {
        rc = rt_fail(r, RT_ENOMEM, "allreduce (slice): no memory for %zu floats", count);
        goto done;
    }
    int right = coll_member(opts, (me + 1) % p), left = coll_member(opts, (me - 1 + p) % p);
    /* ---- phase 1: reduce-scatter, block by block as the plain ring ---- */
    rc = ring_phase(r, right, left, TAG_SRS, p, me, 1, buf, tmp, off, len, seg, len + p, reqs);
    /* ---- phase 2: allgather of the finished blocks ---- */
    if (!rc)
        rc = ring_phase(r, right, left, TAG_SAG, p, me, 0, buf, NULL, off, len, seg, len + p, reqs);
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
    if (algo == ALLREDUCE_RING && count == total)
        return allreduce_ring(r, buf, count, opts);
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
