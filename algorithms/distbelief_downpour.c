/* distbelief_downpour.c -- Downpour SGD: R model replicas, each split
 * across K partitions (distbelief_mp.c), train asynchronously on their own
 * data shards against S parameter-server shards.
 * reference: Dean et al., "Large Scale Distributed Deep Networks", NIPS
 * 2012, section 4.1 and the Downpour client of its supplementary material.
 *
 * Where the weights live. The parameters are laid out partition by
 * partition (db_pack's order: partition 0's slices, then 1's ...), and
 * server s owns the run [s P / S, (s+1) P / S) of that order. So each
 * partition's weights are one contiguous run, held by one server or a few
 * neighbouring ones, and a partition talks only to the servers holding its
 * run -- with S = K, exactly one each, as in the paper's figure 2.
 *
 * A replica's step, on each of its partitions (in lockstep, since the
 * partitioned pass exchanges activations):
 *   1. every fetch_every steps: ask its servers for its weights and wait
 *      for them                                    (4 P_k bytes in)
 *   2. the partitioned forward/backward pass on the replica's next
 *      minibatch                                   (distbelief_mp.c)
 *   3. add the gradient to the accrued gradient and take a local SGD step
 *      (w -= lr g), as the paper's client does between fetches
 *   4. every push_every steps (and at the end): send the accrued gradient
 *      to its servers and clear it                 (4 P_k bytes out)
 * A server applies each pushed gradient as it arrives with its own
 * optimizer state: Adagrad (the paper's choice: per-coordinate rates make
 * stale, asynchronous updates safe) or SGD, at the learning rate of the
 * epoch so far. Nothing waits for anybody else: replicas drift apart and
 * their updates are stale by however many others landed in between.
 *
 * Budget: each replica makes --epochs passes over its shard (1/R of the
 * training set), so the whole run sees epochs x n examples. A server
 * counts examples pushed (each partition of a replica reports the same
 * ones, so it divides by how many partitions share its run), keeps a copy
 * of its run each time that count crosses an evaluation point, and at the
 * end sends the copies to server 0, which assembles and evaluates them;
 * a point's time is the latest of the servers' times. Evaluation costs the
 * training nothing.
 *
 * Wire: a request is a 24-byte header (kind, examples, first index, count)
 * then, for a push, count floats; a fetch's reply is count floats. Cost per
 * replica step with fetch_every = push_every = 1: 2 (24 + 4 P_k) bytes per
 * partition, on top of the model-parallel exchanges.
 */
#include "algorithms/distbelief.h"

#include <stdlib.h>
#include <string.h>

enum { TAG_REQ = 0x6400, TAG_REPLY };
enum { REQ_FETCH = 1, REQ_PUSH = 2, REQ_DONE = 3 };


/* ---- the server ---- */

/* What a server keeps with each snapshot of its run. */
enum { SNAP_TIME, SNAP_EPOCH, SNAP_UPDATES, SNAP_DOUBLES };

static int server_snap(rt *r, train_snaps *sv, const float *w, double epoch, long updates)
{
    double meta[SNAP_DOUBLES] = {rt_now(r), epoch, (double)updates};
    return train_snaps_take(r, sv, w, meta);
}

/* Server 0: every server's snapshots, assembled and evaluated (the i-th
 * of each together; the last of each is the final model). */
static int server_report(rt *r, const train_setup *setup, const db_layout *lay,
                         const train_gathered *g, ml_model *model, float *global, float *flat)
{
    train_eval eval;
    int rc = train_eval_init(&eval, r, setup, model);
    for (int i = 0; i < g->npoints && !rc; i++) {
        train_point at = {.time_s = train_gathered_point(g, i, global),
                          .epoch = train_gathered_meta(g, i, 0)[SNAP_EPOCH]};
        for (int s = 0; s < g->S; s++)
            at.step += (long)train_gathered_meta(g, i, s)[SNAP_UPDATES];
        for (int k = 0; k < lay->K; k++)
            db_unpack(lay, k, global + db_part_offset(lay, k), flat);
        rc = train_eval_point(&eval, flat, &at);
    }
    if (!rc)
        train_eval_finish(&eval, flat, lay->P);
    train_eval_free(&eval);
    return rc;
}

