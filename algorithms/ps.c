/* ps.c -- the parameter server: sharded weights, workers that pull and
 * push, and three consistency models.
 * reference: Li, Andersen, Park, Smola, Ahmed, Josifovski, Long, Shekita,
 * Su, "Scaling Distributed Machine Learning with the Parameter Server",
 * OSDI 2014 (keys and ranges, push/pull, bounded delay); Ho et al., "More
 * Effective Distributed ML via a Stale Synchronous Parallel Parameter
 * Server", NIPS 2013 (the SSP clock condition).
 *
 * Ranks 0..S-1 are servers; server s owns keys [s P / S, (s+1) P / S) of
 * the flat parameter array (P = parameters), keeps their weights and its
 * own optimizer state (ml_optim on that range: SGD or Adagrad). Ranks
 * S..S+W-1 are workers, worker w holding shard w of W of the training set.
 * A worker's iteration c:
 *
 *   1. receive from every server the weights of the keys its minibatch
 *      touches (a pull), and stop if a server says the budget is spent
 *   2. gradient of the loss on that minibatch         (compute: b x model flops)
 *   3. draw the next minibatch, then send every server one request: the
 *      gradient on its keys (the push of iteration c) and the keys of the
 *      next minibatch (the pull of iteration c+1)
 *
 * On sparse data (CSR with a linear model) a pull names its keys and a
 * push carries keys and values, only those the minibatch touches; on dense
 * data both carry the server's whole range, values only.
 *
 * A server receives from any source and, per request: applies the push
 * (one optimizer step on its range, with the learning rate of the epoch
 * so far divided by W, so that W pushes make one step of synchronous SGD),
 * then files the pull and answers every filed pull whose consistency
 * condition holds. The server counts each worker's clock (iterations
 * pushed); with min = the smallest clock of the workers still running, a
 * pull for iteration c is answered when
 *     bsp:          min >= c          (everyone finished c-1)
 *     ssp, bound s: min >= c - s      (everyone finished c-s-1; s = 0 is bsp)
 *     async:        at once
 * This is how the paper's servers enforce bounded delay: the wait sits in
 * the pull, so no coordinator is needed. Under bsp (ssp s = 0) nobody can
 * move on until all pushes of a clock are in, so the server holds them and
 * applies them in worker order when the last arrives: the model then does
 * not depend on arrival order, and sim and real runs give the same bits.
 * Otherwise pushes are applied as they arrive.
 *
 * Staleness of an update: its iteration c minus the min clock the server
 * saw when it answered that iteration's pull -- how many clocks of other
 * workers' updates the weights it was computed on may lack. It is 0 under
 * bsp and at most s under ssp by construction; async has no bound. Delay:
 * how many updates the server applied between answering the pull and
 * applying the push (the "tau" of asynchronous SGD analyses).
 *
 * Termination: the budget is epochs x n examples (epoch = examples pushed
 * / n). A server answers a pull with "stop" once its count reached the
 * budget; a worker that hears stop from any server sends every server a
 * goodbye. A server ends when every worker said goodbye or died. On real
 * sockets a worker that dies is reported by the any-source receive
 * (RT_EPEER with the dead rank as source): async and ssp drop it from the
 * min clock and go on; bsp fails with an error, since no iteration could
 * ever complete again.
 *
 * Evaluation: a server keeps a snapshot of its range each time the
 * examples count crosses an evaluation point (eval_every_epochs), with the
 * time (train_snaps); at the end the servers send them to server 0, which
 * assembles and evaluates them (train_snaps_gather, ps_report): the time
 * of a point is the latest of the servers'. Evaluation therefore costs the
 * training run nothing.
 *
 * This file is the protocol: the consistency rule, the server's handling
 * of a request and the worker's loop. Allocation, the checks of a
 * request's layout and the reporter are in ps_support.c, the structs both use in ps_internal.h, and the key sets a
 * push or a pull names (a whole range, or a minibatch's sorted keys) in
 * keyset.h.
 *
 * Wire: a request is a 24-byte header (flags, push clock, pull clock,
 * examples, push count or -1 for a dense range, pull count or -1 for the
 * whole range), then push keys (uint32) and values (float32) -- values
 * only when dense -- then pull keys. A reply is a 16-byte header (stop,
 * version, value count) and the values of the keys asked for.
 *
 * Cost of one bsp iteration, dense model, no compute, ideal network (alpha
 * seconds per message, beta seconds per byte), servers on hosts of their
 * own, m = P/S floats per server:
 *     T = 2 alpha + max(W, S) (24 + 16 + 8 m) beta
 * Pushes: each server's link receives W requests of 24 + 4m bytes at once
 * (the simulator starts a transfer when the receiver asks, and a server's
 * any-source receive asks every worker), so they share its bandwidth and
 * all finish after alpha + W (24 + 4m) beta; if S > W the bottleneck is
 * instead each worker's link sending S of them. Pulls: when the last push
 * is in, the server sends all W replies of 16 + 4m bytes at once (buffered
 * sends): alpha + max(W, S) (16 + 4m) beta. So a single server's iteration
 * grows linearly with W, and S servers divide the bandwidth term by S
 * (while S <= W). Compute adds b x model flops / speed per worker and the
 * optimizer's flops per update at each server.
 */
