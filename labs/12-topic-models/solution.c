/* solution.c -- lab 12, collapsed Gibbs sampling's draw of one token.
 *
 * p(z = k | rest) ~ (n_dk + alpha) (n_wk + beta) / (n_k + V beta), the
 * counts without the token itself (Griffiths & Steyvers, PNAS 2004): the
 * document's liking for topic k, times the topic's liking for the word,
 * normalised by the topic's size. Draw by inverting the cumulative sum.
 * Summed in the order distlab's sampler sums, so the chains are the same
 * bits.
 *
 * Check it:   build/distlab lab check 12 labs/12-topic-models/solution.c
 */
#include "algorithms/plugin.h"

int plugin_lda_resample(int old, int K, int32_t *ndk, int32_t *nwk, int64_t *nk, double alpha,
                        double beta, double Vbeta, double u, double *p)
{
    /* ---- the token out of the counts ---- */
    ndk[old]--;
    nwk[old]--;
    nk[old]--;
    /* ---- the conditional, cumulated ---- */
    double total = 0;
    for (int k = 0; k < K; k++) {
        total += ((double)ndk[k] + alpha) * ((double)nwk[k] + beta) / ((double)nk[k] + Vbeta);
        p[k] = total;
    }
    /* ---- the first k whose cumulative weight passes u x total ---- */
    double x = u * total;
    int k = 0;
    while (k < K - 1 && !(p[k] > x))
        k++;
    /* ---- back in, with its new topic ---- */
    ndk[k]++;
    nwk[k]++;
    nk[k]++;
    return k;
}
