/* allreduce_rabenseifner.c -- Rabenseifner's allreduce: a reduce-scatter
 * by recursive halving, then an allgather by recursive doubling.
 *
 * Phase 1: in round k (k = 1..log2 p) every rank pairs with the rank whose
 * number differs in bit log2 p - k, sends it the half of its current window
 * that the partner keeps, receives the half it keeps, and adds. The window
 * halves every round; after log2 p rounds rank i holds block i of the sum.
 * Phase 2 runs the rounds backwards, swapping windows, which double, until
 * every rank has every block.
 *
 * Cost (p a power of two, m = n/p)
 *      = 2 log2 p alpha + 2 (p-1) m beta + (p-1) m gamma
 *        [phase 1: log2 p alpha + (p-1) m (beta + gamma); phase 2: log2 p alpha + (p-1) m beta]
 * and when p is not a power of two the extra ranks fold in and out around
 * it with p' = largest power of two below p: + 2 (alpha + n beta) + n gamma.
 *
 * It moves as few bytes as the ring (bandwidth-optimal) in only 2 log2 p
 * messages, so it is the usual choice for medium and large vectors; the
 * ring still wins when p is large and not a power of two, or on networks
 * where only neighbours are cheap to reach.
 *
 * When n is not a multiple of p' the vector is padded with zeros to p'
 * blocks of m = ceil(n/p') floats.
 *
 * Source: Rabenseifner, "Optimization of Collective Reduction Operations",
 * ICCS 2004; Thakur, Rabenseifner & Gropp, IJHPCA 19(1), 2005.
 */
#include <stdlib.h>

#include "algorithms/collectives.h"

enum { TAG_RH = COLL_TAG_BASE + 7, TAG_RB_FOLD = COLL_TAG_BASE + 8 };

static float *at(float *buf, size_t i) { return buf ? buf + i : NULL; }

int allreduce_rabenseifner(rt *r, float *buf, size_t count)
{
    int p = rt_size(r), pp = coll_pow2_floor(p), newrank, rc;
    if (p == 1 || count == 0)
        return RT_OK;
    rc = coll_fold_in(r, buf, count, TAG_RB_FOLD, &newrank);
    if (rc || newrank < 0)
        return rc ? rc : coll_fold_out(r, buf, count, TAG_RB_FOLD);

    size_t m = (count + (size_t)pp - 1) / (size_t)pp;
    float *work = coll_pad(r, buf, count, m * (size_t)pp, &rc);
    float *tmp = work ? malloc(m * (size_t)pp / 2 * sizeof *tmp) : NULL;
    if (rc || (work && !tmp)) {
        if (!rc)
            rc = rt_fail(r, RT_ENOMEM, "allreduce: no memory for %zu floats", m * (size_t)pp);
        coll_unpad(work, buf, count);
        return rc;
    }

    /* ---- phase 1: reduce-scatter by recursive halving ---- */
    size_t lo = 0, nblk = (size_t)pp; /* my window: blocks [lo, lo + nblk) */
    for (int mask = pp / 2; mask >= 1 && !rc; mask >>= 1) {
        int partner = coll_fold_rank(r, newrank ^ mask);
        size_t half = nblk / 2;
        size_t keep = (newrank & mask) ? lo + half : lo, give = (newrank & mask) ? lo : lo + half;
        size_t bytes = half * m * sizeof(float);
        rc = rt_sendrecv(r, partner, TAG_RH, at(work, give * m), bytes, partner, TAG_RH, tmp,
                         bytes, NULL);
        if (!rc)
            rc = coll_add(r, at(work, keep * m), tmp, half * m);
        lo = keep;
        nblk = half;
    }

    /* ---- phase 2: allgather by recursive doubling ---- */
    for (int mask = 1; mask < pp && !rc; mask <<= 1) {
        int partner = coll_fold_rank(r, newrank ^ mask);
        size_t theirs = (newrank & mask) ? lo - nblk : lo + nblk;
        size_t bytes = nblk * m * sizeof(float);
        rc = rt_sendrecv(r, partner, TAG_RH, at(work, lo * m), bytes, partner, TAG_RH,
                         at(work, theirs * m), bytes, NULL);
        if (theirs < lo)
            lo = theirs;
        nblk *= 2;
    }

    free(tmp);
    coll_unpad(work, buf, count);
    if (!rc)
        rc = coll_fold_out(r, buf, count, TAG_RB_FOLD);
    return rc;
}
