/* train.c -- shards, minibatches, key ranges, and the evaluation service
 * (schedule, snapshots, gathering, measuring) shared by the training
 * algorithms (see train.h). */
#include "algorithms/train.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


size_t train_out_bytes(size_t nparams) { return sizeof(train_out) + nparams * sizeof(float); }

float *train_out_params(train_out *o) { return (float *)(o + 1); }

/* ---- shards ---- */

/* splitmix64: a small, fast, well-mixed generator for visiting orders. */
static uint64_t mix(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static void shuffle(train_shard *s)
{
    uint64_t x = s->seed ^ (0xD1B54A32D192ED03ull * (uint64_t)(s->pass + 1));
    for (size_t i = s->n; i > 1; i--) {
        size_t j = (size_t)(mix(&x) % i);
        size_t t = s->idx[i - 1];
        s->idx[i - 1] = s->idx[j];
        s->idx[j] = t;
    }
}

int train_shard_init(train_shard *s, const ml_dataset *train, int part, int parts, uint64_t seed)
{
    memset(s, 0, sizeof *s);
    s->n = ml_shard_count(train->n, part, parts, ML_SHARD_CONTIGUOUS);
    s->idx = malloc((s->n ? s->n : 1) * sizeof *s->idx);
    if (!s->idx)
        return -1;
    ml_shard_indices(train->n, part, parts, ML_SHARD_CONTIGUOUS, s->idx);
    s->seed = seed * 0x9E3779B97F4A7C15ull + (uint64_t)part;
    shuffle(s);
    return 0;
}

void train_shard_seek(train_shard *s, long pass, size_t pos)
{
    /* the order is a function of the seed and the passes: replay them */
    while (s->pass < pass) {
        s->pass++;
        shuffle(s);
    }
    s->pos = pos < s->n ? pos : s->n;
}

void train_shard_free(train_shard *s)
{
    free(s->idx);
    memset(s, 0, sizeof *s);
}

int train_step_begin(const train_setup *setup, rt *r, long step)
{
    if (!setup->crash || !setup->crash(setup->crash_ctx, r, step))
        return RT_OK;
    return rt_fail(r, RT_EKILLED, "made to fail at its step %ld (--kill-rank)", step);
}

size_t train_shard_next(train_shard *s, size_t batch, size_t *out)
{
    if (s->n == 0)
        return 0;
    if (s->pos == s->n) {
        s->pos = 0;
        s->pass++;
        shuffle(s);
    }
    size_t k = s->n - s->pos < batch ? s->n - s->pos : batch;
    memcpy(out, s->idx + s->pos, k * sizeof *out);
    s->pos += k;
    return k;
}

/* ---- models ---- */

int train_model_create(rt *r, const train_setup *setup, ml_model **out)
{
    const ml_problem *p = setup->prob;
    char err[512];
    if (ml_model_create(setup->ml->model, p->train.d, p->train.classes, setup->ml->l2, out, err,
                        sizeof err) != 0)
        return rt_fail(r, RT_EINVAL, "model: %s", err);
    if (p->train.sparse && ml_model_set_freq(*out, &p->train, err, sizeof err) != 0) {
        ml_model_free(*out);
        *out = NULL;
        return rt_fail(r, RT_EINVAL, "model: %s", err);
    }
    return RT_OK;
}

int train_optimizer_init(rt *r, const ml_config *ml, size_t first, size_t count, ml_optim *optim,
                         ml_schedule *sched)
{
    char err[512];
    if (optim &&
        ml_optim_init(optim, ml->optimizer, count, first, (float)ml->momentum, err, sizeof err) != 0)
        return rt_fail(r, RT_EINVAL, "%s", err);
    if (ml_schedule_parse(sched, ml->schedule, ml->lr, err, sizeof err) != 0)
        return rt_fail(r, RT_EINVAL, "schedule: %s", err);
    return RT_OK;
}

/* ---- a data-parallel worker ---- */

int train_worker_init(train_worker *w, rt *r, const train_setup *setup, int part, int parts,
                      const char *who)
{
    const ml_config *ml = setup->ml;
    memset(w, 0, sizeof *w);
    int rc = train_model_create(r, setup, &w->model);
    if (rc)
        return rc;
    w->P = ml_model_nparams(w->model);
    w->params = malloc(w->P * sizeof *w->params);
    w->batch = malloc(ml->batch * sizeof *w->batch);
    if (!w->params || !w->batch || ml_grad_init(&w->grad, w->P) != 0 ||
        train_shard_init(&w->shard, &setup->prob->train, part, parts, ml->seed) != 0)
        return rt_fail(r, RT_ENOMEM, "%s: out of memory for %zu parameters", who, w->P);
    w->grad.dense_only = 1;
    /* the same seed on every rank: the same starting weights */
    ml_model_init_params(w->model, w->params, ml->seed);
    if ((rc = train_optimizer_init(r, ml, 0, w->P, &w->optim, &w->sched)))
        return rc;
    if (rt_rank(r) == setup->reporter) {
        if ((rc = train_eval_init(&w->eval, r, setup, w->model)))
            return rc;
        w->reporting = 1;
    }
    w->checkpoints = (train_schedule){.every = setup->checkpoint_every, .next = setup->checkpoint_every};
    return RT_OK;
}

/* ---- checkpoints ---- */

#define CKPT_MAGIC 0x74706b63626c6464ull /* "ddlbckpt" */
#define CKPT_VERSION 2

typedef struct ckpt_head {
    uint64_t magic;
    uint32_t version, rank;
    uint64_t P, nstate;
    int64_t step, pass;
    uint64_t pos;
    double checkpoint_next, eval_next, clock;
    uint32_t npoints, truncated;
    uint64_t nextra;             /* the algorithm's own bytes, at the end */
    double stats[TRAIN_STATS];   /* the reporter's totals so far */
} ckpt_head;

static size_t optim_floats(const train_worker *w) { return w->optim.state ? w->optim.n : 0; }

int train_worker_checkpoint(train_worker *w, rt *r, const train_setup *setup, long step, double epoch)
{
    return train_worker_checkpoint_with(w, r, setup, step, epoch, NULL, 0);
}

int train_worker_checkpoint_with(train_worker *w, rt *r, const train_setup *setup, long step,
                                 double epoch, const void *extra, size_t extra_len)
{
    if (!setup->save || !(w->checkpoints.every > 0) || !train_schedule_due(&w->checkpoints, epoch))
        return RT_OK;
    size_t ns = optim_floats(w), np = w->reporting ? (size_t)w->eval.out->npoints : 0;
    size_t len = sizeof(ckpt_head) + (w->P + ns) * sizeof(float) + np * sizeof(train_point) +
                 extra_len;
    char *buf = malloc(len);
    if (!buf)
        return rt_fail(r, RT_ENOMEM, "checkpoint at step %ld: out of memory for %zu bytes", step, len);
    ckpt_head h = {
        .magic = CKPT_MAGIC, .version = CKPT_VERSION, .rank = (uint32_t)rt_rank(r),
        .P = w->P, .nstate = ns, .step = step, .pass = w->shard.pass, .pos = w->shard.pos,
        .checkpoint_next = w->checkpoints.next,
        .eval_next = w->reporting ? w->eval.sched.next : 0,
        .clock = w->eval.clock_base + rt_work_now(r),
        .npoints = (uint32_t)np, .truncated = w->reporting ? (uint32_t)w->eval.out->truncated : 0,
        .nextra = extra_len,
    };
    if (w->reporting)
        memcpy(h.stats, w->eval.out->stats, sizeof h.stats);
    char *p = buf;
    memcpy(p, &h, sizeof h);
    p += sizeof h;
    memcpy(p, w->params, w->P * sizeof(float));
    p += w->P * sizeof(float);
    if (ns) {
        memcpy(p, w->optim.state, ns * sizeof(float));
        p += ns * sizeof(float);
    }
    if (np) {
        memcpy(p, w->eval.out->points, np * sizeof(train_point));
        p += np * sizeof(train_point);
    }
    if (extra_len)
        memcpy(p, extra, extra_len);
    int bad = setup->save(setup->checkpoint_ctx, r, step, buf, len);
    free(buf);
    return bad ? rt_fail(r, RT_EIO, "checkpoint at step %ld: could not save it (%s)", step, rt_error(r))
               : RT_OK;
}

int train_resume_refuse(rt *r, const train_setup *setup, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    const char *src = setup->source ? setup->source(setup->checkpoint_ctx, r) : NULL;
    if (src)
        return rt_fail(r, RT_EINPUT, "resume: %s: %s", src, msg);
    return rt_fail(r, RT_EINPUT, "resume: %s", msg);
}

long train_first_nonfinite(const float *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(v[i]))
            return (long)i;
    return -1;
}

