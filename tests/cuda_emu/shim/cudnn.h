#ifndef EMU_CUDNN_H
#define EMU_CUDNN_H
/* cuDNN is not emulated call by call: emu_dnn.cpp implements ser's own cuDNN layer
 * (kernels/cudnn_ops.h, kernels/cudnn_lstm.h) over the CPU layers; the handle is its context. */
typedef enum { CUDNN_STATUS_SUCCESS = 0 } cudnnStatus_t;
typedef struct emu_cudnn *cudnnHandle_t;
static inline const char *cudnnGetErrorString(cudnnStatus_t s) { (void)s; return "?"; }
#endif
