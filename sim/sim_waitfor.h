/* sim_waitfor.h -- a timed wait-any on SimGrid comms (sim_waitfor.cpp). */
#ifndef DISTLAB_SIM_WAITFOR_H
#define DISTLAB_SIM_WAITFOR_H

#include <sys/types.h>

#include <simgrid/comm.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Wait up to timeout_s (simulated; negative: no limit) for the first of
 * comms to complete. Returns its index, whose comm is then released (as
 * sg_comm_wait_any does), or -1 when the time passed first, every comm
 * still the caller's. A daemon killed in the wait (the job ended) keeps
 * its references too, so the comms still in flight are not freed under
 * SimGrid, whose ~Comm prints a backtrace for those. */
ssize_t sim_comm_wait_any_for(sg_comm_t *comms, size_t count, double timeout_s);

#ifdef __cplusplus
}
#endif

#endif
