/* ps_checkpoint.c -- checkpoints of the parameter server under bsp (see
 * ps_internal.h for why the cut is consistent without a message).
 *
 * A server's bytes: ckpt_server, then its m weights, its optimizer state,
 * the W workers' clocks (int64), and its snapshots (count x SNAP_DOUBLES
 * doubles, count x m floats). A worker's: ckpt_worker, then its P weights.
 * Both are saved as step c+1, the clock every worker is about to compute,
 * so that `--resume` finds one step every rank saved.
 */
#include "algorithms/ps_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PS_CKPT_MAGIC 0x7370626c64647370ull /* "pdsddlbps" */
#define PS_CKPT_VERSION 1
enum { KIND_SERVER = 1, KIND_WORKER = 2 };

typedef struct ckpt_server {
    uint64_t magic;
    uint32_t version, kind, rank, W;
    uint64_t m, nstate, nsnaps;
    int64_t step, model_version;
    double examples, due_next, checkpoint_next, clock;
    snap_meta acc;
    server_totals tot;
} ckpt_server;

typedef struct ckpt_worker {
    uint64_t magic;
    uint32_t version, kind, rank, pad;
    uint64_t P;
    int64_t clock, pass;
    uint64_t pos;
} ckpt_worker;

static size_t state_floats(const ml_optim *o) { return o->state ? o->n : 0; }

static char *put(char *p, const void *src, size_t n)
{
    if (n)
        memcpy(p, src, n);
    return p + n;
}

static const char *get(const char *p, void *dst, size_t n)
{
    if (n)
        memcpy(dst, p, n);
    return p + n;
}

int ps_server_checkpoint(server *sv)
{
    const train_setup *setup = sv->setup;
    rt *r = sv->r;
    int W = sv->sh.W;
    size_t ns = state_floats(&sv->optim), count = (size_t)sv->snaps.count;
    long step = sv->peers[0].clock;
    size_t len = sizeof(ckpt_server) + (sv->m + ns) * sizeof(float) + (size_t)W * sizeof(int64_t) +
                 count * (SNAP_DOUBLES * sizeof(double) + sv->m * sizeof(float));
    char *buf = malloc(len);
    if (!buf)
        return rt_fail(r, RT_ENOMEM, "ps server %d: checkpoint at clock %ld: out of memory for %zu "
                       "bytes", sv->s, step, len);
    ckpt_server h = {
        .magic = PS_CKPT_MAGIC, .version = PS_CKPT_VERSION, .kind = KIND_SERVER,
        .rank = (uint32_t)sv->s, .W = (uint32_t)W, .m = sv->m, .nstate = ns, .nsnaps = count,
        .step = step, .model_version = sv->version, .examples = sv->examples,
        .due_next = sv->due.next, .checkpoint_next = sv->checkpoints.next,
        .clock = sv->clock_base + rt_now(r), .acc = sv->acc, .tot = sv->tot,
    };
    char *p = put(buf, &h, sizeof h);
    p = put(p, sv->w, sv->m * sizeof(float));
    p = put(p, sv->optim.state, ns * sizeof(float));
    for (int w = 0; w < W; w++) {
        int64_t c = sv->peers[w].clock;
        p = put(p, &c, sizeof c);
        sv->peers[w].tell_checkpoint = 1;
    }
    p = put(p, sv->snaps.meta, count * SNAP_DOUBLES * sizeof(double));
    put(p, sv->snaps.w, count * sv->m * sizeof(float));
    int bad = setup->save(setup->checkpoint_ctx, r, step, buf, len);
    free(buf);
    return bad ? rt_fail(r, RT_EIO, "ps server %d: checkpoint at clock %ld: could not save it (%s)",
                         sv->s, step, rt_error(r))
               : RT_OK;
}

/* A count or a sum of counts (examples, versions, staleness, updates):
 * a whole number from 0 to 1e18. A subnormal double, an integer's bits
 * read as one (2^40 over a staleness sum gave a staleness_mean of
 * 6.79e-313), is none. */
static int whole(double v) { return v >= 0 && v <= 1e18 && v == floor(v); }

/* A time or a schedule's next point: finite, from 0 to 1e15. */
static int time_ok(double v) { return v >= 0 && v <= 1e15; }

static int meta_ok(const snap_meta *m)
{
    return time_ok(m->time_s) && whole(m->examples) && whole(m->version) && whole(m->stale_sum) &&
           whole(m->delay_sum) && whole(m->updates) && whole(m->stale_max);
}

static int totals_ok(const server_totals *t)
{
    return whole(t->stale_sum) && whole(t->stale_max) && whole(t->delay_sum) && whole(t->delay_max) &&
           whole(t->updates) && whole(t->lost) && time_ok(t->pull_wait_s) && whole(t->pulls);
}

