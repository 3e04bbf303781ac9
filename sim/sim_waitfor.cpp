/* sim_waitfor.cpp -- a wait-any that keeps the caller's comms.
 *
 * SimGrid 3.32's C sg_comm_wait_any_for and sg_comm_wait_for drop the
 * caller's reference on every comm when the timeout fires (they adopt the
 * references for the call and only give them back on success), so the
 * comms still in flight are freed under sim.c. sg_comm_wait_any does the
 * same when the waiting actor is killed: a daemon that waits on receives
 * when the last rank ends unwinds through it, and every comm whose
 * transfer was under way is freed unfinished, which SimGrid reports with
 * a backtrace on stderr. Here each comm gets a reference of its own for
 * the call; afterwards, as with sg_comm_wait_any, the one that completed
 * has the caller's reference released and the rest stay the caller's.
 */
#include <vector>

#include <simgrid/s4u/Comm.hpp>

#include "sim/sim_waitfor.h"

extern "C" ssize_t sim_comm_wait_any_for(sg_comm_t *comms, size_t count, double timeout_s)
{
    std::vector<simgrid::s4u::CommPtr> held;
    held.reserve(count);
    for (size_t i = 0; i < count; i++)
        held.emplace_back(comms[i]); /* adds a reference */
    ssize_t pos = simgrid::s4u::Comm::wait_any_for(held, timeout_s);
    if (pos >= 0)
        comms[pos]->unref(); /* the caller's, as a completed wait-any does */
    return pos;
}
