/* rt_core.c -- the backend-neutral half of the runtime.
 *
 * Argument checks, blocking calls built from the backend's non-blocking
 * ones, the per-rank event log, byte counters, the barrier and error
 * messages are written here once, so both backends behave alike.
 */
#include "core/rt_core.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void rt_init(rt *r, const rt_ops *ops, const char *backend, int rank, int size,
             int size_only, int record_events, void *backend_data)
{
    memset(r, 0, sizeof *r);
    r->ops = ops;
    r->backend = backend;
    r->rank = rank;
    r->size = size;
    r->size_only = size_only;
    r->record_events = record_events;
    r->backend_data = backend_data;
}

void rt_fini(rt *r)
{
    free(r->events);
    r->events = NULL;
    r->nevents = r->cap_events = 0;
}

int rt_rank(const rt *r) { return r->rank; }
int rt_size(const rt *r) { return r->size; }
double rt_now(rt *r) { return r->ops->now(r); }
int rt_size_only(const rt *r) { return r->size_only; }
const char *rt_error(const rt *r) { return r->err; }
void *rt_slot(rt *r) { return r->slot; }

void rt_aside_begin(rt *r)
{
    if (r->aside_depth++ == 0)
        r->aside_t0 = rt_now(r);
}

void rt_aside_end(rt *r)
{
    if (r->aside_depth > 0 && --r->aside_depth == 0)
        r->aside_s += rt_now(r) - r->aside_t0;
}

double rt_work_now(rt *r)
{
    double now = rt_now(r);
    return now - (r->aside_depth ? r->aside_s + (now - r->aside_t0) : r->aside_s);
}

const char *rt_strerror(int code)
{
    switch (code) {
    case RT_OK: return "ok";
    case RT_EINVAL: return "invalid argument";
    case RT_ETRUNC: return "message truncated";
    case RT_ETIMEOUT: return "timed out";
    case RT_EPEER: return "peer failed";
    case RT_EPROTO: return "protocol error";
    case RT_ENOMEM: return "out of memory";
    case RT_EIO: return "I/O error";
    case RT_EKILLED: return "made to fail";
    case RT_EINPUT: return "input refused";
    default: return "unknown error";
    }
}

const char *rt_event_kind_name(int kind)
{
    static const char *const names[RT_EV_KINDS] = {"compute", "send", "recv", "wait"};
    if (kind == RT_EV_SPAN)
        return "span";
    return kind >= 0 && kind < RT_EV_KINDS ? names[kind] : "unknown";
}

int rt_span(rt *r, int name, double start_s, double end_s, uint64_t bytes, int peer)
{
    if (name < 0 || name > RT_TAG_MAX)
        return rt_seterr(r, RT_EINVAL, "span: name %d out of range 0..%d", name, RT_TAG_MAX);
    if (!(end_s >= start_s))
        return rt_seterr(r, RT_EINVAL, "span %d: ends at %g s, before its start at %g s", name,
                         end_s, start_s);
    if (peer < -1 || peer >= r->size)
        return rt_seterr(r, RT_EINVAL, "span %d: peer %d is not -1 or 0..%d", name, peer, r->size - 1);
    rt_record(r, RT_EV_SPAN, start_s, end_s, bytes, peer, name);
    return RT_OK;
}

int rt_fail(rt *r, int code, const char *fmt, ...)
{
    /* Callers often quote the previous message (rt_error(r)), which lives in
     * r->err itself: format into a copy, then drop the quoted message's own
     * "rank N: " so the result reads "rank N: outer: inner". */
    char msg[sizeof r->err - 32], prefix[32];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    int n = snprintf(prefix, sizeof prefix, "rank %d: ", r->rank);
    for (char *at = strstr(msg, prefix); at; at = strstr(at, prefix))
        memmove(at, at + n, strlen(at + n) + 1);
    snprintf(r->err, sizeof r->err, "%s%s", prefix, msg);
    return code;
}

