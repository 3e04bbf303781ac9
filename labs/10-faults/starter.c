/* starter.c -- lab 10, what a parameter server does when a worker dies,
 * and what a synchronous trainer's checkpoint must hold.
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
 * plugin_checkpoint_save and _load keep one rank of the checker's
 * trainer (SGD with momentum, one example a step, each pass over the shard
 * in its own shuffled order) in a file, so that a run stopped after any
 * step and resumed from it is the same run, bit for bit: algorithms/
 * plugin.h says what plugin_train_state holds.
 *
 * Copy this file, fill in the TODOs, then
 *   build/distlab lab check 10 my_faults.c
 */
#include <stdio.h>

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

int plugin_checkpoint_save(const plugin_train_state *s, const char *path)
{
    /* TODO (lab 10): this keeps only the weights. What else does the next
     * step need -- which example comes next, the optimizer's state, the
     * time it starts at? Write a file a load can recognise and check (how
     * many floats, and is it a checkpoint at all?). And a save that fails
     * halfway must not destroy the checkpoint before it: check what fwrite
     * and fclose return, and write a new file beside the old one, then
     * rename(2) it over. */
    FILE *f = fopen(path, "wb");
    if (!f)
        return RT_EIO;
    fwrite(s->w, sizeof(float), s->n, f);
    fclose(f);
    return RT_OK;
}

int plugin_checkpoint_load(plugin_train_state *s, const char *path)
{
    /* TODO (lab 10): read back everything the save wrote. Refuse (RT_EINVAL)
     * a file that is cut short, too long, of another n or not a checkpoint,
     * and leave *s alone then: read and check the whole file first. */
    FILE *f = fopen(path, "rb");
    if (!f)
        return RT_EIO;
    size_t got = fread(s->w, sizeof(float), s->n, f);
    (void)got;
    fclose(f);
    return RT_OK;
}