/* What is wrong in the points a reporter saved (at p, n of them), or NULL:
 * a loss may be NaN (a diverged run is a result), a time or an epoch not. */
static const char *points_damage(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        train_point pt;
        memcpy(&pt, p + i * sizeof pt, sizeof pt);
        if (!(pt.time_s >= 0 && pt.time_s <= 1e15) || !(pt.epoch >= 0 && pt.epoch <= 1e9) || pt.step < 0)
            return "an evaluation point's time, epoch or step";
    }
    return NULL;
}

int train_worker_resume(train_worker *w, rt *r, const train_setup *setup, long *step)
{
    return train_worker_resume_with(w, r, setup, step, NULL, 0);
}

int train_worker_resume_with(train_worker *w, rt *r, const train_setup *setup, long *step,
                             void *extra, size_t extra_len)
{
    *step = 0;
    size_t len = 0;
    const char *buf = setup->load ? setup->load(setup->checkpoint_ctx, r, &len) : NULL;
    if (!buf)
        return RT_OK;
    ckpt_head h;
    if (len < sizeof h)
        return train_resume_refuse(r, setup, "rank %d's checkpoint is %zu bytes, too short", rt_rank(r), len);
    memcpy(&h, buf, sizeof h);
    size_t ns = optim_floats(w);
    size_t want = sizeof h + (w->P + ns) * sizeof(float) + (size_t)h.npoints * sizeof(train_point) +
                  extra_len;
    if (h.magic != CKPT_MAGIC || h.version != CKPT_VERSION)
        return train_resume_refuse(r, setup, "rank %d's checkpoint is not one of this version of distlab",
                                   rt_rank(r));
    if (h.rank != (uint32_t)rt_rank(r) || h.P != w->P || h.nstate != ns || h.nextra != extra_len)
        return train_resume_refuse(r, setup, "rank %d's checkpoint (rank %u, %llu parameters, %llu of "
                                   "optimizer state, %llu bytes of the algorithm's) is not of this run (rank "
                                   "%d, %zu parameters, %zu, %zu): resume with the options it was made with",
                                   rt_rank(r), h.rank, (unsigned long long)h.P, (unsigned long long)h.nstate,
                                   (unsigned long long)h.nextra, rt_rank(r), w->P, ns, extra_len);
    /* a batch never spans two passes: a pass takes one step at least, and
     * replaying a huge one (train_shard_seek) never ended */
    const char *bad = NULL;
    if (h.npoints > TRAIN_MAX_POINTS || len != want)
        bad = "its length";
    else if (h.step < 0 || (setup->resume_step > 0 && h.step != setup->resume_step))
        bad = "its step";
    else if (h.pass < 0 || h.pass > h.step + 1 || h.pos > w->shard.n)
        bad = "its place in the data";
    else if (!(h.checkpoint_next >= 0 && h.checkpoint_next <= 1e15) || !(h.eval_next >= 0 && h.eval_next <= 1e15) ||
             !(h.clock >= 0 && h.clock <= 1e15))
        bad = "its schedule or clock";
    else if (points_damage(buf + sizeof h + (w->P + ns) * sizeof(float), h.npoints))
        bad = points_damage(buf + sizeof h + (w->P + ns) * sizeof(float), h.npoints);
    if (bad)
        return train_resume_refuse(r, setup, "rank %d's checkpoint is damaged: %s (step %lld of %ld, pass "
                                   "%lld, place %llu of %zu, %u points, %zu bytes of %zu, next checkpoint "
                                   "at %g, next evaluation at %g, clock %g s)", rt_rank(r), bad,
                                   (long long)h.step, setup->resume_step, (long long)h.pass,
                                   (unsigned long long)h.pos, w->shard.n, h.npoints, len, want,
                                   h.checkpoint_next, h.eval_next, h.clock);
    /* NaN weights train on as NaN: a diverged run's, or damaged bytes */
    long at = train_first_nonfinite((const float *)(const void *)(buf + sizeof h), w->P + ns);
    if (at >= 0) {
        int weight = (size_t)at < w->P;
        float v;
        memcpy(&v, buf + sizeof h + (size_t)at * sizeof v, sizeof v);
        return train_resume_refuse(r, setup, "rank %d's checkpoint is damaged: its %s %ld of %zu is %g, "
                                   "not finite (a diverged run's, or damaged bytes)", rt_rank(r),
                                   weight ? "weight" : "optimizer state", weight ? at : at - (long)w->P,
                                   weight ? w->P : ns, v);
    }
    const char *p = buf + sizeof h;
    memcpy(w->params, p, w->P * sizeof(float));
    p += w->P * sizeof(float);
    if (ns) {
        memcpy(w->optim.state, p, ns * sizeof(float));
        p += ns * sizeof(float);
    }
    train_shard_seek(&w->shard, (long)h.pass, (size_t)h.pos);
    w->checkpoints.next = h.checkpoint_next;
    if (w->reporting) {
        w->eval.sched.next = h.eval_next;
        memcpy(w->eval.out->points, p, h.npoints * sizeof(train_point));
        memcpy(w->eval.out->stats, h.stats, sizeof h.stats);
        w->eval.out->npoints = (int)h.npoints;
        w->eval.out->truncated = (int)h.truncated;
        w->eval.clock_base = h.clock - rt_work_now(r);
    }
    p += h.npoints * sizeof(train_point);
    if (extra_len)
        memcpy(extra, p, extra_len);
    *step = (long)h.step;
    return RT_OK;
}