void rt_record(rt *r, int kind, double start_s, double end_s, uint64_t bytes,
               int peer, int tag)
{
    if (!r->record_events)
        return;
    /* a rank and its async job may record at once (real: two threads);
     * the lock is held for a few stores, never across a wait */
    while (__atomic_test_and_set(&r->log_lock, __ATOMIC_ACQUIRE))
        ;
    if (r->nevents == r->cap_events) {
        size_t cap = r->cap_events ? 2 * r->cap_events : 256;
        rt_event *ev = realloc(r->events, cap * sizeof *ev);
        if (!ev) {
            r->record_events = 0;
            __atomic_clear(&r->log_lock, __ATOMIC_RELEASE);
            return;
        }
        r->events = ev;
        r->cap_events = cap;
    }
    r->events[r->nevents++] = (rt_event){
        .rank = r->rank, .kind = kind, .start_s = start_s, .end_s = end_s,
        .bytes = bytes, .peer = peer, .tag = tag};
    __atomic_clear(&r->log_lock, __ATOMIC_RELEASE);
}

/* ---- async jobs (runtime.h: rt_async_post) ----
 * Each post spawns a companion that first joins the previous job's
 * companion (so jobs run in post order, and each is joined exactly once),
 * then runs its own job unless an earlier one failed. Drain joins the
 * latest. A job's struct is freed by whoever joins it. */

struct rt_async_job {
    rt *r;
    rt_async_fn fn;
    void *arg;
    struct rt_async_job *prev;
    void *handle;         /* the companion running this job */
    int rc;
};

static void async_run(void *p)
{
    struct rt_async_job *j = p;
    int rc = RT_OK;
    if (j->prev) {
        j->r->ops->join(j->r, j->prev->handle);
        rc = j->prev->rc;
        free(j->prev);
        j->prev = NULL;
    }
    j->rc = rc ? rc : j->fn(j->r, j->arg);
}

int rt_async_post(rt *r, rt_async_fn fn, void *arg)
{
    if (!fn)
        return rt_seterr(r, RT_EINVAL, "async post: no function");
    if (!r->ops->spawn || !r->ops->join)
        return rt_seterr(r, RT_EINVAL, "async post: the %s backend cannot run a job beside a rank",
                         r->backend);
    struct rt_async_job *j = calloc(1, sizeof *j);
    if (!j)
        return rt_seterr(r, RT_ENOMEM, "async post: out of memory");
    *j = (struct rt_async_job){.r = r, .fn = fn, .arg = arg, .prev = r->async_last};
    int rc = r->ops->spawn(r, async_run, j, &j->handle);
    if (rc) {
        free(j);
        return rc;
    }
    r->async_last = j;
    return RT_OK;
}

int rt_async_drain(rt *r)
{
    struct rt_async_job *j = r->async_last;
    if (!j)
        return RT_OK;
    r->ops->join(r, j->handle);
    int rc = j->rc;
    free(j);
    r->async_last = NULL;
    return rc;
}

/* ---- posting ---- */

static int check_peer(rt *r, const char *what, int peer, int any_ok)
{
    if ((any_ok && peer == RT_ANY_SOURCE) || (peer >= 0 && peer < r->size))
        return RT_OK;
    return rt_seterr(r, RT_EINVAL, "%s: rank %d out of range 0..%d", what, peer, r->size - 1);
}

static void init_request(rt_request *q, int is_send, int peer, int tag, size_t bytes)
{
    q->is_send = is_send;
    q->peer = peer;
    q->tag = tag;
    q->bytes = bytes;
}

int rt_isend_internal(rt *r, int dst, int tag, const void *buf, size_t len, int buffered,
                      rt_request **req)
{
    int rc = check_peer(r, "send", dst, 0);
    if (rc)
        return rc;
    double t = r->ops->now(r);
    if (buffered && r->ops->bsend)
        rc = r->ops->bsend(r, dst, tag, buf, len, req);
    else
        rc = r->ops->isend(r, dst, tag, buf, len, req);
    if (rc)
        return rc;
    init_request(*req, 1, dst, tag, len);
    (*req)->posted_s = t;
    r->bytes_sent += len;
    r->messages_sent++;
    return RT_OK;
}

int rt_irecv_internal(rt *r, int src, int tag, void *buf, size_t cap, rt_request **req)
{
    int rc = check_peer(r, "recv", src, 1);
    if (rc)
        return rc;
    double t = r->ops->now(r);
    rc = r->ops->irecv(r, src, tag, buf, cap, req);
    if (rc)
        return rc;
    init_request(*req, 0, src, tag, cap);
    (*req)->posted_s = t;
    return RT_OK;
}

static int check_tag(rt *r, const char *what, int tag, int any_ok)
{
    if ((any_ok && tag == RT_ANY_TAG) || (tag >= 0 && tag <= RT_TAG_MAX))
        return RT_OK;
    return rt_seterr(r, RT_EINVAL, "%s: tag %d out of range 0..%d", what, tag, RT_TAG_MAX);
}

