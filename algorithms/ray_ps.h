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

/* The totals summary.json gets (train_out.stats of the reporter, summed
 * over the nodes; the peak is the largest node's). */
enum {
    RAY_PS_STAT_TASKS, RAY_PS_STAT_ACTOR_CALLS, RAY_PS_STAT_OBJECTS_INLINE,
    RAY_PS_STAT_OBJECTS_STORED, RAY_PS_STAT_OBJECTS_FETCHED, RAY_PS_STAT_BYTES_FETCHED,
    RAY_PS_STAT_BYTES_INLINE, RAY_PS_STAT_OBJECTS_FREED, RAY_PS_STAT_STORE_PEAK,
    RAY_PS_STAT_SPILLED, RAY_PS_STAT_RECONSTRUCTIONS, RAY_PS_STAT_TASKS_RETRIED,
    RAY_PS_STAT_ACTOR_RESTARTS, RAY_PS_STAT_CALLS_LOST,
    RAY_PS_STAT_STEPS_REDONE, /* sync: steps run again; async: gradients lost */
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