#include "algorithms/ps_internal.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* =====================================================================
 * server
 * ===================================================================== */

static int server_snapshot(server *sv)
{
    snap_meta m = sv->acc;
    m.time_s = sv->clock_base + rt_now(sv->r);
    m.examples = sv->examples;
    m.version = (double)sv->version;
    memset(&sv->acc, 0, sizeof sv->acc);
    return train_snaps_take(sv->r, &sv->snaps, sv->w, &m.time_s);
}

/* The smallest clock of the active workers and how many are at it. The
 * rule asks for it after every request; counting makes that O(1), and a
 * full count (O(W)) comes only when the last worker at the minimum moves
 * on -- once a clock, not once a request (10,000 workers: 10^4 times
 * fewer). */
static void server_count_min(server *sv)
{
    sv->min_clock = LONG_MAX;
    sv->at_min = 0;
    for (int w = 0; w < sv->sh.W; w++) {
        const peer *p = &sv->peers[w];
        if (p->state != W_ACTIVE || p->clock > sv->min_clock)
            continue;
        if (p->clock < sv->min_clock) {
            sv->min_clock = p->clock;
            sv->at_min = 0;
        }
        sv->at_min++;
    }
}

/* An active worker that was at clock `was` moved on or stopped. */
static void server_min_moved(server *sv, long was)
{
    if (was == sv->min_clock && --sv->at_min == 0)
        server_count_min(sv);
}

/* A worker died (real backend). Under bsp no clock can complete any more:
 * the server tells every other worker so at its next pull, then fails. */
static void server_lose_worker(server *sv, int w, const char *why)
{
    peer *p = &sv->peers[w];
    if (p->state != W_ACTIVE)
        return; /* heard of already, or it had said goodbye */
    p->state = W_DEAD;
    p->pull_pending = 0;
    sv->active--;
    server_min_moved(sv, p->clock);
    sv->tot.lost++;
    if (sv->sh.bound != 0 || sv->abort_worker >= 0)
        return;
    sv->abort_worker = w;
    snprintf(sv->abort_why, sizeof sv->abort_why, "%s", why);
    for (int v = 0; v < sv->sh.W; v++) /* held pushes will never be applied */
        if (sv->peers[v].is_held) {
            sv->peers[v].is_held = 0;
            sv->peers[v].pull_pending = 1;
            sv->peers[v].pull_since_s = sv->peers[v].held_s;
        }
    sv->nheld = 0;
}

/* Apply the push, then file the pull, of a checked request that arrived
 * at arrived_s. */
