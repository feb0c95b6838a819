/* The training loop's view (ser_net, ser/train.h) of a backend (ser/backend.h). The net state
 * is [params | Adam m | Adam v | adam_t | step] in the ser/model.h layout, so checkpoints are
 * the same on every backend. */
#ifndef SER_NET_H
#define SER_NET_H

#ifdef __cplusplus
extern "C" {
#endif

#include "ser/backend.h"
#include "ser/train.h"

/* Wraps be (not owned); ser_net_free releases the wrapper. */
int ser_net_wrap(ser_net *net, ser_backend *be, ser_error *err);
void ser_net_free(ser_net *net);

#ifdef __cplusplus
}
#endif

#endif
