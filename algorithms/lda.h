/* lda.h -- topic models on a parameter server: collapsed Gibbs sampling
 * for LDA with the word-topic counts sharded over servers (Smola &
 * Narayanamurthy, VLDB 2010; Li et al., OSDI 2014). See lda.c for the
 * protocol and its cost.
 *
 * Ranks: servers are ranks 0..S-1, workers ranks S..S+W-1 (as in ps.h);
 * server s holds the counts of words [s V / S, (s+1) V / S), worker i the
 * documents [i D / W, (i+1) D / W). Server 0 is the reporter: at the end
 * it gathers every rank's part of the log-likelihood at each sweep and the
 * final counts into its result slot (lda_out).
 */
#ifndef DISTLAB_LDA_H
#define DISTLAB_LDA_H

#include <stddef.h>
#include <stdint.h>

#include "algorithms/runtime.h"
#include "ml/corpus.h"
#include "ml/lda.h"

typedef enum lda_consistency {
    LDA_BSP = 0, /* every worker exchanges its deltas at the end of each sweep and
                    waits for the counts of everyone's sweep */
    LDA_ASYNC,   /* workers push deltas and pull counts while they sample; nobody
                    waits for another worker */
} lda_consistency;

typedef struct lda_opts {
    const ml_corpus *corpus; /* read by every rank (workers: their documents) */
    int topics;              /* K, 1..65535 */
    double alpha, beta;
    int sweeps;              /* 1..LDA_MAX_SWEEPS */
    lda_consistency consistency;
    int servers;             /* S >= 1; workers are the other ranks */
    int chunks;              /* async: exchanges per sweep (0: 4 S) */
    uint64_t seed;           /* worker i samples from seed ^ (i x an odd constant) */
    /* Fault injection (--kill-rank), as train_setup.crash: called by each
     * rank as it begins each of its steps -- a worker's step s is its sweep
     * s+1, a server's step s begins when every worker's end of sweep s is
     * in. Nonzero: the hook made the rank fail, and it leaves at once.
     * NULL: none. */
    int (*crash)(void *ctx, rt *r, long step);
    void *crash_ctx;
    /* Each token's draw (ml/lda.h), for lab 12's checker; NULL: the
     * sampler's own. */
    lda_resample_fn resample;
} lda_opts;

enum { LDA_MAX_SWEEPS = 1000 };

/* One point per sweep, the first (sweep 0) after the random start. */
typedef struct lda_point {
    double time_s;      /* work clock (rt_work_now) of the last server to see the sweep */
    int sweep;
    double loglik;      /* log p(w, z), Griffiths & Steyvers */
    double loglik_per_token;
    double tokens;      /* tokens resampled so far: sweep x corpus tokens */
    double bytes;       /* bytes every rank had sent at its part of the point */
} lda_point;

/* One nonzero word-topic count (also the wire format of the exchanges). */
typedef struct lda_entry {
    uint32_t word;
    int32_t topic;
    int32_t count;
} lda_entry;

/* The reporter's result slot; nk (K int64) and the nnz entries of the
 * final counts (by word, then topic) follow it. */
typedef struct lda_out {
    int npoints;
    lda_point points[LDA_MAX_SWEEPS + 1];
    int K;
    size_t V, ntokens, nnz;
    double chunks;      /* the exchanges per sweep async used (1 under bsp) */
} lda_out;

size_t lda_out_bytes(const ml_corpus *c, int K);
int64_t *lda_out_nk(lda_out *o);
lda_entry *lda_out_entries(lda_out *o);

/* The words' part of log p(w, z) over words [w0, w1) of counts, summed in
 * one fixed order (word, then topic) whatever order the entries are kept
 * in, so that every backend adds the same numbers the same way; and the
 * topics' part from the totals nk. With lda_doc_loglik (ml/lda.h) the
 * three make the joint log-likelihood; the reporter adds them as
 * topics + servers' word parts (by server) + workers' document parts (by
 * worker). */
double lda_ps_word_part(const lda_counts *c, size_t w0, size_t w1, double beta);
double lda_ps_topic_part(const int64_t *nk, int K, size_t V, double beta);

/* The option check (also run by every rank): 0, or -1 with err. */
int lda_check(const lda_opts *o, int ranks, char *err, size_t errlen);

/* Rank function: arg points at an lda_opts; rt_size(r) = S + W. */
int lda_rank(rt *r, void *arg);

const char *lda_consistency_name(lda_consistency c);

#endif
