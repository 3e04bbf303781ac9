/* net.c -- TCP socket setup for the real backend (see net.h).
 *
 * Everything about a socket that is decided once lives here: the address
 * family, the options that make small frames leave at once (TCP_NODELAY)
 * and let large ones stream (big send buffers), non-blocking mode, and the
 * deadline-bounded reads and writes used while the mesh is set up.
 */
#define _GNU_SOURCE
#include "real/net.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Send buffer asked of the kernel (which doubles it, within wmem_max):
 * a 64 MiB message then leaves in a few large writes. The receive side is
 * left to Linux's autotuning, which grows further than an explicit size. */
#define NET_SNDBUF_BYTES (4 << 20)

double net_clock_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int net_poll_ms(double deadline)
{
    double left = deadline - net_clock_s();
    if (left <= 0)
        return 0;
    if (left > 1e6)
        return 1000000000;
    return (int)ceil(left * 1e3);
}

static int set_nonblock(int fd)
{
    int flags = fcntl(fd, F_GETFL);
    return flags < 0 ? -1 : fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

/* Options every data socket gets, set before connect or listen so that the
 * window scaling negotiated in the handshake can use them. */
static void tune_buffers(int fd)
{
    int sndbuf = NET_SNDBUF_BYTES;
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
}

static int tune_connected(int fd, char *err, size_t errlen)
{
    int one = 1;
    if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0 || set_nonblock(fd) != 0) {
        snprintf(err, errlen, "socket options: %s", strerror(errno));
        return -1;
    }
    return 0;
}

int net_listen(const char *host, int port, int backlog, int *fd, net_addr *bound, char *err,
               size_t errlen)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE};
    struct addrinfo *ai = NULL;
    int s = -1, one = 1;
    char service[16];
    snprintf(service, sizeof service, "%d", port);
    int gai = getaddrinfo(host, service, &hints, &ai);
    if (gai != 0) {
        snprintf(err, errlen, "listen address %s: %s", host, gai_strerror(gai));
        goto fail;
    }
    s = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        goto fail;
    }
    tune_buffers(s);
    if (port != 0)
        setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(s, ai->ai_addr, ai->ai_addrlen) != 0) {
        snprintf(err, errlen, "bind %s port %d: %s", host, port, strerror(errno));
        goto fail;
    }
    if (listen(s, backlog) != 0) {
        snprintf(err, errlen, "listen on %s: %s", host, strerror(errno));
        goto fail;
    }
    bound->len = sizeof bound->sa;
    if (getsockname(s, (struct sockaddr *)&bound->sa, &bound->len) != 0) {
        snprintf(err, errlen, "getsockname: %s", strerror(errno));
        goto fail;
    }
    freeaddrinfo(ai);
    *fd = s;
    return 0;
fail:
    if (ai)
        freeaddrinfo(ai);
    if (s >= 0)
        close(s);
    return -1;
}

int net_parse_addr(const char *s, net_addr *addr, char *host, size_t hostlen, int *port, char *err,
                   size_t errlen)
{
    const char *colon = strrchr(s, ':'), *h = s;
    size_t hl = colon ? (size_t)(colon - s) : 0;
    char *end;
    if (!colon || hl == 0) {
        snprintf(err, errlen, "'%s' is not HOST:PORT", s);
        return -1;
    }
    if (h[0] == '[' && hl >= 2 && h[hl - 1] == ']') { /* [v6]:port */
        h++;
        hl -= 2;
    }
    long p = strtol(colon + 1, &end, 10);
    if (colon[1] == '\0' || *end != '\0' || p < 1 || p > 65535) {
        snprintf(err, errlen, "'%s': the port must be 1..65535", s);
        return -1;
    }
    if (hl + 1 > hostlen) {
        snprintf(err, errlen, "'%s': host name too long", s);
        return -1;
    }
    memcpy(host, h, hl);
    host[hl] = '\0';
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV};
    struct addrinfo *ai = NULL;
    int gai = getaddrinfo(host, colon + 1, &hints, &ai);
    if (gai != 0) {
        snprintf(err, errlen, "'%s': %s (a numeric IPv4 or IPv6 address is expected)", s,
                 gai_strerror(gai));
        return -1;
    }
    memcpy(&addr->sa, ai->ai_addr, ai->ai_addrlen);
    addr->len = ai->ai_addrlen;
    *port = (int)p;
    freeaddrinfo(ai);
    return 0;
}

const char *net_addr_str(const net_addr *addr, char *buf, size_t len)
{
    char host[NI_MAXHOST], port[NI_MAXSERV];
    if (getnameinfo((const struct sockaddr *)&addr->sa, addr->len, host, sizeof host, port, sizeof port,
                    NI_NUMERICHOST | NI_NUMERICSERV) != 0)
        snprintf(buf, len, "?");
    else
        snprintf(buf, len, addr->sa.ss_family == AF_INET6 ? "[%s]:%s" : "%s:%s", host, port);
    return buf;
}