void train_worker_free(train_worker *w)
{
    if (w->reporting)
        train_eval_free(&w->eval);
    train_shard_free(&w->shard);
    ml_grad_free(&w->grad);
    ml_optim_free(&w->optim);
    ml_model_free(w->model);
    free(w->params);
    free(w->batch);
    memset(w, 0, sizeof *w);
}

long train_steps_per_epoch(size_t n, int W, size_t b)
{
    long steps = (long)((n + (size_t)W * b - 1) / ((size_t)W * b));
    return steps < 1 ? 1 : steps;
}

/* ---- descriptors ---- */

train_shape train_algo_shape(const train_algo *algo, const void *opts, int workers)
{
    train_shape sh = {.ranks = workers, .reporter = 0, .first = 0, .count = workers};
    if (algo->shape)
        algo->shape(opts, workers, &sh);
    return sh;
}

void train_setup_columns(train_setup *setup, const train_algo *algo)
{
    setup->nextra = algo->nextra;
    for (int i = 0; i < algo->nextra && i < TRAIN_EXTRA; i++)
        setup->extra_names[i] = algo->extra_names[i];
    setup->nstats = algo->nstats;
    for (int i = 0; i < algo->nstats && i < TRAIN_STATS; i++)
        setup->stat_names[i] = algo->stat_names[i];
}

