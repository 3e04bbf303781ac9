/* fuzz_libsvm.c -- libFuzzer target for the LIBSVM parser (`make fuzz`).
 *
 * The parser reads files from anywhere, so it must never crash, read out
 * of bounds or accept data that breaks the dataset's invariants. Each input
 * is parsed twice (inferred dimension, and a declared one of 64); a success
 * must give a well-formed CSR set (ascending in-range indices, finite
 * values, labels below classes), a refusal a non-empty message.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ml/data.h"

static void check(const ml_dataset *ds, size_t dim)
{
    if (ds->n == 0 || !ds->sparse || ds->row_ptr[0] != 0 || ds->classes < 2)
        abort();
    if (dim && ds->d != dim)
        abort();
    for (size_t i = 0; i < ds->n; i++) {
        if (ds->row_ptr[i + 1] < ds->row_ptr[i] || ds->y[i] < 0 || ds->y[i] >= ds->classes)
            abort();
        for (size_t k = ds->row_ptr[i]; k < ds->row_ptr[i + 1]; k++) {
            if (ds->col[k] >= ds->d || !isfinite(ds->val[k]))
                abort();
            if (k > ds->row_ptr[i] && ds->col[k] <= ds->col[k - 1])
                abort();
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const size_t dims[2] = {0, 64};
    for (int t = 0; t < 2; t++) {
        char err[256] = "";
        ml_dataset ds;
        if (ml_libsvm_parse((const char *)data, size, "fuzz", dims[t], 0, &ds, err, sizeof err) == 0)
            check(&ds, dims[t]);
        else if (err[0] == '\0' || ds.y || ds.col)
            abort();
        ml_dataset_free(&ds);
    }
    return 0;
}
