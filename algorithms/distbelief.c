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

void db_server_range(size_t P, int S, int s, size_t *lo, size_t *hi)
{
    *lo = P * (size_t)s / (size_t)S;
    *hi = P * (size_t)(s + 1) / (size_t)S;
}

void db_server_overlap(size_t P, int S, int s, size_t a0, size_t a1, size_t *lo, size_t *hi)
{
    size_t s0, s1;
    db_server_range(P, S, s, &s0, &s1);
    *lo = a0 > s0 ? a0 : s0;
    *hi = a1 < s1 ? a1 : s1;
}

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