int train_algo_check(rt *r, const train_algo *algo, const train_setup *setup)
{
    char err[512];
    if (algo->check && algo->check(setup, err, sizeof err) != 0)
        return rt_fail(r, RT_EINVAL, "%s: %s", algo->name, err);
    return RT_OK;
}

int train_charge(rt *r, double flops) { return flops > 0 ? rt_compute(r, flops) : RT_OK; }

int train_charge_vector(rt *r, double flops)
{
    return flops > 0 ? rt_compute_as(r, RT_WORK_VECTOR, flops) : RT_OK;
}

train_out *train_slot(rt *r) { return rt_slot(r); }

/* ---- key ranges ---- */

void train_range(size_t P, int S, int s, size_t *lo, size_t *hi)
{
    *lo = (size_t)((uint64_t)P * (uint64_t)s / (uint64_t)S);
    *hi = (size_t)((uint64_t)P * (uint64_t)(s + 1) / (uint64_t)S);
}

void train_range_overlap(size_t P, int S, int s, size_t a0, size_t a1, size_t *lo, size_t *hi)
{
    size_t s0, s1;
    train_range(P, S, s, &s0, &s1);
    *lo = a0 > s0 ? a0 : s0;
    *hi = a1 < s1 ? a1 : s1;
}

int train_range_owner(size_t P, int S, size_t k)
{
    return (int)((((uint64_t)k + 1) * (uint64_t)S - 1) / (uint64_t)P);
}

