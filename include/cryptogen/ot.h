/* cryptogen oblivious transfer: base OT (Chou-Orlandi), IKNP correlated-OT extension, derived chosen-message, random and 1-out-of-N OT. */
#ifndef CRYPTOGEN_OT_H
#define CRYPTOGEN_OT_H

#include "cryptogen/net.h"

#ifdef __cplusplus
extern "C" {
#endif

#ifdef __cplusplus
}
#endif
#endif
