/* distbelief.c -- DistBelief's rank function: which part of the job a rank
 * plays (partition, replica or server) follows from --mode; see
 * distbelief.h for the rank layout and distbelief_mp.c,
 * distbelief_downpour.c and distbelief_sandblaster.c for the algorithms. */
#include "algorithms/distbelief.h"

#include <stdio.h>
#include <string.h>

_Static_assert(sizeof(db_req) == 24, "request header layout");

int db_ranks(const db_opts *o)
{
    int workers = o->mode == DB_MODEL_PARALLEL ? o->partitions : o->replicas * o->partitions;
    return workers + (o->mode == DB_MODEL_PARALLEL ? 0 : o->servers) + (o->mode == DB_SANDBLASTER);
}

int db_reporter(const db_opts *o) { return o->mode == DB_SANDBLASTER ? db_ranks(o) - 1 : 0; }

int db_sharers(const db_layout *lay, int S, int s)
{
    int n = 0;
    for (int k = 0; k < lay->K; k++) {
        size_t a, b, off = db_part_offset(lay, k);
        train_range_overlap(lay->P, S, s, off, off + db_part_params(lay, k), &a, &b);
        n += a < b;
    }
    return n;
}

int db_serve_next(rt *r, const char *who, int tag, void *buf, size_t cap, size_t lo, size_t hi,
                  int free_kind, unsigned carry, db_req *h, rt_status *st)
{
    int s = rt_rank(r), rc = rt_recv(r, RT_ANY_SOURCE, tag, buf, cap, st);
    if (rc)
        return rt_fail(r, rc, "%s server %d: %s", who, s, rt_error(r));
    if (st->bytes < sizeof *h)
        return rt_fail(r, RT_EPROTO, "%s server %d: %zu-byte request from rank %d is shorter "
                       "than its header", who, s, st->bytes, st->source);
    memcpy(h, buf, sizeof *h);
    size_t first = (size_t)h->first, count = (size_t)h->count;
    if (h->kind != free_kind && (h->first < 0 || h->count < 0 || first < lo || first > hi ||
                                 count > hi - first))
        return rt_fail(r, RT_EPROTO, "%s server %d: rank %d named %zu values from %zu, I hold "
                       "[%zu, %zu)", who, s, st->source, count, first, lo, hi);
    int carries = h->kind >= 0 && h->kind < 32 && (carry >> h->kind & 1);
    if (st->bytes != sizeof *h + (carries ? count * sizeof(float) : 0))
        return rt_fail(r, RT_EPROTO, "%s server %d: a request for %zu values from rank %d came "
                       "as %zu bytes", who, s, count, st->source, st->bytes);
    return RT_OK;
}

int db_fetch(rt *r, int S, size_t P, size_t off, size_t n, int tag, int reply_tag, int kind,
             int32_t arg, float *packed, uint64_t *bytes)
{
    for (int s = 0; s < S; s++) {
        size_t lo, hi;
        train_range_overlap(P, S, s, off, off + n, &lo, &hi);
        if (lo >= hi)
            continue;
        db_req h = {.kind = kind, .arg = arg, .first = (int64_t)lo, .count = (int64_t)(hi - lo)};
        int rc;
        if ((rc = rt_send(r, s, tag, &h, sizeof h)) ||
            (rc = rt_recv(r, s, reply_tag, packed + (lo - off), (hi - lo) * sizeof *packed, NULL)))
            return rt_fail(r, rc, "fetching weights from server %d: %s", s, rt_error(r));
        *bytes += sizeof h;
    }
    return RT_OK;
}

int db_push(rt *r, int S, size_t P, size_t off, size_t n, int tag, int kind, int32_t arg,
            const float *vals, char *msg, uint64_t *bytes)
{
    for (int s = 0; s < S; s++) {
        size_t lo, hi;
        train_range_overlap(P, S, s, off, off + n, &lo, &hi);
        if (vals && lo >= hi)
            continue;
        size_t count = vals ? hi - lo : 0, len = sizeof(db_req) + count * sizeof *vals;
        db_req h = {.kind = kind, .arg = arg, .first = (int64_t)lo, .count = (int64_t)count};
        memcpy(msg, &h, sizeof h);
        if (count)
            memcpy(msg + sizeof h, vals + (lo - off), count * sizeof *vals);
        int rc = rt_send(r, s, tag, msg, len);
        if (rc)
            return rt_fail(r, rc, "pushing to server %d: %s", s, rt_error(r));
        *bytes += len;
    }
    return RT_OK;
}