/* ---- the schedule ---- */

void train_schedule_init(train_schedule *s, const ml_config *ml, double unit)
{
    s->every = (ml->eval_every_epochs > 0 ? ml->eval_every_epochs : 1) * unit;
    s->next = 0;
}

int train_schedule_due(train_schedule *s, double x)
{
    if (x + 1e-9 < s->next)
        return 0;
    while (s->next <= x + 1e-9)
        s->next += s->every;
    return 1;
}

/* ---- snapshots ---- */

void train_snaps_init(train_snaps *s, size_t n, int meta_doubles)
{
    memset(s, 0, sizeof *s);
    s->n = n;
    s->meta_doubles = meta_doubles;
}

int train_snaps_take(rt *r, train_snaps *s, const float *w, const double *meta)
{
    if (s->count == s->cap) {
        int cap = s->cap ? 2 * s->cap : 16;
        double *nm = realloc(s->meta, (size_t)cap * (size_t)s->meta_doubles * sizeof *nm);
        if (nm)
            s->meta = nm;
        float *nw = nm ? realloc(s->w, (size_t)cap * (s->n ? s->n : 1) * sizeof *nw) : NULL;
        if (!nw)
            return rt_fail(r, RT_ENOMEM, "rank %d: out of memory for %d snapshots of %zu weights",
                           rt_rank(r), cap, s->n);
        s->w = nw;
        s->cap = cap;
    }
    memcpy(s->meta + (size_t)s->count * (size_t)s->meta_doubles, meta,
           (size_t)s->meta_doubles * sizeof *meta);
    memcpy(s->w + (size_t)s->count * s->n, w, s->n * sizeof *w);
    s->count++;
    return RT_OK;
}

int train_snaps_room(const train_snaps *s) { return s->count < TRAIN_MAX_POINTS - 1; }

void train_snaps_free(train_snaps *s)
{
    free(s->meta);
    free(s->w);
    memset(s, 0, sizeof *s);
}

enum { TAG_SNAP_HEAD = 0x7f00, TAG_SNAP };

