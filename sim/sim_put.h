/* sim_put.h -- a send whose rate is bounded (SimGrid's C API has none). */
#ifndef DISTLAB_SIM_PUT_H
#define DISTLAB_SIM_PUT_H

#include <simgrid/comm.h>
#include <simgrid/mailbox.h>

#ifdef __cplusplus
extern "C" {
#endif

/* As sg_mailbox_put_init and sg_mailbox_put_async, with the transfer's
 * rate held at or below rate_Bps (<= 0: no bound of its own). */
sg_comm_t sim_put_init_bounded(sg_mailbox_t box, void *payload, long bytes, double rate_Bps);
sg_comm_t sim_put_async_bounded(sg_mailbox_t box, void *payload, long bytes, double rate_Bps);

#ifdef __cplusplus
}
#endif

#endif
