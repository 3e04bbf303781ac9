/* mesh.c -- connect a rank to every other rank, and hang up at the end.
 *
 * Setup: every rank's listening socket exists before any rank starts, so
 * rank i connects to each j < i (and to itself) and sends a hello frame
 * naming itself and the job's token, then accepts the connections of the
 * ranks above it. Connecting never waits for the other side to accept
 * (the kernel's backlog holds it), so the order cannot deadlock.
 *
 * Teardown: a rank that ends first writes out what its buffered sends
 * (rt_send) still hold, then sends a goodbye frame on each connection,
 * shuts its writing half, and reads (and drops) what still comes until the
 * peer hangs up too. Closing with unread bytes would make the kernel send
 * a reset, which can destroy data the peer has not read yet; draining
 * first makes every message that was sent arrive.
 */
#define _GNU_SOURCE
#include "real/real.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define HELLO_BYTES (REAL_FRAME_HEADER_BYTES + 8) /* header + the job's token */

static void put_token(unsigned char *p, uint64_t token)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(token >> (8 * i));
}

/* How long a new connection has to say hello. */
#define HELLO_WAIT_S 2.0

static uint64_t get_token(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

/* Read a new connection's hello; returns the rank it names, -2 for a rank
 * of another job (the token differs), or -1. */
static int read_hello(real_rank *rk, int fd, double deadline, char *err, size_t errlen)
{
    unsigned char buf[HELLO_BYTES];
    real_frame f;
    char why[160];
    int me = rk->rt.rank, size = rk->job->size;
    if (net_read_all(fd, buf, sizeof buf, deadline, why, sizeof why) != 0) {
        snprintf(err, errlen, "%s", why);
        return -1;
    }
    real_frame_decode(buf, &f);
    if (real_frame_check(&f, f.source, REAL_TAG_HELLO, why, sizeof why) != 0)
        snprintf(err, errlen, "%s", why);
    else if (f.tag != REAL_TAG_HELLO || f.len != 8)
        snprintf(err, errlen, "first frame is not a hello (tag %d, %llu bytes)", (int)f.tag,
                 (unsigned long long)f.len);
    else if (get_token(buf + REAL_FRAME_HEADER_BYTES) != rk->job->token) {
        snprintf(err, errlen, "hello from rank %d of another job%s", (int)f.source,
                 rk->job->hosts ? " (every rank needs the same --peers and the same options)" : "");
        return -2;
    }
    else if (f.source < me || f.source >= size)
        snprintf(err, errlen, "hello from rank %d, expected ranks %d..%d", (int)f.source, me, size - 1);
    else if ((f.source == me ? rk->peers[me].rfd : rk->peers[f.source].rfd) >= 0)
        snprintf(err, errlen, "second hello from rank %d", (int)f.source);
    else
        return f.source;
    return -1;
}

static void close_all(real_rank *rk)
{
    for (int p = 0; p < rk->job->size; p++) {
        real_peer *pe = &rk->peers[p];
        if (pe->wfd >= 0 && pe->wfd != pe->rfd)
            close(pe->wfd);
        if (pe->rfd >= 0)
            close(pe->rfd);
        pe->rfd = pe->wfd = -1;
    }
}

/* "rank 2", "ranks 1..2" or "ranks 1, 3..5": the ranks from me up that
 * have not connected to my listener yet (their rfd is still closed). */
static void missing_ranks(const real_rank *rk, char *buf, size_t len)
{
    int me = rk->rt.rank, size = rk->job->size, count = 0;
    char list[128] = "";
    size_t used = 0;
    for (int j = me; j < size; j++) {
        if (rk->peers[j].rfd >= 0)
            continue;
        int last = j;
        while (last + 1 < size && rk->peers[last + 1].rfd < 0)
            last++;
        count += last - j + 1;
        if (used < sizeof list) {
            int n = last == j ? snprintf(list + used, sizeof list - used, "%s%d", used ? ", " : "", j)
                              : snprintf(list + used, sizeof list - used, "%s%d..%d", used ? ", " : "", j, last);
            used += n > 0 ? (size_t)n : 0;
        }
        j = last;
    }
    snprintf(buf, len, "%s %s", count == 1 ? "rank" : "ranks", list);
}

int real_mesh_open(real_rank *rk)
{
    real_job *job = rk->job;
    rt *r = &rk->rt;
    int me = r->rank, size = job->size;
    double deadline = net_clock_s() + job->timeout_s;
    unsigned char hello[HELLO_BYTES];
    char err[200];
    int rc = RT_OK, fd = -1;
    real_frame_encode(hello, me, REAL_TAG_HELLO, 8);
    put_token(hello + REAL_FRAME_HEADER_BYTES, job->token);

    for (int j = 0; j <= me; j++) {
        if (net_connect(&job->addr[j], deadline, &fd, err, sizeof err) != 0) {
            char at[80];
            rc = rt_seterr(r, RT_EIO, "connect to rank %d at %s: %s", j,
                           net_addr_str(&job->addr[j], at, sizeof at), err);
            goto fail;
        }
        if (j == me) {
            rk->peers[me].wfd = fd;
        } else {
            rk->peers[j].rfd = rk->peers[j].wfd = fd;
            rk->peers[j].heard_s = rk->peers[j].active_s = net_clock_s();
        }
        if (net_write_all(fd, hello, sizeof hello, deadline, err, sizeof err) != 0) {
            rc = rt_seterr(r, RT_EIO, "hello to rank %d: %s", j, err);
            goto fail;
        }
    }
    /* Any local process can connect to a listening port: a connection that
     * does not open with this job's hello within a couple of seconds is
     * closed and ignored, so a stranger can neither abort nor stall setup. */
    char rejected[200] = "";
    for (int left = size - me; left > 0;) {
        fd = -1;
        if (net_accept(job->listen_fd[me], deadline, &fd, err, sizeof err) != 0) {
            char who[160];
            missing_ranks(rk, who, sizeof who);
            rc = rt_seterr(r, net_clock_s() >= deadline ? RT_ETIMEOUT : RT_EIO,
                           "setup: the connection%s from %s still missing: %s%s%s",
                           strchr(who, '.') || strchr(who, ',') ? "s" : "", who, err,
                           rejected[0] ? "; last refused: " : "", rejected);
            goto fail;
        }
        real_beat(rk);
        double hello_by = net_clock_s() + HELLO_WAIT_S;
        int j = read_hello(rk, fd, hello_by < deadline ? hello_by : deadline, err, sizeof err);
        if (j < 0) {
            if (j == -2) { /* tell it why, so it need not wait for its timeout */
                unsigned char no[REAL_FRAME_HEADER_BYTES];
                char ignored[64];
                real_frame_encode(no, me, REAL_TAG_REFUSE, 0);
                net_write_all(fd, no, sizeof no, net_clock_s() + 0.5, ignored, sizeof ignored);
            }
            close(fd);
            snprintf(rejected, sizeof rejected, "%s", err);
            continue;
        }
        rk->peers[j].rfd = fd;
        if (j != me)
            rk->peers[j].wfd = fd;
        rk->peers[j].heard_s = rk->peers[j].active_s = net_clock_s();
        left--;
    }
    close(job->listen_fd[me]);
    job->listen_fd[me] = -1;
    return RT_OK;
fail:
    close_all(rk);
    return rc;
}

/* Read and drop what the still-open connections bring until each peer
 * hangs up; the wait ends after timeout_s without any byte arriving. A
 * rank that failed gives up each peer it has heard nothing from for
 * timeout_s (a stopped peer is not waited for again). */
static void drain(real_rank *rk)
{
    char sink[16 << 10];
    double timeout_s = rk->job->timeout_s, deadline = net_clock_s() + timeout_s;
    for (;;) {
        real_engine_give_up(rk, 1);
        int np = 0;
        for (int p = 0; p < rk->job->size; p++)
            if (rk->peers[p].rfd >= 0) {
                rk->pfd_peer[np] = p;
                rk->pfds[np++] = (struct pollfd){.fd = rk->peers[p].rfd, .events = POLLIN};
            }
        if (np == 0 || net_clock_s() >= deadline)
            return;
        double wake = deadline;
        for (int i = 0; rk->failed && i < np; i++) {
            if (rk->job->hosts && rk->pfd_peer[i] == 0)
                continue;
            double due = rk->peers[rk->pfd_peer[i]].heard_s + timeout_s;
            wake = due < wake ? due : wake;
        }
        int k = poll(rk->pfds, (nfds_t)np, net_poll_ms(wake));
        real_beat(rk);
        if (k < 0 && errno != EINTR)
            return;
        for (int i = 0; k > 0 && i < np; i++) {
            if (!rk->pfds[i].revents)
                continue;
            real_peer *pe = &rk->peers[rk->pfd_peer[i]];
            ssize_t n = recv(pe->rfd, sink, sizeof sink, MSG_DONTWAIT);
            if (n > 0) {
                pe->heard_s = net_clock_s();
                deadline = pe->heard_s + timeout_s;
            } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
                close(pe->rfd);
                pe->rfd = pe->wfd = -1;
            }
        }
    }
}