/* The options a checkpoint was made with differ from this run's. */
static int not_this_run(rt *r, const train_setup *setup, const char *who, int id, const char *what)
{
    return train_resume_refuse(r, setup, "%s %d's checkpoint (rank %d) is not of this run (%s): resume "
                               "with the options it was made with (the same servers, workers, model, "
                               "optimizer and --consistency bsp)", who, id, rt_rank(r), what);
}

/* What is wrong in a server's checkpoint made with this run's options, or
 * NULL. */
static const char *server_damage(const server *sv, const ckpt_server *h, size_t len)
{
    int W = sv->sh.W;
    size_t ns = state_floats(&sv->optim);
    long resume_step = sv->setup->resume_step;
    if (h->nsnaps < 1 || h->nsnaps >= TRAIN_MAX_POINTS)
        return "its count of snapshots";
    if (len != sizeof *h + (sv->m + ns) * sizeof(float) + (size_t)W * sizeof(int64_t) +
                   h->nsnaps * (SNAP_DOUBLES * sizeof(double) + sv->m * sizeof(float)))
        return "its length";
    if (h->step < 1 || (resume_step > 0 && h->step != resume_step))
        return "its step";
    /* one version a push, one push a worker's clock */
    if (h->model_version < 0 || h->model_version / (int64_t)W > h->step)
        return "its model version";
    if (!whole(h->examples) || !time_ok(h->due_next) || !time_ok(h->checkpoint_next) || !time_ok(h->clock))
        return "its examples, schedule or clock";
    if (!meta_ok(&h->acc) || !totals_ok(&h->tot))
        return "its staleness and update counts";
    return NULL;
}

int ps_server_resume(server *sv)
{
    const train_setup *setup = sv->setup;
    rt *r = sv->r;
    size_t len = 0;
    const char *buf = setup->load ? setup->load(setup->checkpoint_ctx, r, &len) : NULL;
    if (!buf)
        return RT_OK;
    ckpt_server h;
    if (len < sizeof h)
        return train_resume_refuse(r, setup, "ps server %d's checkpoint is %zu bytes, too short", sv->s,
                                   len);
    memcpy(&h, buf, sizeof h);
    if (h.magic != PS_CKPT_MAGIC || h.version != PS_CKPT_VERSION)
        return train_resume_refuse(r, setup, "rank %d's checkpoint is not a parameter server's of this "
                                   "version of distlab", rt_rank(r));
    int W = sv->sh.W;
    size_t ns = state_floats(&sv->optim);
    if (h.kind != KIND_SERVER || h.rank != (uint32_t)sv->s || h.W != (uint32_t)W || h.m != sv->m ||
        h.nstate != ns) {
        char what[256];
        snprintf(what, sizeof what, "%s %u of %u workers, %llu weights, %llu of optimizer state; this "
                 "run's: server %d of %d workers, %zu, %zu", h.kind == KIND_SERVER ? "server" : "not a server,",
                 h.rank, h.W, (unsigned long long)h.m, (unsigned long long)h.nstate, sv->s, W, sv->m, ns);
        return not_this_run(r, setup, "ps server", sv->s, what);
    }
    const char *bad = server_damage(sv, &h, len);
    const char *p = buf + sizeof h;
    /* NaN weights train on as NaN: a diverged run's, or damaged bytes */
    if (!bad && train_first_nonfinite((const float *)(const void *)p, sv->m + ns) >= 0)
        bad = "a weight or its optimizer state is not finite";
    if (!bad) {
        p = get(p, sv->w, sv->m * sizeof(float));
        p = get(p, sv->optim.state, ns * sizeof(float));
    }
    for (int w = 0; w < W && !bad; w++) {
        int64_t c;
        p = get(p, &c, sizeof c);
        if (c != h.step) /* bsp: every worker at the same clock */
            bad = "a worker's clock";
        sv->peers[w].clock = (long)c;
    }
    /* the snapshots so far, as if taken in this run */
    for (uint64_t k = 0; k < h.nsnaps && !bad; k++) {
        snap_meta m;
        memcpy(&m, p + k * sizeof m, sizeof m);
        if (!meta_ok(&m))
            bad = "a snapshot's time or counts";
    }
    if (!bad && train_first_nonfinite((const float *)(const void *)(p + h.nsnaps * SNAP_DOUBLES * sizeof(double)),
                                      h.nsnaps * sv->m) >= 0)
        bad = "a snapshot's weights are not finite";
    if (bad)
        return train_resume_refuse(r, setup, "ps server %d's checkpoint (rank %d) is damaged: %s (step "
                                   "%lld of %ld, model version %lld, %.17g examples, next snapshot at %g, "
                                   "next checkpoint at %g, clock %g s, %llu snapshots, %zu bytes)", sv->s,
                                   rt_rank(r), bad, (long long)h.step, setup->resume_step,
                                   (long long)h.model_version, h.examples, h.due_next, h.checkpoint_next,
                                   h.clock, (unsigned long long)h.nsnaps, len);
    int count = (int)h.nsnaps;
    sv->snaps.meta = malloc((size_t)count * SNAP_DOUBLES * sizeof(double));
    sv->snaps.w = malloc((size_t)count * (sv->m ? sv->m : 1) * sizeof(float));
    if (!sv->snaps.meta || !sv->snaps.w)
        return rt_fail(r, RT_ENOMEM, "resume: ps server %d: out of memory for %d snapshots", sv->s,
                       count);
    sv->snaps.count = sv->snaps.cap = count;
    p = get(p, sv->snaps.meta, (size_t)count * SNAP_DOUBLES * sizeof(double));
    get(p, sv->snaps.w, (size_t)count * sv->m * sizeof(float));
    sv->version = (long)h.model_version;
    sv->examples = h.examples;
    sv->due.next = h.due_next;
    sv->checkpoints.next = h.checkpoint_next;
    sv->acc = h.acc;
    sv->tot = h.tot;
    sv->resuming = 1;
    sv->resume_clock = h.clock;
    return RT_OK;
}

