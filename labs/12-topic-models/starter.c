/* starter.c -- lab 12, collapsed Gibbs sampling's draw of one token.
 *
 * distlab's topic model (algorithms/lda.c) calls this for every token of
 * every sweep, in every worker, when the checker hands it your file. The
 * token is word w of document d and has topic old. ndk[k]: tokens of d in
 * topic k; nwk[k]: tokens of word w in topic k (on a parameter server:
 * the worker's copy, a little out of date); nk[k]: all tokens in topic k.
 * All three count the token itself. u is uniform in [0, 1); p is K
 * doubles of scratch. Return the token's new topic.
 *
 * Copy this file, fill in the TODO, then
 *   build/distlab lab check 12 my_lda.c
 */
#include "algorithms/plugin.h"

int plugin_lda_resample(int old, int K, int32_t *ndk, int32_t *nwk, int64_t *nk, double alpha,
                        double beta, double Vbeta, double u, double *p)
{
    /* TODO (lab 12): as it is, no token ever changes topic, so the
     * sampler learns nothing. Three steps:
     *   1. take the token out of ndk, nwk and nk: the conditional is of
     *      its topic given all the *other* tokens;
     *   2. p[k] = the cumulative sum, k = 0, 1, ..., K-1, of
     *          (ndk[k] + alpha) * (nwk[k] + beta) / (nk[k] + Vbeta)
     *      in double, written in this order (the checker compares bits
     *      with distlab's sampler); the new topic is the first k with
     *      p[k] > u * p[K-1];
     *   3. put the token back in, with its new topic. */
    (void)K;
    (void)ndk;
    (void)nwk;
    (void)nk;
    (void)alpha;
    (void)beta;
    (void)Vbeta;
    (void)u;
    (void)p;
    return old;
}
