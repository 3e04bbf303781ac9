/* lda.c -- collapsed Gibbs sampling for LDA over sparse counts (see lda.h). */
#include "ml/lda.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ml/internal.h"

/* ---- sparse word-topic counts ---- */

int lda_counts_init(lda_counts *c, size_t V, int K)
{
    memset(c, 0, sizeof *c);
    c->V = V;
    c->K = K;
    c->len = calloc(V ? V : 1, sizeof *c->len);
    c->cap = calloc(V ? V : 1, sizeof *c->cap);
    c->topic = calloc(V ? V : 1, sizeof *c->topic);
    c->count = calloc(V ? V : 1, sizeof *c->count);
    c->nk = calloc((size_t)K, sizeof *c->nk);
    if (!c->len || !c->cap || !c->topic || !c->count || !c->nk) {
        lda_counts_free(c);
        return -1;
    }
    return 0;
}

void lda_counts_free(lda_counts *c)
{
    for (size_t w = 0; c->topic && w < c->V; w++) {
        free(c->topic[w]);
        free(c->count[w]);
    }
    free(c->len);
    free(c->cap);
    free(c->topic);
    free(c->count);
    free(c->nk);
    memset(c, 0, sizeof *c);
}

int lda_counts_add(lda_counts *c, uint32_t w, int k, int32_t delta)
{
    c->nk[k] += delta;
    uint32_t n = c->len[w];
    for (uint32_t i = 0; i < n; i++) {
        if (c->topic[w][i] != k)
            continue;
        if ((c->count[w][i] += delta) == 0) { /* gone: the last entry takes its place */
            c->topic[w][i] = c->topic[w][n - 1];
            c->count[w][i] = c->count[w][n - 1];
            c->len[w]--;
            c->nnz--;
        }
        return 0;
    }
    if (delta == 0)
        return 0;
    if (n == c->cap[w]) {
        uint32_t cap = c->cap[w] ? 2 * c->cap[w] : 2;
        uint16_t *t = realloc(c->topic[w], cap * sizeof *t);
        if (t)
            c->topic[w] = t;
        int32_t *v = t ? realloc(c->count[w], cap * sizeof *v) : NULL;
        if (!v) {
            c->nk[k] -= delta;
            return -1;
        }
        c->count[w] = v;
        c->cap[w] = cap;
    }
    c->topic[w][n] = (uint16_t)k;
    c->count[w][n] = delta;
    c->len[w]++;
    c->nnz++;
    return 0;
}

int32_t lda_counts_get(const lda_counts *c, uint32_t w, int k)
{
    for (uint32_t i = 0; i < c->len[w]; i++)
        if (c->topic[w][i] == k)
            return c->count[w][i];
    return 0;
}

void lda_counts_clear(lda_counts *c)
{
    memset(c->len, 0, c->V * sizeof *c->len);
    memset(c->nk, 0, (size_t)c->K * sizeof *c->nk);
    c->nnz = 0;
}

int lda_counts_merge(lda_counts *dst, const lda_counts *src)
{
    for (size_t w = 0; w < src->V; w++)
        for (uint32_t i = 0; i < src->len[w]; i++)
            if (lda_counts_add(dst, (uint32_t)w, src->topic[w][i], src->count[w][i]) != 0)
                return -1;
    return 0;
}

void lda_counts_clear_word(lda_counts *c, uint32_t w)
{
    for (uint32_t i = 0; i < c->len[w]; i++)
        c->nk[c->topic[w][i]] -= c->count[w][i];
    c->nnz -= c->len[w];
    c->len[w] = 0;
}

/* ---- the sampler ---- */