int ps_worker_checkpoint(worker *wk, long clock, const minibatch *cur)
{
    const train_setup *setup = wk->setup;
    size_t len = sizeof(ckpt_worker) + wk->sh.P * sizeof(float);
    char *buf = malloc(len);
    if (!buf)
        return rt_fail(wk->r, RT_ENOMEM, "ps worker %d: checkpoint at clock %ld: out of memory",
                       wk->w, clock);
    ckpt_worker h = {.magic = PS_CKPT_MAGIC, .version = PS_CKPT_VERSION, .kind = KIND_WORKER,
                     .rank = (uint32_t)rt_rank(wk->r), .P = wk->sh.P, .clock = clock,
                     .pass = cur->pass, .pos = cur->pos};
    put(put(buf, &h, sizeof h), wk->params, wk->sh.P * sizeof(float));
    int bad = setup->save(setup->checkpoint_ctx, wk->r, clock, buf, len);
    free(buf);
    return bad ? rt_fail(wk->r, RT_EIO, "ps worker %d: checkpoint at clock %ld: could not save it "
                         "(%s)", wk->w, clock, rt_error(wk->r))
               : RT_OK;
}

int ps_worker_resume(worker *wk, long *clock)
{
    const train_setup *setup = wk->setup;
    rt *r = wk->r;
    *clock = 0;
    size_t len = 0;
    const char *buf = setup->load ? setup->load(setup->checkpoint_ctx, r, &len) : NULL;
    if (!buf)
        return RT_OK;
    ckpt_worker h;
    if (len < sizeof h)
        return train_resume_refuse(r, setup, "ps worker %d's checkpoint is %zu bytes, too short", wk->w,
                                   len);
    memcpy(&h, buf, sizeof h);
    if (h.magic != PS_CKPT_MAGIC || h.version != PS_CKPT_VERSION)
        return train_resume_refuse(r, setup, "rank %d's checkpoint is not a parameter server's of this "
                                   "version of distlab", rt_rank(r));
    if (h.kind != KIND_WORKER || h.rank != (uint32_t)rt_rank(r) || h.P != wk->sh.P) {
        char what[256];
        snprintf(what, sizeof what, "%s of rank %u, %llu parameters; this run's: rank %d, %zu",
                 h.kind == KIND_WORKER ? "a worker's" : "not a worker's", h.rank, (unsigned long long)h.P,
                 rt_rank(r), wk->sh.P);
        return not_this_run(r, setup, "ps worker", wk->w, what);
    }
    const char *bad = NULL;
    if (len != sizeof h + wk->sh.P * sizeof(float))
        bad = "its length";
    else if (h.clock < 1 || (setup->resume_step > 0 && h.clock != setup->resume_step))
        bad = "its step";
    /* a pass takes one clock at least: replaying a huge one never ended */
    else if (h.pass < 0 || h.pass > h.clock + 1 || h.pos > wk->shard.n)
        bad = "its place in the data";
    else if (train_first_nonfinite((const float *)(const void *)(buf + sizeof h), wk->sh.P) >= 0)
        bad = "a weight is not finite";
    if (bad)
        return train_resume_refuse(r, setup, "ps worker %d's checkpoint (rank %d) is damaged: %s (step "
                                   "%lld of %ld, pass %lld, place %llu of %zu, %zu bytes)", wk->w,
                                   rt_rank(r), bad, (long long)h.clock, setup->resume_step,
                                   (long long)h.pass, (unsigned long long)h.pos, wk->shard.n, len);
    memcpy(wk->params, buf + sizeof h, wk->sh.P * sizeof(float));
    train_shard_seek(&wk->shard, (long)h.pass, (size_t)h.pos);
    *clock = (long)h.clock;
    return RT_OK;
}
