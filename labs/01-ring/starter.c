/* starter.c -- lab 01, the ring allreduce: write its reduce-scatter.
 *
 * The vector of n floats is cut into p blocks of m = ceil(n/p) floats
 * (padded with zeros). Phase 1, reduce-scatter: in p-1 steps every rank
 * sends one block to its right neighbour and adds the block arriving from
 * its left into its own copy; afterwards rank i holds block (i+1) mod p
 * summed over all ranks. Phase 2, allgather: p-1 more steps pass the
 * finished blocks around.
 *
 * Cost = 2(p-1) alpha + 2(p-1) m beta + (p-1) m gamma
 *        [phase 1: (p-1)(alpha + m beta + m gamma); phase 2: (p-1)(alpha + m beta)]
 *
 * Copy this file, fill in the TODO, then
 *   build/distlab lab check 01 my_ring.c
 *   build/distlab lab run 01 my_ring.c --workers 8 --bytes 4KiB,64MiB --model
 */
#include <stdlib.h>
#include <string.h>

#include "algorithms/plugin.h"

enum { TAG_RS = 101, TAG_AG = 102 };

/* Block i of the vector, or NULL in a size-only run (buf == NULL). */
static float *block(float *buf, size_t m, int i)
{
    return buf ? buf + (size_t)i * m : NULL;
}

/* ---- phase 1: reduce-scatter ---- */
/* When this returns, rank i must hold block (i+1) mod p summed over all
 * ranks (the allgather below starts from there); the other blocks may
 * hold anything. Each of the p-1 steps costs alpha + m beta + m gamma. */
static int ring_reduce_scatter(rt *r, float *buf, size_t m)
{
    int p = rt_size(r), me = rt_rank(r);
    int right = (me + 1) % p, left = (me - 1 + p) % p;
    size_t bytes = m * sizeof(float);
    float *in = buf ? malloc(bytes) : NULL; /* where a neighbour's block lands */
    if (buf && !in)
        return rt_fail(r, RT_ENOMEM, "reduce-scatter: no memory for %zu floats", m);
    int rc = RT_OK;
    /* TODO (lab 01): p-1 steps. In each, send one block to the right and
     * receive one from the left into `in` at the same time (rt_sendrecv),
     * then add `in` into your copy of that block with coll_add (it also
     * charges the additions' time). Which block does rank `me` send in
     * step s, and which does it receive? Draw p = 4 on paper first.
     * Use block(buf, m, i) for block i: it is NULL in size-only runs. */
    (void)right;
    (void)left;
    (void)bytes;
    free(in);
    return rc;
}

/* ---- phase 2: allgather ---- */
static int ring_allgather(rt *r, float *buf, size_t m)
{
    int p = rt_size(r), me = rt_rank(r);
    int right = (me + 1) % p, left = (me - 1 + p) % p;
    size_t bytes = m * sizeof(float);
    int rc = RT_OK;
    /* Rank i finished block i+1; in step s it passes on block i+1-s and
     * receives block i-s straight into place. */
    for (int s = 0; s < p - 1 && !rc; s++) {
        int send_blk = (me + 1 - s + p) % p, recv_blk = (me - s + p) % p;
        rc = rt_sendrecv(r, right, TAG_AG, block(buf, m, send_blk), bytes,
                         left, TAG_AG, block(buf, m, recv_blk), bytes, NULL);
    }
    return rc;
}

int plugin_allreduce(rt *r, float *buf, size_t count, const coll_opts *opts)
{
    (void)opts;
    int p = rt_size(r), rc = RT_OK;
    if (p == 1 || count == 0)
        return RT_OK;
    size_t m = (count + (size_t)p - 1) / (size_t)p;
    /* pad to p whole blocks, so every message has the same size */
    float *work = buf;
    if (buf && m * (size_t)p != count) {
        work = calloc(m * (size_t)p, sizeof *work);
        if (!work)
            return rt_fail(r, RT_ENOMEM, "allreduce: no memory to pad %zu floats", count);
        memcpy(work, buf, count * sizeof *buf);
    }
    rc = ring_reduce_scatter(r, work, m);
    if (!rc)
        rc = ring_allgather(r, work, m);
    if (work != buf) {
        memcpy(buf, work, count * sizeof *buf);
        free(work);
    }
    return rc;
}