/* Wait until fd is ready for events or the deadline passes. */
static int wait_ready(int fd, short events, double deadline, char *err, size_t errlen);

/* One non-blocking connection attempt, finished by deadline. Returns 0,
 * or -1 with errno-like *why (ECONNREFUSED: nothing listens yet). */
static int connect_once(const net_addr *addr, double deadline, int *fd, int *why, char *err,
                        size_t errlen)
{
    int s = socket(addr->sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0), rc, soerr = 0;
    socklen_t sl = sizeof soerr;
    *why = 0;
    if (s < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return -1;
    }
    tune_buffers(s);
    while ((rc = connect(s, (const struct sockaddr *)&addr->sa, addr->len)) != 0 && errno == EINTR)
        ;
    if (rc != 0 && errno != EINPROGRESS) {
        *why = errno;
    } else if (rc != 0) {
        if (wait_ready(s, POLLOUT, deadline, err, errlen) != 0) {
            close(s);
            return -1;
        }
        if (getsockopt(s, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0)
            soerr = errno;
        *why = soerr;
    }
    if (*why != 0) {
        snprintf(err, errlen, "connect: %s", strerror(*why));
        close(s);
        return -1;
    }
    if (tune_connected(s, err, errlen) != 0) {
        close(s);
        return -1;
    }
    *fd = s;
    return 0;
}

int net_connect(const net_addr *addr, double deadline, int *fd, char *err, size_t errlen)
{
    int why;
    while (connect_once(addr, deadline, fd, &why, err, errlen) != 0) {
        /* nothing listens yet, or the machine is still coming up */
        if (why != ECONNREFUSED && why != EHOSTUNREACH && why != ENETUNREACH && why != ETIMEDOUT &&
            why != ECONNABORTED)
            return -1;
        if (net_clock_s() >= deadline) {
            snprintf(err, errlen, "nothing listened there before the deadline (%s)", strerror(why));
            return -1;
        }
        struct timespec pause = {0, 20 * 1000 * 1000}; /* 20 ms: not listening yet */
        nanosleep(&pause, NULL);
    }
    return 0;
}

int net_accept(int lfd, double deadline, int *fd, char *err, size_t errlen)
{
    for (;;) {
        struct pollfd pfd = {.fd = lfd, .events = POLLIN};
        int n = poll(&pfd, 1, net_poll_ms(deadline));
        if (n < 0 && errno != EINTR) {
            snprintf(err, errlen, "poll: %s", strerror(errno));
            return -1;
        }
        if (n > 0) {
            int s = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
            if (s >= 0) {
                if (tune_connected(s, err, errlen) != 0) {
                    close(s);
                    return -1;
                }
                *fd = s;
                return 0;
            }
            if (errno != EINTR && errno != EAGAIN && errno != ECONNABORTED) {
                snprintf(err, errlen, "accept: %s", strerror(errno));
                return -1;
            }
        }
        if (n == 0 && net_clock_s() >= deadline) {
            snprintf(err, errlen, "no connection arrived in time");
            return -1;
        }
    }
}

/* Wait until fd is ready for events or the deadline passes. */
static int wait_ready(int fd, short events, double deadline, char *err, size_t errlen)
{
    for (;;) {
        struct pollfd pfd = {.fd = fd, .events = events};
        int n = poll(&pfd, 1, net_poll_ms(deadline));
        if (n > 0)
            return 0;
        if (n < 0 && errno != EINTR) {
            snprintf(err, errlen, "poll: %s", strerror(errno));
            return -1;
        }
        if (n == 0 && net_clock_s() >= deadline) {
            snprintf(err, errlen, "timed out");
            return -1;
        }
    }
}

int net_write_all(int fd, const void *buf, size_t len, double deadline, char *err, size_t errlen)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n > 0) {
            p += n;
            len -= (size_t)n;
        } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            if (wait_ready(fd, POLLOUT, deadline, err, errlen) != 0)
                return -1;
        } else {
            snprintf(err, errlen, "write: %s", strerror(errno));
            return -1;
        }
    }
    return 0;
}

int net_read_all(int fd, void *buf, size_t len, double deadline, char *err, size_t errlen)
{
    char *p = buf;
    while (len > 0) {
        ssize_t n = recv(fd, p, len, 0);
        if (n > 0) {
            p += n;
            len -= (size_t)n;
        } else if (n == 0) {
            snprintf(err, errlen, "connection closed");
            return -1;
        } else if (errno == EAGAIN || errno == EINTR) {
            if (wait_ready(fd, POLLIN, deadline, err, errlen) != 0)
                return -1;
        } else {
            snprintf(err, errlen, "read: %s", strerror(errno));
            return -1;
        }
    }
    return 0;
}
