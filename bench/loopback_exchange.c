/* loopback_exchange.c -- the machine's own limit for a 2-rank allreduce:
 * two processes each send N bytes to the other over one loopback TCP
 * connection at the same time, with non-blocking sockets and poll, as
 * fast as the kernel allows. A 2-rank ring allreduce of N bytes moves
 * exactly N bytes each way (two steps of N/2), so its time can be held
 * against this one. The sockets get the settings distlab's own get
 * (TCP_NODELAY, a 4 MiB send buffer set before connecting) or, with a
 * third argument 0, the kernel's defaults; each process has a core of its
 * own and polls without sleeping, so no wake-up is ever paid. Timed as `distlab collective`
 * times: one warm-up exchange, then the mean of the runs. Prints CSV:
 * bytes,seconds. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Send and receive n bytes at once on fd; returns 0 or -1. */
static int exchange(int fd, char *out, char *in, size_t n)
{
    size_t sent = 0, got = 0;
    double give_up = now_s() + 30;
    while (sent < n || got < n) {
        if (now_s() > give_up)
            return -1; /* the other process stalled */
        struct pollfd p = {.fd = fd, .events = (short)((got < n ? POLLIN : 0) | (sent < n ? POLLOUT : 0))};
        int k = poll(&p, 1, 0); /* busy: the limit pays no wake-ups */
        if (k < 0)
            return -1;
        if (k == 0)
            continue;
        if ((p.revents & POLLIN) && got < n) {
            ssize_t k = recv(fd, in + got, n - got, MSG_DONTWAIT);
            if (k <= 0 && !(k < 0 && errno == EAGAIN))
                return -1;
            got += k > 0 ? (size_t)k : 0;
        }
        if ((p.revents & POLLOUT) && sent < n) {
            ssize_t k = send(fd, out + sent, n - sent, MSG_DONTWAIT | MSG_NOSIGNAL);
            if (k < 0 && errno != EAGAIN)
                return -1;
            sent += k > 0 ? (size_t)k : 0;
        }
    }
    return 0;
}

/* Bind this process to the k-th core it may use (wrapping). */
static void bind_to_core(int k)
{
    cpu_set_t allowed, one;
    if (sched_getaffinity(0, sizeof allowed, &allowed) != 0)
        return;
    k %= CPU_COUNT(&allowed);
    for (int c = 0; c < CPU_SETSIZE; c++)
        if (CPU_ISSET(c, &allowed) && k-- == 0) {
            CPU_ZERO(&one);
            CPU_SET(c, &one);
            sched_setaffinity(0, sizeof one, &one);
            return;
        }
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 64u << 20;
    int runs = argc > 2 ? atoi(argv[2]) : 5;
    int sndbuf = argc > 3 ? atoi(argv[3]) : 4 << 20;
    int ls = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    if (sndbuf > 0)
        setsockopt(ls, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    if (ls < 0 || bind(ls, (struct sockaddr *)&a, sizeof a) || listen(ls, 1) ||
        getsockname(ls, (struct sockaddr *)&a, &al)) {
        perror("loopback_exchange: listen");
        return 1;
    }
    char *out = malloc(n), *in = malloc(n);
    if (!out || !in)
        return 1;
    memset(out, 1, n);
    memset(in, 0, n);
    pid_t child = fork();
    int fd;
    if (child == 0) {
        fd = socket(AF_INET, SOCK_STREAM, 0);
        if (sndbuf > 0)
            setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
        if (connect(fd, (struct sockaddr *)&a, sizeof a))
            _exit(1);
    } else {
        fd = accept(ls, NULL, NULL);
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    bind_to_core(child == 0 ? 1 : 0);
    double total = 0;
    for (int r = -1; r < runs; r++) {
        char go = 0;
        /* line up: a one-byte handshake before each run */
        if (send(fd, &go, 1, 0) != 1 || recv(fd, &go, 1, MSG_WAITALL) != 1)
            return 1;
        double t0 = now_s();
        if (exchange(fd, out, in, n) != 0) {
            fprintf(stderr, "loopback_exchange: exchange failed\n");
            return 1;
        }
        if (r >= 0)
            total += now_s() - t0;
    }
    if (child == 0)
        _exit(0);
    waitpid(child, NULL, 0);
    printf("%zu,%.9g\n", n, total / runs);
    return 0;
}
