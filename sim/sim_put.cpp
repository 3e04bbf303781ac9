/* sim_put.cpp -- sends with a rate bound of their own (sim_put.h).
 *
 * A calibrated one-machine simulation charges each size's exchange (both
 * ways at once) at its own measured time: the message carries the bytes
 * its exchange costs, and a lone one is held to the rate at which those
 * bytes take its one-way time (sim.c, exchange_share). s4u's Comm has the
 * bound (set_rate, before the comm starts); the C API does not. The
 * handle returned carries one reference, as sg_mailbox_put_init's does.
 */
#include <simgrid/s4u/Comm.hpp>
#include <simgrid/s4u/Mailbox.hpp>

#include "sim/sim_put.h"

static simgrid::s4u::CommPtr bounded(sg_mailbox_t box, void *payload, long bytes, double rate_Bps)
{
    simgrid::s4u::CommPtr comm = box->put_init(payload, (uint64_t)bytes);
    if (rate_Bps > 0)
        comm->set_rate(rate_Bps);
    return comm;
}

extern "C" sg_comm_t sim_put_init_bounded(sg_mailbox_t box, void *payload, long bytes, double rate_Bps)
{
    simgrid::s4u::CommPtr comm = bounded(box, payload, bytes, rate_Bps);
    comm->add_ref(); /* the caller's */
    return comm.get();
}

extern "C" sg_comm_t sim_put_async_bounded(sg_mailbox_t box, void *payload, long bytes, double rate_Bps)
{
    simgrid::s4u::CommPtr comm = bounded(box, payload, bytes, rate_Bps);
    comm->start();
    comm->add_ref();
    return comm.get();
}
