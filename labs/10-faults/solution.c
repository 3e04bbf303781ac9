/* solution.c -- lab 10, what a parameter server does when a worker dies.
 *
 * A dead worker leaves the running set: the min clock no longer counts
 * it, so ssp and async go on with the others, and the server stops
 * waiting for its goodbye. Under bsp (bound 0) every iteration needs
 * every worker's push, so none can complete any more: the run stops, with
 * an error naming the worker, rather than hanging. A worker that had said
 * goodbye and then closed its connection did not fail.
 *
 * Check it:   build/distlab lab check 10 labs/10-faults/solution.c
 */
#include "algorithms/plugin.h"

int plugin_worker_lost(rt *r, int w, long bound, int *state, int W)
{
    (void)W;
    if (state[w] != PLUGIN_RUNNING)
        return RT_OK;
    state[w] = PLUGIN_DEAD;
    if (bound == 0)
        return rt_fail(r, RT_EPEER, "worker %d died; under bsp no iteration can complete without it, "
                       "so the run stops (ssp and async go on without it)", w);
    return RT_OK;
}