int train_snaps_gather(rt *r, train_snaps *mine, int S, size_t P, const void *totals,
                       size_t totals_bytes, train_gathered *g)
{
    memset(g, 0, sizeof *g);
    size_t head_bytes = sizeof(double) + totals_bytes;
    unsigned char *head = malloc(head_bytes);
    int rc = RT_OK;
    if (!head)
        return rt_fail(r, RT_ENOMEM, "gathering the snapshots: out of memory");
    int me = rt_rank(r);
    if (me != 0) {
        double count = mine->count;
        memcpy(head, &count, sizeof count);
        if (totals_bytes) /* callers without totals pass NULL, 0 */
            memcpy(head + sizeof count, totals, totals_bytes);
        if ((rc = rt_send(r, 0, TAG_SNAP_HEAD, head, head_bytes)) ||
            (rc = rt_send(r, 0, TAG_SNAP, mine->meta,
                          (size_t)mine->count * (size_t)mine->meta_doubles * sizeof(double))) ||
            (rc = rt_send(r, 0, TAG_SNAP, mine->w, (size_t)mine->count * mine->n * sizeof(float))))
            rc = rt_fail(r, rc, "server %d: sending its snapshots: %s", me, rt_error(r));
        free(head);
        return rc;
    }
    g->S = S;
    g->P = P;
    g->totals_bytes = totals_bytes;
    g->snaps = calloc((size_t)S, sizeof *g->snaps);
    g->totals = calloc((size_t)S, totals_bytes ? totals_bytes : 1);
    if (!g->snaps || !g->totals) {
        rc = rt_fail(r, RT_ENOMEM, "gathering the snapshots of %d ranks: out of memory", S);
        goto done;
    }
    g->snaps[0] = *mine;
    if (totals_bytes)
        memcpy(g->totals, totals, totals_bytes);
    g->npoints = mine->count;
    for (int s = 1; s < S; s++) {
        size_t lo, hi;
        train_range(P, S, s, &lo, &hi);
        train_snaps *sn = &g->snaps[s];
        train_snaps_init(sn, hi - lo, mine->meta_doubles);
        double count;
        if ((rc = rt_recv(r, s, TAG_SNAP_HEAD, head, head_bytes, NULL)))
            goto lost;
        memcpy(&count, head, sizeof count);
        if (totals_bytes)
            memcpy(g->totals + (size_t)s * totals_bytes, head + sizeof count, totals_bytes);
        size_t n = (size_t)count;
        sn->meta = malloc((n ? n : 1) * (size_t)sn->meta_doubles * sizeof *sn->meta);
        sn->w = malloc((n ? n : 1) * (sn->n ? sn->n : 1) * sizeof *sn->w);
        if (!sn->meta || !sn->w) {
            rc = rt_fail(r, RT_ENOMEM, "out of memory for server %d's snapshots", s);
            goto done;
        }
        sn->count = sn->cap = (int)n;
        if ((rc = rt_recv(r, s, TAG_SNAP, sn->meta, n * (size_t)sn->meta_doubles * sizeof *sn->meta,
                          NULL)) ||
            (rc = rt_recv(r, s, TAG_SNAP, sn->w, n * sn->n * sizeof *sn->w, NULL)))
            goto lost;
        g->npoints = (int)n < g->npoints ? (int)n : g->npoints;
    }
    goto done;
lost:
    rc = rt_fail(r, rc, "gathering the servers' snapshots: %s", rt_error(r));
done:
    free(head);
    return rc;
}

/* Which of rank s's snapshots point i is: the i-th, or its final one. */
static int gathered_index(const train_gathered *g, int i, int s)
{
    return i == g->npoints - 1 ? g->snaps[s].count - 1 : i;
}

double train_gathered_point(const train_gathered *g, int i, float *whole)
{
    double time_s = 0;
    for (int s = 0; s < g->S; s++) {
        const train_snaps *sn = &g->snaps[s];
        int k = gathered_index(g, i, s);
        size_t lo, hi;
        train_range(g->P, g->S, s, &lo, &hi);
        memcpy(whole + lo, sn->w + (size_t)k * sn->n, (hi - lo) * sizeof *whole);
        time_s = fmax(time_s, sn->meta[(size_t)k * (size_t)sn->meta_doubles]);
    }
    return time_s;
}

const double *train_gathered_meta(const train_gathered *g, int i, int s)
{
    const train_snaps *sn = &g->snaps[s];
    return sn->meta + (size_t)gathered_index(g, i, s) * (size_t)sn->meta_doubles;
}

const void *train_gathered_totals(const train_gathered *g, int s)
{
    return g->totals + (size_t)s * g->totals_bytes;
}