int db_check(const train_setup *setup, char *err, size_t errlen)
{
    const db_opts *o = setup->algo;
    if (o->split == DB_SPLIT_LAYERS && o->mode != DB_MODEL_PARALLEL) {
        snprintf(err, errlen, "--split layers (the pipeline) runs in --mode model-parallel; "
                 "downpour and sandblaster replicas are split by neurons");
        return -1;
    }
    if (o->mode == DB_DOWNPOUR && (o->replicas < 1 || o->servers < 1 || o->push_every < 1 ||
                                   o->fetch_every < 1)) {
        snprintf(err, errlen, "downpour: replicas, servers, push-every and fetch-every must be at "
                 "least 1 (got %d, %d, %d, %d)", o->replicas, o->servers, o->push_every,
                 o->fetch_every);
        return -1;
    }
    if (o->mode == DB_SANDBLASTER && (o->replicas < 1 || o->servers < 1)) {
        snprintf(err, errlen, "sandblaster: at least one replica and one server (got %d, %d)",
                 o->replicas, o->servers);
        return -1;
    }
    if (o->mode == DB_SANDBLASTER && db_lbfgs_check(o, err, errlen) != 0)
        return -1;
    if ((setup->save || setup->load) && o->mode != DB_MODEL_PARALLEL) {
        snprintf(err, errlen, "--checkpoint-every and --resume: only --mode model-parallel keeps "
                 "checkpoints yet (%s: %s)", o->mode == DB_DOWNPOUR ? "downpour" : "sandblaster",
                 o->mode == DB_DOWNPOUR ? "asynchronous replicas, whose run does not repeat on "
                 "real sockets" : "the L-BFGS state and the coordinator's work queue are not saved");
        return -1;
    }
    db_layout lay;
    if (db_layout_for(&lay, setup->prob->model, o->partitions, o->split, err, errlen) != 0)
        return -1;
    if (o->mode != DB_MODEL_PARALLEL && (size_t)o->servers > lay.P) {
        snprintf(err, errlen, "--servers %d: the model has %zu parameters, so at most %zu servers",
                 o->servers, lay.P, lay.P);
        return -1;
    }
    return 0;
}

static void shape(const void *opts, int workers, train_shape *sh)
{
    (void)workers;
    /* --stragglers draws from the partitions' ranks only: after the servers
     * (0..S-1) in downpour and sandblaster, all of them in model-parallel */
    const db_opts *o = opts;
    int mp = o->mode == DB_MODEL_PARALLEL;
    *sh = (train_shape){.ranks = db_ranks(o), .reporter = db_reporter(o), .first = mp ? 0 : o->servers,
                        .count = mp ? o->partitions : o->replicas * o->partitions};
}

static const train_opt opts[] = {
    {"mode", "model-parallel|downpour|sandblaster", "one partitioned replica; async replicas "
     "and servers; or batch L-BFGS over replicas (default model-parallel)"},
    {"partitions", "K", "ranks one model is split across, by neurons (default 1)"},
    {"split", "neurons|layers", "each partition owns a slice of every layer, or a run of "
     "layers in a pipeline (default neurons)"},
    {"microbatches", "M", "--split layers: microbatches per minibatch (default: --partitions)"},
    {"replicas", "R", "downpour, sandblaster: model replicas (default 1)"},
    {"servers", "S", "downpour, sandblaster: parameter-server shards (default 1); downpour's "
     "apply Adagrad unless --optimizer says otherwise"},
    {"push-every", "N", "downpour: steps between gradient pushes (default 1)"},
    {"fetch-every", "N", "downpour: steps between weight fetches (default 1)"},
    {"balance", "dynamic|even", "sandblaster: work units to whoever is free, or 1/R each "
     "(default dynamic)"},
    {"unit", "N", "sandblaster: examples per work unit (default: --batch)"},
    {"lbfgs-m", "M", "sandblaster: L-BFGS corrections kept (default 10)"},
    {"lbfgs-epsilon", "X", "sandblaster: stop when ||g|| < X max(1, ||x||) (default 1e-5)"},
    {NULL, NULL, NULL},
};

const train_algo db_algo = {
    .name = "distbelief",
    .summary = "DistBelief: model parallelism by neurons, Downpour SGD, Sandblaster L-BFGS",
    .opts = opts,
    .default_workers = 1,
    .shape = shape,
    .check = db_check,
    .rank = db_rank,
    .checkpoints = 1, /* --mode model-parallel; db_check refuses the others */
};

int db_rank(rt *r, void *arg)
{
    const train_setup *setup = arg;
    const db_opts *o = setup->algo;
    if (rt_size(r) != db_ranks(o))
        return rt_fail(r, RT_EINVAL, "distbelief: the job has %d ranks, the options need %d",
                       rt_size(r), db_ranks(o));
    int rc = train_algo_check(r, &db_algo, setup);
    if (rc)
        return rc;
    switch (o->mode) {
    case DB_MODEL_PARALLEL:
        return db_mp_rank(r, arg);
    case DB_DOWNPOUR:
        return db_downpour_rank(r, arg);
    default:
        return db_sandblaster_rank(r, arg);
    }
}
