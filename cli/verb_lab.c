/* verb_lab.c -- `distlab lab`: the labs of a course.
 *
 *   distlab lab list               every lab: number, idea, time, checker
 *   distlab lab check NN FILE.c    the lab's checker on a student's file
 *   distlab lab run NN FILE.c ...  the lab's command on it (the rest of
 *                                  the line goes to that command)
 *
 * Labs are the folders NN-name/ of labs/: the source tree's, when this
 * distlab runs from one, else $DISTLAB_SHARE/labs or the installed
 * PREFIX/share/distlab/labs. The checkers are code (cli/lab_check.c).
 */
#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/lab.h"

static const char *labs_dir(void)
{
    static char dir[PATH_MAX];
    const char *env = getenv("DISTLAB_SHARE");
    if (!(env && *env) && cli_source_root())
        snprintf(dir, sizeof dir, "%s/labs", cli_source_root());
    else
        snprintf(dir, sizeof dir, "%s/labs", cli_share_dir());
    return dir;
}

static int is_lab_name(const char *name)
{
    return name[0] >= '0' && name[0] <= '9' && name[1] >= '0' && name[1] <= '9' && name[2] == '-';
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The sheet's first heading, and its "Time:" line, if any. */
static void sheet_facts(const char *dir, const char *lab, char *title, size_t tlen, char *time, size_t len)
{
    char path[PATH_MAX + 300], line[512];
    snprintf(title, tlen, "(no README.md)");
    snprintf(time, len, "?");
    snprintf(path, sizeof path, "%s/%s/README.md", dir, lab);
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    int have_title = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        if (!have_title && strncmp(line, "# ", 2) == 0) {
            /* "# Lab 01 — the idea" (or ": ", " -- "): the idea */
            const char *t = line + 2;
            static const char *const seps[] = {" — ", " -- ", ": "};
            const char *first = NULL;
            size_t skip = 0;
            for (int k = 0; k < 3 && strncmp(t, "Lab ", 4) == 0; k++) {
                const char *at = strstr(t, seps[k]);
                if (at && (!first || at < first)) {
                    first = at;
                    skip = strlen(seps[k]);
                }
            }
            if (first)
                t = first + skip;
            snprintf(title, tlen, "%s", t);
            have_title = 1;
        } else if (strncmp(line, "Time: ", 6) == 0) {
            snprintf(time, len, "%.*s", (int)strcspn(line + 6, "."), line + 6);
        }
    }
    fclose(f);
}

/* The lab folders, sorted; NULL (having said why) when there are none. */
static char **lab_names(const char *dir, int *n)
{
    DIR *d = opendir(dir);
    *n = 0;
    if (!d) {
        fprintf(stderr, "distlab lab: no labs in %s (set DISTLAB_SHARE to the folder that holds labs/)\n", dir);
        return NULL;
    }
    char **names = NULL;
    for (struct dirent *e; (e = readdir(d));) {
        if (!is_lab_name(e->d_name))
            continue;
        char **grown = realloc(names, (size_t)(*n + 1) * sizeof *names);
        if (!grown)
            break;
        names = grown;
        names[(*n)++] = strdup(e->d_name);
    }
    closedir(d);
    if (*n)
        qsort(names, (size_t)*n, sizeof *names, by_name);
    return names;
}

