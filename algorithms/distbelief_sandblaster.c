/* distbelief_sandblaster.c -- Sandblaster L-BFGS: a coordinator runs batch
 * L-BFGS on the whole training set; each evaluation of the objective and
 * its gradient is split over R model replicas (each possibly partitioned,
 * distbelief_mp.c) in many small work units, and a replica that finishes
 * a unit asks for the next, so faster replicas take more of them -- how
 * the paper tolerates slow machines without waiting for them.
 * reference: Dean et al., "Large Scale Distributed Deep Networks", NIPS
 * 2012, section 4.2; liblbfgs (Okazaki's C port of Nocedal's L-BFGS) for
 * the optimizer.
 *
 * Ranks: servers 0..S-1, replica r's partition k at S + r K + k, the
 * coordinator at S + R K. The weights and the gradient live on the
 * servers (the packed order of db_pack, server s holding its run, as in
 * Downpour); replicas fetch weights from the servers and push gradients
 * to them, never to the coordinator. One evaluation at weights x:
 *
 *   1. the coordinator stores x on the servers and waits for their acks
 *                                     (S messages of 4 P / S bytes)
 *   2. work units -- runs of U examples of the training set, n / U of
 *      them -- go out one per replica; a replica's partition 0 says when
 *      it finished one, and gets the next (dynamic balancing), or, with
 *      --balance even, the next of its own fixed 1/R share. Every
 *      partition of the replica gets the same unit.
 *   3. a replica fetches its weights from the servers at its first unit
 *      of an evaluation, and adds up the data loss and gradient of its
 *      units                          (compute: 6 U P / K per partition)
 *   4. when the units run out, each replica pushes its gradient sum to
 *      the servers and its loss sum to the coordinator; the coordinator
 *      collects the summed gradient from the servers and adds the L2 term:
 *      f = loss / n + l2/2 ||x||^2, g = grad / n + l2 x
 * L-BFGS then takes its step (two-loop recursion, ~4 m P flops, charged
 * at the coordinator) and its line search asks for more evaluations.
 *
 * Time of one evaluation with R replicas of speeds v_r (units per second):
 * dynamic ~ (n/U) / sum v_r plus a unit's round trip per unit; even ~
 * (n/U) / (R min v_r): one straggler at 1/4 speed makes an even split
 * four times slower, while dynamic balancing loses only its share.
 *
 * Budget: --epochs evaluations (each one pass over the data); the
 * coordinator evaluates the model after every L-BFGS iteration.
 */
#include "algorithms/distbelief.h"

#include <lbfgs.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { TAG_SB_REQ = 0x6600, TAG_SB_REPLY, TAG_SB_UNIT, TAG_SB_DONE, TAG_SB_LOSS };
enum { SB_SET = 1, SB_ACK, SB_FETCH, SB_PUSH, SB_GET, SB_STOP };

/* Requests to the servers and work units to the replicas are both a
 * db_req: arg is the evaluation's number; a unit's run is of examples (a
 * unit of 0 examples ends the evaluation). */
typedef db_req sb_head;

/* ---- checking the L-BFGS settings ---- */

static void lbfgs_params(const db_opts *o, lbfgs_parameter_t *p)
{
    lbfgs_parameter_init(p);
    p->m = o->lbfgs_m;
    p->epsilon = o->lbfgs_epsilon;
}

static lbfgsfloatval_t quadratic(void *inst, const lbfgsfloatval_t *x, lbfgsfloatval_t *g,
                                 const int n, const lbfgsfloatval_t step)
{
    (void)inst;
    (void)step;
    lbfgsfloatval_t f = 0;
    for (int i = 0; i < n; i++) {
        g[i] = 2 * (x[i] - 1);
        f += (x[i] - 1) * (x[i] - 1);
    }
    return f;
}

int db_lbfgs_check(const db_opts *o, char *err, size_t errlen)
{
    if (o->lbfgs_m < 1) {
        snprintf(err, errlen, "--lbfgs-m: L-BFGS keeps at least 1 correction, not %d", o->lbfgs_m);
        return -1;
    }
    lbfgs_parameter_t p;
    lbfgs_params(o, &p);
    lbfgsfloatval_t *x = lbfgs_malloc(16), fx;
    if (!x) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (int i = 0; i < 16; i++)
        x[i] = 0;
    int rc = lbfgs(16, x, &fx, quadratic, NULL, NULL, &p);
    lbfgs_free(x);
    if (rc == LBFGSERR_INVALID_EPSILON) {
        snprintf(err, errlen, "--lbfgs-epsilon: liblbfgs wants a tolerance >= 0, not %g",
                 o->lbfgs_epsilon);
        return -1;
    }
    if (rc <= LBFGSERR_INVALID_N && rc >= LBFGSERR_INVALID_ORTHANTWISE_END) {
        snprintf(err, errlen, "liblbfgs rejected the L-BFGS settings (code %d)", rc);
        return -1;
    }
    return 0;
}

