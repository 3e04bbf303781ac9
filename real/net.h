/* net.h -- basic TCP socket calls for the real backend, a little less
 * boring (in the spirit of Redis's anet.c).
 *
 * Each call returns 0 on success or -1 with a message in the caller's
 * err[] buffer; none of them exits or prints. Deadlines are absolute
 * times on net_clock_s()'s monotonic clock.
 */
#ifndef DISTLAB_REAL_NET_H
#define DISTLAB_REAL_NET_H

#include <stddef.h>
#include <sys/socket.h>

typedef struct net_addr {
    struct sockaddr_storage sa;
    socklen_t len;
} net_addr;

/* Seconds on a monotonic clock shared by every process of the machine. */
double net_clock_s(void);

/* A listening socket on host (numeric IPv4 or IPv6) and port; port 0: the
 * kernel picks one. *bound says where it listens. A fixed port may be
 * reused at once after an earlier job (SO_REUSEADDR). */
int net_listen(const char *host, int port, int backlog, int *fd, net_addr *bound, char *err,
               size_t errlen);
/* Parse "HOST:PORT" ("[HOST]:PORT" for IPv6; HOST numeric, PORT 1..65535)
 * into addr, and the host part into host[hostlen]. */
int net_parse_addr(const char *s, net_addr *addr, char *host, size_t hostlen, int *port, char *err,
                   size_t errlen);
/* addr as "HOST:PORT" ("[HOST]:PORT" for IPv6). */
const char *net_addr_str(const net_addr *addr, char *buf, size_t len);
/* Connect to addr by deadline, trying again while nothing listens there
 * yet or the host cannot be reached (a rank on another machine may start
 * later); the socket is
 * non-blocking and tuned on return. */
int net_connect(const net_addr *addr, double deadline, int *fd, char *err, size_t errlen);
/* Accept one connection on a listening socket, waiting until deadline;
 * the new socket is non-blocking and tuned. */
int net_accept(int lfd, double deadline, int *fd, char *err, size_t errlen);
/* Write or read exactly len bytes on a non-blocking socket, waiting in
 * poll until deadline. For connection setup, not the data path. */
int net_write_all(int fd, const void *buf, size_t len, double deadline, char *err, size_t errlen);
int net_read_all(int fd, void *buf, size_t len, double deadline, char *err, size_t errlen);
/* Milliseconds from now until deadline, for poll: at least 0, rounded up. */
int net_poll_ms(double deadline);

#endif