static void free_names(char **names, int n)
{
    for (int i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

/* What `lab run` does with the lab's file, or NULL when the file runs
 * only under its checker (verb_lab: the labs whose file plugs into a
 * command of distlab's). */
static const char *run_does(const lab_checker *c)
{
    if (c->check == lab_check_allreduce)
        return "distlab collective --algo FILE.c, then your options";
    if (c->check == lab_check_scaling)
        return "your time model beside the simulation, for your settings";
    if (c->check == lab_check_ray_ps)
        return "distlab run ray-ps --mode async --async-loop FILE.c, then your options";
    return NULL;
}

/* The labs whose file `lab run` runs, as "01, 02, 07 and 09". */
static void run_labs(char *buf, size_t len)
{
    const char *nums[100];
    int n = 0;
    char num[3];
    for (int k = 1; k < 100 && n < 100; k++) {
        snprintf(num, sizeof num, "%02d", k);
        const lab_checker *c = lab_checker_find(num);
        if (c && run_does(c))
            nums[n++] = c->number;
    }
    buf[0] = '\0';
    for (int i = 0; i < n; i++)
        snprintf(buf + strlen(buf), len - strlen(buf), "%s%s", i == 0 ? "" : i == n - 1 ? " and " : ", ",
                 nums[i]);
}

static int lab_list(void)
{
    const char *dir = labs_dir();
    int n;
    char **names = lab_names(dir, &n);
    if (!names)
        return 1;
    printf("# labs in %s\n", dir);
    for (int i = 0; i < n; i++) {
        char title[600], time[600], num[3] = {names[i][0], names[i][1], 0};
        sheet_facts(dir, names[i], title, sizeof title, time, sizeof time);
        const lab_checker *c = lab_checker_find(num);
        printf("%-22s %-8s %s\n%-22s %-8s %s%s%s\n", names[i], time, title, "", "",
               c ? "checker: distlab lab check " : "checker: none yet", c ? num : "",
               c ? " FILE.c" : "");
        if (c)
            printf("%-22s %-8s you write %s\n", "", "", c->what);
        if (c && run_does(c))
            printf("%-22s %-8s run: distlab lab run %s FILE.c: %s\n", "", "", num, run_does(c));
    }
    free_names(names, n);
    return 0;
}

/* The lab a command names: "1", "01", "01-ring" or "ring". */
static int find_lab(const char *want, char *num, char *folder, size_t len)
{
    const char *dir = labs_dir();
    int n, found = 0;
    char **names = lab_names(dir, &n);
    for (int i = 0; i < n && !found; i++) {
        long k = strtol(want, NULL, 10);
        int by_number = want[0] >= '0' && want[0] <= '9' && atol(names[i]) == k &&
                        (strspn(want, "0123456789") == strlen(want) || strcmp(want, names[i]) == 0);
        if (by_number || strcmp(names[i] + 3, want) == 0) {
            snprintf(num, 3, "%.2s", names[i]);
            snprintf(folder, len, "%s/%s", dir, names[i]);
            found = 1;
        }
    }
    free_names(names, n);
    if (!found && names)
        fprintf(stderr, "distlab lab: no lab '%s' in %s (distlab lab list shows them)\n", want, dir);
    return found ? 0 : -1;
}

static int usage(FILE *f)
{
    char labs[64];
    run_labs(labs, sizeof labs);
    fprintf(f, "usage: distlab lab list\n"
               "       distlab lab check NN FILE.c [--quick]\n"
               "       distlab lab run NN FILE.c [options of the lab's command]\n\n"
               "  list    the labs, with their ideas, times and checkers\n"
               "  check   build FILE.c and run lab NN's checker on it: a TAP report and a\n"
               "          score; exit 0 only when every check passes (--quick: fewer\n"
               "          rank counts and sizes)\n"
               "  run     run FILE.c as the lab's sheet does, where the file plugs into a\n"
               "          command: labs %s (lab 01: distlab collective --algo FILE.c\n"
               "          --cost ring, then the options you give; lab 07: your time model\n"
               "          beside the simulation, for the settings you give; lab list says\n"
               "          each); the other labs' files run only under their checkers\n", labs);
    return f == stdout ? 0 : 2;
}

/* A student's file must be one: said otherwise, and 0. */
static int is_source(const char *sub, const char *path)
{
    struct stat st;
    if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
        return 1;
    fprintf(stderr, "distlab lab %s: %s: %s\n", sub, path,
            stat(path, &st) != 0 ? strerror(errno) : "not a file (give your .c file)");
    return 0;
}

int verb_lab(int argc, char **argv)
{
    if (argc < 2)
        return usage(stderr);
    const char *sub = argv[1];
    if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0)
        return usage(stdout);
    if (strcmp(sub, "list") == 0) {
        if (argc > 2) {
            fprintf(stderr, "distlab lab list: unexpected argument '%s'\n", argv[2]);
            return 2;
        }
        return lab_list();
    }
    if (strcmp(sub, "check") != 0 && strcmp(sub, "run") != 0) {
        fprintf(stderr, "distlab lab: unknown command '%s' (list, check, run)\n", sub);
        return 2;
    }
    if (argc < 4) {
        fprintf(stderr, "distlab lab %s: give the lab and your file: distlab lab %s NN FILE.c\n", sub, sub);
        return 2;
    }
    char num[3], folder[PATH_MAX];
    if (find_lab(argv[2], num, folder, sizeof folder) != 0)
        return 2;
    const lab_checker *c = lab_checker_find(num);
    if (!c) {
        fprintf(stderr, "distlab lab %s: lab %s has no checker yet; its sheet is %s/README.md\n", sub,
                num, folder);
        return 2;
    }
    if (strcmp(sub, "check") == 0) {
        int quick = 0;
        for (int i = 4; i < argc; i++) {
            if (strcmp(argv[i], "--quick") == 0) {
                quick = 1;
            } else {
                fprintf(stderr, "distlab lab check: unexpected argument '%s' (only --quick)\n", argv[i]);
                return 2;
            }
        }
        return is_source(sub, argv[3]) ? c->check(c, argv[3], quick) : 2;
    }
    char *args[CLI_MAX_ARGS + 8];
    int n = 0;
    /* run, lab 09: ray-ps in async mode, driven by the student's loop */
    if (c->check == lab_check_ray_ps) {
        args[n++] = "run";
        args[n++] = "ray-ps";
        args[n++] = "--mode";
        args[n++] = "async";
        args[n++] = "--async-loop";
        args[n++] = argv[3];
        for (int i = 4; i < argc && n < CLI_MAX_ARGS; i++)
            args[n++] = argv[i];
        args[n] = NULL;
        return verb_run(n, args);
    }
    /* run: lab 07's model, printed beside the simulation */
    if (c->check == lab_check_scaling) {
        args[n++] = "lab run 07";
        for (int i = 4; i < argc && n < CLI_MAX_ARGS; i++)
            args[n++] = argv[i];
        args[n] = NULL;
        return lab_run_scaling(argv[3], n, args);
    }
    /* run: the collective labs' command, with the student's file */
    if (c->check != lab_check_allreduce) {
        char labs[64];
        run_labs(labs, sizeof labs);
        fprintf(stderr, "distlab lab run: lab %s's file runs only under its checker (distlab lab check %s "
                "FILE.c); the sheet's other commands are distlab's own (lab run takes labs %s)\n", num,
                num, labs);
        return 2;
    }
    args[n++] = "collective";
    args[n++] = "--algo";
    args[n++] = argv[3];
    args[n++] = "--cost";
    args[n++] = (char *)allreduce_algo_name(c->cost);
    for (int i = 4; i < argc && n < CLI_MAX_ARGS; i++)
        args[n++] = argv[i];
    args[n] = NULL;
    return verb_collective(n, args);
}
