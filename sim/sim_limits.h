/* sim_limits.h -- whether this machine can hold a simulation's actors.
 *
 * Every rank is a SimGrid actor with its own stack: SIM_STACK_KIB of
 * address space and two memory mappings (the stack and the guard page
 * SimGrid protects below it). Past Linux's vm.max_map_count SimGrid
 * aborts the run ("Failed to protect stack"), so the backend asks first
 * and refuses with the limit, how many ranks fit and how to raise it.
 */
#ifndef DISTLAB_SIM_LIMITS_H
#define DISTLAB_SIM_LIMITS_H

#include <stddef.h>

/* Each actor's stack (sim_platform.c gives SimGrid this size). */
#define SIM_STACK_KIB 512

/* What the machine allows; 0 in a field: no limit known. */
typedef struct sim_limits {
    double max_map_count;       /* /proc/sys/vm/max_map_count */
    double maps_in_use;         /* this process's mappings now */
    double address_space_bytes; /* ulimit -v (RLIMIT_AS) less what is mapped now */
    double commit_bytes;        /* strict overcommit (vm.overcommit_memory 2): CommitLimit - Committed_AS */
    double memory_bytes;        /* MemAvailable + SwapFree */
} sim_limits;

/* This process's limits, from /proc and getrlimit. */
void sim_limits_read(sim_limits *l);
/* 0 if ranks actors fit within l; else -1 with what runs out, its limit,
 * how many ranks fit, and what to change in err. */
int sim_limits_check(int ranks, const sim_limits *l, char *err, size_t errlen);

#endif
