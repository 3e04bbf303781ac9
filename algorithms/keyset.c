/* keyset.c -- key sets of a flat parameter array (see keyset.h). */
#include "algorithms/keyset.h"

#include <stdlib.h>
#include <string.h>

int32_t keyset_wire(const keyset *k) { return k->keys ? (int32_t)k->n : -1; }

void keyset_gather(const keyset *k, const float *w, size_t base, float *out)
{
    if (!k->keys) {
        memcpy(out, w + (k->lo - base), k->n * sizeof *out);
        return;
    }
    for (size_t i = 0; i < k->n; i++)
        out[i] = w[k->keys[i] - base];
}

void keyset_scatter(const keyset *k, const float *vals, float *w)
{
    if (!k->keys) {
        memcpy(w + k->lo, vals, k->n * sizeof *vals);
        return;
    }
    for (size_t i = 0; i < k->n; i++)
        w[k->keys[i]] = vals[i];
}

int keyset_rows_init(keyset_rows *kr, const ml_model *m, size_t d)
{
    memset(kr, 0, sizeof *kr);
    size_t n_in, n_out;
    ml_model_layer(m, 1, &n_in, &n_out, &kr->w_off, &kr->b_off);
    kr->K = n_out;
    kr->mark = calloc(d ? d : 1, 1);
    kr->feat = malloc((d ? d : 1) * sizeof *kr->feat);
    return kr->mark && kr->feat ? 0 : -1;
}

void keyset_rows_free(keyset_rows *kr)
{
    free(kr->mark);
    free(kr->feat);
    memset(kr, 0, sizeof *kr);
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

size_t keyset_rows_keys(keyset_rows *kr, const ml_dataset *ds, const size_t *idx, size_t n,
                        uint32_t *keys)
{
    size_t nf = 0, nk = 0;
    for (size_t e = 0; e < n; e++)
        for (size_t z = ds->row_ptr[idx[e]]; z < ds->row_ptr[idx[e] + 1]; z++)
            if (!kr->mark[ds->col[z]]) {
                kr->mark[ds->col[z]] = 1;
                kr->feat[nf++] = ds->col[z];
            }
    qsort(kr->feat, nf, sizeof *kr->feat, cmp_u32);
    for (size_t f = 0; f < nf; f++) {
        kr->mark[kr->feat[f]] = 0;
        for (size_t c = 0; c < kr->K; c++)
            keys[nk++] = (uint32_t)(kr->w_off + kr->feat[f] * kr->K + c);
    }
    for (size_t c = 0; c < kr->K && n > 0; c++)
        keys[nk++] = (uint32_t)(kr->b_off + c);
    return nk;
}

void keyset_split(const uint32_t *keys, size_t n, size_t P, int S, size_t *start)
{
    size_t at = 0;
    for (int s = 0; s < S; s++) {
        size_t lo, hi;
        train_range(P, S, s, &lo, &hi);
        start[s] = at;
        while (at < n && keys[at] < hi)
            at++;
    }
    start[S] = n;
}

void keyset_group(const uint32_t *index, const float *value, size_t n, size_t P, int S,
                  uint32_t *gkey, float *gval, size_t *start)
{
    memset(start, 0, (size_t)(S + 1) * sizeof *start);
    for (size_t i = 0; i < n; i++)
        start[train_range_owner(P, S, index[i]) + 1]++;
    for (int s = 0; s < S; s++)
        start[s + 1] += start[s];
    for (size_t i = 0; i < n; i++) {
        size_t at = start[train_range_owner(P, S, index[i])]++;
        gkey[at] = index[i];
        gval[at] = value[i];
    }
    for (int s = S; s > 0; s--) /* back to the starts */
        start[s] = start[s - 1];
    start[0] = 0;
}