/* Write the goodbye frame whole. A peer that is itself writing to us may
 * have filled our socket: while waiting for room, read and drop what it
 * sends (the rank is done; drain() would drop it anyway), so neither end
 * waits on the other. Gives up at the deadline. */
static void send_bye(real_rank *rk, real_peer *pe, const unsigned char *bye, size_t len, double deadline)
{
    size_t off = 0;
    while (off < len) {
        ssize_t n = send(pe->wfd, bye + off, len - off, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            off += (size_t)n;
            continue;
        }
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            return;
        struct pollfd p[2] = {{.fd = pe->wfd, .events = POLLOUT},
                              {.fd = pe->rfd, .events = POLLIN}};
        int np = pe->rfd >= 0 ? 2 : 1;
        if (net_clock_s() >= deadline || (poll(p, (nfds_t)np, 10) < 0 && errno != EINTR))
            return;
        real_beat(rk);
        if (np == 2 && (p[1].revents & POLLIN)) {
            char sink[16 << 10];
            if (recv(pe->rfd, sink, sizeof sink, MSG_DONTWAIT) == 0)
                return; /* the peer is gone: no one to say goodbye to */
        }
    }
}

void real_mesh_close(real_rank *rk)
{
    int me = rk->rt.rank;
    unsigned char bye[REAL_FRAME_HEADER_BYTES];
    real_frame_encode(bye, me, REAL_TAG_BYE, 0);
    real_engine_flush(rk);
    real_peer *self = &rk->peers[me];
    if (self->wfd >= 0)
        close(self->wfd);
    if (self->rfd >= 0)
        close(self->rfd);
    self->rfd = self->wfd = -1;
    for (int p = 0; p < rk->job->size; p++) {
        real_peer *pe = &rk->peers[p];
        if (pe->wfd < 0)
            continue;
        /* A frame left half on the wire cannot be followed by a goodbye:
         * the peer will see the connection close mid-frame. */
        int clean = !pe->torn;
        if (clean && !rlist_empty(&pe->outq))
            clean = RLIST_ENTRY(pe->outq.next, real_req, link)->sent == 0;
        /* (a rank that failed stops trying once it has heard nothing
         * from the peer for the timeout) */
        double by = net_clock_s() + rk->job->timeout_s;
        if (rk->failed && !(rk->job->hosts && p == 0) && pe->heard_s + rk->job->timeout_s < by)
            by = pe->heard_s + rk->job->timeout_s;
        if (clean)
            send_bye(rk, pe, bye, sizeof bye, by);
        shutdown(pe->wfd, SHUT_WR);
    }
    drain(rk);
    close_all(rk);
}

void real_abort_connections(rt *r)
{
    real_rank *rk = r->backend_data;
    for (int p = 0; p < r->size; p++)
        real_peer_fail(rk, p, RT_EPEER, "connection aborted by this rank");
}
