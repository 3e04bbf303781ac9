/* solution.c -- lab 09, the driver's loop of Ray's asynchronous
 * parameter server (the reference; compare with starter.c).
 *
 * Every worker starts on the first weights. Then, `updates` times: wait
 * for the first gradient ready, submit its apply (the gradient goes to
 * the server as a future: the driver never fetches it), and hand that
 * worker the weights the apply will return -- again a future, so the
 * worker's next call is queued before the apply has even run. No worker
 * waits for another. Each reference is released as soon as nothing here
 * needs it: a gradient once its apply is submitted (the apply holds it
 * until it has run), the weights once a newer version replaces them.
 *
 *   build/distlab lab check 09 labs/09-ray/solution.c
 */
#include "algorithms/plugin.h"

#define W_MAX 64

int plugin_ray_async_ps(ray *ry, ray_actor ps, const ray_actor *workers, int W, long updates)
{
    ray_ref latest = 0, grads[W_MAX] = {0}, live[W_MAX];
    int who[W_MAX], ready[W_MAX], nready;
    long submitted = 0;
    if (W > W_MAX)
        return rt_fail(ray_rt(ry), RT_EINVAL, "async ps: %d workers, at most %d", W, W_MAX);
    int rc = ray_call(ry, ps, "get_weights", 0, NULL, &latest);
    for (int w = 0; w < W && !rc && submitted < updates; w++, submitted++)
        rc = ray_call(ry, workers[w], "compute_gradients", 1, (ray_in[]){ray_fut(latest)}, &grads[w]);
    for (long u = 0; u < updates && !rc; u++) {
        /* the gradients in flight, and whose they are */
        int n = 0, w = -1;
        for (int i = 0; i < W; i++)
            if (grads[i]) {
                who[n] = i;
                live[n++] = grads[i];
            }
        /* the first one ready */
        if ((rc = ray_wait(ry, n, live, 1, -1, ready, &nready)))
            break;
        for (int i = 0; i < n && w < 0; i++)
            if (ready[i])
                w = who[i];
        /* apply it; the apply now holds the gradient */
        ray_ref next;
        rc = ray_call(ry, ps, "apply_gradients", 1, (ray_in[]){ray_fut(grads[w])}, &next);
        ray_release(ry, grads[w]);
        grads[w] = 0;
        if (rc)
            break;
        ray_release(ry, latest);
        latest = next;
        /* that worker goes on, on the weights its gradient made */
        if (submitted < updates) {
            rc = ray_call(ry, workers[w], "compute_gradients", 1, (ray_in[]){ray_fut(latest)}, &grads[w]);
            submitted++;
        }
    }
    ray_release(ry, latest);
    return rc;
}