/* ---- the servers ---- */

static int server_main(rt *r, const db_opts *o, const db_layout *lay)
{
    int s = rt_rank(r), S = o->servers, rc = RT_OK;
    size_t lo, hi;
    train_range(lay->P, S, s, &lo, &hi);
    size_t n = hi - lo, cap = sizeof(sb_head) + (n + 1) * sizeof(float);
    float *w = calloc(n + 1, sizeof *w), *gsum = calloc(n + 1, sizeof *gsum);
    char *buf = malloc(cap);
    train_out *slot = train_slot(r);
    uint64_t bytes = 0;
    if (!w || !gsum || !buf) {
        rc = rt_fail(r, RT_ENOMEM, "sandblaster server %d: out of memory", s);
        goto done;
    }
    int expected = db_sharers(lay, S, s) * o->replicas, pushes = 0, get_from = -1;
    for (;;) {
        rt_status st;
        sb_head h;
        if ((rc = db_serve_next(r, "sandblaster", TAG_SB_REQ, buf, cap, lo, hi, SB_STOP,
                                1u << SB_SET | 1u << SB_PUSH, &h, &st)))
            goto done;
        size_t first = (size_t)h.first, count = (size_t)h.count;
        if (h.kind == SB_STOP)
            break;
        const float *vals = (const float *)(buf + sizeof h);
        if (h.kind == SB_SET) {
            memcpy(w, vals, n * sizeof *w);
            sb_head ack = {.kind = SB_ACK, .arg = h.arg};
            if ((rc = rt_send(r, st.source, TAG_SB_REPLY, &ack, sizeof ack)))
                goto fail;
        } else if (h.kind == SB_FETCH) {
            if ((rc = rt_send(r, st.source, TAG_SB_REPLY, w + (first - lo), count * sizeof *w)))
                goto fail;
            bytes += count * sizeof *w;
        } else if (h.kind == SB_PUSH) {
            for (size_t i = 0; i < count; i++)
                gsum[first - lo + i] += vals[i];
            if ((rc = train_charge_vector(r, (double)count)))
                goto done;
            pushes++;
        } else if (h.kind == SB_GET) {
            get_from = st.source;
        }
        /* the summed gradient goes out once every replica pushed */
        if (get_from >= 0 && pushes == expected) {
            if ((rc = rt_send(r, get_from, TAG_SB_REPLY, gsum, n * sizeof *gsum)))
                goto fail;
            memset(gsum, 0, n * sizeof *gsum);
            pushes = 0;
            get_from = -1;
        }
    }
    slot->stats[DB_STAT_SERVER_BYTES] = (double)bytes;
    goto done;
fail:
    rc = rt_fail(r, rc, "sandblaster server %d: %s", s, rt_error(r));
done:
    free(w);
    free(gsum);
    free(buf);
    return rc;
}

/* ---- a partition of a replica ---- */

