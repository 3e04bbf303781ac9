/* files.c -- see files.h. */
#include "core/files.h"

#include <stdio.h>
#include <sys/stat.h>

int files_check_regular(const char *path, char *err, size_t errlen)
{
    struct stat st;
    if (stat(path, &st) != 0 || S_ISREG(st.st_mode))
        return 0;
    const char *what = S_ISDIR(st.st_mode) ? "a folder" : S_ISFIFO(st.st_mode) ? "a FIFO (named pipe)"
                       : S_ISSOCK(st.st_mode) ? "a socket" : "a device";
    snprintf(err, errlen, "%s: %s, not a regular file%s", path, what,
             S_ISDIR(st.st_mode) ? "" : " (distlab reads its inputs by size and more than once: write it to a file)");
    return -1;
}
