/* A file written whole or not at all: lines go to a temp file beside the final path, which is
 * flushed, fsynced and renamed into place on commit; any write error or an abort removes it. */
#ifndef LC_FILE_ATOMIC_H
#define LC_FILE_ATOMIC_H

#include <stdio.h>

#include "core/model/status.h"

struct file_atomic {
    FILE *f;        /* write here between open and commit */
    char *path;     /* final name */
    char *tmp_path; /* "<path>.partial-XXXXXX" */
};

/* Creates the temp file (mode 0644) with a 1 MiB stdio buffer. */
enum lc_status file_atomic_open(struct file_atomic *fa, const char *path, char *err);
/* Flush, fsync, close, rename, fsync the directory. The temp file is gone afterwards either way. */
enum lc_status file_atomic_commit(struct file_atomic *fa, char *err);
/* Drops the temp file (after a failure of the caller's own). */
void file_atomic_abort(struct file_atomic *fa);

#endif