static int server_handle(server *sv, int w, const unsigned char *msg, double arrived_s)
{
    peer *pw = &sv->peers[w];
    request q = ps_request_layout(sv, msg);
    int rc;
    if (q.h->flags & REQ_PUSH) {
        double epoch = sv->examples / (double)sv->setup->prob->train.n;
        /* each push is 1/W of a step: W pushes move the weights as far as
         * one step of synchronous SGD on the W workers' mean gradient, so a
         * learning rate means the same here as in every other algorithm */
        float lr = (float)(ml_schedule_lr(&sv->lr, epoch) / sv->setup->workers);
        double flops = q.push.keys ? ml_optim_step_sparse(&sv->optim, sv->w, q.push.keys,
                                                          q.push_vals, q.push.n, lr)
                                   : ml_optim_step(&sv->optim, sv->w, q.push_vals, 0, sv->m, lr);
        if ((rc = train_charge_vector(sv->r, flops)))
            return rc;
        double stale = (double)(q.h->push_clock - pw->min_at_pull);
        double delay = (double)(sv->version - pw->ver_at_pull);
        sv->acc.stale_sum += stale;
        sv->acc.delay_sum += delay;
        sv->acc.updates++;
        sv->acc.stale_max = fmax(sv->acc.stale_max, stale);
        sv->tot.stale_sum += stale;
        sv->tot.delay_sum += delay;
        sv->tot.updates++;
        sv->tot.stale_max = fmax(sv->tot.stale_max, stale);
        sv->tot.delay_max = fmax(sv->tot.delay_max, delay);
        pw->clock++;
        if (pw->state == W_ACTIVE)
            server_min_moved(sv, pw->clock - 1);
        sv->version++;
        sv->examples += q.h->examples;
        if (train_snaps_room(&sv->snaps) && train_schedule_due(&sv->due, sv->examples) &&
            (rc = server_snapshot(sv)))
            return rc;
    }
    if (q.h->flags & REQ_PULL) {
        pw->pull_pending = 1;
        pw->pull_clock = q.h->pull_clock;
        pw->pull_since_s = arrived_s;
        pw->pull = q.pull;
        if (q.pull.keys) {
            if (!pw->pull_keys && !(pw->pull_keys = malloc(sv->m * sizeof(uint32_t))))
                return rt_fail(sv->r, RT_ENOMEM, "ps server %d: out of memory", sv->s);
            memcpy(pw->pull_keys, q.pull.keys, q.pull.n * sizeof(uint32_t));
            pw->pull.keys = pw->pull_keys;
        }
    }
    return RT_OK;
}

/* The consistency rule: a pull for iteration c may be answered once the
 * slowest running worker has pushed c - bound iterations (bsp: bound 0;
 * ssp: s; async: no bound). */
static int consistency_allows(const server *sv, const peer *p, long min)
{
    return sv->sh.bound == LONG_MAX || min >= p->pull_clock - sv->sh.bound;
}

/* Answer every filed pull whose consistency condition holds. The rule
 * depends only on the minimum clock, so when that has not changed since
 * every filed pull was last tried, only the pull of worker `fresh` (the
 * request just taken, or -1) can newly pass: the same replies, in the same
 * order, as trying them all, without the O(W) pass per request. */
static int server_answer(server *sv, int fresh)
{
    long min = sv->min_clock;
    int all = sv->scan_all || sv->abort_worker >= 0 || min != sv->scanned_min;
    if (all) {
        sv->scanned_min = min;
        sv->scan_all = 0;
    }
    for (int w = all ? 0 : fresh; w >= 0 && w < sv->sh.W && (all || w == fresh); w++) {
        peer *p = &sv->peers[w];
        if (!p->pull_pending || p->state != W_ACTIVE)
            continue;
        if (sv->abort_worker < 0 && !consistency_allows(sv, p, min))
            continue;
        reply_head *h = (reply_head *)sv->sbuf;
        *h = (reply_head){.stop = sv->examples >= sv->sh.budget ? STOP_BUDGET : STOP_NO,
                          .version = (int32_t)(sv->version & INT32_MAX),
                          .checkpoint = p->tell_checkpoint};
        p->tell_checkpoint = 0;
        if (sv->abort_worker >= 0) {
            *h = (reply_head){.stop = STOP_ABORT, .version = sv->abort_worker};
            p->state = W_DONE;
            sv->active--;
            server_min_moved(sv, p->clock);
        } else if (!h->stop) {
            h->nvals = (int32_t)p->pull.n;
            keyset_gather(&p->pull, sv->w, sv->lo, (float *)(h + 1));
        }
        p->pull_pending = 0;
        p->min_at_pull = min;
        p->ver_at_pull = sv->version;
        sv->tot.pull_wait_s += rt_now(sv->r) - p->pull_since_s;
        sv->tot.pulls++;
        int rc = rt_send(sv->r, sv->sh.S + w, TAG_REPLY, h, sizeof *h + (size_t)h->nvals * 4);
        if (rc == RT_EPEER)
            server_lose_worker(sv, w, rt_error(sv->r));
        else if (rc)
            return rt_fail(sv->r, rc, "ps server %d: reply to worker %d: %s", sv->s, w,
                           rt_error(sv->r));
    }
    return RT_OK;
}

