/* A one-line status on stderr: drawn only when stderr is a terminal, cut to
 * the terminal's width so that it never wraps, always erasable with "\r" +
 * erase-line, and erased by SIGINT/SIGTERM before the program dies (so no
 * stale line is left under the shell prompt). */
#ifndef CG_CLI_STATUS_H
#define CG_CLI_STATUS_H
#include <stdbool.h>

typedef struct cli_status {
    bool enabled; /* wanted and stderr is a terminal */
    bool shown;   /* a line is on the screen now */
} cli_status;

/* want: the caller's choice (not --quiet, not JSON, ...). */
void cli_status_init(cli_status *s, bool want);
void cli_status_show(cli_status *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void cli_status_clear(cli_status *s);
/* Puts back the signal handlers cli_status_init installed. */
void cli_status_done(cli_status *s);

/* stdout and stderr are the same terminal: a status line would land inside
 * the streamed text, so it is shown only while no text line is open. */
bool cli_stdout_shares_terminal(void);

#endif
