/* cryptogen bfv layer: RNS-BFV parameters, keys, encryption, encoders,
 * evaluator, noise tracking, serialization. Built on ring.h. */
#ifndef CRYPTOGEN_BFV_H
#define CRYPTOGEN_BFV_H

#include "cryptogen/ring.h"

#ifdef __cplusplus
extern "C" {
#endif

#ifdef __cplusplus
}
#endif
#endif
