/* analysis.h -- where a run's time went, from its events.
 *
 * Every rank's time splits into
 *   compute        charged compute (rt_compute)
 *   communication  blocked in the runtime while one of its own messages
 *                  was on the wire
 *   wait           blocked with nothing of its own moving: waiting for a
 *                  slower rank (a straggler, a barrier, an SSP bound)
 *   other          the rest: runtime overhead, evaluation, idle
 *
 * A message is on the wire from the moment both its send and its receive
 * are posted until the receive completes. Sends and receives are paired
 * in order per (source, destination, tag), which is exactly the runtime's
 * matching rule, so the split needs no knowledge of the network. (Event
 * logs from runs written before events.csv had its tag column carry tag -1
 * for every event, and pair per (source, destination) only.)
 */
#ifndef DISTLAB_ANALYSIS_H
#define DISTLAB_ANALYSIS_H

#include <stddef.h>

#include "algorithms/runtime.h"

typedef struct analysis_split {
    double compute_s, comm_s, wait_s, other_s;
} analysis_split;

/* The split of each rank 0..ranks-1 over [0, total_s] into per_rank
 * (ranks entries; NULL to skip) and its mean over the ranks into *mean.
 * Returns 0, or -1 when out of memory. */
int analysis_split_time(const rt_event *ev, size_t n, int ranks, double total_s,
                        analysis_split *per_rank, analysis_split *mean);

/* The kind of the intervals below; not one the runtime records. */
#define ANALYSIS_EV_COMM RT_EV_KINDS

/* The communication intervals themselves: for each rank, the times it was
 * blocked while one of its own messages was on the wire, as events of kind
 * ANALYSIS_EV_COMM (what the timeline draws as "communication" over its
 * wait). *out is malloc'd; the caller frees it. Returns 0 or -1. */
int analysis_comm_spans(const rt_event *ev, size_t n, int ranks, rt_event **out, size_t *nout);

#endif