/* bsp: once every running worker's push of the clock is held, apply them
 * in worker order; then a checkpoint, when one is due (ps_internal.h). */
static int server_release_held(server *sv)
{
    if (sv->nheld == 0 || sv->nheld < sv->active)
        return RT_OK;
    for (int w = 0; w < sv->sh.W; w++) {
        peer *p = &sv->peers[w];
        if (!p->is_held)
            continue;
        p->is_held = 0;
        int rc = server_handle(sv, w, p->held, p->held_s);
        if (rc)
            return rc;
    }
    sv->nheld = 0;
    sv->scan_all = 1; /* every released push filed its pull */
    if (sv->setup->save && sv->checkpoints.every > 0 && sv->examples < sv->sh.budget &&
        train_schedule_due(&sv->checkpoints, sv->examples))
        return ps_server_checkpoint(sv);
    return RT_OK;
}

/* One request from worker w: a goodbye, or a push and pull to apply now,
 * hold (bsp), or answer with the news of an abort. */
static int server_take(server *sv, int w, size_t len)
{
    const req_head *h = (const req_head *)sv->rbuf;
    peer *p = &sv->peers[w];
    int rc;
    if (h->flags & REQ_DONE) {
        if (p->state == W_ACTIVE) {
            p->state = W_DONE;
            sv->active--;
            server_min_moved(sv, p->clock);
        }
        p->pull_pending = 0;
        return RT_OK;
    }
    if ((rc = ps_request_check(sv, w, sv->rbuf, len)))
        return rc;
    if (sv->abort_worker >= 0) {
        p->pull_pending = (h->flags & REQ_PULL) != 0; /* to hear the news */
        p->pull_since_s = rt_now(sv->r);
    } else if (sv->sh.bound == 0 && (h->flags & REQ_PUSH)) {
        /* bsp: hold it until the clock is full (see the header) */
        if (!p->held && !(p->held = malloc(sv->rcap)))
            return rt_fail(sv->r, RT_ENOMEM, "ps server %d: out of memory", sv->s);
        memcpy(p->held, sv->rbuf, len);
        p->is_held = 1;
        p->held_s = rt_now(sv->r);
        sv->nheld++;
    } else {
        return server_handle(sv, w, sv->rbuf, rt_now(sv->r));
    }
    return RT_OK;
}

/* A resumed server answers the first pulls together, once all are in, as
 * the stopped run did after its checkpoint; its clock goes on from that
 * moment, so that in simulation the times are the stopped run's too. */
static int server_resumed(server *sv)
{
    for (int w = 0; w < sv->sh.W; w++)
        if (sv->peers[w].state == W_ACTIVE && !sv->peers[w].pull_pending)
            return 0;
    sv->clock_base = sv->resume_clock - rt_now(sv->r);
    sv->resuming = 0;
    sv->scan_all = 1;
    return 1;
}

