/* Error codes with messages; see common.h. */
#include "cryptogen/common.h"

#include <stdio.h>
#include <string.h>

const char *cg_status_name(cg_status s)
{
    switch (s) {
    case CG_OK: return "CG_OK";
    case CG_ERR_ARG: return "CG_ERR_ARG";
    case CG_ERR_NOMEM: return "CG_ERR_NOMEM";
    case CG_ERR_FORMAT: return "CG_ERR_FORMAT";
    case CG_ERR_PARAM: return "CG_ERR_PARAM";
    case CG_ERR_IO: return "CG_ERR_IO";
    case CG_ERR_PEER: return "CG_ERR_PEER";
    case CG_ERR_TIMEOUT: return "CG_ERR_TIMEOUT";
    case CG_ERR_CRYPTO: return "CG_ERR_CRYPTO";
    case CG_ERR_UNSUPPORTED: return "CG_ERR_UNSUPPORTED";
    case CG_ERR_STATE: return "CG_ERR_STATE";
    case CG_ERR_RANGE: return "CG_ERR_RANGE";
    case CG_ERR_NOISE: return "CG_ERR_NOISE";
    case CG_ERR_INTERNAL: return "CG_ERR_INTERNAL";
    }
    return "CG_ERR_UNKNOWN";
}

cg_status cg_error_set(cg_error *err, cg_status code, const char *fmt, ...)
{
    if (err) {
        err->code = code;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return code;
}

void cg_error_clear(cg_error *err)
{
    if (err) {
        err->code = CG_OK;
        err->msg[0] = '\0';
    }
}
