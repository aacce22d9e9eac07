/* An output the user names (-o, --capture): a regular file is replaced whole or not at all (a
 * temp file beside it, fsynced and renamed into place); a character device, a FIFO or "-"
 * (stdout) is written as a stream; a symlink is followed to its target (a dangling one is
 * refused); a directory, socket or block device is refused. New files take the user's umask,
 * a replaced file keeps its permission bits. Write errors (ENOSPC, EIO) are reported. */
#ifndef LC_OUTPUT_FILE_H
#define LC_OUTPUT_FILE_H

#include <stdbool.h>
#include <stdio.h>

#include "core/model/status.h"

struct output_file {
    FILE *f;        /* write here between open and commit */
    char *path;     /* the file written: the name given, or a symlink's target */
    char *tmp_path; /* regular file: "<path>.partial-XXXXXX" until published; NULL for a stream */
    bool stream;    /* device, FIFO or stdout */
    struct output_sink *sink; /* the descriptor under f and its first write error; f owns it */
};

enum lc_status output_open(struct output_file *o, const char *path, char *err);
/* Makes what was written so far visible under the final name and keeps the file open for more
 * (a capture that grows while a session runs): flush, fsync, rename. A stream is flushed. */
enum lc_status output_publish(struct output_file *o, char *err);
/* Pushes written bytes to the kernel (a kill loses nothing); with durable, fsync them too. */
enum lc_status output_flush(struct output_file *o, bool durable, char *err);
/* Flush, fsync, close, rename into place (regular files). The temp file is gone afterwards
 * either way; a failure is returned with the reason. */
enum lc_status output_commit(struct output_file *o, char *err);
/* Drops the temp file (after a failure of the caller's own); a published file stays. */
void output_abort(struct output_file *o);

/* The descriptor a name stands for ("-" and /dev/stdout 1, /dev/stderr 2, /dev/fd/N and
 * /proc/self/fd/N N), written as a stream by output_open; -1 for any other name. */
int output_names_descriptor(const char *path);

#endif