void train_gathered_free(train_gathered *g)
{
    for (int s = 1; g->snaps && s < g->S; s++)
        train_snaps_free(&g->snaps[s]);
    free(g->snaps);
    free(g->totals);
    memset(g, 0, sizeof *g);
}

/* ---- measuring and recording ---- */

int train_eval_init(train_eval *e, rt *r, const train_setup *setup, ml_model *model)
{
    memset(e, 0, sizeof *e);
    e->r = r;
    e->setup = setup;
    e->model = model;
    e->out = train_slot(r);
    train_schedule_init(&e->sched, setup->ml, 1);
    const ml_dataset *train = &setup->prob->train;
    size_t n = train->n < TRAIN_TRAIN_LOSS_MAX ? train->n : TRAIN_TRAIN_LOSS_MAX;
    size_t *idx = malloc((n ? n : 1) * sizeof *idx);
    if (!idx)
        return rt_fail(r, RT_ENOMEM, "evaluation: out of memory");
    /* an even spread over the whole set, not just its head */
    for (size_t i = 0; i < n; i++)
        idx[i] = (size_t)((double)i * (double)train->n / (double)n);
    char err[512];
    int rc = ml_dataset_subset(train, idx, n, &e->train_part, err, sizeof err);
    free(idx);
    if (rc != 0)
        return rt_fail(r, RT_ENOMEM, "evaluation: %s", err);
    return RT_OK;
}

int train_eval_due(train_eval *e, double epoch) { return train_schedule_due(&e->sched, epoch); }

double train_eval_clock(const train_eval *e) { return e->clock_base + rt_work_now(e->r); }

int train_eval_measure(train_eval *e, const float *params, train_point *pt)
{
    char err[512];
    double flops;
    const ml_dataset *test = &e->setup->prob->test;
    rt_aside_begin(e->r); /* evaluation is not training */
    int bad = ml_model_objective(e->model, params, &e->train_part, &pt->train_loss, &flops, err,
                                 sizeof err) != 0 ||
              ml_model_evaluate(e->model, params, test, NULL, test->n, &pt->test_loss,
                                &pt->test_accuracy, NULL, &flops, err, sizeof err) != 0;
    rt_aside_end(e->r);
    return bad ? rt_fail(e->r, RT_EINVAL, "evaluation: %s", err) : RT_OK;
}

int train_eval_record(train_eval *e, const train_point *pt)
{
    const train_setup *setup = e->setup;
    train_point p = *pt;
    for (int i = setup->nextra; i < TRAIN_EXTRA; i++)
        p.extra[i] = 0;
    if (e->out->npoints < TRAIN_MAX_POINTS)
        e->out->points[e->out->npoints++] = p;
    else
        e->out->truncated = 1;
    if (setup->progress && !setup->quiet) {
        rt_aside_begin(e->r);
        setup->progress(setup->progress_ctx, p.epoch, (int)setup->ml->epochs, p.train_loss,
                        p.time_s);
        rt_aside_end(e->r);
    }
    return RT_OK;
}

int train_eval_point(train_eval *e, const float *params, const train_point *at)
{
    train_point pt = *at;
    int rc = train_eval_measure(e, params, &pt);
    return rc ? rc : train_eval_record(e, &pt);
}

int train_eval_now(train_eval *e, const float *params, double epoch, long step,
                   const double *extra)
{
    train_point pt = {.time_s = train_eval_clock(e), .epoch = epoch, .step = step};
    for (int i = 0; i < e->setup->nextra && i < TRAIN_EXTRA; i++)
        pt.extra[i] = extra ? extra[i] : NAN;
    return train_eval_point(e, params, &pt);
}

void train_eval_finish(train_eval *e, const float *params, size_t nparams)
{
    e->out->nparams = nparams;
    memcpy(train_out_params(e->out), params, nparams * sizeof *params);
}

void train_eval_free(train_eval *e) { ml_dataset_free(&e->train_part); }
