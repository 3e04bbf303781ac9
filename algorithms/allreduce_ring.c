/* allreduce_ring.c -- ring allreduce: reduce-scatter, then allgather.
 *
 * The p ranks stand in a ring; each talks only to its two neighbours. The
 * vector of n bytes is cut into p blocks of m = n/p bytes.
 *
 *   phase 1, reduce-scatter: p-1 steps. In each, every rank sends one block
 *   to its right neighbour, receives one from its left and adds it into its
 *   own copy of that block. After p-1 steps rank i holds block i summed
 *   over all ranks.
 *
 *   phase 2, allgather: p-1 more steps passing the finished blocks around,
 *   until every rank has all p of them.
 *
 * Cost = 2(p-1) alpha + 2 (p-1)/p n beta + (p-1)/p n gamma
 *        [phase 1: (p-1)(alpha + m beta + m gamma); phase 2: (p-1)(alpha + m beta)]
 *
 * Why it is bandwidth-optimal: any allreduce must get every rank's
 * contribution to every block out and every block's sum back in; a rank
 * has to send at least (p-1)/p of the vector and receive as much in each
 * direction, 2 (p-1)/p n bytes in all. The ring does exactly that, and all
 * p links are busy in every step, so its bandwidth term does not grow with
 * p: doubling the cluster leaves the time for a large vector almost
 * unchanged. The price is latency: 2(p-1) alpha grows linearly with p,
 * which is why small vectors prefer recursive doubling or a tree.
 *
 * When n is not a multiple of p the vector is padded with zeros to p
 * blocks of m = ceil(n/p) bytes, so every message is the same size. With
 * opts->segment_bytes set, each block moves in segments, and the sum of one
 * segment is computed while the next one is still on the wire (pipelining);
 * that hides most of the gamma term on real sockets. With a group in
 * opts (coll_opts) the ring is made of the group's ranks only, p its size:
 * the leaders of the nodes in allreduce_hierarchical.c.
 *
 * Source: Patarasuk & Yuan, "Bandwidth optimal all-reduce algorithms for
 * clusters of workstations", JPDC 69(2), 2009.
 */
#include <stdlib.h>

#include "algorithms/collectives.h"

enum { TAG_RS = COLL_TAG_BASE + 1, TAG_AG = COLL_TAG_BASE + 2 };

static float *block_at(float *buf, size_t block, int i)
{
    return buf ? buf + (size_t)i * block : NULL;
}

/* One step: send `out` to the right and receive the left neighbour's block
 * into `in`, `m` floats each, in segments of `seg` floats. With `add`, each
 * received segment is added into acc as soon as it lands. */
static int ring_step(rt *r, int right, int left, int tag, const float *out, float *in,
                     int add, float *acc, size_t m, size_t seg, rt_request **reqs)
{
    size_t nseg = (m + seg - 1) / seg;
    rt_request **recvs = reqs, **sends = reqs + nseg;
    int rc = RT_OK;
    for (size_t k = 0; k < nseg && !rc; k++) {
        size_t off = k * seg, len = m - off < seg ? m - off : seg;
        rc = rt_irecv(r, left, tag, in ? in + off : NULL, len * sizeof(float), &recvs[k]);
    }
    for (size_t k = 0; k < nseg && !rc; k++) {
        size_t off = k * seg, len = m - off < seg ? m - off : seg;
        rc = rt_isend(r, right, tag, out ? out + off : NULL, len * sizeof(float), &sends[k]);
    }
    /* segments from one neighbour arrive in order: add each as it lands */
    for (size_t k = 0; k < nseg && !rc; k++) {
        size_t off = k * seg, len = m - off < seg ? m - off : seg;
        rc = rt_wait(r, &recvs[k], NULL);
        if (!rc && add)
            rc = coll_add(r, acc ? acc + off : NULL, in ? in + off : NULL, len);
    }
    int rc2 = rt_waitall(r, (int)(2 * nseg), reqs, NULL);
    return rc ? rc : rc2;
}

static size_t segment_floats(const coll_opts *opts, size_t block)
{
    size_t seg = opts && opts->segment_bytes ? opts->segment_bytes / sizeof(float) : block;
    return seg == 0 ? 1 : seg < block ? seg : block;
}

/* ---- phase 1: reduce-scatter ---- */
int reduce_scatter_ring(rt *r, float *buf, size_t block, const coll_opts *opts)
{
    int p, me, rc = coll_group(r, opts, "reduce-scatter", &p, &me);
    if (rc || p == 1 || block == 0)
        return rc;
    int right = coll_member(opts, (me + 1) % p), left = coll_member(opts, (me - 1 + p) % p);
    size_t seg = segment_floats(opts, block), nseg = (block + seg - 1) / seg;
    float *tmp = buf ? malloc(block * sizeof *tmp) : NULL;
    rt_request **reqs = calloc(2 * nseg, sizeof *reqs);
    if ((buf && !tmp) || !reqs) {
        rc = rt_fail(r, RT_ENOMEM, "reduce-scatter: no memory for a %zu-float block", block);
        goto done;
    }
    /* In step s, rank i passes on block i-s-1, which has gathered s+1
     * contributions so far, and adds its own into block i-s-2 as it
     * arrives; after p-1 steps the block it finishes on is block i. */
    for (int s = 0; s < p - 1 && !rc; s++) {
        int send_blk = (me - s - 1 + 2 * p) % p, recv_blk = (me - s - 2 + 2 * p) % p;
        rc = ring_step(r, right, left, TAG_RS, block_at(buf, block, send_blk), tmp, 1,
                       block_at(buf, block, recv_blk), block, seg, reqs);
    }
done:
    free(tmp);
    free(reqs);
    return rc;
}

/* ---- phase 2: allgather ---- */
static int allgather_in(rt *r, float *buf, size_t block, const coll_opts *opts)
{
    int p, me, rc = coll_group(r, opts, "allgather", &p, &me);
    if (rc || p == 1 || block == 0)
        return rc;
    int right = coll_member(opts, (me + 1) % p), left = coll_member(opts, (me - 1 + p) % p);
    rt_request *reqs[2] = {NULL, NULL};
    /* In step s, rank i forwards block i-s (its own first) and receives
     * block i-s-1 straight into place. */
    for (int s = 0; s < p - 1 && !rc; s++) {
        int send_blk = (me - s + p) % p, recv_blk = (me - s - 1 + 2 * p) % p;
        rc = ring_step(r, right, left, TAG_AG, block_at(buf, block, send_blk),
                       block_at(buf, block, recv_blk), 0, NULL, block, block, reqs);
    }
    return rc;
}

int allgather_ring(rt *r, float *buf, size_t block) { return allgather_in(r, buf, block, NULL); }

int allreduce_ring(rt *r, float *buf, size_t count, const coll_opts *opts)
{
    int p, me, rc = coll_group(r, opts, "allreduce", &p, &me);
    if (rc || p == 1 || count == 0)
        return rc;
    size_t block = (count + (size_t)p - 1) / (size_t)p;
    float *work = coll_pad(r, buf, count, block * (size_t)p, &rc);
    if (rc)
        return rc;
    rc = reduce_scatter_ring(r, work, block, opts);
    if (!rc)
        rc = allgather_in(r, work, block, opts);
    coll_unpad(work, buf, count);
    return rc;
}
