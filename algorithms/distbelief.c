/* distbelief.c -- DistBelief's rank function: which part of the job a rank
 * plays (partition, replica or server) follows from --mode; see
 * distbelief.h for the rank layout and distbelief_mp.c,
 * distbelief_downpour.c and distbelief_sandblaster.c for the algorithms. */
#include "algorithms/distbelief.h"

int db_ranks(const db_opts *o)
{
    int workers = o->mode == DB_MODEL_PARALLEL ? o->partitions : o->replicas * o->partitions;
    return workers + (o->mode == DB_MODEL_PARALLEL ? 0 : o->servers) + (o->mode == DB_SANDBLASTER);
}

int db_reporter(const db_opts *o) { return o->mode == DB_SANDBLASTER ? db_ranks(o) - 1 : 0; }

int db_rank(rt *r, void *arg)
{
    const train_setup *setup = arg;
    const db_opts *o = setup->algo;
    if (rt_size(r) != db_ranks(o))
        return rt_fail(r, RT_EINVAL, "distbelief: the job has %d ranks, the options need %d",
                       rt_size(r), db_ranks(o));
    switch (o->mode) {
    case DB_MODEL_PARALLEL:
        return db_mp_rank(r, arg);
    case DB_DOWNPOUR:
        return db_downpour_rank(r, arg);
    default:
        return db_sandblaster_rank(r, arg);
    }
}
