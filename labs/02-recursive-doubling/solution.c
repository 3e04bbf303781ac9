/* solution.c -- lab 02, recursive doubling allreduce.
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
 * Check it:   build/distlab lab check 02 labs/02-recursive-doubling/solution.c
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
    for (int mask = 1; mask < pp && newrank >= 0 && !rc; mask <<= 1) {
        int partner = coll_fold_rank(r, newrank ^ mask);
        rc = rt_sendrecv(r, partner, TAG_RD, buf, bytes, partner, TAG_RD, in, bytes, NULL);
        if (!rc)
            rc = coll_add(r, buf, in, count);
    }

    /* ---- hand the result to the ranks that sat out ---- */
    if (!rc)
        rc = coll_fold_out(r, buf, count, TAG_FOLD);
    free(in);
    return rc;
}
