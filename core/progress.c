/* progress.c -- the one-line progress indicator (see progress.h).
 *
 * It redraws with a carriage return and "erase to end of line" (ESC [ K),
 * which every terminal distlab meets understands; when the stream is not
 * a terminal nothing is drawn at all, so logs and pipes stay clean.
 */
#include "core/progress.h"

#include <math.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define PROGRESS_INTERVAL_S 0.1

struct progress {
    FILE *stream;
    const char *clock_name;
    unsigned flags;
    int enabled;
    int drawn;            /* a line is on screen */
    double opened_s, last_draw_s;
};

static double wall_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

progress *progress_open(FILE *stream, const char *clock_name, unsigned flags)
{
    progress *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->stream = stream;
    p->clock_name = clock_name ? clock_name : "";
    p->flags = flags;
    p->enabled = stream && !(flags & PROGRESS_QUIET) &&
                 ((flags & PROGRESS_ALWAYS) || isatty(fileno(stream)));
    p->opened_s = wall_now_s();
    p->last_draw_s = -INFINITY;
    return p;
}

void progress_update(progress *p, double epoch, int epochs, double loss, double time_s)
{
    if (!p || !p->enabled)
        return;
    double now = wall_now_s();
    if (!(p->flags & PROGRESS_ALWAYS) &&
        (now - p->opened_s < PROGRESS_DELAY_S || now - p->last_draw_s < PROGRESS_INTERVAL_S))
        return;
    p->last_draw_s = now;
    char ep[48], lo[32] = "";
    if (epochs > 0)
        snprintf(ep, sizeof ep, "epoch %g/%d", epoch, epochs);
    else
        snprintf(ep, sizeof ep, "epoch %g", epoch);
    if (isfinite(loss))
        snprintf(lo, sizeof lo, "  loss %.4g", loss);
    fprintf(p->stream, "\r%s%s  %.2f s %s  (%.0f s wall)\033[K", ep, lo, time_s, p->clock_name,
            now - p->opened_s);
    fflush(p->stream);
    p->drawn = 1;
}

void progress_close(progress *p)
{
    if (!p)
        return;
    /* On a terminal, erase whether or not this process drew: the updates
     * may have come from a forked child (sim runs), whose `drawn` we
     * cannot see. */
    if (p->drawn || (p->enabled && !(p->flags & PROGRESS_ALWAYS))) {
        fputs("\r\033[K", p->stream);
        fflush(p->stream);
    }
    free(p);
}
