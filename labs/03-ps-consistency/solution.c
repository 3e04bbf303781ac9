/* solution.c -- lab 03, the consistency condition of a parameter server.
 *
 * A server answers a worker's pull for iteration c when the slowest
 * running worker has pushed at least c - s iterations, i.e. everyone has
 * finished iteration c - s - 1: the weights the worker gets then lack at
 * most s clocks of anyone's updates (Ho et al., NIPS 2013). s = 0 is
 * bulk-synchronous; async answers at once.
 *
 * Check it:   build/distlab lab check 03 labs/03-ps-consistency/solution.c
 */
#include "algorithms/plugin.h"

int plugin_ssp_ready(long c, long min_clock, long bound)
{
    if (bound == PLUGIN_ASYNC)
        return 1;
    /* min_clock >= c - bound, written so that nothing overflows: c and
     * min_clock are >= 0, so c - bound cannot go below -LONG_MAX */
    return min_clock >= c - bound;
}
