/* progress.h -- a one-line progress indicator for runs that take a while.
 *
 * A training run can take minutes of wall time (simulated or not); a
 * silent terminal looks like a hang. The line shows the epoch, the latest
 * loss and the run's clock, and is redrawn in place:
 *
 *   epoch 3/10  loss 0.4123  12.35 s simulated  (4 s wall)
 *
 * It appears only when the stream is a terminal, only once the run has
 * lasted PROGRESS_DELAY_S of wall time (short runs stay quiet), at most
 * ten times a second, and never with PROGRESS_QUIET (--quiet). The line is
 * erased by progress_close, so the run's own output starts on a clean line;
 * updates may come from a forked child (a sim run) of the process that
 * opened it, which then closes it.
 *
 *   progress *p = progress_open(stderr, "simulated", quiet ? PROGRESS_QUIET : 0);
 *   ... each evaluation: progress_update(p, epoch, epochs, loss, rt_now(r));
 *   progress_close(p);
 *
 * A NULL progress (out of memory) is accepted everywhere and does nothing.
 */
#ifndef DISTLAB_PROGRESS_H
#define DISTLAB_PROGRESS_H

#include <stdio.h>

#define PROGRESS_DELAY_S 2.0

enum {
    PROGRESS_QUIET = 1,  /* never draw (--quiet) */
    PROGRESS_ALWAYS = 2, /* draw even when not a terminal and without the
                            delay or rate limit: logs and tests */
};

typedef struct progress progress;

/* clock_name says what time_s is: "simulated" or "wall". Both borrowed
 * for the life of the progress. */
progress *progress_open(FILE *stream, const char *clock_name, unsigned flags);
/* epoch counts from 1; epochs <= 0 when unknown; NaN loss when none yet. */
void progress_update(progress *p, double epoch, int epochs, double loss, double time_s);
/* Erase the line (if one was drawn) and free p. */
void progress_close(progress *p);

#endif
