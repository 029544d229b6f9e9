/* Umbrella header: the whole cryptogen API (installed as <cryptogen/cryptogen.h>). */
#ifndef CRYPTOGEN_H
#define CRYPTOGEN_H
#include "cryptogen/common.h"
#include "cryptogen/fxp.h"
#include "cryptogen/ring.h"
#include "cryptogen/bfv.h"
#include "cryptogen/net.h"
#include "cryptogen/ot.h"
#include "cryptogen/mpc.h"
#include "cryptogen/model.h"
#include "cryptogen/proto.h"
#endif
