/* plot.h -- distlab's figure library: line charts, timelines, bar charts
 * and scaling charts, drawn with cairo, text set with pango.
 *
 * The figures are meant for papers as much as for screens: sizes are in
 * inches and fonts in points, chosen to stay legible when a figure is set
 * one column wide in a two-column paper; colours come from the Okabe-Ito
 * palette, which colour-blind readers can tell apart; axes get ticks at
 * round values ("nice numbers"), and every axis label carries its unit.
 *
 * The output format follows the file name: .png (raster, opts.dpi), .svg
 * or .pdf (vector). Every call returns 0, or -1 with a message in err.
 *
 *   plot_series s[2] = {{"ring", xs, ys1, n}, {"tree", xs, ys2, n}};
 *   plot_lines_spec spec = {.opts = plot_opts_default(), .series = s, .nseries = 2};
 *   spec.opts.x.label = "time (s)";
 *   spec.opts.y.label = "training loss";
 *   if (plot_lines("loss.pdf", &spec, err, sizeof err)) ...
 */
#ifndef DISTLAB_PLOT_H
#define DISTLAB_PLOT_H

#include <stddef.h>

#include "algorithms/runtime.h"

typedef enum { PLOT_LINEAR = 0, PLOT_LOG10, PLOT_LOG2 } plot_scale;

typedef struct plot_axis {
    const char *label;   /* with its unit: "time (s)"; NULL for none */
    plot_scale scale;
    double min, max;     /* NaN: from the data (rounded out to ticks) */
} plot_axis;

typedef struct plot_opts {
    const char *title;   /* NULL for none */
    double width_in, height_in; /* 0: the chart's default size */
    double dpi;          /* PNG pixels per inch (default 300) */
    plot_axis x, y;
} plot_opts;

plot_opts plot_opts_default(void);

/* ---- line charts ---- */

typedef struct plot_series {
    const char *name;    /* legend entry; NULL keeps it out of the legend */
    const double *x, *y; /* n points; a NaN (or <= 0 on a log axis) breaks the line */
    size_t n;
    int markers;         /* a marker at each point */
} plot_series;

typedef struct plot_lines_spec {
    plot_opts opts;
    const plot_series *series;
    int nseries;
    /* Optional: series k takes the palette's colour colour[k] instead of
     * the k-th, and one without a name is drawn thin and dashed (the
     * lowest and highest of repeated runs, around their mean). */
    const int *colour;
} plot_lines_spec;

int plot_lines(const char *path, const plot_lines_spec *spec, char *err, size_t errlen);

/* ---- scaling charts ---- */

/* Each series holds (workers, seconds) points. Speedup is
 * baseline_s / seconds, where baseline_s is the one-worker time; with
 * baseline_s = 0 each series' first point is taken as its own baseline
 * and counted as perfectly scaled (speedup = its worker count). The ideal
 * line is speedup = workers, or efficiency = 1. Axis labels default to
 * "workers" and "speedup" (or "parallel efficiency"). */
typedef struct plot_scaling_spec {
    plot_opts opts;      /* worker counts 1, 2, 4 ...: PLOT_LOG2 on x (and on y for speedup) */
    const plot_series *series;
    int nseries;
    int efficiency;      /* 0: speedup; 1: parallel efficiency */
    double baseline_s;
} plot_scaling_spec;

int plot_scaling(const char *path, const plot_scaling_spec *spec, char *err, size_t errlen);

/* ---- bar charts ---- */

/* Groups along the x axis (e.g. algorithms), one bar per series in each
 * group (grouped), or the series stacked in one bar per group (stacked:
 * compute / communication / wait per algorithm). Series named compute,
 * send, recv, wait or communication get the timeline's colours. */
typedef struct plot_bars_spec {
    plot_opts opts;
    int ngroups;
    const char *const *groups;
    int nseries;
    const char *const *series;
    const double *values; /* values[s * ngroups + g] */
    int stacked;
    /* grouped bars: each bar's value written over it (printf format of one
     * double, e.g. "%.3g"), so a bar a hundred times shorter than the
     * tallest still reads; NULL: none */
    const char *value_format;
} plot_bars_spec;

int plot_bars(const char *path, const plot_bars_spec *spec, char *err, size_t errlen);

/* ---- timelines ---- */

/* One row per rank: compute and wait on the upper band, sends and
 * receives on two thin bands under it. Intervals closer than a device
 * pixel are merged, so millions of events draw in well under a second.
 * A run with spans (rt_span: Ray's tasks and object transfers) gets a
 * band above them, coloured by span name, with the names in the legend
 * and written on the spans wide enough to hold them. */
typedef struct plot_timeline_spec {
    plot_opts opts;      /* x.min/x.max: the window in seconds (NaN: all) */
    const rt_event *events;
    size_t nevents;
    const char *const *span_names; /* by a span's tag; NULL: "span N" */
    int nspan_names;
} plot_timeline_spec;

int plot_timeline(const char *path, const plot_timeline_spec *spec, char *err, size_t errlen);

/* Whether a figure can be written to path: its name ends in .png, .svg
 * or .pdf (any case). 0, or -1 with err saying so; every plot_* function
 * checks it, and a command line can first (bad input, not a failed run). */
int plot_path_check(const char *path, char *err, size_t errlen);

/* ---- building blocks, exposed for tests and other charts ---- */

#define PLOT_MAX_TICKS 64

typedef struct plot_ticks {
    double v[PLOT_MAX_TICKS];
    int n;
    double lo, hi;       /* the axis range: the data range rounded out to ticks */
    double step;         /* linear: tick spacing */
} plot_ticks;

/* Ticks at round values for data in [lo, hi] on an axis about `target`
 * ticks long: linear steps of 1, 2 or 5 times a power of ten; log10 ticks
 * at powers of ten (or 1-2-5 within a decade or two); log2 at powers of two.
 * Returns -1 when the range is unusable (not finite, or <= 0 on a log axis). */
int plot_ticks_choose(double lo, double hi, plot_scale scale, int target, plot_ticks *t);

/* Colours: the Okabe-Ito palette, for series i (wraps). 0xRRGGBB. */
unsigned plot_palette(int i);
/* The timeline colour of an rt_event kind. */
unsigned plot_kind_colour(int kind);
/* The timeline colour of span slot k (plots/timeline.c): 0..7 a name's
 * own, 8 "other spans". */
unsigned plot_span_colour(int k);

#endif
