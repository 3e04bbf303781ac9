/* verb_plot.c -- `distlab plot`: overlay the curves of several runs.
 *
 *   distlab plot out/ring out/ps -o loss.pdf --x time --y loss --log-y
 *
 * Runs are labelled from their summaries; the figure's format follows the
 * extension of -o.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "plots/figures.h"
#include "plots/plot.h"

static const cli_opt plot_verb_opts[] = {
    {"output", "FILE", "the figure: .png, .svg or .pdf (also -o FILE)"},
    {"x", "time|epoch|step", "the horizontal axis (default time)"},
    {"y", "COLUMN", "loss, accuracy, test_loss, or any metrics.csv column (default loss)"},
    {"log-y", NULL, "logarithmic vertical axis"},
    {"title", "TEXT", "a title above the plot"},
    {"size", "WxH", "figure size in inches (default 3.5x2.45: one paper column)"},
    {NULL, NULL, NULL},
};

int verb_plot(int argc, char **argv)
{
    static const char *const xs[] = {"time", "epoch", "step", NULL};
    cli_args a;
    int code, xi = 0;
    char err[1024];
    if (cli_parse(argc, argv, "plot RUNDIR... -o FILE [options]", plot_verb_opts, 0, &a, &code))
        return code;
    const char *out = cli_get(&a, "output");
    if (!out || a.npos == 0) {
        fprintf(stderr, "distlab plot: %s (usage: distlab plot RUNDIR... -o FILE)\n",
                out ? "no run folders given" : "no output file given (-o FILE)");
        return 2;
    }
    if (cli_get_choice(&a, "plot", "x", xs, &xi))
        return 2;
    if (plot_path_check(out, err, sizeof err) != 0) {
        fprintf(stderr, "distlab plot: -o: %s\n", err);
        return 2;
    }
    figures_style style = {.title = cli_get(&a, "title")};
    if (cli_get(&a, "size") && figures_parse_size(cli_get(&a, "size"), &style, err, sizeof err)) {
        fprintf(stderr, "distlab plot: --size: %s\n", err);
        return 2;
    }
    const char *y = cli_get(&a, "y");
    int rc = figures_runs(out, a.pos, a.npos, xs[xi], y ? y : "loss", cli_flag(&a, "log-y"), &style, err,
                          sizeof err);
    if (rc) {
        fprintf(stderr, "distlab plot: %s\n", err);
        return rc == FIGURES_BAD_RUN ? 2 : 1;
    }
    return 0;
}
