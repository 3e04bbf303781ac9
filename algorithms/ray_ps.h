/* ray_ps.h -- Ray's parameter-server example on algorithms/ray.h. */
#ifndef DISTLAB_RAY_PS_H
#define DISTLAB_RAY_PS_H

#include "algorithms/plugin.h"
#include "algorithms/ray.h"
#include "algorithms/train.h"

typedef enum { RAY_PS_SYNC = 0, RAY_PS_ASYNC = 1 } ray_ps_mode;

typedef struct ray_ps_opts {
    ray_ps_mode mode;   /* --mode sync|async */
    ray_config ray;     /* the runtime's settings (--task-overhead, --inline-threshold) */
    /* async: the driver's loop, from a file of one's own (--async-loop,
     * lab 09); NULL: distlab's own, which also survives a dead worker */
    plugin_ray_async_ps_fn *async_loop;
} ray_ps_opts;

/* The totals summary.json gets (train_out.stats of the reporter): Ray's
 * counts (ray.h: RAY_STAT_*), then the example's own. */
enum {
    RAY_PS_STAT_STEPS_REDONE = RAY_NSTATS, /* sync: steps run again; async: gradients lost */
    RAY_PS_NSTATS
};

const char *ray_ps_mode_name(ray_ps_mode m);
/* The program (its classes and driver; arg NULL, the default config):
 * what names its spans (ray.h: ray_span_name). */
ray_program ray_ps_program(void);
/* Ranks: 0 is the driver's node, with the parameter-server actor; worker
 * w is an actor on rank 1 + w. Rank 0 reports. */
int ray_ps_rank(rt *r, void *setup);
extern const train_algo ray_ps_algo;

#endif
