/* starter.c -- lab 02, recursive doubling allreduce: write the doubling.
 *
 * In round k every rank swaps its whole vector with the rank whose number
 * differs in bit k, and both add what they received: after log2 p rounds
 * every rank holds the sum of all p vectors (the group whose sum it holds
 * doubles every round).
 *
 * When p is not a power of two, the first 2(p - p') ranks pair up before
 * and after (p' is the largest power of two below p): coll_fold_in folds
 * each even rank's vector into its odd neighbour, the p' ranks left do the
 * doubling (renumbered 0..p'-1), and coll_fold_out hands the result back.
 *
 * Cost (p a power of two) = log2 p (alpha + n beta + n gamma)
 *   otherwise log2 p' (alpha + n beta + n gamma) + 2 (alpha + n beta) + n gamma
 *
 * Copy this file, fill in the TODO, then
 *   build/distlab lab check 02 my_rd.c
 *   build/distlab lab run 02 my_rd.c --workers 8 --bytes 4KiB,1MiB --model
 */
#include <stdlib.h>

#include "algorithms/plugin.h"

enum { TAG_RD = 201, TAG_FOLD = 202 };

int plugin_allreduce(rt *r, float *buf, size_t count, const coll_opts *opts)
{
    (void)opts;
    int p = rt_size(r), pp = coll_pow2_floor(p), newrank, rc;
    if (p == 1 || count == 0)
        return RT_OK;
    size_t bytes = count * sizeof(float);
    float *in = buf ? malloc(bytes) : NULL; /* the partner's vector */
    if (buf && !in)
        return rt_fail(r, RT_ENOMEM, "allreduce: no memory for %zu floats", count);

    /* ---- fold the extra ranks in ---- */
    rc = coll_fold_in(r, buf, count, TAG_FOLD, &newrank);

    /* ---- recursive doubling among p' ranks ---- */
    /* TODO (lab 02): log2 p' rounds. In each, swap the whole vector with
     * your partner at the same time (rt_sendrecv, into `in`) and add what
     * arrives (coll_add, which also charges the additions). Who is the
     * partner of `newrank` in round k? Its number differs in one bit.
     * Ranks are renumbered after the fold: coll_fold_rank(r, n) gives the
     * real rank of number n. A rank with newrank < 0 sat out: it does
     * nothing here. */
    (void)pp;
    (void)newrank;

    /* ---- hand the result to the ranks that sat out ---- */
    if (!rc)
        rc = coll_fold_out(r, buf, count, TAG_FOLD);
    free(in);
    return rc;
}
