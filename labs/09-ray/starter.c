/* starter.c -- lab 09, the driver's loop of Ray's asynchronous parameter
 * server, on distlab's Ray model (algorithms/ray.h; docs/ray.md maps it
 * onto Ray's Python API).
 *
 * ps is the ParameterServer actor: "get_weights" (no arguments) returns
 * the weights, "apply_gradients" (one gradient) applies it and returns the
 * new weights. workers[0..W) are DataWorker actors: "compute_gradients"
 * (the weights) returns a gradient computed on them. Every call returns a
 * future (ray_ref) at once; a future can be passed to another call before
 * it is ready. In Python, Ray's example reads:
 *
 *   current = ps.get_weights.remote()
 *   grads = {w.compute_gradients.remote(current): w for w in workers}
 *   for _ in range(updates):
 *       [ready], _ = ray.wait(list(grads), num_returns=1)
 *       worker = grads.pop(ready)
 *       current = ps.apply_gradients.remote(ready)
 *       grads[worker.compute_gradients.remote(current)] = worker
 *
 * Copy this file, fill in the TODO, then
 *   build/distlab lab check 09 my_loop.c
 */
#include "algorithms/plugin.h"

#define W_MAX 64

int plugin_ray_async_ps(ray *ry, ray_actor ps, const ray_actor *workers, int W, long updates)
{
    ray_ref latest = 0, grads[W_MAX] = {0}; /* grads[w]: worker w's gradient in flight, 0: none */
    long submitted = 0;
    if (W > W_MAX)
        return rt_fail(ray_rt(ry), RT_EINVAL, "async ps: %d workers, at most %d", W, W_MAX);
    int rc = ray_call(ry, ps, "get_weights", 0, NULL, &latest);
    for (int w = 0; w < W && !rc && submitted < updates; w++, submitted++)
        rc = ray_call(ry, workers[w], "compute_gradients", 1, (ray_in[]){ray_fut(latest)}, &grads[w]);

    /* TODO (lab 09), `updates` times:
     *   - wait for the FIRST gradient ready among those in flight
     *     (ray_wait(ry, n, refs, 1, -1, ready, &nready): ready[i] says
     *     which), not for all of them, nor for worker 0, 1, ... in turn;
     *   - submit its apply: ray_call(ry, ps, "apply_gradients", 1,
     *     (ray_in[]){ray_fut(grads[w])}, &next) -- pass the future, do not
     *     ray_get the gradient here;
     *   - hand that worker the weights the apply returns (next, a future)
     *     with its next compute_gradients, unless `updates` gradients have
     *     been submitted already;
     *   - release what you no longer need (ray_release): the gradient once
     *     its apply is submitted, the old weights once next replaces them.
     * As it is, nothing is applied. */

    ray_release(ry, latest);
    return rc;
}
