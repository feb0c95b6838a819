/* A small builder of an ONNX GraphProto over protobuf-c's generated structs (onnx.pb-c.h, from
 * third_party/onnx/onnx.proto): named initializers, nodes with attributes, typed inputs and
 * outputs. Every string, array and message it makes comes from one arena that onnx_graph_free
 * releases at once, so the exporter never frees piecemeal. An allocation failure or a full
 * table sets b->failed (with the reason in b->why); the caller checks it once at the end. */
#ifndef SER_EXPORT_ONNX_GRAPH_H
#define SER_EXPORT_ONNX_GRAPH_H

#include <stddef.h>
#include <stdint.h>

#include "onnx.pb-c.h"

#define ONNX_GRAPH_MAX_NODES 512
#define ONNX_GRAPH_MAX_INITS 256

typedef struct onnx_graph {
    Onnx__GraphProto graph;
    Onnx__NodeProto *nodes[ONNX_GRAPH_MAX_NODES];
    Onnx__TensorProto *inits[ONNX_GRAPH_MAX_INITS];
    Onnx__ValueInfoProto *inputs[1], *outputs[1];
    Onnx__NodeProto *last;      /* the node onnx_graph_op made last (its attributes go here) */
    void **arena;
    size_t n_arena, cap_arena;
    int failed;
    char why[128];
} onnx_graph;

void onnx_graph_init(onnx_graph *b, const char *name);
void onnx_graph_free(onnx_graph *b);

/* Arena memory (zeroed) and strings; NULL (and b->failed) when out of memory. */
void *onnx_graph_alloc(onnx_graph *b, size_t bytes);
char *onnx_graph_strdup(onnx_graph *b, const char *s);

/* A float32 / int64 initializer named `name` (copied), shape dims[0..ndim); returns the name. */
const char *onnx_graph_f32(onnx_graph *b, const char *name, const float *data, int ndim, const int64_t *dims);
const char *onnx_graph_i64(onnx_graph *b, const char *name, const int64_t *data, int ndim, const int64_t *dims);

/* A node `op` with nin inputs (const char *, "" = an omitted optional input) and one output
 * named out; returns out. The node is b->last until the next one. */
const char *onnx_graph_op(onnx_graph *b, const char *op, const char *out, int nin, ...);
/* The same with a second output (LSTM's Y_h). */
void onnx_graph_op2(onnx_graph *b, const char *op, const char *out0, const char *out1, int nin, ...);

/* Attributes of b->last. */
void onnx_graph_attr_int(onnx_graph *b, const char *name, int64_t v);
void onnx_graph_attr_float(onnx_graph *b, const char *name, float v);
void onnx_graph_attr_ints(onnx_graph *b, const char *name, const int64_t *v, int n);

/* The float32 graph input / output: dims[i] < 0 is the dynamic dimension named dim_param. */
void onnx_graph_io(onnx_graph *b, int output, const char *name, int ndim, const int64_t *dims, const char *dim_param);

#endif
