/* lab.h -- the labs' checkers, which `distlab lab check` runs.
 *
 * A lab is a folder labs/NN-name/ (README.md, starter.c, solution.c,
 * teacher.md); its checker is code here, found by the lab's number. A
 * checker builds the student's file (cli/plugin.c), runs it through the
 * same kinds of test distlab's own algorithms pass, prints a TAP report
 * and a one-line score, and returns 0 only when every check passed.
 */
#ifndef DISTLAB_CLI_LAB_H
#define DISTLAB_CLI_LAB_H

#include "algorithms/collectives.h"

typedef struct lab_checker lab_checker;
struct lab_checker {
    const char *number;   /* "01": the folder's prefix */
    const char *what;     /* what the student writes, for `lab list` */
    const char *symbol;   /* the entry point (algorithms/plugin.h) */
    allreduce_algo cost;  /* collective labs: the formula to meet */
    /* Check `file`; quick: fewer rank counts and sizes (make check). */
    int (*check)(const lab_checker *lab, const char *file, int quick);
};

/* The checker of lab "NN" (leading zeros optional), or NULL. */
const lab_checker *lab_checker_find(const char *number);

#endif
