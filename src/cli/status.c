#include "cli/status.h"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

/* The one piece of process state the CLI keeps: whether a status line is
 * on the screen, for the signal handler (which may only write(2)). */
static volatile sig_atomic_t line_visible;
static struct sigaction old_int, old_term;

static void on_signal(int sig)
{
    if (line_visible) {
        static const char erase[] = "\r\033[K";
        ssize_t w = write(STDERR_FILENO, erase, sizeof erase - 1);
        (void)w;
    }
    /* die of the signal as the shell expects */
    signal(sig, SIG_DFL);
    raise(sig);
}

void cli_status_init(cli_status *s, bool want)
{
    memset(s, 0, sizeof *s);
    s->enabled = want && isatty(STDERR_FILENO);
    line_visible = 0;
    if (!s->enabled) return;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
}

void cli_status_show(cli_status *s, const char *fmt, ...)
{
    if (!s->enabled) return;
    char line[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    /* one column short of the width: a full line would wrap on some terminals */
    struct winsize ws;
    size_t width = ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 1 ? ws.ws_col - 1u : 79u;
    if (strlen(line) > width) line[width] = '\0';
    fprintf(stderr, "\r\033[K%s", line);
    fflush(stderr);
    s->shown = true;
    line_visible = 1;
}

void cli_status_clear(cli_status *s)
{
    if (!s->enabled || !s->shown) return;
    fprintf(stderr, "\r\033[K");
    fflush(stderr);
    s->shown = false;
    line_visible = 0;
}

void cli_status_done(cli_status *s)
{
    cli_status_clear(s);
    if (!s->enabled) return;
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    s->enabled = false;
}

bool cli_stdout_shares_terminal(void)
{
    struct stat a, b;
    if (!isatty(STDOUT_FILENO) || !isatty(STDERR_FILENO)) return false;
    if (fstat(STDOUT_FILENO, &a) != 0 || fstat(STDERR_FILENO, &b) != 0) return true;
    return a.st_rdev == b.st_rdev;
}
