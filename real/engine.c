/* engine.c -- matching and progress for the real backend.
 *
 * This is the point-to-point half of rt_ops over the mesh of sockets:
 *   - matching: posted receives and unexpected messages, each in order;
 *     a header is matched the moment it arrives, so messages from one
 *     source are matched in the order they were sent, and a payload whose
 *     receive is already posted is read straight into the user's buffer;
 *   - sending: per-peer queues of frames, written with one writev of
 *     header and payload (several small frames per call when they queue);
 *     a send is written at once, and only what the socket would not take
 *     waits in the queue;
 *   - progress: one poll over every connection that reads and writes
 *     whatever is ready, so two ranks sending each other 64 MiB at once
 *     never deadlock; a waiting rank polls without sleeping until nothing
 *     has moved for the job's spin time (when it has a core to itself:
 *     real_spin_s in real_backend.c), then sleeps in the kernel until a
 *     socket is ready;
 *   - failure: a closed connection, a socket error or a malformed frame
 *     ends the peer; everything waiting on it completes with an error. A
 *     halt frame (a hosts rank that failed) fails the receives from its
 *     sender at once but keeps the connection for the sender's report.
 *
 * An isend completes when its last byte is in the kernel's socket buffer;
 * it borrows the caller's buffer until then. rt_send (bsend) completes at
 * once: what the socket does not take is copied and written later.
 * There is no progress thread: bytes move only inside runtime calls, so a
 * rank that computes for long without one holds up a peer that is sending
 * it more than the socket buffers hold.
 */
#define _GNU_SOURCE
#include "real/real.h"

#include <errno.h>
#include <math.h>
#include <poll.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#define IBUF_BYTES (16 << 10) /* per-peer staging buffer for headers, small payloads */
#define WRITE_IOVS 64         /* iovecs per writev */
#define READS_PER_TURN 64     /* reads from one peer before polling again */

static const char zeros[64 << 10]; /* the payload of a size-only send */

int real_engine_init(real_rank *rk)
{
    int p = rk->job->size;
    rk->peers = calloc((size_t)p, sizeof *rk->peers);
    rk->pfds = calloc((size_t)p + 1, sizeof *rk->pfds);
    rk->pfd_peer = calloc((size_t)p + 1, sizeof *rk->pfd_peer);
    if (!rk->peers || !rk->pfds || !rk->pfd_peer)
        return rt_seterr(&rk->rt, RT_ENOMEM, "no memory for %d connections", p);
    for (int i = 0; i < p; i++) {
        rk->peers[i].rfd = rk->peers[i].wfd = -1;
        rlist_init(&rk->peers[i].outq);
    }
    rlist_init(&rk->posted);
    rlist_init(&rk->unexpected);
    rk->live_peers = p - 1;
    return RT_OK;
}

static void req_free(real_req *q)
{
    free(q->owned);
    free(q);
}

static void msg_free(real_msg *m)
{
    free(m->data);
    free(m);
}

/* Requests the rank left behind unfinished (it returned without waiting
 * for them) can no longer be waited on: they go with the rank. */
void real_engine_fini(real_rank *rk)
{
    if (rk->peers) {
        for (int i = 0; i < rk->job->size; i++) {
            real_peer *pe = &rk->peers[i];
            while (!rlist_empty(&pe->outq)) {
                real_req *q = RLIST_ENTRY(pe->outq.next, real_req, link);
                rlist_del(&q->link);
                req_free(q);
            }
            if (pe->in_req)
                req_free(pe->in_req);
            free(pe->ibuf);
        }
    }
    while (!rlist_empty(&rk->unexpected)) {
        real_msg *m = RLIST_ENTRY(rk->unexpected.next, real_msg, link);
        rlist_del(&m->link);
        msg_free(m);
    }
    while (!rlist_empty(&rk->posted)) {
        real_req *q = RLIST_ENTRY(rk->posted.next, real_req, link);
        rlist_del(&q->link);
        req_free(q);
    }
    free(rk->peers);
    free(rk->pfds);
    free(rk->pfd_peer);
    rk->peers = NULL;
    rk->pfds = NULL;
    rk->pfd_peer = NULL;
}

/* Finish a request, with an error message when code is not RT_OK. A send
 * released before it finished has no owner left and is freed here. */
