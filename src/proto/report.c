/* What each step cost, per part of the model: time, bytes each way and
 * rounds, charged as the differences of the channel's counters around each
 * part (the parts are enum values all the way; nothing is looked up by
 * name). */
#include <string.h>
#include <time.h>

#include "proto/proto_internal.h"

static const char *const part_names[CG_PART_COUNT] = {
    [CG_PART_EMBEDDING] = "embedding", [CG_PART_LAYERNORM] = "layernorm",
    [CG_PART_QKV] = "qkv",             [CG_PART_KV_APPEND] = "kv_append",
    [CG_PART_QK] = "qk",               [CG_PART_SOFTMAX] = "softmax",
    [CG_PART_SV] = "sv",               [CG_PART_ATTN_OUT] = "attn_out",
    [CG_PART_MLP_UP] = "mlp_up",       [CG_PART_GELU] = "gelu",
    [CG_PART_MLP_DOWN] = "mlp_down",   [CG_PART_LM_HEAD] = "lm_head",
    [CG_PART_TOKEN] = "token",         [CG_PART_REFRESH] = "refresh",
    [CG_PART_FINAL_NORM] = "final_layernorm"};

const char *cg_gen_part_name(cg_gen_part p)
{
    return (unsigned)p < CG_PART_COUNT ? part_names[p] : "?";
}

const char *cg_gen_attention_name(cg_gen_attention a)
{
    switch (a) {
    case CG_ATTN_DEFAULT: return "default";
    case CG_ATTN_CTCT: return "ctct";
    case CG_ATTN_SPLIT: return "split";
    }
    return NULL;
}

/* Process CPU time (every thread's), ns; 0 where the clock is missing. */
static uint64_t process_cpu_ns(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) != 0) return 0;
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

cg_chan_counters gen_channel_totals(const gen_sess *s)
{
    cg_chan_stats cs;
    cg_chan_get_stats(s->ch, &cs);
    return cs.total;
}

void gen_part_begin(gen_sess *s, cg_gen_part p)
{
    s->part = p;
    s->part_c0 = gen_channel_totals(s);
    s->part_t0 = cg_now_ns();
    s->part_cpu0 = process_cpu_ns();
}

void gen_part_end(gen_sess *s)
{
    const cg_gen_part p = s->part;
    const cg_chan_counters c = gen_channel_totals(s);
    s->rep.seconds[p] += (double)(cg_now_ns() - s->part_t0) * 1e-9;
    s->rep.cpu_seconds[p] += (double)(process_cpu_ns() - s->part_cpu0) * 1e-9;
    s->rep.bytes_sent[p] += c.bytes_sent - s->part_c0.bytes_sent;
    s->rep.bytes_received[p] += c.bytes_received - s->part_c0.bytes_received;
    s->rep.rounds[p] += c.rounds - s->part_c0.rounds;
}

void gen_step_begin(gen_sess *s, size_t step)
{
    memset(&s->rep, 0, sizeof s->rep);
    s->rep.step = step;
    s->step_cpu0 = process_cpu_ns();
    cg_chan_reset_stats(s->ch);
}

void gen_step_end(gen_sess *s, size_t length, uint64_t t0)
{
    const cg_chan_counters c = gen_channel_totals(s);
    s->rep.total_sent = c.bytes_sent;
    s->rep.total_received = c.bytes_received;
    s->rep.total_rounds = c.rounds;
    s->rep.total_seconds = (double)(cg_now_ns() - t0) * 1e-9;
    s->rep.total_cpu_seconds = (double)(process_cpu_ns() - s->step_cpu0) * 1e-9;
    s->rep.length = length;
    if (s->rep.step == 0) {
        s->rep.setup_seconds = (double)(t0 - s->setup_t0) * 1e-9;
        s->rep.setup_sent = s->setup.bytes_sent;
        s->rep.setup_received = s->setup.bytes_received;
    }
    if (s->party == CG_SERVER) kv_cache_usage(&s->cache, &s->rep.cache_cts, &s->rep.cache_bytes);
    s->rep.share_bytes = s->shares.bytes + s->shares.pt_bytes; /* the server's kept plaintexts too */
    s->rep.attention = s->attn;
    if (s->opt && s->opt->on_step) s->opt->on_step(s->opt->on_step_ctx, &s->rep);
}

void gen_progress(gen_sess *s, cg_gen_phase phase, size_t done, size_t total)
{
    if (!s->opt || !s->opt->on_progress) return;
    cg_chan_counters c = gen_channel_totals(s);
    if (phase == CG_PHASE_PREFILL) { /* the counters were reset when the step began */
        c.bytes_sent += s->setup.bytes_sent;
        c.bytes_received += s->setup.bytes_received;
    }
    const cg_gen_progress p = {
        .phase = phase, .done = done, .total = total,
        .positions_done = phase == CG_PHASE_PREFILL ? s->prefill_positions_done : 0,
        .positions_total = phase == CG_PHASE_PREFILL ? s->req.prompt_len : 0,
        .seconds = (double)(cg_now_ns() - s->setup_t0) * 1e-9,
        .sent = c.bytes_sent, .received = c.bytes_received};
    s->opt->on_progress(s->opt->on_progress_ctx, &p);
}
