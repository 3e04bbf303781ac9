/* sim_waitfor.cpp -- waits that keep the caller's comms, and survive one
 * that fails.
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
 *
 * sg_comm_wait_any also lets a NetworkFailureException (or a
 * CancelException) through -- the C API catches them in sg_comm_wait_for
 * only -- which aborts the process. Here they are caught, and the comm
 * that failed is the one SimGrid marked FAILED or CANCELED (a test of it
 * would fail an assertion, a wait on it crash).
 */
#include <unordered_map>
#include <vector>

#include <simgrid/Exception.hpp>
#include <simgrid/comm.h>
#include <simgrid/s4u/Comm.hpp>
#include <simgrid/s4u/Engine.hpp>
#include <xbt/signal.hpp>

#include "sim/sim_waitfor.h"

/* A comm's transfer failed, or its other end cancelled it. */
extern "C" int sim_comm_gone(sg_comm_t comm)
{
    auto st = comm->get_state();
    return st == simgrid::s4u::Activity::State::FAILED || st == simgrid::s4u::Activity::State::CANCELED;
}

static bool gone(const simgrid::s4u::CommPtr &c) { return sim_comm_gone(c.get()); }

extern "C" ssize_t sim_comm_wait_any_for(sg_comm_t *comms, size_t count, double timeout_s, int *failed)
{
    std::vector<simgrid::s4u::CommPtr> held;
    held.reserve(count);
    for (size_t i = 0; i < count; i++)
        held.emplace_back(comms[i]); /* adds a reference */
    *failed = 0;
    ssize_t pos = -1;
    for (size_t i = 0; i < count; i++) /* one failed already: a wait on it would crash */
        if (gone(held[i])) {
            *failed = 1;
            comms[i]->unref();
            return (ssize_t)i;
        }
    try {
        pos = simgrid::s4u::Comm::wait_any_for(held, timeout_s);
    } catch (const simgrid::NetworkFailureException &) {
    } catch (const simgrid::CancelException &) {
    }
    if (pos < 0) /* timed out, or one failed: SimGrid marked which */
        for (size_t i = 0; i < count && pos < 0; i++)
            if (gone(held[i])) {
                pos = (ssize_t)i;
                *failed = 1;
            }
    if (pos >= 0)
        comms[pos]->unref(); /* the caller's, as a completed wait-any does */
    return pos;
}

/* Filing a get that ended while its rank was busy. A rank files every
 * such get right after a wait returns (sim.c, sim_progress_for); it used
 * sg_comm_test, and SimGrid 3.32's test of a finished comm finishes it
 * without taking it off the rank's kernel list of activities (only a
 * wait does: CommImpl::finish removes the comm for each simcall waiting
 * on it, and a test registers none). The list then grew by one comm per
 * message so filed, and each later transfer's end walks it
 * (std::list::remove): a parameter server's run grew as the square of
 * its epochs (run ps --workers 8 --servers 4: 1.9 s of CPU for 5 epochs,
 * 7.6 s for 10; the list held 7,921 comms after 6 s of a 5-server run).
 *
 * A wait takes it off, but a wait on a comm still under way would block
 * and let simulated time pass. So the kernel's end of each watched get's
 * transfer is noted (CommImpl::on_completion, a public signal of
 * libsimgrid whose class is not in the installed headers: only the
 * signal is declared here), and a get is waited on only once its
 * transfer has ended -- then the wait returns at once, at the same
 * simulated time. Only gets are watched, each from its post until it is
 * retired, so a kernel record freed and made again for another comm is
 * never taken for an ended one. */
namespace simgrid::kernel::activity {
class CommImpl {
public:
    static xbt::signal<void(CommImpl const &)> on_completion;
};
} // namespace simgrid::kernel::activity

namespace {
std::unordered_map<const void *, bool> watched; /* a posted get's kernel record: has its transfer ended? */
bool connected = false;
} // namespace

extern "C" void sim_comm_watch_reset(void)
{
    watched.clear();
    if (connected)
        return;
    connected = true;
    simgrid::kernel::activity::CommImpl::on_completion.connect([](simgrid::kernel::activity::CommImpl const &c) {
        auto it = watched.find(&c);
        if (it != watched.end())
            it->second = true;
    });
}

extern "C" const void *sim_comm_watch(sg_comm_t comm)
{
    const void *key = comm->get_impl();
    watched[key] = false;
    return key;
}

extern "C" void sim_comm_unwatch(const void *key) { watched.erase(key); }

extern "C" int sim_comm_file_done(sg_comm_t comm, const void *key, int *failed)
{
    *failed = 0;
    auto it = watched.find(key);
    if (it == watched.end() || !it->second)
        return 0;
    watched.erase(it);
    /* it has ended: returns at once, the caller's reference released; a
     * failed one says so (sg_comm_wait catches what wait-any lets through) */
    sg_error_t e = sg_comm_wait(comm);
    *failed = e == SG_ERROR_NETWORK || e == SG_ERROR_CANCELED;
    return 1;
}