static int replica_main(rt *r, const train_setup *setup, const db_layout *lay)
{
    const db_opts *o = setup->algo;
    const ml_dataset *train = &setup->prob->train;
    int S = o->servers, K = o->partitions, me = rt_rank(r) - S, rc;
    int replica = me / K, k = me % K, coord = S + o->replicas * K;
    size_t off = db_part_offset(lay, k), n = db_part_params(lay, k), P = lay->P;
    db_part part = {0};
    float *params = calloc(P, sizeof *params), *grad = calloc(P, sizeof *grad);
    float *packed = malloc((n + 1) * sizeof *packed), *gsum = calloc(n + 1, sizeof *gsum);
    char *msg = malloc(sizeof(sb_head) + (n + 1) * sizeof(float));
    size_t *idx = malloc((train->n + 1) * sizeof *idx);
    train_out *slot = train_slot(r);
    uint64_t bytes = 0;
    long units = 0;
    if (!params || !grad || !packed || !gsum || !msg || !idx) {
        rc = rt_fail(r, RT_ENOMEM, "sandblaster replica: out of memory");
        goto done;
    }
    if ((rc = db_part_init(&part, r, lay, k, S + replica * K)))
        goto done;
    int have = -1; /* the evaluation whose weights I hold */
    double loss_sum = 0;
    for (;;) {
        sb_head u;
        if ((rc = rt_recv(r, coord, TAG_SB_UNIT, &u, sizeof u, NULL)))
            goto fail;
        if (u.kind == SB_STOP)
            break;
        if (u.count == 0) {
            /* ---- 4. the evaluation is over: push the sums ---- */
            if ((rc = db_push(r, S, P, off, n, TAG_SB_REQ, SB_PUSH, u.arg, gsum, msg, &bytes)) ||
                (k == 0 && (rc = rt_send(r, coord, TAG_SB_LOSS, &loss_sum, sizeof loss_sum))))
                goto fail;
            memset(gsum, 0, n * sizeof *gsum);
            loss_sum = 0;
            continue;
        }
        /* ---- 3. weights for this evaluation, then the unit's gradient ---- */
        if ((rc = train_step_begin(setup, r, units)))
            goto done;
        if (u.arg != have) {
            if ((rc = db_fetch(r, S, P, off, n, TAG_SB_REQ, TAG_SB_REPLY, SB_FETCH, u.arg, packed,
                               &bytes)))
                goto fail;
            db_unpack(lay, k, packed, params);
            have = u.arg;
        }
        size_t b = (size_t)u.count;
        for (size_t i = 0; i < b; i++)
            idx[i] = (size_t)u.first + i;
        double loss;
        size_t correct;
        if ((rc = db_part_loss_grad(&part, params, train, idx, b, 0, grad, &loss, &correct)))
            goto done;
        db_pack(lay, k, grad, packed);
        for (size_t i = 0; i < n; i++)
            gsum[i] += (float)b * packed[i];
        loss_sum += loss * (double)b;
        units++;
        if ((rc = train_charge_vector(r, 2.0 * (double)n)))
            goto done;
        sb_head done_msg = {.kind = SB_ACK, .arg = u.arg};
        if (k == 0 && (rc = rt_send(r, coord, TAG_SB_DONE, &done_msg, sizeof done_msg)))
            goto fail;
    }
    slot->stats[DB_STAT_PARTITION_BYTES] = (double)part.bytes_sent;
    slot->stats[DB_STAT_SERVER_BYTES] = (double)bytes;
    slot->stats[DB_STAT_STEPS] = (double)units;
    goto done;
fail:
    rc = rt_fail(r, rc, "sandblaster replica %d partition %d: %s", replica, k, rt_error(r));
done:
    db_part_free(&part);
    free(params);
    free(grad);
    free(packed);
    free(gsum);
    free(msg);
    free(idx);
    return rc;
}

/* ---- the coordinator ---- */

typedef struct coord {
    rt *r;
    const train_setup *setup;
    const db_opts *o;
    const db_layout *lay;
    train_eval eval;
    float *wpacked, *flat, *gpacked;
    char *msg;
    int evals, iterations, rc;
    double lbfgs_flops;
} coord;

/* Send unit (first, count) to every partition of replica r. */
static int send_unit(coord *c, int replica, int eval, size_t first, size_t count)
{
    int S = c->o->servers, K = c->o->partitions, rc;
    sb_head u = {.kind = SB_FETCH, .arg = eval, .first = (int64_t)first, .count = (int64_t)count};
    for (int k = 0; k < K; k++)
        if ((rc = rt_send(c->r, S + replica * K + k, TAG_SB_UNIT, &u, sizeof u)))
            return rt_fail(c->r, rc, "sandblaster: a unit to replica %d: %s", replica, rt_error(c->r));
    return RT_OK;
}

