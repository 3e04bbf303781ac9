/* starter.c -- lab 03, the consistency condition of a parameter server.
 *
 * The checker's small server (cli/lab_ssp.c) calls this every time it
 * could answer a waiting pull: worker w wants the weights for its
 * iteration c; min_clock is how many iterations the slowest running
 * worker has pushed; bound is the staleness bound s (0: bulk-synchronous)
 * or PLUGIN_ASYNC. Return nonzero to answer now, 0 to keep the worker
 * waiting. distlab's own parameter server asks the same question in
 * algorithms/ps.c.
 *
 * Copy this file, fill in the TODO, then
 *   build/distlab lab check 03 my_ssp.c
 */
#include "algorithms/plugin.h"

int plugin_ssp_ready(long c, long min_clock, long bound)
{
    /* TODO (lab 03): under bsp a worker may start iteration c once every
     * worker has finished iteration c-1; under ssp with bound s it may run
     * up to s iterations ahead of that. What must min_clock be? Async has
     * no bound. Answering always (as now) is async whatever the bound. */
    (void)c;
    (void)min_clock;
    (void)bound;
    return 1;
}