static int server_main(rt *r, const train_setup *setup, const db_layout *lay, ml_model *model)
{
    const db_opts *o = setup->algo;
    const ml_config *ml = setup->ml;
    int S = o->servers, s = rt_rank(r), K = o->partitions, rc = RT_OK;
    int workers = o->replicas * K;
    size_t lo, hi, P = lay->P;
    train_range(P, S, s, &lo, &hi);
    size_t n = hi - lo;
    train_snaps sv;
    ml_optim optim = {0};
    float *flat = malloc(P * sizeof *flat), *global = malloc(P * sizeof *global);
    float *w = malloc((n + 1) * sizeof *w), *g = malloc((n + 1) * sizeof *g);
    size_t cap = sizeof(db_req) + (n + 1) * sizeof(float);
    char *buf = malloc(cap);
    train_out *slot = train_slot(r);
    train_snaps_init(&sv, n, SNAP_DOUBLES);
    if (!flat || !global || !w || !g || !buf) {
        rc = rt_fail(r, RT_ENOMEM, "downpour server %d: out of memory", s);
        goto done;
    }
    ml_model_init_params(model, flat, ml->seed);
    for (int k = 0; k < K; k++)
        db_pack(lay, k, flat, global + db_part_offset(lay, k));
    memcpy(w, global + lo, n * sizeof *w);
    ml_schedule sched;
    if ((rc = train_optimizer_init(r, ml, 0, n, &optim, &sched)))
        goto done;
    /* partitions whose run meets mine each report a replica's examples */
    int sharers = db_sharers(lay, S, s);
    train_schedule due;
    train_schedule_init(&due, ml, 1);
    double examples = 0, ntrain = (double)setup->prob->train.n, epoch = 0;
    long updates = 0;
    uint64_t bytes = 0;
    if (train_schedule_due(&due, 0) && (rc = server_snap(r, &sv, w, 0, 0)))
        goto done;
    for (int done = 0; done < workers;) {
        rt_status st;
        db_req h;
        if ((rc = db_serve_next(r, "downpour", TAG_REQ, buf, cap, lo, hi, REQ_DONE, 1u << REQ_PUSH,
                                &h, &st)))
            goto done;
        size_t first = (size_t)h.first, count = (size_t)h.count;
        if (h.kind == REQ_DONE) {
            done++;
        } else if (h.kind == REQ_FETCH) {
            if ((rc = rt_send(r, st.source, TAG_REPLY, w + (first - lo), count * sizeof *w))) {
                rc = rt_fail(r, rc, "downpour server %d: reply to rank %d: %s", s, st.source,
                             rt_error(r));
                goto done;
            }
            bytes += count * sizeof *w;
        } else {
            /* the optimizer indexes the gradient like the weights: put it in place */
            memcpy(g + (first - lo), buf + sizeof h, count * sizeof *g);
            float lr = (float)ml_schedule_lr(&sched, epoch);
            double flops = ml_optim_step(&optim, w, g, first - lo, count, lr);
            if ((rc = train_charge_vector(r, flops)))
                goto done;
            updates++;
            examples += h.arg;
            epoch = examples / (sharers ? sharers : 1) / ntrain;
            if (train_schedule_due(&due, epoch) && (rc = server_snap(r, &sv, w, epoch, updates)))
                goto done;
        }
    }
    if (sv.meta[(size_t)(sv.count - 1) * SNAP_DOUBLES + SNAP_EPOCH] < epoch - 1e-9 &&
        (rc = server_snap(r, &sv, w, epoch, updates)))
        goto done;
    slot->stats[DB_STAT_SERVER_BYTES] = (double)bytes;
    slot->stats[DB_STAT_STEPS] = (double)updates;
    train_gathered gathered;
    if (!(rc = train_snaps_gather(r, &sv, S, P, NULL, 0, &gathered)) && s == 0)
        rc = server_report(r, setup, lay, &gathered, model, global, flat);
    train_gathered_free(&gathered);
done:
    train_snaps_free(&sv);
    ml_optim_free(&optim);
    free(flat);
    free(global);
    free(w);
    free(g);
    free(buf);
    return rc;
}

/* ---- a partition of a replica ---- */

typedef struct client {
    rt *r;
    const db_layout *lay;
    int S, k;
    size_t off, n;       /* my run of the packed order */
    char *msg;           /* header + my run */
    uint64_t bytes;      /* sent to servers */
} client;

static int client_fetch(client *c, float *packed)
{
    int rc = db_fetch(c->r, c->S, c->lay->P, c->off, c->n, TAG_REQ, TAG_REPLY, REQ_FETCH, 0, packed,
                      &c->bytes);
    return rc ? rt_fail(c->r, rc, "downpour: %s", rt_error(c->r)) : RT_OK;
}

static int client_send(client *c, int kind, const float *accrued, int examples)
{
    int rc = db_push(c->r, c->S, c->lay->P, c->off, c->n, TAG_REQ, kind, examples, accrued, c->msg,
                     &c->bytes);
    return rc ? rt_fail(c->r, rc, "downpour: %s", rt_error(c->r)) : RT_OK;
}