/* Requests until every worker has said goodbye or died. */
static int server_loop(server *sv)
{
    int S = sv->sh.S, rc;
    while (sv->active > 0) {
        rt_status st = {.source = -1};
        rc = rt_recv(sv->r, RT_ANY_SOURCE, TAG_REQ, sv->rbuf, sv->rcap, &st);
        int w = st.source - S;
        if (rc == RT_EPEER && w >= 0 && w < sv->sh.W) {
            server_lose_worker(sv, w, rt_error(sv->r));
        } else if (rc) {
            return rt_fail(sv->r, rc, "ps server %d: waiting for requests: %s", sv->s,
                           rt_error(sv->r));
        } else if (w < 0 || st.bytes < sizeof(req_head)) {
            return rt_fail(sv->r, RT_EPROTO, "ps server %d: a %zu-byte request from rank %d, "
                           "which is not a worker", sv->s, st.bytes, st.source);
        } else if ((rc = server_take(sv, w, st.bytes)) || (rc = server_release_held(sv))) {
            return rc;
        }
        if (sv->resuming && !server_resumed(sv))
            continue;
        if ((rc = server_answer(sv, w >= 0 && w < sv->sh.W ? w : -1)))
            return rc;
    }
    if (sv->abort_worker >= 0)
        return rt_fail(sv->r, RT_EPEER, "ps server %d: worker %d (rank %d) died (%s); under bsp "
                       "no iteration can complete without it, so the run stops (ssp and async "
                       "go on without it)", sv->s, sv->abort_worker, S + sv->abort_worker,
                       sv->abort_why);
    return RT_OK;
}

static int server_main(rt *r, const train_setup *setup, ml_model *model)
{
    server sv = {.r = r, .setup = setup, .s = rt_rank(r), .abort_worker = -1};
    int rc = ps_server_init(&sv, model);
    double every = setup->checkpoint_every * (double)setup->prob->train.n;
    sv.checkpoints = (train_schedule){.every = every, .next = every};
    if (!rc)
        rc = ps_server_resume(&sv);
    if (!rc) {
        server_count_min(&sv);
        sv.scan_all = 1;
    }
    /* ---- snapshots at the evaluation points (the first now, at 0
     * examples), the requests, then the final state ---- */
    if (rc || (train_schedule_due(&sv.due, 0) && (rc = server_snapshot(&sv))) ||
        (rc = server_loop(&sv)))
        goto done;
    const snap_meta *last = (const snap_meta *)sv.snaps.meta + (sv.snaps.count - 1);
    if (sv.examples > last->examples && (rc = server_snapshot(&sv)))
        goto done;
    train_gathered g;
    if (!(rc = train_snaps_gather(r, &sv.snaps, sv.sh.S, sv.sh.P, &sv.tot, sizeof sv.tot, &g)) &&
        sv.s == 0)
        rc = ps_report(&sv, model, &g);
    train_gathered_free(&g);
done:
    ps_server_free(&sv);
    return rc;
}

/* =====================================================================
 * worker
 * ===================================================================== */

/* Draw the next minibatch into b, and (sparse) the keys it touches. */
static void worker_draw(worker *wk, minibatch *b)
{
    b->pass = wk->shard.pass;
    b->pos = wk->shard.pos;
    b->n = train_shard_next(&wk->shard, wk->setup->ml->batch, b->idx);
    if (wk->sh.sparse) {
        b->nkeys = keyset_rows_keys(&wk->rows, wk->train, b->idx, b->n, b->keys);
        keyset_split(b->keys, b->nkeys, wk->sh.P, wk->sh.S, b->split);
    }
}

/* The keys minibatch b pulls from server s. */
static keyset pull_keys(const worker *wk, const minibatch *b, int s)
{
    keyset k = {.lo = wk->lo[s], .n = wk->hi[s] - wk->lo[s]};
    if (wk->sh.sparse)
        k = (keyset){.n = b->split[s + 1] - b->split[s], .keys = b->keys + b->split[s]};
    return k;
}

/* Send every server its part of the push of `cur`'s gradient (when cur
 * is not NULL) and of the pull of `next`'s keys. */
