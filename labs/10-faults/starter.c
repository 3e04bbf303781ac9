/* starter.c -- lab 10, what a parameter server does when a worker dies.
 *
 * The checker's small server (cli/lab_faults.c) calls this when its
 * receive from worker w failed with RT_EPEER: the worker's host went down,
 * or its process died. state[0..W-1] holds every worker's PLUGIN_RUNNING,
 * PLUGIN_DONE (said goodbye) or PLUGIN_DEAD; the server computes its min
 * clock over the running workers only, and ends once none is running.
 * bound is the staleness bound s (0: bulk-synchronous) or PLUGIN_ASYNC.
 * distlab's own server does the same in algorithms/ps.c
 * (server_lose_worker).
 *
 * Copy this file, fill in the TODO, then
 *   build/distlab lab check 10 my_faults.c
 */
#include "algorithms/plugin.h"

int plugin_worker_lost(rt *r, int w, long bound, int *state, int W)
{
    /* TODO (lab 10): as it is, the server keeps counting a dead worker as
     * running: its clock never moves, so ssp waits for it forever, and
     * the server never ends. Mark it (but a worker that had already said
     * goodbye and then hung up did not fail). Under which bound can the
     * run not go on at all? Stop it there with
     *     return rt_fail(r, RT_EPEER, "worker %d died ...", w);
     * so that whoever runs the job reads which worker, and why. */
    (void)r;
    (void)w;
    (void)bound;
    (void)state;
    (void)W;
    return RT_OK;
}
