/* The channel's accounting: phases and counters (see net.h). */
#include "net/chan_internal.h"

#include <stdio.h>
#include <string.h>

void cg_chan_set_phase(cg_channel *ch, const char *name)
{
    if (!ch) return;
    if (!name) {
        ch->phase = -1;
        return;
    }
    for (size_t i = 0; i < ch->stats.nphases; i++)
        if (strncmp(ch->stats.phase_name[i], name, CG_CHAN_PHASE_NAME - 1) == 0) {
            ch->phase = (int)i;
            return;
        }
    if (ch->stats.nphases == CG_CHAN_MAX_PHASES) {
        /* Table full: further phases count in the total only. */
        ch->phase = -1;
        return;
    }
    size_t i = ch->stats.nphases++;
    snprintf(ch->stats.phase_name[i], CG_CHAN_PHASE_NAME, "%s", name);
    ch->phase = (int)i;
}

void cg_chan_get_stats(const cg_channel *ch, cg_chan_stats *out)
{
    if (!out) return;
    if (!ch) {
        memset(out, 0, sizeof *out);
        return;
    }
    *out = ch->stats;
}

void cg_chan_reset_stats(cg_channel *ch)
{
    if (!ch) return;
    memset(&ch->stats, 0, sizeof ch->stats);
    ch->phase = -1;
    ch->sent_since_recv = false;
}
