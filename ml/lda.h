/* lda.h -- latent Dirichlet allocation by collapsed Gibbs sampling, with
 * sparse counts, written so that a parameter server can hold the counts.
 *
 * The model (Blei, Ng & Jordan 2003): document d mixes K topics with
 * weights theta_d ~ Dirichlet(alpha); topic k is a distribution phi_k ~
 * Dirichlet(beta) over the V words; each token draws a topic z from
 * theta_d and a word from phi_z. Collapsed Gibbs sampling (Griffiths &
 * Steyvers 2004) integrates theta and phi out and resamples each token's
 * topic from
 *
 *     p(z = k | rest)  ~  (n_dk + alpha) (n_wk + beta) / (n_k + V beta)
 *
 * with the token itself taken out of the counts: n_dk tokens of document d
 * in topic k, n_wk tokens of word w in topic k, n_k all tokens in topic k.
 *
 * The word-topic counts are what a distributed sampler shares. They are
 * kept sparse -- per word, a list of (topic, count) for the topics it has
 * -- so memory grows with the nonzeros, not V x K (Smola &
 * Narayanamurthy, "An Architecture for Parallel Topic Models", VLDB 2010:
 * their samplers too keep sparse counts and ship count *deltas*). A
 * sampler may record every change it makes into a second table, the
 * delta that a worker sends to the servers.
 *
 * Sampling one token costs O(K): its word's counts are scattered into a
 * dense row, the K probabilities summed, one drawn. Reported as 6K flops.
 */
#ifndef DISTLAB_ML_LDA_H
#define DISTLAB_ML_LDA_H

#include <stddef.h>
#include <stdint.h>

#include "ml/corpus.h"

/* Sparse word-topic counts and the per-topic totals. Counts may be
 * negative in a table of deltas; an entry that reaches 0 is removed. */
typedef struct lda_counts {
    size_t V;
    int K;
    uint32_t *len, *cap;   /* per word */
    uint16_t **topic;      /* per word: its topics, in no order */
    int32_t **count;
    int64_t *nk;           /* K totals */
    size_t nnz;
} lda_counts;

int lda_counts_init(lda_counts *c, size_t V, int K);
void lda_counts_free(lda_counts *c);
/* n_wk += delta; returns 0, or -1 when out of memory. */
int lda_counts_add(lda_counts *c, uint32_t w, int k, int32_t delta);
int32_t lda_counts_get(const lda_counts *c, uint32_t w, int k);
/* Zero every count, keeping the memory. */
void lda_counts_clear(lda_counts *c);
/* dst += src, entry by entry (applying a delta). */
int lda_counts_merge(lda_counts *dst, const lda_counts *src);
/* Remove word w's row (its counts leave nk too), keeping the memory. */
void lda_counts_clear_word(lda_counts *c, uint32_t w);

/* One token's draw, written elsewhere (a lab's student: labs/12, the
 * plugin_lda_resample of algorithms/plugin.h). ndk, nwk, nk: the K counts
 * of the token's document, of its word, and the totals, all counting the
 * token itself (topic old). It takes the token out of the three, draws
 * the new topic -- the first k whose cumulative weight, summed k = 0, 1,
 * ..., K-1 of (ndk[k] + alpha) (nwk[k] + beta) / (nk[k] + Vbeta) in
 * double, exceeds u times their total (u in [0, 1)) -- puts the token
 * back in with it, and returns it. p: K doubles of scratch. The sampler
 * keeps ndk as the function leaves it; nwk and nk are its copies. */
typedef int (*lda_resample_fn)(int old, int K, int32_t *ndk, int32_t *nwk, int64_t *nk, double alpha,
                               double beta, double Vbeta, double u, double *p);

typedef struct lda_sampler {
    const ml_corpus *corpus;
    size_t doc_lo, doc_hi;   /* its documents */
    size_t tok_lo, ntok;     /* their tokens */
    int K;
    double alpha, beta;
    uint16_t *z;             /* each token's topic */
    uint64_t rng;
    double *p;               /* K cumulative weights */
    int32_t *ndk, *nwk;      /* K: the current document's and word's counts */
    /* NULL: the sampler's own draw. Else each token's draw is this (set
     * it after lda_sampler_init); nk_copy is its scratch. */
    lda_resample_fn resample;
    int64_t *nk_copy;
} lda_sampler;

/* Documents [doc_lo, doc_hi) of the corpus; topics drawn at random from
 * seed and added to counts (and to delta when not NULL). K at most 65535. */
int lda_sampler_init(lda_sampler *s, const ml_corpus *c, size_t doc_lo, size_t doc_hi, int K,
                     double alpha, double beta, uint64_t seed, lda_counts *counts, lda_counts *delta,
                     char *err, size_t errlen);
void lda_sampler_free(lda_sampler *s);
/* Resample every token of its documents once, against counts (updated as
 * it goes) and recording every change in delta when not NULL. Returns 0,
 * -1 (out of memory) or -2 (s->resample returned a topic outside 0..K-1);
 * *flops: the work, 6K per token. */
int lda_sampler_sweep(lda_sampler *s, lda_counts *counts, lda_counts *delta, double *flops);
/* The same over documents [d0, d1) of its own only (doc_lo <= d0 <= d1 <=
 * doc_hi): consecutive ranges that cover its documents draw exactly what
 * one sweep does. *flops: 6K per token of the range. */
int lda_sampler_sweep_docs(lda_sampler *s, size_t d0, size_t d1, lda_counts *counts,
                           lda_counts *delta, double *flops);

/* The joint log-likelihood log p(w, z) of Griffiths & Steyvers, split in
 * its two sums: the documents' part over the sampler's documents, and the
 * words' part over a table of counts. Their sum over all documents,
 * divided by the tokens, is the log-likelihood per token. */
/* log Gamma(x) without writing lgamma's global signgam, so ranks on
 * threads can compute it at once (the same value as lgamma). */
double lda_lgamma(double x);
double lda_doc_loglik(const lda_sampler *s);
double lda_word_loglik(const lda_counts *c, double beta);

/* How well learned topics match a synthetic corpus's true ones: each true
 * topic is paired with a distinct learned topic (greedily, closest pairs
 * first) and their total-variation distance -- half the L1 distance of
 * the two word distributions, 0 for the same and 1 for disjoint ones -- is
 * averaged over the pairs. Learned phi_k(w) = (n_wk + beta) / (n_k + V
 * beta). NaN when the corpus has no true topics. */
double lda_topic_distance(const lda_counts *c, const ml_corpus *corpus, double beta);

#endif
