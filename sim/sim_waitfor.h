/* sim_waitfor.h -- waits on SimGrid comms that keep the caller's
 * references and survive a comm that fails (sim_waitfor.cpp). */
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
 * SimGrid, whose ~Comm prints a backtrace for those.
 *
 * A comm whose other end's actor ended under it (a failed rank's async
 * companion returning with a send or a get in flight: SimGrid cancels
 * them, and the wait dies of "Link failure", an uncaught
 * NetworkFailureException) ends the wait too: its index is returned,
 * released, with *failed set to 1 (0 for one that completed). */
ssize_t sim_comm_wait_any_for(sg_comm_t *comms, size_t count, double timeout_s, int *failed);

/* Whether comm failed or was cancelled already (a wait on it would crash). */
int sim_comm_gone(sg_comm_t comm);

/* Gets whose end is watched, so that one SimGrid finished while its rank
 * did something else can be filed without sg_comm_test: SimGrid 3.32
 * keeps a comm that a test finds finished in the rank's kernel list of
 * activities for good, and that list is walked at the end of every later
 * transfer of the rank (sim_waitfor.cpp). sim_comm_watch(comm) at the
 * post: returns the key to give the others (comm's kernel record, only
 * compared). sim_comm_file_done(comm, key, &failed): 1 when the
 * transfer has ended, comm then released as a completed wait releases it
 * and no longer watched, failed set when it ended failing (its sender's
 * actor ended under it); 0 when it has not (nothing happens, no simulated
 * time passes). sim_comm_unwatch(key) when the get is retired otherwise (a
 * wait returned it); sim_comm_watch_reset() before a simulation. */
const void *sim_comm_watch(sg_comm_t comm);
int sim_comm_file_done(sg_comm_t comm, const void *key, int *failed);
void sim_comm_unwatch(const void *key);
void sim_comm_watch_reset(void);

#ifdef __cplusplus
}
#endif

#endif
