/* `longca view FILE | cat`: the capture's results table, every column the runs fill (the CP
 * ones when any run is a CP run), with --compare B a last "vs B" column. */
#ifndef LC_TUI_VIEW_PRINT_H
#define LC_TUI_VIEW_PRINT_H

#include "core/io/results_read.h"
#include "tui/model.h"

int view_print_results(const struct tui_model *m, const struct result_set *compare);

#endif
