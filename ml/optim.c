/* optim.c -- SGD with momentum, Adagrad and the learning-rate schedules
 * (see optim.h for the update rules and what a sparse update does).
 *
 * The loops are plain C over contiguous floats so the compiler vectorises
 * the dense case; the sparse case is a gather-update-scatter per pair.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ml/internal.h"
#include "ml/optim.h"
#include "core/units.h"

int ml_optim_init(ml_optim *o, ml_optim_kind kind, size_t n, size_t base, float momentum,
                  char *err, size_t errlen)
{
    memset(o, 0, sizeof *o);
    if (!(momentum >= 0 && momentum < 1))
        return ml_err(err, errlen, "optimizer: momentum %g must be in [0, 1)", momentum);
    o->kind = kind;
    o->n = n;
    o->base = base;
    o->momentum = momentum;
    o->eps = 1e-8f;
    if (kind == ML_OPTIM_ADAGRAD || momentum > 0) {
        o->state = calloc(n ? n : 1, sizeof *o->state);
        if (!o->state)
            return ml_err(err, errlen, "optimizer: out of memory for %zu parameters", n);
    }
    return 0;
}

void ml_optim_free(ml_optim *o)
{
    free(o->state);
    memset(o, 0, sizeof *o);
}

/* One coordinate's update; k indexes params and state. */
static inline void update_one(ml_optim *o, float *params, size_t k, float g, float lr)
{
    if (o->kind == ML_OPTIM_ADAGRAD) {
        o->state[k] += g * g;
        params[k] -= lr * g / (sqrtf(o->state[k]) + o->eps);
    } else if (o->state) {
        o->state[k] = o->momentum * o->state[k] + g;
        params[k] -= lr * o->state[k];
    } else {
        params[k] -= lr * g;
    }
}

static double flops_per_update(const ml_optim *o)
{
    return o->kind == ML_OPTIM_ADAGRAD ? 6 : o->state ? 4 : 2;
}

double ml_optim_step(ml_optim *o, float *params, const float *grad, size_t first, size_t count,
                     float lr)
{
    if (first >= o->n)
        return 0;
    if (count > o->n - first)
        count = o->n - first;
    size_t end = first + count;
    if (o->kind == ML_OPTIM_SGD && !o->state) {
        for (size_t k = first; k < end; k++)
            params[k] -= lr * grad[k];
    } else if (o->kind == ML_OPTIM_SGD) {
        float mu = o->momentum, *v = o->state;
        for (size_t k = first; k < end; k++) {
            v[k] = mu * v[k] + grad[k];
            params[k] -= lr * v[k];
        }
    } else {
        for (size_t k = first; k < end; k++)
            update_one(o, params, k, grad[k], lr);
    }
    return flops_per_update(o) * (double)count;
}

double ml_optim_step_sparse(ml_optim *o, float *params, const uint32_t *index,
                            const float *value, size_t nnz, float lr)
{
    size_t done = 0;
    if (o->kind == ML_OPTIM_SGD && !o->state) { /* the Hogwild! inner loop */
        for (size_t i = 0; i < nnz; i++) {
            size_t k = (size_t)index[i] - o->base; /* wraps past n when below base */
            if (k < o->n) {
                params[k] -= lr * value[i];
                done++;
            }
        }
        return 2.0 * (double)done;
    }
    for (size_t i = 0; i < nnz; i++) {
        size_t k = index[i];
        if (k < o->base || k - o->base >= o->n)
            continue;
        update_one(o, params, k - o->base, value[i], lr);
        done++;
    }
    return flops_per_update(o) * (double)done;
}

/* ---- schedules ---- */

