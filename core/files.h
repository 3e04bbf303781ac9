/* files.h -- an input file must be a regular file.
 *
 * A FIFO (named pipe) given as --data, --calibration or any other input
 * blocked the open until something wrote into it, forever if nothing did;
 * a device or a socket reads as endless or as nothing. distlab's readers
 * take a file's size, read some files twice, and pair an IDX image file
 * with its labels, so a stream is refused rather than half supported:
 * write it to a file first.
 */
#ifndef DISTLAB_FILES_H
#define DISTLAB_FILES_H

#include <stddef.h>

/* 0 when path is a regular file, or names nothing (the open then says
 * why); -1 with "PATH: a folder (a FIFO, a device, a socket), not a
 * regular file" in err, stat'ing it without opening it. */
int files_check_regular(const char *path, char *err, size_t errlen);

#endif
