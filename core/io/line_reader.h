/* Lines of a file read with a ceiling: a line longer than the maximum, a read error or a failed
 * allocation is an error with its reason, never an early end of file. Only regular files (or
 * "-", stdin) are read, so /dev/zero or a FIFO cannot make a reader grow or block. */
#ifndef LC_LINE_READER_H
#define LC_LINE_READER_H

#include <stdbool.h>
#include <stddef.h>

#include "core/model/status.h"

struct line_reader;

enum lc_status line_reader_open(struct line_reader **out, const char *path, size_t max_line, char *err);
/* The next line, NUL-terminated without its '\n' (*line NULL at the end of the file); complete
 * is false for a last line that has no '\n'. The line stays valid until the next call. */
enum lc_status line_reader_next(struct line_reader *r, const char **line, size_t *len, bool *complete, char *err);
long line_reader_line_number(const struct line_reader *r); /* of the line last returned, from 1 */
void line_reader_close(struct line_reader *r);

#endif
