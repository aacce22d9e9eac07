/* The capture file: the event stream on disk, one JSON object per line, written through as
 * events arrive (a kill loses nothing emitted) and fsynced at the end of each run. `longca view`
 * and `longca export` read it back. */
#ifndef LC_CAPTURE_H
#define LC_CAPTURE_H

#include <stdio.h>

#include "core/model/event.h"
#include "core/model/status.h"

struct capture_writer;

enum lc_status capture_open(const char *path, struct capture_writer **out, char *err);
void capture_write(struct capture_writer *w, const struct event *ev);
const char *capture_path(const struct capture_writer *w);
enum lc_status capture_close(struct capture_writer *w, char *err); /* the first write error, if any */

/* One event's line at most: an intervals event of a long run is the largest (~200 bytes each). */
#define CAPTURE_MAX_LINE (256u << 20)

/* Calls cb for every event in file order; the event is freed after cb returns. A capture whose
 * writer stopped mid-line (a kill, a full disk) loads up to there and *truncated_at is that
 * line's number (else 0). Read and allocation errors are errors, never an early end; a file that
 * is not regular is refused unless named "-" (stdin); an empty capture is an error. */
enum lc_status capture_read(const char *path, void (*cb)(void *ctx, const struct event *ev), void *ctx,
                            long *truncated_at, char *err);

/* A run's spec as a capture writes it, and back from the "spec" member of obj: results files
 * carry it so that `longca diff` matches runs by every parameter. */
struct json_value;
void run_spec_write_json(FILE *f, const struct run_spec *s);
enum lc_status run_spec_parse_json(const struct json_value *obj, struct run_spec *out, char *err);

/* One event as one line of JSON (no newline), and back. */
void event_write_json(FILE *f, const struct event *ev);
enum lc_status event_parse_json(const char *line, struct event *out, char *err);

#endif