static int replica_main(rt *r, const train_setup *setup, const db_layout *lay, ml_model *model)
{
    const db_opts *o = setup->algo;
    const ml_config *ml = setup->ml;
    const ml_dataset *train = &setup->prob->train;
    int S = o->servers, K = o->partitions, me = rt_rank(r) - S, rc;
    int replica = me / K, k = me % K;
    client c = {.r = r, .lay = lay, .S = S, .k = k, .off = db_part_offset(lay, k),
                .n = db_part_params(lay, k)};
    db_part part = {0};
    train_shard shard = {0};
    float *params = calloc(lay->P, sizeof *params), *grad = calloc(lay->P, sizeof *grad);
    float *packed = malloc((c.n + 1) * sizeof *packed), *gpacked = malloc((c.n + 1) * sizeof *gpacked);
    float *accrued = calloc(c.n + 1, sizeof *accrued);
    size_t *batch_idx = malloc(ml->batch * sizeof *batch_idx);
    c.msg = malloc(sizeof(db_req) + (c.n + 1) * sizeof(float));
    train_out *slot = train_slot(r);
    if (!params || !grad || !packed || !gpacked || !accrued || !batch_idx || !c.msg ||
        train_shard_init(&shard, train, replica, o->replicas, ml->seed) != 0) {
        rc = rt_fail(r, RT_ENOMEM, "downpour: out of memory");
        goto done;
    }
    if ((rc = db_part_init(&part, r, lay, k, S + replica * K)))
        goto done;
    ml_model_init_params(model, params, ml->seed);
    db_pack(lay, k, params, packed);
    ml_schedule sched;
    if ((rc = train_optimizer_init(r, ml, 0, 0, NULL, &sched)))
        goto done;
    long steps_per_epoch = train_steps_per_epoch(shard.n, 1, ml->batch);
    long steps = shard.n ? steps_per_epoch * ml->epochs : 0;
    int examples = 0;
    for (long step = 0; step < steps; step++) {
        if ((rc = train_step_begin(setup, r, step)))
            goto done;
        /* ---- 1. fresh weights ---- */
        if (step % o->fetch_every == 0) {
            if ((rc = client_fetch(&c, packed)))
                goto done;
            db_unpack(lay, k, packed, params);
        }
        /* ---- 2. the partitioned pass ---- */
        size_t b = train_shard_next(&shard, ml->batch, batch_idx);
        double loss;
        size_t correct;
        if ((rc = db_part_loss_grad(&part, params, train, batch_idx, b, ml->l2, grad, &loss,
                                    &correct)))
            goto done;
        /* ---- 3. accrue, and step locally ---- */
        db_pack(lay, k, grad, gpacked);
        float lr = (float)ml_schedule_lr(&sched, (double)step / (double)steps_per_epoch);
        for (size_t i = 0; i < c.n; i++) {
            accrued[i] += gpacked[i];
            packed[i] -= lr * gpacked[i];
        }
        db_unpack(lay, k, packed, params);
        examples += (int)b;
        if ((rc = train_charge_vector(r, 3.0 * (double)c.n)))
            goto done;
        /* ---- 4. push what accrued ---- */
        if ((step + 1) % o->push_every == 0 || step + 1 == steps) {
            if ((rc = client_send(&c, REQ_PUSH, accrued, examples)))
                goto done;
            memset(accrued, 0, c.n * sizeof *accrued);
            examples = 0;
        }
    }
    rc = client_send(&c, REQ_DONE, NULL, 0);
    slot->stats[DB_STAT_PARTITION_BYTES] = (double)part.bytes_sent;
    slot->stats[DB_STAT_SERVER_BYTES] = (double)c.bytes;
    slot->stats[DB_STAT_STEPS] = (double)steps;
done:
    db_part_free(&part);
    train_shard_free(&shard);
    free(params);
    free(grad);
    free(packed);
    free(gpacked);
    free(accrued);
    free(batch_idx);
    free(c.msg);
    return rc;
}

int db_downpour_rank(rt *r, void *arg)
{
    const train_setup *setup = arg;
    const db_opts *o = setup->algo;
    ml_model *model = NULL;
    db_layout lay;
    char err[512];
    int rc;
    if ((rc = train_model_create(r, setup, &model)))
        return rc;
    if (db_layout_of_model(&lay, model, o->partitions, err, sizeof err) != 0) /* checked: db_check */
        rc = rt_fail(r, RT_EINVAL, "downpour: %s", err);
    else if (rt_rank(r) < o->servers)
        rc = server_main(r, setup, &lay, model);
    else
        rc = replica_main(r, setup, &lay, model);
    ml_model_free(model);
    return rc;
}
