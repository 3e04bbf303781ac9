/* net_analytic.h -- distlab's own flow model for --net analytic: links
 * with a bandwidth, flows over routes of them, max-min fair shares found
 * per connected group of flows, and the time each flow ends. No SimGrid
 * here (sim.c drives it from an actor), so a test can check it alone.
 *
 *   na_net *n = na_new();
 *   int up = na_link_add(n, 1.25e9, 1), down = na_link_add(n, 1.25e9, 1);
 *   int route[] = {up, down};
 *   na_flow_start(n, route, 2, 50e-6, 1e6, 1.0, now, order, user);
 *   while (na_next(n) < INFINITY) na_advance(n, na_next(n), done, ctx);
 *
 * A flow first waits its latency, using no bandwidth, then shares its
 * links: a shared link's capacity is divided max-min fairly among its
 * flows, each flow weighing `weight` (SimGrid's CM02 gives a flow the
 * weight 1 / its route's latency); a link that is not shared (FATPIPE)
 * bounds each of its flows by its bandwidth alone. Rates change only when
 * a flow joins or leaves or a link's bandwidth changes, and then only for
 * the flows connected to it through shared links.
 */
#ifndef DISTLAB_NET_ANALYTIC_H
#define DISTLAB_NET_ANALYTIC_H

#include <stddef.h>

typedef struct na_net na_net;
typedef struct na_flow na_flow;

na_net *na_new(void);
void na_free(na_net *n);

/* A link of bandwidth_Bps; shared = 0 for a FATPIPE. Returns its id, or
 * -1 when out of memory. */
int na_link_add(na_net *n, double bandwidth_Bps, int shared);
/* A link's bandwidth from now on: the rates of the flows on it change. */
void na_link_set_bandwidth(na_net *n, int link, double bandwidth_Bps, double now);

/* A flow of bytes over route (link ids; the array must outlive the flow),
 * starting at now: it shares its links from now + latency_s and ends when
 * its bytes have passed. user comes back to done(). order ranks it among
 * the events of one instant (its joining, its end): the caller makes it
 * unique among the flows under way and a function of what the flow is,
 * not of when the caller got round to starting it (sim.c: the sender's
 * rank, then its count of sends), so that the model's results do not
 * depend on the order of calls at one instant. NULL when out of memory. */
na_flow *na_flow_start(na_net *n, const int *route, int nlinks, double latency_s, double bytes,
                       double weight, double now, long long order, void *user);

/* The time of the next event (a latency paid, a flow ended), INFINITY when
 * nothing is under way. */
double na_next(const na_net *n);
/* Handle every event due by now (within a relative 1e-12): flows whose
 * latency is paid join their links, flows that ended leave them, rates are
 * found again where they changed, and done(user, ctx) is called for each
 * ended flow in increasing order (na_flow_start). Returns how many ended,
 * or -1 when out of memory. */
int na_advance(na_net *n, double now, void (*done)(void *user, void *ctx), void *ctx);

/* A flow's current rate in bytes per second (0 while in its latency). */
double na_flow_rate(const na_flow *f);
/* Flows under way. */
size_t na_flows(const na_net *n);

#endif