static int worker_request(worker *wk, const minibatch *cur, const minibatch *next, long clock)
{
    int rc;
    if (cur && wk->grad.sparse) /* its pairs, grouped by server */
        keyset_group(wk->grad.index, wk->grad.value, wk->grad.nnz, wk->sh.P, wk->sh.S, wk->gkey,
                     wk->gval, wk->gcount);
    for (int s = 0; s < wk->sh.S; s++) {
        keyset push = {.lo = wk->lo[s], .n = wk->hi[s] - wk->lo[s]}, pull = pull_keys(wk, next, s);
        const float *vals = wk->grad.dense + wk->lo[s];
        if (cur && wk->grad.sparse) {
            push = (keyset){.n = wk->gcount[s + 1] - wk->gcount[s], .keys = wk->gkey + wk->gcount[s]};
            vals = wk->gval + wk->gcount[s];
        }
        req_head *h = (req_head *)wk->sbuf;
        unsigned char *p = wk->sbuf + sizeof *h;
        *h = (req_head){.flags = REQ_PULL | (cur ? REQ_PUSH : 0), .push_clock = (int32_t)clock,
                        .pull_clock = (int32_t)(clock + (cur != NULL)), .npush = -1,
                        .npull = keyset_wire(&pull)};
        if (cur) {
            h->examples = (int32_t)cur->n;
            h->npush = keyset_wire(&push);
            if (push.keys)
                p = (unsigned char *)memcpy(p, push.keys, push.n * 4) + push.n * 4;
            p = (unsigned char *)memcpy(p, vals, push.n * 4) + push.n * 4;
        }
        if (pull.keys)
            memcpy(p, pull.keys, pull.n * 4);
        if ((rc = rt_send(wk->r, s, TAG_REQ, wk->sbuf, ps_request_bytes(cur ? &push : NULL, &pull))))
            return rt_fail(wk->r, rc, "ps worker %d: request to server %d: %s", wk->w, s,
                           rt_error(wk->r));
    }
    return RT_OK;
}

/* Receive every server's reply to the pull of b's keys; *stop when any
 * says the budget is spent, *checkpoint when they took one. */
static int worker_pull(worker *wk, const minibatch *b, int *stop, int *checkpoint)
{
    int S = wk->sh.S, rc;
    for (int s = 0; s < S; s++) {
        size_t cap = sizeof(reply_head) + (wk->hi[s] - wk->lo[s]) * sizeof(float);
        if ((rc = rt_irecv(wk->r, s, TAG_REPLY, wk->rbuf[s], cap, &wk->req[s]))) {
            rt_waitall(wk->r, s, wk->req, NULL);
            return rt_fail(wk->r, rc, "ps worker %d: pull from server %d: %s", wk->w, s,
                           rt_error(wk->r));
        }
    }
    if ((rc = rt_waitall(wk->r, S, wk->req, wk->sts)))
        return rt_fail(wk->r, rc, "ps worker %d: waiting for the servers' weights: %s", wk->w,
                       rt_error(wk->r));
    *stop = *checkpoint = 0;
    for (int s = 0; s < S; s++) {
        const reply_head *h = wk->rbuf[s];
        size_t bytes = wk->sts[s].bytes;
        keyset k = pull_keys(wk, b, s);
        /* a reply must carry exactly the values asked for: never trust the
         * count on the wire for indexing */
        if (bytes < sizeof *h ||
            (!h->stop && ((size_t)h->nvals != k.n || bytes != sizeof *h + k.n * sizeof(float))))
            return rt_fail(wk->r, RT_EPROTO, "ps worker %d: malformed reply from server %d "
                           "(%zu bytes, %d values; expected %zu values)", wk->w, s, bytes,
                           bytes >= sizeof *h ? h->nvals : -1, k.n);
        if (h->stop == STOP_ABORT)
            return rt_fail(wk->r, RT_EPEER, "ps worker %d: server %d stopped the run: worker %d "
                           "died, and under bsp no iteration can complete without it", wk->w, s,
                           h->version);
        if (h->stop)
            *stop = 1;
        else
            keyset_scatter(&k, (const float *)(h + 1), wk->params);
        *checkpoint |= h->checkpoint != 0;
    }
    return RT_OK;
}

