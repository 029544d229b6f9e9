/* cryptogen secure generation protocol: phases, encrypted KV cache, sessions. */
#ifndef CRYPTOGEN_PROTO_H
#define CRYPTOGEN_PROTO_H

#include "cryptogen/bfv.h"
#include "cryptogen/model.h"

#ifdef __cplusplus
extern "C" {
#endif

#ifdef __cplusplus
}
#endif
#endif
