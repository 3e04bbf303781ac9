/* figures.h -- figures drawn straight from run folders (core/records.h):
 * what `distlab plot`, `distlab timeline` and the end of `distlab run`
 * draw. Each returns 0, or -1 with a message in err. */
#ifndef DISTLAB_FIGURES_H
#define DISTLAB_FIGURES_H

#include <stddef.h>

/* How a figure looks, beyond its data. */
typedef struct figures_style {
    const char *title;          /* NULL: none (timeline: the run's label) */
    double width_in, height_in; /* 0: the chart's default size */
} figures_style;

/* Parse "WxH" in inches ("3.5x2.4") into a style; -1 with err on a bad
 * or out-of-range size. */
int figures_parse_size(const char *s, figures_style *style, char *err, size_t errlen);

/* figures_runs, figures_timeline and figures_trace return 0, -1 when the
 * figure or file could not be made, or FIGURES_BAD_RUN when a run folder
 * was refused (a malformed record, a missing column): bad input, which
 * the command line reports with exit 2. */
#define FIGURES_BAD_RUN (-2)

/* Overlay one metric of several runs, each labelled from its summary
 * ("allreduce, 8 workers (sim)", plus the settings that tell apart runs
 * that would otherwise share a label). x and y name metrics.csv columns;
 * the short names time, epoch, step, loss (train_loss) and accuracy
 * (test_accuracy) are accepted too. style may be NULL. */
int figures_runs(const char *out, const char *const *dirs, int ndirs, const char *x, const char *y,
                 int log_y, const figures_style *style, char *err, size_t errlen);

/* The timeline of one run, between from_s and to_s (NaN: the whole run). */
int figures_timeline(const char *out, const char *dir, double from_s, double to_s,
                     const figures_style *style, char *err, size_t errlen);

/* The events of one run as Chrome trace-event JSON. */
int figures_trace(const char *out, const char *dir, char *err, size_t errlen);

/* Draw loss.png (loss against time) and, when the run recorded events,
 * timeline.png into a closed run folder (records_close). The run verbs
 * call it once, after writing the records. */
int figures_default(const char *outdir, char *err, size_t errlen);

#endif