/* One distributed evaluation at x (packed order): f and g. */
static int evaluate_at(coord *c, const lbfgsfloatval_t *x, lbfgsfloatval_t *g, double *f)
{
    rt *r = c->r;
    const db_opts *o = c->o;
    const ml_dataset *train = &c->setup->prob->train;
    int S = o->servers, R = o->replicas, K = o->partitions, rc = RT_OK, ev = c->evals;
    size_t P = c->lay->P, N = train->n;
    size_t U = o->unit_examples ? o->unit_examples : c->setup->ml->batch;
    size_t nunits = (N + U - 1) / U;
    size_t *cursor = NULL, *end = NULL;
    double l2 = c->setup->ml->l2;
    for (size_t i = 0; i < P; i++)
        c->wpacked[i] = (float)x[i];
    uint64_t bytes = 0; /* the servers count what they send */
    /* ---- 1. the weights onto the servers ---- */
    if ((rc = db_push(r, S, P, 0, P, TAG_SB_REQ, SB_SET, ev, c->wpacked, c->msg, &bytes)))
        goto out;
    for (int s = 0; s < S; s++) {
        sb_head ack;
        if ((rc = rt_recv(r, s, TAG_SB_REPLY, &ack, sizeof ack, NULL)))
            goto fail;
    }
    /* ---- 2. work units, one at a time per replica ---- */
    cursor = malloc((size_t)R * sizeof *cursor);
    end = malloc((size_t)R * sizeof *end);
    if (!cursor || !end) {
        rc = rt_fail(r, RT_ENOMEM, "sandblaster: out of memory");
        goto out;
    }
    size_t next = 0; /* dynamic: the next unit for whoever asks */
    for (int q = 0; q < R; q++) {
        cursor[q] = nunits * (size_t)q / (size_t)R;
        end[q] = nunits * (size_t)(q + 1) / (size_t)R;
    }
    for (int q = 0; q < R; q++) {
        size_t *at = o->balance_even ? &cursor[q] : &next, stop = o->balance_even ? end[q] : nunits;
        size_t unit = *at < stop ? (*at)++ : nunits;
        size_t first = unit * U, count = unit < nunits ? (N - first < U ? N - first : U) : 0;
        if ((rc = send_unit(c, q, ev, first, count)))
            goto out;
    }
    for (int busy = R; busy > 0;) {
        rt_status st;
        sb_head d;
        int q;
        if ((rc = rt_recv(r, RT_ANY_SOURCE, TAG_SB_DONE, &d, sizeof d, &st)))
            goto fail;
        q = (st.source - S) / K;
        size_t *at = o->balance_even ? &cursor[q] : &next, stop = o->balance_even ? end[q] : nunits;
        if (*at < stop) {
            size_t unit = (*at)++, first = unit * U;
            rc = send_unit(c, q, ev, first, N - first < U ? N - first : U);
        } else {
            rc = send_unit(c, q, ev, 0, 0);
            busy--;
        }
        if (rc)
            goto out;
    }
    /* ---- 4. the sums: losses from the replicas, gradients from the servers ---- */
    double loss = 0;
    for (int q = 0; q < R; q++) {
        double part;
        if ((rc = rt_recv(r, S + q * K, TAG_SB_LOSS, &part, sizeof part, NULL)))
            goto fail;
        loss += part;
    }
    if ((rc = db_fetch(r, S, P, 0, P, TAG_SB_REQ, TAG_SB_REPLY, SB_GET, ev, c->gpacked, &bytes)))
        goto out;
    double reg = 0;
    for (size_t i = 0; i < P; i++) {
        g[i] = (double)c->gpacked[i] / (double)N + l2 * x[i];
        reg += x[i] * x[i];
    }
    *f = loss / (double)N + 0.5 * l2 * reg;
    c->evals++;
    rc = train_charge_vector(r, 4.0 * (double)P);
    goto out;
fail:
    rc = rt_fail(r, rc, "sandblaster coordinator: %s", rt_error(r));
out:
    free(cursor);
    free(end);
    return rc;
}

static lbfgsfloatval_t lbfgs_evaluate(void *inst, const lbfgsfloatval_t *x, lbfgsfloatval_t *g,
                                      const int n, const lbfgsfloatval_t step)
{
    (void)n;
    (void)step;
    coord *c = inst;
    double f = NAN;
    if (!c->rc)
        c->rc = evaluate_at(c, x, g, &f);
    return c->rc ? NAN : f;
}

/* Evaluate the model at packed weights w, when a point is due (or always). */
static int report(coord *c, const float *w, int always)
{
    if (!always && !train_eval_due(&c->eval, (double)c->evals))
        return RT_OK;
    for (int k = 0; k < c->lay->K; k++)
        db_unpack(c->lay, k, w + db_part_offset(c->lay, k), c->flat);
    return train_eval_now(&c->eval, c->flat, (double)c->evals, c->iterations, NULL);
}

static int lbfgs_progress(void *inst, const lbfgsfloatval_t *x, const lbfgsfloatval_t *g,
                          const lbfgsfloatval_t fx, const lbfgsfloatval_t xnorm,
                          const lbfgsfloatval_t gnorm, const lbfgsfloatval_t step, int n, int k,
                          int ls)
{
    (void)g;
    (void)fx;
    (void)xnorm;
    (void)gnorm;
    (void)step;
    (void)ls;
    coord *c = inst;
    c->iterations = k;
    /* the two-loop recursion and the line search's vector updates */
    c->rc = c->rc ? c->rc : train_charge_vector(c->r, (4.0 * c->o->lbfgs_m + 10) * (double)n);
    for (int i = 0; i < n && !c->rc; i++)
        c->wpacked[i] = (float)x[i];
    if (!c->rc)
        c->rc = report(c, c->wpacked, 0);
    return c->rc || c->evals >= c->setup->ml->epochs;
}

