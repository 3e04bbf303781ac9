/* solution.c -- lab 10, what a parameter server does when a worker dies,
 * and a synchronous trainer's checkpoint.
 *
 * A dead worker leaves the running set: the min clock no longer counts
 * it, so ssp and async go on with the others, and the server stops
 * waiting for its goodbye. Under bsp (bound 0) every iteration needs
 * every worker's push, so none can complete any more: the run stops, with
 * an error naming the worker, rather than hanging. A worker that had said
 * goodbye and then closed its connection did not fail.
 *
 * The checkpoint holds the whole state the next step needs: the step,
 * where the data order is (pass, pos), the clock, the weights and the
 * momentum, behind a header that names the format and n, so that a load
 * can refuse what is not one. It is written to a file beside the old one
 * and renamed over it only once complete: a save that fails leaves the
 * previous checkpoint. The load reads the whole file, checks its length
 * and header, and only then writes into the state.
 *
 * Check it:   build/distlab lab check 10 labs/10-faults/solution.c
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

#define CKPT_MAGIC "lab10ck1"

typedef struct ckpt_head {
    char magic[8];
    uint64_t n;
    int64_t step, pass;
    uint64_t pos;
    double clock_s;
} ckpt_head;

int plugin_checkpoint_save(const plugin_train_state *s, const char *path)
{
    ckpt_head h = {.n = s->n, .step = s->step, .pass = s->pass, .pos = s->pos, .clock_s = s->clock_s};
    memcpy(h.magic, CKPT_MAGIC, sizeof h.magic);
    size_t len = strlen(path) + 5;
    char *tmp = malloc(len);
    if (!tmp)
        return RT_EIO;
    snprintf(tmp, len, "%s.new", path);
    FILE *f = fopen(tmp, "wb");
    int ok = f && fwrite(&h, sizeof h, 1, f) == 1 && fwrite(s->w, sizeof(float), s->n, f) == s->n &&
             fwrite(s->v, sizeof(float), s->n, f) == s->n;
    if (f && fclose(f) != 0)
        ok = 0;
    if (ok && rename(tmp, path) != 0)
        ok = 0;
    if (!ok)
        remove(tmp);
    free(tmp);
    return ok ? RT_OK : RT_EIO;
}

int plugin_checkpoint_load(plugin_train_state *s, const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return RT_EIO;
    size_t want = sizeof(ckpt_head) + 2 * s->n * sizeof(float);
    char *buf = malloc(want + 1);
    /* one byte more than a checkpoint holds: a longer file is refused */
    size_t got = buf ? fread(buf, 1, want + 1, f) : 0;
    int failed = ferror(f);
    fclose(f);
    if (!buf || failed) {
        free(buf);
        return RT_EIO;
    }
    ckpt_head h;
    if (got != want) {
        free(buf);
        return RT_EINVAL;
    }
    memcpy(&h, buf, sizeof h);
    if (memcmp(h.magic, CKPT_MAGIC, sizeof h.magic) != 0 || h.n != s->n || h.step < 0 || h.pass < 0) {
        free(buf);
        return RT_EINVAL;
    }
    s->step = (long)h.step;
    s->pass = (long)h.pass;
    s->pos = (size_t)h.pos;
    s->clock_s = h.clock_s;
    memcpy(s->w, buf + sizeof h, s->n * sizeof(float));
    memcpy(s->v, buf + sizeof h + s->n * sizeof(float), s->n * sizeof(float));
    free(buf);
    return RT_OK;
}