static int sched_kv(const char *name, const char *p, const char *const *keys, double *vals,
                    char *err, size_t errlen)
{
    while (*p) {
        const char *eq = strchr(p, '='), *comma = strchr(p, ',');
        if (!comma)
            comma = p + strlen(p);
        if (!eq || eq > comma)
            return ml_err(err, errlen, "schedule %s: '%.*s' is not key=value", name,
                          (int)(comma - p), p);
        int k;
        for (k = 0; keys[k]; k++)
            if (strlen(keys[k]) == (size_t)(eq - p) && !memcmp(keys[k], p, (size_t)(eq - p)))
                break;
        if (!keys[k])
            return ml_err(err, errlen, "schedule %s: unknown key '%.*s'", name, (int)(eq - p), p);
        char num[64];
        const char *end;
        size_t len = (size_t)(comma - eq - 1);
        if (len == 0 || len >= sizeof num)
            return ml_err(err, errlen, "schedule %s: %s needs a number", name, keys[k]);
        memcpy(num, eq + 1, len);
        num[len] = '\0';
        double v;
        if (units_decimal(num, &v, &end) != 0 || *end || v < 0)
            return ml_err(err, errlen, "schedule %s: %s=%s is not a number >= 0", name, keys[k], num);
        vals[k] = v;
        p = *comma ? comma + 1 : comma;
    }
    return 0;
}

int ml_schedule_parse(ml_schedule *s, const char *spec, double lr, char *err, size_t errlen)
{
    memset(s, 0, sizeof *s);
    s->lr = lr;
    s->gamma = 0.1;
    s->scale = 1;
    s->warmup_epochs = 5;
    if (!(lr > 0) || !isfinite(lr))
        return ml_err(err, errlen, "learning rate %g must be a positive number", lr);
    if (strcmp(spec, "constant") == 0) {
        s->kind = ML_SCHED_CONSTANT;
        return 0;
    }
    if (strncmp(spec, "step", 4) == 0 && (spec[4] == ':' || !spec[4])) {
        static const char *const keys[] = {"every", "gamma", NULL};
        double v[] = {30, 0.1};
        if (spec[4] && sched_kv("step", spec + 5, keys, v, err, errlen) < 0)
            return -1;
        if (v[0] <= 0 || v[1] > 1)
            return ml_err(err, errlen, "schedule step: expected every > 0 and gamma <= 1");
        s->kind = ML_SCHED_STEP;
        s->every_epochs = v[0];
        s->gamma = v[1];
        return 0;
    }
    if (strncmp(spec, "inv", 3) == 0 && (spec[3] == ':' || !spec[3])) {
        static const char *const keys[] = {"t0", NULL};
        double v[] = {1};
        if (spec[3] && sched_kv("inv", spec + 4, keys, v, err, errlen) < 0)
            return -1;
        if (v[0] <= 0)
            return ml_err(err, errlen, "schedule inv: expected t0 > 0 (epochs)");
        s->kind = ML_SCHED_INV;
        s->t0_epochs = v[0];
        return 0;
    }
    if (strncmp(spec, "warmup", 6) == 0 && (spec[6] == ':' || !spec[6])) {
        static const char *const keys[] = {"epochs", "k", "every", "gamma", NULL};
        double v[] = {5, 1, 0, 0.1};
        if (spec[6] && sched_kv("warmup", spec + 7, keys, v, err, errlen) < 0)
            return -1;
        if (v[1] < 1 || v[3] > 1)
            return ml_err(err, errlen, "schedule warmup: expected k >= 1 and gamma <= 1");
        s->kind = ML_SCHED_WARMUP;
        s->warmup_epochs = v[0];
        s->scale = v[1];
        s->every_epochs = v[2];
        s->gamma = v[3];
        return 0;
    }
    return ml_err(err, errlen,
                  "unknown schedule '%s' (expected constant, step:every=E,gamma=G, inv:t0=E or "
                  "warmup:epochs=E,k=K[,every=E,gamma=G])", spec);
}

double ml_schedule_lr(const ml_schedule *s, double epoch)
{
    switch (s->kind) {
    case ML_SCHED_STEP:
        return s->lr * s->scale * pow(s->gamma, floor(epoch / s->every_epochs));
    case ML_SCHED_INV:
        return s->lr * s->scale / (1.0 + epoch / s->t0_epochs);
    case ML_SCHED_WARMUP: {
        double target = s->lr * s->scale;
        if (epoch < s->warmup_epochs)
            return s->lr + (target - s->lr) * epoch / s->warmup_epochs;
        if (s->every_epochs > 0)
            return target * pow(s->gamma, floor(epoch / s->every_epochs));
        return target;
    }
    case ML_SCHED_CONSTANT:
    default:
        return s->lr * s->scale;
    }
}
