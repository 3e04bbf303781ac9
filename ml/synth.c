/* synth.c -- synthetic problems, fully determined by a seed.
 *
 * Two regimes the algorithms are compared on:
 *  - sparse binary with power-law feature frequencies, like RCV1 text
 *    (Lewis et al. 2004): most updates touch disjoint rare features, which
 *    is where lock-free Hogwild! shines (Niu et al. 2011, section 2);
 *  - dense multiclass Gaussian mixtures, where every update touches every
 *    weight (the allreduce regime).
 * Randomness is GSL's mt19937 only, so a seed gives the same bytes on every
 * machine.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#include "ml/data.h"
#include "ml/internal.h"

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

int ml_synth_sparse_make(const ml_synth_sparse *p, uint64_t seed, ml_dataset *out, char *err,
                         size_t errlen)
{
    gsl_rng *rng = NULL;
    gsl_ran_discrete_t *table = NULL;
    double *weight = NULL, *prob = NULL;
    unsigned char *used = NULL;
    memset(out, 0, sizeof *out);
    if (p->n == 0 || p->d == 0 || p->nnz == 0)
        return ml_err(err, errlen, "synth-sparse: n, d and nnz must all be positive");
    if (p->d > UINT32_MAX)
        return ml_err(err, errlen, "synth-sparse: d=%zu is above 2^32-1", p->d);
    if (p->nnz > p->d / 2)
        return ml_err(err, errlen, "synth-sparse: nnz=%zu must be at most d/2=%zu", p->nnz,
                      p->d / 2);
    if (!(p->alpha >= 0 && p->alpha <= 4) || !(p->noise >= 0) || !(p->flip >= 0 && p->flip < 0.5))
        return ml_err(err, errlen,
                      "synth-sparse: expected alpha in [0,4], noise >= 0, flip in [0,0.5)");
    size_t z = ml_mul_size(p->n, p->nnz);
    if (!z || !ml_mul_size(z, sizeof(size_t)) || !ml_mul_size(p->n + 1, sizeof(size_t)))
        return ml_err(err, errlen, "synth-sparse: n*nnz is too large to hold");
    rng = gsl_rng_alloc(gsl_rng_mt19937);
    weight = malloc(p->d * sizeof *weight);
    prob = malloc(p->d * sizeof *prob);
    used = calloc(p->d, 1);
    out->row_ptr = malloc((p->n + 1) * sizeof *out->row_ptr);
    out->col = malloc(z * sizeof *out->col);
    out->val = malloc(z * sizeof *out->val);
    out->y = malloc(p->n * sizeof *out->y);
    if (!rng || !weight || !prob || !used || !out->row_ptr || !out->col || !out->val || !out->y) {
        ml_err(err, errlen, "synth-sparse: out of memory for n=%zu nnz=%zu", p->n, p->nnz);
        goto fail;
    }
    gsl_rng_set(rng, (unsigned long)seed);
    /* ---- the hidden model and the feature frequencies ---- */
    for (size_t j = 0; j < p->d; j++) {
        weight[j] = gsl_ran_gaussian(rng, 1.0);
        prob[j] = pow((double)j + 1.0, -p->alpha);
    }
    table = gsl_ran_discrete_preproc(p->d, prob);
    if (!table) {
        ml_err(err, errlen, "synth-sparse: cannot build the sampling table");
        goto fail;
    }
    /* ---- rows: distinct features, unit L2 norm, label from the model ---- */
    for (size_t i = 0; i < p->n; i++) {
        size_t base = i * p->nnz;
        out->row_ptr[i] = base;
        for (size_t k = 0; k < p->nnz; k++) {
            size_t j;
            do
                j = gsl_ran_discrete(rng, table);
            while (used[j]);
            used[j] = 1;
            out->col[base + k] = (uint32_t)j;
        }
        qsort(out->col + base, p->nnz, sizeof *out->col, cmp_u32);
        double norm2 = 0, margin = 0;
        for (size_t k = 0; k < p->nnz; k++) {
            double v = 0.1 + gsl_rng_uniform(rng);
            out->val[base + k] = (float)v;
            norm2 += v * v;
        }
        double inv = 1.0 / sqrt(norm2);
        for (size_t k = 0; k < p->nnz; k++) {
            out->val[base + k] = (float)(out->val[base + k] * inv);
            margin += out->val[base + k] * weight[out->col[base + k]];
            used[out->col[base + k]] = 0;
        }
        margin += gsl_ran_gaussian(rng, p->noise);
        int label = margin > 0;
        if (gsl_rng_uniform(rng) < p->flip)
            label = !label;
        out->y[i] = label;
    }
    out->row_ptr[p->n] = z;
    out->n = p->n;
    out->d = p->d;
    out->classes = 2;
    out->sparse = 1;
    gsl_ran_discrete_free(table);
    gsl_rng_free(rng);
    free(weight);
    free(prob);
    free(used);
    return 0;
fail:
    if (table)
        gsl_ran_discrete_free(table);
    if (rng)
        gsl_rng_free(rng);
    free(weight);
    free(prob);
    free(used);
    ml_dataset_free(out);
    return -1;
}

int ml_synth_dense_make(const ml_synth_dense *p, uint64_t seed, ml_dataset *out, char *err,
                        size_t errlen)
{
    gsl_rng *rng = NULL;
    double *mean = NULL;
    memset(out, 0, sizeof *out);
    if (p->n == 0 || p->d == 0 || p->classes < 2 || p->classes > 65536)
        return ml_err(err, errlen, "synth-dense: expected n > 0, d > 0, classes in 2..65536");
    if (!(p->sep >= 0 && isfinite(p->sep)))
        return ml_err(err, errlen, "synth-dense: sep must be a finite number >= 0");
    size_t nd = ml_mul_size(p->n, p->d), kd = ml_mul_size((size_t)p->classes, p->d);
    if (!nd || !kd || !ml_mul_size(nd, sizeof(double)) || !ml_mul_size(kd, sizeof(double)))
        return ml_err(err, errlen, "synth-dense: n*d is too large to hold");
    rng = gsl_rng_alloc(gsl_rng_mt19937);
    mean = malloc(kd * sizeof *mean);
    out->x = malloc(nd * sizeof *out->x);
    out->y = malloc(p->n * sizeof *out->y);
    if (!rng || !mean || !out->x || !out->y) {
        ml_err(err, errlen, "synth-dense: out of memory for n=%zu d=%zu", p->n, p->d);
        goto fail;
    }
    gsl_rng_set(rng, (unsigned long)seed);
    double sd = p->sep / sqrt((double)p->d);
    for (size_t k = 0; k < kd; k++)
        mean[k] = gsl_ran_gaussian(rng, sd);
    for (size_t i = 0; i < p->n; i++) {
        int c = (int)gsl_rng_uniform_int(rng, (unsigned long)p->classes);
        out->y[i] = c;
        for (size_t j = 0; j < p->d; j++)
            out->x[i * p->d + j] = (float)(mean[(size_t)c * p->d + j] + gsl_ran_gaussian(rng, 1.0));
    }
    out->n = p->n;
    out->d = p->d;
    out->classes = p->classes;
    gsl_rng_free(rng);
    free(mean);
    return 0;
fail:
    if (rng)
        gsl_rng_free(rng);
    free(mean);
    ml_dataset_free(out);
    return -1;
}
