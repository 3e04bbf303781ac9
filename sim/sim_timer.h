/* sim_timer.h -- SimGrid kernel timers from C (sim_timer.cpp).
 *
 * A timer's function runs in SimGrid's maestro at the simulated date, not
 * in an actor: it costs no actor of its own, no context switch, and what
 * it calls that would be a simcall from an actor (releasing a semaphore,
 * resuming an actor) runs at once. --net analytic's flow model keeps its
 * clock with one (sim.c). And a cheap read of the simulated clock. */
#ifndef DISTLAB_SIM_TIMER_H
#define DISTLAB_SIM_TIMER_H

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sim_timer sim_timer;

/* Call fn(arg) at the simulated date (now at the earliest). The handle is
 * valid until fn starts or sim_timer_cancel; NULL when out of memory. */
sim_timer *sim_timer_at(double date, void (*fn)(void *), void *arg);
/* Drop a timer that has not fired yet. */
void sim_timer_cancel(sim_timer *t);

/* SimGrid's clock, from a copy that its time-advance signal keeps up to
 * date: simgrid_get_clock costs a call and a dozen instructions, and
 * --net analytic reads the clock a dozen times per message.
 * sim_clock_watch() before the simulation runs. */
extern double sim_clock_now;
void sim_clock_watch(void);
static inline double sim_clock(void) { return sim_clock_now; }

#ifdef __cplusplus
}
#endif

#endif
