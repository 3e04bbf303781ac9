/* distbelief.c -- DistBelief's rank function: which part of the job a rank
 * plays (partition, replica or server) follows from --mode; see
 * distbelief.h for the rank layout and distbelief_mp.c and
 * distbelief_downpour.c for the algorithms. */
#include "algorithms/distbelief.h"

int db_ranks(const db_opts *o)
{
    return o->mode == DB_MODEL_PARALLEL ? o->partitions : o->servers + o->replicas * o->partitions;
}

int db_rank(rt *r, void *arg)
{
    const train_setup *setup = arg;
    const db_opts *o = setup->algo;
    if (rt_size(r) != db_ranks(o))
        return rt_fail(r, RT_EINVAL, "distbelief: the job has %d ranks, the options need %d",
                       rt_size(r), db_ranks(o));
    return o->mode == DB_MODEL_PARALLEL ? db_mp_rank(r, arg) : db_downpour_rank(r, arg);
}