int rt_isend(rt *r, int dst, int tag, const void *buf, size_t len, rt_request **req)
{
    *req = NULL;
    int rc = check_tag(r, "send", tag, 0);
    return rc ? rc : rt_isend_internal(r, dst, tag, buf, len, 0, req);
}

int rt_irecv(rt *r, int src, int tag, void *buf, size_t cap, rt_request **req)
{
    *req = NULL;
    int rc = check_tag(r, "recv", tag, 1);
    return rc ? rc : rt_irecv_internal(r, src, tag, buf, cap, req);
}

/* ---- completion ---- */

/* Record a completed request, hand back its status and error, free it. */
static int finish(rt *r, rt_request **slot, rt_status *st)
{
    rt_request *q = *slot;
    int rc = q->error;
    double now = r->record_events ? r->ops->now(r) : 0; /* the clock only for a record */
    if (q->is_send)
        rt_record(r, RT_EV_SEND, q->posted_s, now, q->bytes, q->peer, q->tag);
    else if (rc == RT_OK || rc == RT_ETRUNC)
        rt_record(r, RT_EV_RECV, q->posted_s, now, q->status.bytes, q->status.source,
                  q->status.tag);
    if (st)
        *st = q->status;
    r->ops->release(r, q);
    *slot = NULL;
    return rc;
}

/* rt_waitany and rt_waitany_for: timeout_s < 0 waits for as long as it
 * takes (until the job's timeout). */
static int waitany_common(rt *r, int n, rt_request **reqs, double timeout_s, int *index,
                          rt_status *st)
{
    *index = -1;
    int live = 0;
    for (int i = 0; i < n; i++)
        live += reqs[i] != NULL;
    if (!live && timeout_s < 0)
        return RT_OK;
    /* the clock only for a timed wait or a record (it is read per message) */
    int rec = r->record_events;
    double t0 = rec || timeout_s >= 0 ? r->ops->now(r) : 0, deadline = t0 + timeout_s;
    int rc = RT_OK, polled = 0;
    for (;;) {
        for (int i = 0; i < n; i++) {
            if (reqs[i] && reqs[i]->done) {
                double t1 = rec ? r->ops->now(r) : 0;
                if (t1 > t0)
                    rt_record(r, RT_EV_WAIT, t0, t1, 0, -1, -1);
                *index = i;
                return finish(r, &reqs[i], st);
            }
        }
        if (timeout_s < 0) {
            rc = r->ops->progress(r, n, reqs);
        } else {
            double left = deadline - r->ops->now(r);
            if (left <= 0 && polled)
                break;
            rc = r->ops->progress_for(r, n, reqs, left > 0 ? left : 0);
            polled = 1;
            if (rc == RT_PROGRESS_TIMEOUT) {
                rc = RT_OK;
                break;
            }
        }
        if (rc)
            break;
    }
    double t1 = rec ? r->ops->now(r) : 0;
    if (t1 > t0)
        rt_record(r, RT_EV_WAIT, t0, t1, 0, -1, -1);
    return rc;
}

int rt_waitany(rt *r, int n, rt_request **reqs, int *index, rt_status *st)
{
    return waitany_common(r, n, reqs, -1, index, st);
}

int rt_waitany_for(rt *r, int n, rt_request **reqs, double timeout_s, int *index,
                   rt_status *st)
{
    *index = -1;
    if (!(timeout_s >= 0 && timeout_s <= 1e9))
        return rt_fail(r, RT_EINVAL, "waitany_for: timeout %g s is not in 0..1e9", timeout_s);
    if (!r->ops->progress_for)
        return rt_fail(r, RT_EINVAL, "waitany_for: the %s backend has no timed wait", r->backend);
    return waitany_common(r, n, reqs, timeout_s, index, st);
}

int rt_wait(rt *r, rt_request **req, rt_status *st)
{
    int index;
    int rc = rt_waitany(r, 1, req, &index, st);
    if (rc && *req) { /* progress itself failed: the request is given up */
        r->ops->release(r, *req);
        *req = NULL;
    }
    return rc;
}