/* splitmix64, and a double in [0, 1) from its top 53 bits */
static uint64_t next(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static double uniform(uint64_t *x) { return (double)(next(x) >> 11) * 0x1.0p-53; }

/* Both tables, or the first alone: every change a sampler makes. */
static int record(lda_counts *counts, lda_counts *delta, uint32_t w, int k, int32_t d)
{
    if (lda_counts_add(counts, w, k, d) != 0)
        return -1;
    return delta ? lda_counts_add(delta, w, k, d) : 0;
}

int lda_sampler_init(lda_sampler *s, const ml_corpus *c, size_t doc_lo, size_t doc_hi, int K,
                     double alpha, double beta, uint64_t seed, lda_counts *counts, lda_counts *delta,
                     char *err, size_t errlen)
{
    memset(s, 0, sizeof *s);
    if (K < 1 || K > 65535)
        return ml_err(err, errlen, "lda: topics must be 1..65535, not %d", K);
    if (!(alpha > 0) || !(beta > 0) || !isfinite(alpha) || !isfinite(beta))
        return ml_err(err, errlen, "lda: alpha and beta must be positive numbers");
    s->corpus = c;
    s->doc_lo = doc_lo;
    s->doc_hi = doc_hi;
    s->tok_lo = c->doc_start[doc_lo];
    s->ntok = c->doc_start[doc_hi] - s->tok_lo;
    s->K = K;
    s->alpha = alpha;
    s->beta = beta;
    s->rng = seed * 0x9E3779B97F4A7C15ull + 0x632BE59BD9B4E019ull;
    s->z = malloc((s->ntok ? s->ntok : 1) * sizeof *s->z);
    s->p = malloc((size_t)K * sizeof *s->p);
    s->ndk = calloc((size_t)K, sizeof *s->ndk);
    s->nwk = calloc((size_t)K, sizeof *s->nwk);
    if (!s->z || !s->p || !s->ndk || !s->nwk)
        goto oom;
    for (size_t t = 0; t < s->ntok; t++) {
        s->z[t] = (uint16_t)(next(&s->rng) % (uint64_t)K);
        if (record(counts, delta, c->words[s->tok_lo + t], s->z[t], 1) != 0)
            goto oom;
    }
    return 0;
oom:
    lda_sampler_free(s);
    return ml_err(err, errlen, "lda: out of memory for %zu tokens and %d topics", s->ntok, K);
}

void lda_sampler_free(lda_sampler *s)
{
    free(s->z);
    free(s->p);
    free(s->ndk);
    free(s->nwk);
    free(s->nk_copy);
    memset(s, 0, sizeof *s);
}

int lda_sampler_sweep(lda_sampler *s, lda_counts *counts, lda_counts *delta, double *flops)
{
    return lda_sampler_sweep_docs(s, s->doc_lo, s->doc_hi, counts, delta, flops);
}

/* Token t drawn by s->resample (lda.h): the word's row and the totals
 * handed over as dense copies, the document's counts as they are. 0, -1
 * (out of memory) or -2 (a topic outside 0..K-1). The counts change as
 * the sampler's own draw changes them, out and back in. */
static int resample_with(lda_sampler *s, size_t t, lda_counts *counts, lda_counts *delta, double Vbeta)
{
    const int K = s->K;
    uint32_t w = s->corpus->words[s->tok_lo + t];
    int old = s->z[t];
    if (!s->nk_copy && !(s->nk_copy = malloc((size_t)K * sizeof *s->nk_copy)))
        return -1;
    for (uint32_t i = 0; i < counts->len[w]; i++)
        s->nwk[counts->topic[w][i]] = counts->count[w][i];
    memcpy(s->nk_copy, counts->nk, (size_t)K * sizeof *s->nk_copy);
    int k = s->resample(old, K, s->ndk, s->nwk, s->nk_copy, s->alpha, s->beta, Vbeta, uniform(&s->rng), s->p);
    memset(s->nwk, 0, (size_t)K * sizeof *s->nwk);
    if (k < 0 || k >= K)
        return -2;
    s->z[t] = (uint16_t)k;
    return record(counts, delta, w, old, -1) != 0 || record(counts, delta, w, k, 1) != 0 ? -1 : 0;
}

int lda_sampler_sweep_docs(lda_sampler *s, size_t d0, size_t d1, lda_counts *counts,
                           lda_counts *delta, double *flops)
{
    const ml_corpus *c = s->corpus;
    const int K = s->K;
    const double Vbeta = (double)counts->V * s->beta;
    for (size_t d = d0; d < d1; d++) {
        size_t lo = c->doc_start[d] - s->tok_lo, hi = c->doc_start[d + 1] - s->tok_lo;
        for (size_t t = lo; t < hi; t++)
            s->ndk[s->z[t]]++;
        for (size_t t = lo; t < hi && s->resample; t++) {
            int rc = resample_with(s, t, counts, delta, Vbeta);
            if (rc != 0)
                return rc;
        }
        for (size_t t = lo; t < hi && !s->resample; t++) {
            uint32_t w = c->words[s->tok_lo + t];
            int old = s->z[t];
            /* take the token out of the counts */
            s->ndk[old]--;
            if (record(counts, delta, w, old, -1) != 0)
                return -1;
            /* p(k) ~ (n_dk + alpha)(n_wk + beta) / (n_k + V beta), over a dense row */
            for (uint32_t i = 0; i < counts->len[w]; i++)
                s->nwk[counts->topic[w][i]] = counts->count[w][i];
            double total = 0;
            for (int k = 0; k < K; k++) {
                total += ((double)s->ndk[k] + s->alpha) * ((double)s->nwk[k] + s->beta) /
                         ((double)counts->nk[k] + Vbeta);
                s->p[k] = total;
            }
            for (uint32_t i = 0; i < counts->len[w]; i++)
                s->nwk[counts->topic[w][i]] = 0;
            double u = uniform(&s->rng) * total;
            int lo_k = 0, hi_k = K - 1; /* the first k with p[k] > u */
            while (lo_k < hi_k) {
                int mid = (lo_k + hi_k) / 2;
                if (s->p[mid] > u)
                    hi_k = mid;
                else
                    lo_k = mid + 1;
            }
            s->z[t] = (uint16_t)lo_k;
            s->ndk[lo_k]++;
            if (record(counts, delta, w, lo_k, 1) != 0)
                return -1;
        }
        for (size_t t = lo; t < hi; t++)
            s->ndk[s->z[t]] = 0;
    }
    *flops = 6.0 * K * (double)(c->doc_start[d1] - c->doc_start[d0]);
    return 0;
}

/* ---- likelihood and recovery ---- */

double lda_lgamma(double x)
{
    int sign;
    return lgamma_r(x, &sign);
}

double lda_doc_loglik(const lda_sampler *s)
{
    const ml_corpus *c = s->corpus;
    const int K = s->K;
    int32_t *ndk = calloc((size_t)K, sizeof *ndk);
    if (!ndk)
        return NAN;
    double ll = 0, lg_alpha = lda_lgamma(s->alpha), lg_Kalpha = lda_lgamma(K * s->alpha);
    for (size_t d = s->doc_lo; d < s->doc_hi; d++) {
        size_t lo = c->doc_start[d] - s->tok_lo, hi = c->doc_start[d + 1] - s->tok_lo;
        for (size_t t = lo; t < hi; t++)
            ndk[s->z[t]]++;
        ll += lg_Kalpha - lda_lgamma((double)(hi - lo) + K * s->alpha);
        for (size_t t = lo; t < hi; t++)
            if (ndk[s->z[t]]) { /* each topic of the document once */
                ll += lda_lgamma(ndk[s->z[t]] + s->alpha) - lg_alpha;
                ndk[s->z[t]] = 0;
            }
    }
    free(ndk);
    return ll;
}

double lda_word_loglik(const lda_counts *c, double beta)
{
    double ll = 0, lg_beta = lda_lgamma(beta), Vbeta = (double)c->V * beta;
    for (int k = 0; k < c->K; k++)
        ll += lda_lgamma(Vbeta) - lda_lgamma((double)c->nk[k] + Vbeta);
    for (size_t w = 0; w < c->V; w++)
        for (uint32_t i = 0; i < c->len[w]; i++)
            ll += lda_lgamma(c->count[w][i] + beta) - lg_beta;
    return ll;
}

double lda_topic_distance(const lda_counts *c, const ml_corpus *corpus, double beta)
{
    int T = corpus->true_K, K = c->K;
    size_t V = c->V;
    if (T == 0 || V != corpus->V)
        return NAN;
    double *phi = malloc((size_t)K * V * sizeof *phi), *dist = malloc((size_t)T * K * sizeof *dist);
    int *used_t = calloc((size_t)T, sizeof *used_t), *used_k = calloc((size_t)K, sizeof *used_k);
    double mean = NAN;
    if (!phi || !dist || !used_t || !used_k)
        goto done;
    for (int k = 0; k < K; k++)
        for (size_t w = 0; w < V; w++)
            phi[(size_t)k * V + w] = beta / ((double)c->nk[k] + V * beta);
    for (size_t w = 0; w < V; w++)
        for (uint32_t i = 0; i < c->len[w]; i++) {
            int k = c->topic[w][i];
            phi[(size_t)k * V + w] = (c->count[w][i] + beta) / ((double)c->nk[k] + V * beta);
        }
    for (int t = 0; t < T; t++)
        for (int k = 0; k < K; k++) {
            double l1 = 0;
            for (size_t w = 0; w < V; w++)
                l1 += fabs(corpus->true_phi[(size_t)t * V + w] - phi[(size_t)k * V + w]);
            dist[(size_t)t * K + k] = l1 / 2;
        }
    /* pair greedily, closest first, each topic once */
    double sum = 0;
    int pairs = 0;
    for (; pairs < T && pairs < K; pairs++) {
        int bt = -1, bk = -1;
        for (int t = 0; t < T; t++)
            for (int k = 0; k < K && !used_t[t]; k++)
                if (!used_k[k] && (bt < 0 || dist[(size_t)t * K + k] < dist[(size_t)bt * K + bk])) {
                    bt = t;
                    bk = k;
                }
        used_t[bt] = used_k[bk] = 1;
        sum += dist[(size_t)bt * K + bk];
    }
    mean = sum / pairs;
done:
    free(phi);
    free(dist);
    free(used_t);
    free(used_k);
    return mean;
}