static void complete(real_req *q, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void complete(real_req *q, int code, const char *fmt, ...)
{
    q->where = REQ_NONE;
    if (q->orphan) {
        req_free(q);
        return;
    }
    if (q->base.done)
        return; /* a buffered send: its outcome was given already */
    q->base.done = 1;
    q->base.error = code;
    if (code != RT_OK && fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(q->msg, sizeof q->msg, fmt, ap);
        va_end(ap);
    }
}

static void complete_recv(real_req *q, int src, int tag, size_t len)
{
    q->base.status = (rt_status){.source = src, .tag = tag, .bytes = len};
    if (q->rbuf && len > q->cap)
        complete(q, RT_ETRUNC, "recv from rank %d (tag %d): message of %zu bytes exceeds the %zu-byte buffer",
                 src, tag, len, q->cap);
    else
        complete(q, RT_OK, NULL);
}

static const char *src_name(int src, char *buf, size_t len)
{
    if (src == RT_ANY_SOURCE)
        snprintf(buf, len, "any rank");
    else
        snprintf(buf, len, "rank %d", src);
    return buf;
}

static void fail_receives(real_rank *rk, int p, int code, int halt);

void real_peer_fail(real_rank *rk, int p, int code, const char *fmt, ...)
{
    real_peer *pe = &rk->peers[p];
    if (pe->error)
        return;
    pe->error = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(pe->why, sizeof pe->why, fmt, ap);
    va_end(ap);
    if (pe->wfd >= 0 && pe->wfd != pe->rfd)
        close(pe->wfd);
    if (pe->rfd >= 0)
        close(pe->rfd);
    pe->rfd = pe->wfd = -1;
    if (p != rk->rt.rank)
        rk->live_peers--;

    while (!rlist_empty(&pe->outq)) {
        real_req *q = RLIST_ENTRY(pe->outq.next, real_req, link);
        rlist_del(&q->link);
        complete(q, RT_EPEER, "send to rank %d: %s", p, pe->why);
    }
    if (pe->in_req) {
        pe->in_req->base.status = (rt_status){.source = p, .tag = pe->in_tag, .bytes = pe->in_len};
        complete(pe->in_req, code, "recv from rank %d: %s", p, pe->why);
    }
    if (pe->in_msg) {
        rlist_del(&pe->in_msg->link);
        msg_free(pe->in_msg);
    }
    pe->in_req = NULL;
    pe->in_msg = NULL;
    pe->in_payload = 0;
    pe->ilo = pe->ihi = 0;

    fail_receives(rk, p, code, 0);
}

/* Posted receives that peer p can no longer satisfy fail with code; the
 * oldest any-source receive hears of it once (a finished peer is no news:
 * pe->reported is set). After a halt (halt set) a report may still come. */
static void fail_receives(real_rank *rk, int p, int code, int halt)
{
    real_peer *pe = &rk->peers[p];
    rlink *e = rk->posted.next;
    while (e != &rk->posted) {
        real_req *q = RLIST_ENTRY(e, real_req, link);
        e = e->next;
        if (halt && q->tag == REAL_TAG_REPORT)
            continue;
        if (q->peer == p || (q->peer == RT_ANY_SOURCE && !pe->reported)) {
            if (q->peer == RT_ANY_SOURCE)
                pe->reported = 1;
            rk->heard_halt |= halt;
            rlist_del(&q->link);
            q->base.status = (rt_status){.source = p, .tag = RT_ANY_TAG, .bytes = 0};
            complete(q, code, "recv from rank %d: %s", p, pe->why);
        } else if (q->peer == RT_ANY_SOURCE && rk->live_peers == 0) {
            rlist_del(&q->link);
            complete(q, RT_EPEER, "recv from any rank: every other rank has ended");
        }
    }
}

/* Peer p stopped after an error: what it sent before arrived, nothing else
 * will but its report, so receives from it fail now rather than at the
 * timeout. Its connection stays open for the report. */
static void peer_halted(real_rank *rk, int p)
{
    real_peer *pe = &rk->peers[p];
    pe->halted = 1;
    snprintf(pe->why, sizeof pe->why, "it stopped after an error and sends nothing more");
    fail_receives(rk, p, RT_EPEER, 1);
}

void real_engine_halt(real_rank *rk)
{
    rt *r = &rk->rt;
    for (int p = 0; p < r->size; p++) {
        rt_request *q;
        /* buffered: it queues behind what is still on its way to p (an
         * unbuffered send released before any byte left would be dropped),
         * and later progress or the hang-up writes it */
        if (p != r->rank && !rk->peers[p].error && !rk->peers[p].torn &&
            real_bsend(r, p, REAL_TAG_HALT, NULL, 0, &q) == RT_OK)
            real_release(r, q);
    }
}

/* ---- sending ---- */

/* Write as much of the peer's queue as the socket takes. */
static void peer_write(real_rank *rk, int p)
{
    real_peer *pe = &rk->peers[p];
    while (!rlist_empty(&pe->outq)) {
        struct iovec iov[WRITE_IOVS];
        int n = 0;
        size_t want = 0;
        for (rlink *e = pe->outq.next; e != &pe->outq && n + 2 <= WRITE_IOVS; e = e->next) {
            real_req *q = RLIST_ENTRY(e, real_req, link);
            size_t off = q->sent;
            if (off < REAL_FRAME_HEADER_BYTES) {
                iov[n++] = (struct iovec){q->hdr + off, REAL_FRAME_HEADER_BYTES - off};
                off = 0;
            } else {
                off -= REAL_FRAME_HEADER_BYTES;
            }
            if (off < q->len) {
                size_t left = q->len - off;
                if (q->sbuf) {
                    iov[n++] = (struct iovec){(void *)(q->sbuf + (off - q->sbuf_off)), left};
                } else {
                    iov[n++] = (struct iovec){(void *)zeros, left < sizeof zeros ? left : sizeof zeros};
                    break; /* the rest of this payload needs more zeros */
                }
            }
        }
        for (int i = 0; i < n; i++)
            want += iov[i].iov_len;
        struct msghdr mh = {.msg_iov = iov, .msg_iovlen = (size_t)n};
        ssize_t w = sendmsg(pe->wfd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                real_peer_fail(rk, p, RT_EPEER, "write failed: %s", strerror(errno));
            return;
        }
        double now = net_clock_s();
        size_t left = (size_t)w;
        /* (a write the kernel took says nothing of the peer: a stopped
         * one's socket buffer takes a halt as readily; only what comes
         * from it ends its silence; and an alive frame is no progress) */
        pe->said_s = now;
        while (left > 0) {
            real_req *q = RLIST_ENTRY(pe->outq.next, real_req, link);
            size_t total = REAL_FRAME_HEADER_BYTES + q->len;
            size_t take = total - q->sent < left ? total - q->sent : left;
            q->sent += take;
            q->active_s = now;
            if (q->tag != REAL_TAG_ALIVE)
                pe->active_s = now;
            left -= take;
            if (q->sent == total) {
                rlist_del(&q->link);
                complete(q, RT_OK, NULL);
            }
        }
        if ((size_t)w < want)
            return; /* the socket is full: poll will say when it drains */
    }
}

int real_isend(rt *r, int dst, int tag, const void *buf, size_t len, rt_request **req)
{
    real_rank *rk = r->backend_data;
    real_peer *pe = &rk->peers[dst];
    if (pe->error)
        return rt_seterr(r, RT_EPEER, "send to rank %d: %s", dst, pe->why);
    if (len > REAL_FRAME_MAX_LEN)
        return rt_seterr(r, RT_EINVAL, "send to rank %d: %zu bytes is above the %llu-byte frame limit",
                         dst, len, (unsigned long long)REAL_FRAME_MAX_LEN);
    real_req *q = calloc(1, sizeof *q);
    if (!q)
        return rt_seterr(r, RT_ENOMEM, "send to rank %d: no memory for the request", dst);
    q->base.is_send = 1; /* for its description; the core sets it too */
    q->peer = dst;
    q->tag = tag;
    q->sbuf = buf;
    q->len = len;
    real_frame_encode(q->hdr, r->rank, tag, len);
    q->where = REQ_OUTQ;
    q->active_s = net_clock_s();
    rlist_push(&pe->outq, &q->link);
    peer_write(rk, dst);
    if (q->base.done && q->base.error)
        rt_seterr(r, q->base.error, "%s", q->msg);
    *req = &q->base;
    real_mark(rk);
    return RT_OK;
}

/* Keep a private copy of a queued send's unsent payload, so the caller's
 * buffer may go. Returns 0, or -1 when memory runs out. */
static int keep_copy(real_req *q)
{
    size_t off = q->sent > REAL_FRAME_HEADER_BYTES ? q->sent - REAL_FRAME_HEADER_BYTES : 0;
    if (!q->sbuf || q->owned || off >= q->len)
        return 0;
    char *c = malloc(q->len - off);
    if (!c)
        return -1;
    memcpy(c, q->sbuf + (off - q->sbuf_off), q->len - off);
    q->owned = c;
    q->sbuf = c;
    q->sbuf_off = off;
    return 0;
}

/* rt_send: hand the kernel what it takes now, copy the rest, and complete
 * at once; progress writes the copy later. Without memory for the copy it
 * stays an ordinary send that rt_send waits for. */
int real_bsend(rt *r, int dst, int tag, const void *buf, size_t len, rt_request **req)
{
    int rc = real_isend(r, dst, tag, buf, len, req);
    real_req *q = (real_req *)*req;
    if (rc == RT_OK && !q->base.done && keep_copy(q) == 0)
        q->base.done = 1;
    return rc;
}

/* ---- receiving ---- */

/* A header has arrived at pe->ibuf + pe->ilo: check it, then match it to a
 * posted receive or queue it as unexpected. */
static int on_header(real_rank *rk, int p)
{
    real_peer *pe = &rk->peers[p];
    real_frame f;
    char why[160] = "";
    real_frame_decode(pe->ibuf + pe->ilo, &f);
    pe->ilo += REAL_FRAME_HEADER_BYTES;
    if (real_frame_check(&f, p, REAL_TAG_BYE, why, sizeof why) != 0 ||
        (f.tag == REAL_TAG_BYE && f.len != 0)) {
        if (f.tag == REAL_TAG_BYE && why[0] == '\0')
            snprintf(why, sizeof why, "goodbye frame with a %llu-byte payload", (unsigned long long)f.len);
        real_peer_fail(rk, p, RT_EPROTO, "malformed frame: %s; connection closed", why);
        return -1;
    }
    if (f.tag == REAL_TAG_BYE) {
        pe->reported = 1;
        real_peer_fail(rk, p, RT_EPEER, "it has ended and sends nothing more");
        return -1;
    }
    if (f.tag == REAL_TAG_REFUSE) {
        real_peer_fail(rk, p, RT_EPEER, "it refused this rank as another job's (%s)",
                       rk->job->hosts ? "every rank needs the same --peers and the same options"
                                      : "a stranger's connection");
        return -1;
    }
    if (f.tag == REAL_TAG_HALT || f.tag == REAL_TAG_ALIVE) {
        if (f.len != 0) {
            real_peer_fail(rk, p, RT_EPROTO, "malformed frame: %s with a %llu-byte payload; connection closed",
                           f.tag == REAL_TAG_HALT ? "halt" : "alive", (unsigned long long)f.len);
            return -1;
        }
        if (f.tag == REAL_TAG_HALT)
            peer_halted(rk, p);
        return 0; /* alive: only heard_s, which the read set */
    }
    pe->active_s = net_clock_s();
    pe->in_payload = 1;
    pe->in_tag = f.tag;
    pe->in_len = (size_t)f.len;
    pe->in_got = 0;
    for (rlink *e = rk->posted.next; e != &rk->posted; e = e->next) {
        real_req *q = RLIST_ENTRY(e, real_req, link);
        if (rt_matches(q->peer, q->tag, p, f.tag)) {
            rlist_del(&q->link);
            q->where = REQ_FILLING;
            q->from = p;
            q->active_s = net_clock_s();
            pe->in_req = q;
            pe->in_dst = q->rbuf;
            pe->in_cap = q->rbuf ? q->cap : 0;
            return 0;
        }
    }
    real_msg *m = calloc(1, sizeof *m);
    if (m && f.len > 0 && !(m->data = malloc((size_t)f.len))) {
        free(m);
        m = NULL;
    }
    if (!m) {
        real_peer_fail(rk, p, RT_ENOMEM, "no memory for a %llu-byte message", (unsigned long long)f.len);
        return -1;
    }
    m->src = p;
    m->tag = f.tag;
    m->len = (size_t)f.len;
    rlist_push(&rk->unexpected, &m->link);
    pe->in_msg = m;
    pe->in_dst = m->data;
    pe->in_cap = m->len;
    return 0;
}

/* Take n payload bytes from the staging buffer. */
static void take_payload(real_peer *pe, const unsigned char *src, size_t n)
{
    if (pe->in_dst && pe->in_got < pe->in_cap) {
        size_t room = pe->in_cap - pe->in_got;
        memcpy(pe->in_dst + pe->in_got, src, n < room ? n : room);
    }
    pe->in_got += n;
}

static void finish_payload(real_rank *rk, int p)
{
    real_peer *pe = &rk->peers[p];
    if (pe->in_req)
        complete_recv(pe->in_req, p, pe->in_tag, pe->in_len);
    else if (pe->in_msg)
        pe->in_msg->complete = 1;
    pe->in_req = NULL;
    pe->in_msg = NULL;
    pe->in_dst = NULL;
    pe->in_payload = 0;
}

/* Read whatever the peer's socket holds and act on each frame. A read
 * that returns less than asked means the socket is empty for now, which
 * spares the extra read that would only say EAGAIN. A peer that keeps the
 * socket full gets READS_PER_TURN reads, then the others have their turn. */
static void peer_read(real_rank *rk, int p)
{
    real_peer *pe = &rk->peers[p];
    int drained = 0, reads = 0;
    if (!pe->ibuf && !(pe->ibuf = malloc(IBUF_BYTES))) {
        real_peer_fail(rk, p, RT_ENOMEM, "no memory for a receive buffer");
        return;
    }
    for (;;) {
        void *to;
        size_t ask;
        if (!pe->in_payload) {
            if (pe->ihi - pe->ilo >= REAL_FRAME_HEADER_BYTES) {
                if (on_header(rk, p) != 0)
                    return;
                continue;
            }
            if (drained)
                return;
            memmove(pe->ibuf, pe->ibuf + pe->ilo, pe->ihi - pe->ilo);
            pe->ihi -= pe->ilo;
            pe->ilo = 0;
            to = pe->ibuf + pe->ihi;
            ask = IBUF_BYTES - pe->ihi;
        } else {
            size_t left = pe->in_len - pe->in_got;
            size_t avail = pe->ihi - pe->ilo;
            if (left == 0) {
                finish_payload(rk, p);
                continue;
            }
            if (avail > 0) {
                size_t n = avail < left ? avail : left;
                take_payload(pe, pe->ibuf + pe->ilo, n);
                pe->ilo += n;
                continue;
            }
            if (drained)
                return;
            if (pe->in_dst && pe->in_got < pe->in_cap && pe->in_cap - pe->in_got >= IBUF_BYTES) {
                /* large payload: straight into its destination */
                to = pe->in_dst + pe->in_got;
                ask = pe->in_cap - pe->in_got < left ? pe->in_cap - pe->in_got : left;
            } else {
                pe->ilo = pe->ihi = 0;
                to = pe->ibuf;
                ask = IBUF_BYTES;
            }
        }
        if (reads++ == READS_PER_TURN)
            return;
        ssize_t n = recv(pe->rfd, to, ask, MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (n < 0) {
            real_peer_fail(rk, p, RT_EPEER, "read failed: %s", strerror(errno));
            return;
        }
        if (n == 0) {
            real_peer_fail(rk, p, RT_EPEER, "connection closed (the rank died or hung up)");
            return;
        }
        if ((size_t)n < ask)
            drained = 1;
        if (to == pe->ibuf + pe->ihi) {
            pe->ihi += (size_t)n;
        } else {
            pe->in_got += (size_t)n;
        }
        /* any bytes show the peer is there; a message's bytes are also
         * progress (a header's: on_header, which skips alive frames) */
        pe->heard_s = net_clock_s();
        pe->silent = 0;
        if (pe->in_payload) {
            pe->active_s = pe->heard_s;
            if (pe->in_req)
                pe->in_req->active_s = pe->active_s;
        }
    }
}

int real_irecv(rt *r, int src, int tag, void *buf, size_t cap, rt_request **req)
{
    real_rank *rk = r->backend_data;
    char name[32];
    real_req *q = calloc(1, sizeof *q);
    if (!q)
        return rt_seterr(r, RT_ENOMEM, "recv from %s: no memory for the request",
                         src_name(src, name, sizeof name));
    q->peer = src;
    q->tag = tag;
    q->rbuf = buf;
    q->cap = cap;
    q->active_s = net_clock_s();
    *req = &q->base;

    /* 1. the oldest unexpected message that matches */
    for (rlink *e = rk->unexpected.next; e != &rk->unexpected; e = e->next) {
        real_msg *m = RLIST_ENTRY(e, real_msg, link);
        if (!rt_matches(src, tag, m->src, m->tag))
            continue;
        rlist_del(&m->link);
        if (m->complete) {
            if (buf && m->len)
                memcpy(buf, m->data, m->len < cap ? m->len : cap);
            complete_recv(q, m->src, m->tag, m->len);
        } else {
            /* still arriving: the rest goes straight into buf */
            real_peer *pe = &rk->peers[m->src];
            size_t have = pe->in_got;
            if (buf && have)
                memcpy(buf, m->data, have < cap ? have : cap);
            q->where = REQ_FILLING;
            q->from = m->src;
            pe->in_msg = NULL;
            pe->in_req = q;
            pe->in_dst = buf;
            pe->in_cap = buf ? cap : 0;
        }
        msg_free(m);
        goto out;
    }
    /* 2. a peer that has ended, or halted (then only its report may come) */
    int halt_counts = tag != REAL_TAG_REPORT;
    if (src != RT_ANY_SOURCE && (rk->peers[src].error || (halt_counts && rk->peers[src].halted))) {
        rk->heard_halt |= !rk->peers[src].error;
        q->base.status = (rt_status){.source = src, .tag = RT_ANY_TAG, .bytes = 0};
        complete(q, rk->peers[src].error ? rk->peers[src].error : RT_EPEER, "recv from rank %d: %s",
                 src, rk->peers[src].why);
        goto out;
    }
    if (src == RT_ANY_SOURCE) {
        for (int p = 0; p < r->size; p++) {
            real_peer *pe = &rk->peers[p];
            if ((pe->error || (halt_counts && pe->halted)) && !pe->reported) {
                pe->reported = 1;
                rk->heard_halt |= !pe->error;
                q->base.status = (rt_status){.source = p, .tag = RT_ANY_TAG, .bytes = 0};
                complete(q, pe->error ? pe->error : RT_EPEER, "recv from rank %d: %s", p, pe->why);
                goto out;
            }
        }
        if (rk->live_peers == 0 && r->size > 1) {
            complete(q, RT_EPEER, "recv from any rank: every other rank has ended");
            goto out;
        }
    }
    /* 3. wait for it */
    q->where = REQ_POSTED;
    rlist_push(&rk->posted, &q->link);
out:
    if (q->base.done && q->base.error)
        rt_seterr(r, q->base.error, "%s", q->msg);
    real_mark(rk);
    return RT_OK;
}

/* ---- progress ---- */

static void describe(const rt_request *b, char *buf, size_t len)
{
    const real_req *q = (const real_req *)b;
    char name[32];
    if (b->is_send)
        snprintf(buf, len, "send to rank %d (tag %d, %zu bytes, %zu sent)", q->peer, q->tag, q->len,
                 q->sent > REAL_FRAME_HEADER_BYTES ? q->sent - REAL_FRAME_HEADER_BYTES : 0);
    else if (q->tag == RT_ANY_TAG)
        snprintf(buf, len, "recv from %s (any tag)", src_name(q->peer, name, sizeof name));
    else
        snprintf(buf, len, "recv from %s (tag %d)", src_name(q->peer, name, sizeof name), q->tag);
}

/* The first finished request, in the order the core will look. */
static const rt_request *first_done(int n, rt_request **reqs)
{
    for (int i = 0; i < n; i++)
        if (reqs[i] && reqs[i]->done)
            return reqs[i];
    return NULL;
}

/* One round of progress: poll every open connection (for writing too when
 * frames wait), then read and write whatever is ready. Returns poll's
 * count, or -1 with errno set. */
static int poll_round(real_rank *rk, double deadline, int nowait)
{
    int np = 0;
    for (int p = 0; p < rk->rt.size; p++) {
        real_peer *pe = &rk->peers[p];
        if (pe->rfd < 0)
            continue;
        short out = rlist_empty(&pe->outq) ? 0 : POLLOUT;
        rk->pfd_peer[np] = p;
        rk->pfds[np++] = (struct pollfd){.fd = pe->rfd, .events = POLLIN | (pe->wfd == pe->rfd ? out : 0)};
        if (pe->wfd != pe->rfd && out) {
            rk->pfd_peer[np] = p;
            rk->pfds[np++] = (struct pollfd){.fd = pe->wfd, .events = POLLOUT};
        }
    }
    int k = poll(rk->pfds, (nfds_t)np, nowait ? 0 : net_poll_ms(deadline));
    real_beat(rk);
    if (k < 0)
        return errno == EINTR ? 0 : -1;
    for (int i = 0; k > 0 && i < np; i++) {
        short ev = rk->pfds[i].revents;
        int p = rk->pfd_peer[i];
        real_peer *pe = &rk->peers[p];
        if ((ev & (POLLOUT | POLLERR | POLLHUP)) && rk->pfds[i].fd == pe->wfd)
            peer_write(rk, p);
        if ((ev & (POLLIN | POLLHUP | POLLERR)) && rk->pfds[i].fd == pe->rfd && pe->rfd >= 0)
            peer_read(rk, p);
    }
    return k;
}

/* A wait fails after timeout_s in which nothing moved for any of its
 * requests: neither their own bytes nor any on the connections they depend
 * on (a message queued behind others is waiting, not stuck). An
 * any-source receive depends on every connection. */
static double last_activity(real_rank *rk, int n, rt_request **reqs, double since)
{
    double t = since;
    for (int i = 0; i < n; i++) {
        const real_req *q = (const real_req *)reqs[i];
        if (!q)
            continue;
        if (q->active_s > t)
            t = q->active_s;
        for (int p = 0; p < rk->rt.size; p++)
            if ((q->peer == p || q->peer == RT_ANY_SOURCE) && rk->peers[p].active_s > t)
                t = rk->peers[p].active_s;
    }
    return t;
}

/* A rank that has waited for a quarter of the timeout tells each peer it
 * has written nothing to for as long that it is there (an alive frame):
 * a peer whose own wait on this rank times out -- this rank waits on a
 * third that is stopped, say -- then knows it waits, and is not silent
 * (stopped), so it still takes its report or its goodbye. Alive frames
 * are no progress for either side's timeout, so a deadlock still times
 * out. Returns when the next one is due. */
static double say_alive(real_rank *rk, double now, double every)
{
    double next = now + every;
    for (int p = 0; p < rk->rt.size; p++) {
        real_peer *pe = &rk->peers[p];
        if (p == rk->rt.rank || pe->wfd < 0 || pe->error || pe->torn)
            continue;
        if (pe->said_s + every <= now) {
            rt_request *q;
            /* (a full queue is a peer not reading: it would not see it;
             * a write that fails here fails the peer, not the wait, so
             * the rank's error text stays its own) */
            if (rlist_empty(&pe->outq)) {
                char keep[sizeof rk->rt.err];
                memcpy(keep, rk->rt.err, sizeof keep);
                if (real_isend(&rk->rt, p, REAL_TAG_ALIVE, NULL, 0, &q) == RT_OK)
                    real_release(&rk->rt, q);
                memcpy(rk->rt.err, keep, sizeof keep);
            }
            pe->said_s = now;
        }
        if (pe->said_s + every < next)
            next = pe->said_s + every;
    }
    return next;
}

int real_progress_for(rt *r, int n, rt_request **reqs, double timeout_s)
{
    real_rank *rk = r->backend_data;
    double timeout = rk->job->timeout_s;
    double start = net_clock_s(), spin_until = start + rk->job->spin_s;
    int crowded = 0; /* a yield lost the core: no more spinning in this wait */
    double until = timeout_s >= 0 ? start + timeout_s : INFINITY;
    int live = 0;
    for (int i = 0; i < n; i++)
        live += reqs[i] != NULL;
    const rt_request *done;
    int rc = RT_OK;
    double alive_every = timeout / 4, alive_at = start + alive_every;
    while (!(done = first_done(n, reqs))) {
        double now = net_clock_s();
        if (now >= until) {
            rc = RT_PROGRESS_TIMEOUT;
            goto out;
        }
        if (now >= alive_at)
            alive_at = say_alive(rk, now, alive_every);
        double deadline = last_activity(rk, n, reqs, start) + timeout;
        double poll_until = deadline < until ? deadline : until;
        if (alive_at < poll_until)
            poll_until = alive_at;
        int spinning = net_clock_s() < spin_until;
        int k = poll_round(rk, poll_until, spinning);
        if (k < 0) {
            rc = rt_seterr(r, RT_EIO, "poll: %s", strerror(errno));
            goto out;
        }
        /* a message in flight comes a socket's worth at a time: sleeping
         * each time the socket runs dry woke a 4 MiB one-way transfer's
         * ranks ~60 times, so the spin time runs from the last bytes moved
         * -- while the rank keeps its core: a yield that gave the core
         * away for longer than the spin says the machine is busy, where a
         * rank that sleeps is woken sooner than one that waits its turn
         * to spin again (a 4 MiB recursive doubling at load 6: 25% slower
         * spinning), so that wait sleeps from then on */
        if (k > 0 && !crowded)
            spin_until = net_clock_s() + rk->job->spin_s;
        if (spinning && k == 0) {
            double before = net_clock_s();
            sched_yield(); /* a thread of this machine that needs the core may have it */
            if (net_clock_s() - before > rk->job->spin_s) {
                crowded = 1;
                spin_until = 0;
            }
        }
        if (live && net_clock_s() >= deadline && !first_done(n, reqs)) {
            char what[160] = "nothing";
            for (int i = 0; i < n; i++)
                if (reqs[i]) {
                    describe(reqs[i], what, sizeof what);
                    break;
                }
            /* the peers it waited on by name that said nothing all along,
             * not even that they are there */
            for (int i = 0; i < n; i++) {
                const real_req *q = (const real_req *)reqs[i];
                if (q && q->peer >= 0 && q->peer != rk->rt.rank && rk->peers[q->peer].heard_s + timeout <= net_clock_s())
                    rk->peers[q->peer].silent = 1;
            }
            rc = rt_seterr(r, RT_ETIMEOUT, "%s: no progress for %g s", what, timeout);
            goto out;
        }
    }
    if (done->error)
        rt_seterr(r, done->error, "%s", ((const real_req *)done)->msg);
out:
    real_mark(rk);
    return rc;
}

int real_progress(rt *r, int n, rt_request **reqs)
{
    return real_progress_for(r, n, reqs, -1);
}

void real_engine_abandon(real_rank *rk)
{
    /* receives never waited for: their buffers may be gone too */
    while (!rlist_empty(&rk->posted)) {
        real_req *q = RLIST_ENTRY(rk->posted.next, real_req, link);
        rlist_del(&q->link);
        req_free(q);
    }
    for (int p = 0; p < rk->rt.size; p++) {
        real_peer *pe = &rk->peers[p];
        if (pe->in_req) {
            req_free(pe->in_req);
            pe->in_req = NULL;
            pe->in_dst = NULL;
        }
        rlink *e = pe->outq.next;
        while (e != &pe->outq) {
            real_req *q = RLIST_ENTRY(e, real_req, link);
            e = e->next;
            if (q->orphan || q->base.done)
                continue;
            /* never waited for: its buffer may be gone, so it is not sent */
            if (q->sent > 0)
                pe->torn = 1;
            rlist_del(&q->link);
            req_free(q);
        }
        if (pe->torn) {
            while (!rlist_empty(&pe->outq)) {
                real_req *q = RLIST_ENTRY(pe->outq.next, real_req, link);
                rlist_del(&q->link);
                req_free(q);
            }
            /* the peer sees the connection end mid-frame now, not when
             * this rank hangs up (a hosts rank still has its report to do) */
            if (pe->wfd >= 0)
                shutdown(pe->wfd, SHUT_WR);
        }
    }
}

int real_engine_give_up(real_rank *rk, int quiet_too)
{
    double now = net_clock_s(), timeout_s = rk->job->timeout_s;
    int n = 0;
    if (!rk->failed)
        return 0;
    for (int p = 0; p < rk->rt.size; p++) {
        real_peer *pe = &rk->peers[p];
        if (p == rk->rt.rank || pe->rfd < 0 || pe->heard_s + timeout_s > now)
            continue;
        /* (rank 0 of a hosts job may still be reading this rank's report:
         * closing on it unasked could reset the connection and lose it) */
        if (pe->silent || (quiet_too && !(rk->job->hosts && p == 0))) {
            real_peer_fail(rk, p, RT_ETIMEOUT, "nothing came from it for %g s; given up", timeout_s);
            n++;
        }
    }
    return n;
}

void real_engine_flush(real_rank *rk)
{
    int pending = 0;
    real_engine_abandon(rk);
    real_engine_give_up(rk, 0);
    for (int p = 0; p < rk->rt.size; p++)
        pending += !rlist_empty(&rk->peers[p].outq);
    double deadline = net_clock_s() + rk->job->timeout_s;
    while (pending && net_clock_s() < deadline) {
        int k = poll_round(rk, deadline, 0);
        if (k < 0)
            return;
        if (k > 0)
            deadline = net_clock_s() + rk->job->timeout_s;
        pending = 0;
        for (int p = 0; p < rk->rt.size; p++)
            pending += rk->peers[p].wfd >= 0 && !rlist_empty(&rk->peers[p].outq);
    }
}

void real_release(rt *r, rt_request *req)
{
    real_rank *rk = r->backend_data;
    real_req *q = (real_req *)req;
    switch (q->where) {
    case REQ_POSTED:
        rlist_del(&q->link);
        break;
    case REQ_FILLING:
        rk->peers[q->from].in_req = NULL;
        rk->peers[q->from].in_dst = NULL; /* the rest of the payload is dropped */
        break;
    case REQ_OUTQ:
        if (q->sent == 0 && !q->base.done) {
            rlist_del(&q->link); /* given up before any byte left: drop it */
            break;
        }
        /* a buffered send, or a frame half on the wire: it must still be
         * written, from a copy since the caller may now free its buffer */
        if (keep_copy(q) != 0) {
            real_peer_fail(rk, q->peer, RT_ENOMEM,
                           "no memory to finish a send to rank %d that was given up", q->peer);
            break; /* real_peer_fail took it off the queue */
        }
        q->orphan = 1;
        real_mark(rk);
        return;
    default:
        break;
    }
    req_free(q);
    real_mark(rk);
}

int real_peer_fd(rt *r, int peer)
{
    real_rank *rk = r->backend_data;
    return peer >= 0 && peer < r->size ? rk->peers[peer].wfd : -1;
}
