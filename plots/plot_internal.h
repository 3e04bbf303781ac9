/* plot_internal.h -- what the chart files of plots/ share: the canvas
 * (a cairo surface chosen by file extension, with pango text), the frame
 * of a chart (plot area, axes, ticks) and the legend. */
#ifndef DISTLAB_PLOT_INTERNAL_H
#define DISTLAB_PLOT_INTERNAL_H

#include <cairo.h>
#include <pango/pangocairo.h>

#include "plots/plot.h"

/* Font sizes in points, for a figure about one paper column wide. */
#define PLOT_FONT "DejaVu Sans, Sans"
#define PLOT_TITLE_PT 9
#define PLOT_LABEL_PT 8.5
#define PLOT_TICK_PT 7.5
#define PLOT_LEGEND_PT 7.5

#define PLOT_INK 0x222222u      /* axes, text */
#define PLOT_GRID 0xE3E3E3u
#define PLOT_MUTED 0x777777u    /* the ideal line of scaling charts */

typedef struct canvas {
    cairo_surface_t *surface;
    cairo_t *cr;
    PangoLayout *layout;
    char *path;
    int png;
    double w, h;         /* points */
    double px_per_pt;    /* device pixels per point (vector: a fine grid) */
} canvas;

int canvas_open(canvas *c, const char *path, double width_in, double height_in, double dpi,
                char *err, size_t errlen);
/* Write the file (PNG) or finish it (SVG, PDF), and free the canvas. With
 * ok == 0 only frees it. */
int canvas_close(canvas *c, int ok, char *err, size_t errlen);

void canvas_rgb(canvas *c, unsigned rgb);
void canvas_rgba(canvas *c, unsigned rgb, double alpha);
/* Size of a line of pango markup, in points. */
void canvas_text_size(canvas *c, const char *markup, double size_pt, int bold, double *w, double *h);
/* Draw markup with its anchor (ax, ay) in [0,1]x[0,1] of its box at
 * (x, y); angle_deg rotates counter-clockwise about that point. */
void canvas_text(canvas *c, double x, double y, double ax, double ay, double angle_deg,
                 const char *markup, double size_pt, int bold, unsigned rgb);

/* Tick labels as pango markup: "0.5", "−2", "10<sup>6</sup>". */
void plot_tick_label(double v, const plot_ticks *t, plot_scale scale, char *buf, size_t len);

/* ---- the frame: a plot area with its two axes ---- */

typedef struct frame {
    double x0, y0, x1, y1;  /* plot area, points (y0 top) */
    plot_scale xs, ys;
    plot_ticks xt, yt;
    /* Categorical axes (bars along x, ranks down y): label i sits at
     * position i; y categories run top to bottom. xcat NULL: numeric;
     * nycat 0: numeric, else ycat's labels, or their numbers when ycat is
     * NULL (a timeline of 16 million ranks needs no 16 million strings). */
    const char *const *xcat, *const *ycat;
    int nxcat, nycat;
    int no_xgrid, no_ygrid;
    /* Linear y from the data: when a curve would run along the axis end,
     * the axis goes on this fraction further, without another tick. */
    double y_air;
} frame;

double frame_x(const frame *f, double v);
double frame_y(const frame *f, double v);
/* Choose the ticks for data in [xlo, xhi] x [ylo, yhi] (ignored on a
 * categorical axis, which must be set before) and lay out the plot area,
 * leaving room for the title, tick labels and axis labels, plus right_pt
 * on the right and top_pt under the title (legends). */
void frame_layout(canvas *c, frame *f, const plot_opts *o, double xlo, double xhi,
                  double ylo, double yhi, double right_pt, double top_pt);
/* Grid, spines, ticks, tick labels, axis labels and title. */
void frame_draw(canvas *c, const frame *f, const plot_opts *o);
/* Clip drawing to the plot area grown by margin_pt (room for a marker
 * on the axis end); cairo_save'd, undo with cairo_restore. */
void frame_clip(canvas *c, const frame *f, double margin_pt);

/* ---- legends ---- */

typedef enum { LEGEND_LINE, LEGEND_MARKER_LINE, LEGEND_BOX, LEGEND_DASHED } legend_swatch;

typedef struct legend_entry {
    const char *name;
    unsigned rgb;
    legend_swatch swatch;
} legend_entry;

/* A legend of n entries in cols columns (1: one column; n: one row),
 * its size, and drawn with its top left at (x, y) on an optional
 * translucent white backdrop. */
void legend_size(canvas *c, const legend_entry *e, int n, int cols, double *w, double *h);
void legend_draw(canvas *c, const legend_entry *e, int n, int cols, double x, double y, int backdrop);
/* The most columns (up to one row) whose legend is at most max_w wide. */
int legend_cols_to_fit(canvas *c, const legend_entry *e, int n, double max_w);

/* Segment from (ax, ay) to (bx, by) meets the rectangle? */
int plot_segment_hits(double ax, double ay, double bx, double by, double x0, double y0, double x1, double y1);

#endif