int rt_waitall(rt *r, int n, rt_request **reqs, rt_status *sts)
{
    int first_error = RT_OK;
    char first_msg[sizeof r->err]; /* filled when first_error is set (clearing it was 512 bytes of stores a call) */
    for (;;) {
        int index;
        rt_status st;
        int rc = rt_waitany(r, n, reqs, &index, &st);
        if (index < 0 && rc == RT_OK)
            break;
        if (index >= 0 && sts)
            sts[index] = st;
        if (rc && first_error == RT_OK) {
            first_error = rc;
            memcpy(first_msg, r->err, sizeof first_msg);
        }
        if (index < 0) {
            /* progress itself failed (timeout, dead peer): give up on the
             * rest rather than wait on them again. */
            for (int i = 0; i < n; i++)
                if (reqs[i]) {
                    r->ops->release(r, reqs[i]);
                    reqs[i] = NULL;
                }
            break;
        }
    }
    if (first_error)
        memcpy(r->err, first_msg, sizeof first_msg);
    return first_error;
}

/* ---- blocking calls ---- */

int rt_send(rt *r, int dst, int tag, const void *buf, size_t len)
{
    rt_request *q = NULL;
    int rc = check_tag(r, "send", tag, 0);
    if (!rc)
        rc = rt_isend_internal(r, dst, tag, buf, len, 1, &q);
    return rc ? rc : rt_wait(r, &q, NULL);
}

int rt_recv(rt *r, int src, int tag, void *buf, size_t cap, rt_status *st)
{
    rt_request *q;
    int rc = rt_irecv(r, src, tag, buf, cap, &q);
    return rc ? rc : rt_wait(r, &q, st);
}

int rt_sendrecv(rt *r, int dst, int stag, const void *sbuf, size_t slen,
                int src, int rtag, void *rbuf, size_t rcap, rt_status *st)
{
    rt_request *q[2] = {NULL, NULL};
    rt_status sts[2];
    int rc = rt_irecv(r, src, rtag, rbuf, rcap, &q[1]);
    if (rc)
        return rc;
    rc = rt_isend(r, dst, stag, sbuf, slen, &q[0]);
    if (rc) {
        /* the receive may never be matched now: give it up, do not wait */
        r->ops->release(r, q[1]);
        return rc;
    }
    rc = rt_waitall(r, 2, q, sts);
    if (st)
        *st = sts[1];
    return rc;
}

int rt_compute(rt *r, double flops) { return rt_compute_as(r, RT_WORK_MODEL, flops); }

int rt_compute_as(rt *r, rt_work kind, double flops)
{
    if (!(flops >= 0))
        return rt_seterr(r, RT_EINVAL, "compute: flops must be >= 0, got %g", flops);
    if ((int)kind < 0 || kind >= RT_WORK_KINDS)
        return rt_seterr(r, RT_EINVAL, "compute: no kind of work %d", (int)kind);
    if (r->ops->charges && !r->ops->charges(r, (int)kind))
        return RT_OK;
    /* the clocks only for the event log: on real threads a Hogwild! update
     * takes about a microsecond, and the two clock reads were a tenth of it */
    if (!r->record_events)
        return r->ops->compute(r, (int)kind, flops);
    double t0 = r->ops->compute_began ? r->ops->compute_began(r) : r->ops->now(r);
    int rc = r->ops->compute(r, (int)kind, flops);
    rt_record(r, RT_EV_COMPUTE, t0, r->ops->now(r), 0, -1, -1);
    return rc;
}

void *rt_shared(rt *r, const char *name, size_t bytes)
{
    if (!name || !*name || bytes == 0) {
        rt_seterr(r, RT_EINVAL, "shared: need a name and a size above zero");
        return NULL;
    }
    return r->ops->shared(r, name, bytes);
}

/* Dissemination barrier (Hensgen, Finkel & Manber 1988): in round k every
 * rank signals rank + 2^k and waits for rank - 2^k; after ceil(log2 p)
 * rounds everyone has heard, directly or not, from everyone. */
int rt_barrier(rt *r)
{
    int p = r->size, me = r->rank;
    int tag = RT_TAG_BARRIER;
    for (int dist = 1; dist < p; dist *= 2) {
        rt_request *q[2] = {NULL, NULL};
        int rc = rt_irecv_internal(r, (me - dist + p) % p, tag, NULL, 0, &q[1]);
        if (!rc)
            rc = rt_isend_internal(r, (me + dist) % p, tag, NULL, 0, 1, &q[0]);
        int rc2 = rt_waitall(r, 2, q, NULL);
        if (rc || rc2)
            return rc ? rc : rc2;
    }
    return RT_OK;
}