/* The gradient of minibatch b at the pulled weights, charged. */
static int worker_gradient(worker *wk, const minibatch *b)
{
    char err[512];
    double loss, flops = 0;
    if (b->n == 0) {
        wk->grad.sparse = wk->sh.sparse;
        wk->grad.nnz = 0;
        memset(wk->grad.dense, 0, wk->sh.P * sizeof *wk->grad.dense);
    } else if (ml_model_loss_grad(wk->model, wk->params, wk->train, b->idx, b->n, &wk->grad,
                                  &loss, &flops, err, sizeof err) != 0) {
        return rt_fail(wk->r, RT_EINVAL, "ps worker %d: gradient: %s", wk->w, err);
    }
    return train_charge(wk->r, flops);
}

/* Every server gets the last word: goodbye. */
static int worker_goodbye(worker *wk)
{
    req_head bye = {.flags = REQ_DONE};
    for (int s = 0; s < wk->sh.S; s++) {
        int rc = rt_send(wk->r, s, TAG_REQ, &bye, sizeof bye);
        if (rc)
            return rt_fail(wk->r, rc, "ps worker %d: goodbye to server %d: %s", wk->w, s,
                           rt_error(wk->r));
    }
    return RT_OK;
}

static int worker_main(rt *r, const train_setup *setup, ml_model *model)
{
    worker wk = {.r = r, .setup = setup, .model = model, .train = &setup->prob->train};
    ps_shape_of(r, setup, model, &wk.sh);
    wk.w = rt_rank(r) - wk.sh.S;
    int rc = RT_OK, stop = 0, checkpoint = 0;
    if (ps_worker_init(&wk) != 0) {
        rc = rt_fail(r, RT_ENOMEM, "ps worker %d: out of memory for %zu parameters", wk.w, wk.sh.P);
        goto done;
    }
    minibatch *cur = &wk.mb[0], *next = &wk.mb[1];
    long clock;
    if ((rc = ps_worker_resume(&wk, &clock)))
        goto done;
    /* ---- the first pull (of the clock resumed from: its minibatch again) ---- */
    worker_draw(&wk, cur);
    if ((rc = worker_request(&wk, NULL, cur, clock)))
        goto done;
    for (;; clock++) {
        /* ---- 1. the weights this minibatch needs ---- */
        if ((rc = worker_pull(&wk, cur, &stop, &checkpoint)) || stop)
            break;
        if (checkpoint && (rc = ps_worker_checkpoint(&wk, clock, cur)))
            goto done;
        if ((rc = train_step_begin(setup, r, clock)))
            goto done; /* crashed: no goodbye */
        /* ---- 2. its gradient ---- */
        if ((rc = worker_gradient(&wk, cur)))
            goto done;
        /* ---- 3. push it, pull for the next one ---- */
        worker_draw(&wk, next);
        if ((rc = worker_request(&wk, cur, next, clock)))
            goto done;
        minibatch *t = cur;
        cur = next;
        next = t;
    }
    if (rc == RT_OK) {
        train_slot(r)->stats[PS_STAT_UPDATES] = (double)clock; /* iterations pushed */
        rc = worker_goodbye(&wk);
    }
done:
    ps_worker_free(&wk);
    return rc;
}

int ps_rank(rt *r, void *arg)
{
    const train_setup *setup = arg;
    const ps_opts *opt = setup->algo;
    ml_model *model = NULL;
    if (opt->servers < 1 || opt->servers >= rt_size(r))
        return rt_fail(r, RT_EINVAL, "ps: %d servers among %d ranks: need at least one server "
                       "and one worker", opt->servers, rt_size(r));
    int rc = train_algo_check(r, &ps_algo, setup);
    if (rc || (rc = train_model_create(r, setup, &model)))
        return rc;
    if (rt_rank(r) < opt->servers)
        rc = server_main(r, setup, model);
    else
        rc = worker_main(r, setup, model);
    ml_model_free(model);
    return rc;
}
