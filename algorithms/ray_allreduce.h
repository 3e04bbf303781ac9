/* ray_allreduce.h -- a ring allreduce made of actors (ray_allreduce.c). */
#ifndef DISTLAB_RAY_ALLREDUCE_H
#define DISTLAB_RAY_ALLREDUCE_H

#include "algorithms/ray.h"

/* The actor class to put in a program's classes: "RingMember", whose
 * constructor takes (int index, int members, size_t floats, int
 * size_only) and fills its vector with ((index + j) % 7) so that every
 * sum is exact. With size_only nonzero it holds no vector: its chunks are
 * size-only objects and its sums are only charged (timing-only runs). */
extern const ray_class ray_ring_member_class;

/* p members (any nodes; the benchmark puts member i on node i), created
 * by the caller: allreduce their vectors with chunks passed as objects
 * from one member to the next, driven from the calling task; returns when
 * every member has the sum. */
int ray_ring_allreduce(ray *ry, const ray_actor *members, int p);
/* *wrong gets how many elements, over all members, are not the exact sum
 * (0 after an allreduce that worked). */
int ray_ring_check(ray *ry, const ray_actor *members, int p, double *wrong);

#endif
