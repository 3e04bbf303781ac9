/* sim_shim.cpp -- the one SimGrid call the C API lacks.
 *
 * Eager sends need each (source, destination) mailbox to have the
 * destination actor as its permanent receiver, so a transfer starts when it
 * is sent rather than when the receive is posted. SimGrid's C API can only
 * make the calling actor a mailbox's receiver, but the mailbox is created by
 * the sender, on its first message; s4u::Mailbox::set_receiver takes any
 * actor. Everything else in sim/ is C.
 */
#include <simgrid/s4u/Actor.hpp>
#include <simgrid/s4u/Mailbox.hpp>

extern "C" void sim_mailbox_bind(sg_mailbox_t mailbox, sg_actor_t receiver)
{
    mailbox->set_receiver(simgrid::s4u::ActorPtr(receiver));
}