static int coordinator_main(rt *r, const train_setup *setup, const db_layout *lay, ml_model *model)
{
    const db_opts *o = setup->algo;
    int S = o->servers, R = o->replicas, K = o->partitions, rc = RT_OK, eval_ready = 0;
    size_t P = lay->P;
    coord c = {.r = r, .setup = setup, .o = o, .lay = lay};
    lbfgsfloatval_t *x = lbfgs_malloc((int)P), fx;
    c.wpacked = malloc(P * sizeof *c.wpacked);
    c.gpacked = malloc(P * sizeof *c.gpacked);
    c.flat = malloc(P * sizeof *c.flat);
    c.msg = malloc(sizeof(sb_head) + P * sizeof(float));
    if (!x || !c.wpacked || !c.gpacked || !c.flat || !c.msg) {
        rc = rt_fail(r, RT_ENOMEM, "sandblaster coordinator: out of memory for %zu parameters", P);
        goto done;
    }
    ml_model_init_params(model, c.flat, setup->ml->seed);
    for (int k = 0; k < K; k++)
        db_pack(lay, k, c.flat, c.wpacked + db_part_offset(lay, k));
    for (size_t i = 0; i < P; i++)
        x[i] = c.wpacked[i];
    if ((rc = train_eval_init(&c.eval, r, setup, model)))
        goto done;
    eval_ready = 1;
    if ((rc = report(&c, c.wpacked, 0))) /* due at 0 */
        goto done;
    lbfgs_parameter_t param;
    lbfgs_params(o, &param);
    param.max_iterations = (int)setup->ml->epochs;
    int lrc = lbfgs((int)P, x, &fx, lbfgs_evaluate, lbfgs_progress, &c, &param);
    if (c.rc) {
        rc = c.rc;
        goto done;
    }
    if (lrc < 0 && lrc != LBFGSERR_CANCELED && lrc != LBFGSERR_MAXIMUMITERATION &&
        lrc != LBFGSERR_ROUNDING_ERROR && lrc != LBFGSERR_MAXIMUMLINESEARCH &&
        lrc != LBFGSERR_MINIMUMSTEP && lrc != LBFGSERR_MAXIMUMSTEP) {
        rc = rt_fail(r, RT_EINVAL, "sandblaster: liblbfgs stopped with code %d", lrc);
        goto done;
    }
    /* x holds the best point liblbfgs found */
    for (size_t i = 0; i < P; i++)
        c.wpacked[i] = (float)x[i];
    const train_out *out = c.eval.out;
    int reported = out->npoints > 0 && out->points[out->npoints - 1].epoch >= (double)c.evals;
    if ((rc = report(&c, c.wpacked, !reported)))
        goto done;
    train_eval_finish(&c.eval, c.flat, P);
    train_slot(r)->stats[DB_STAT_STEPS] = (double)c.evals;
done:
    /* everyone stops, whatever happened here */
    {
        sb_head stop = {.kind = SB_STOP};
        for (int s = 0; s < S; s++)
            rt_send(r, s, TAG_SB_REQ, &stop, sizeof stop);
        for (int q = 0; q < R * K; q++)
            rt_send(r, S + q, TAG_SB_UNIT, &stop, sizeof stop);
    }
    if (eval_ready)
        train_eval_free(&c.eval);
    lbfgs_free(x);
    free(c.wpacked);
    free(c.gpacked);
    free(c.flat);
    free(c.msg);
    return rc;
}

int db_sandblaster_rank(rt *r, void *arg)
{
    const train_setup *setup = arg;
    const db_opts *o = setup->algo;
    ml_model *model = NULL;
    db_layout lay;
    char err[512];
    int rc;
    if ((rc = train_model_create(r, setup, &model)))
        return rc;
    int me = rt_rank(r), S = o->servers;
    if (db_layout_of_model(&lay, model, o->partitions, err, sizeof err) != 0) /* checked: db_check */
        rc = rt_fail(r, RT_EINVAL, "sandblaster: %s", err);
    else if (me < S)
        rc = server_main(r, o, &lay);
    else if (me < S + o->replicas * o->partitions)
        rc = replica_main(r, setup, &lay);
    else
        rc = coordinator_main(r, setup, &lay, model);
    ml_model_free(model);
    return rc;
}
