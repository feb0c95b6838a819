/* ser_net over the CPU backend (host/train/net.c) reports every backend call's failure: with
 * SER_FAULT_INJECT=op:N the N-th call of op fails, the net call returns -1 with "backend cpu:
 * OP: ..." (the five sites the training loop uses: forward and its probability download,
 * backward, step, the state download and upload), calls before it succeed, a failed state
 * download leaves the caller's buffer untouched, and a malformed value is refused by name. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "ser/net.h"

enum { NH = 12, NW = 8, B = 4, CLASSES = 3 };

/* A fresh small model, its CPU backend and the net over it, with SER_FAULT_INJECT = fault
 * (NULL: unset). Returns the wrap's result; err holds its message. */
static int open_net(const char *fault, ser_model *m, ser_backend **be, ser_net *net, ser_error *err) {
    ser_config cfg;
    ser_config_defaults(&cfg);
    cfg.features.n_mfcc = NH, cfg.features.frames = NW;
    cfg.model.filters = 4, cfg.model.lstm_units = 5, cfg.model.conv_blocks = 2;
    if (fault) setenv("SER_FAULT_INJECT", fault, 1);
    else unsetenv("SER_FAULT_INJECT");
    CHECK(ser_model_create(m, &cfg, CLASSES, err) == 0);
    *be = ser_backend_cpu_create(m, &cfg, B, err);
    CHECK(*be != NULL);
    return *be ? ser_net_wrap(net, *be, err) : -1;
}

static void close_net(ser_model *m, ser_backend *be, ser_net *net) {
    ser_net_free(net);
    ser_backend_destroy(be);
    ser_model_destroy(m);
}

/* One training step through the net: forward, backward, step; the first failure's result. */
static int train_step(ser_net *net, const float *x, const int32_t *y, ser_error *err) {
    float loss;
    const float *probs;
    if (net->forward(net->impl, x, y, NULL, B, 1, 0, &loss, &probs, err) != 0) return -1;
    if (net->backward(net->impl, err) != 0) return -1;
    return net->step(net->impl, 1e-3f, err);
}

int main(void) {
    static float x[B * NH * NW];
    for (size_t i = 0; i < sizeof x / sizeof *x; i++) x[i] = (float)((i * 37) % 11) / 11.0f - 0.5f;
    const int32_t y[B] = {0, 1, 2, 1};
    ser_model m;
    ser_backend *be;
    ser_net net;
    ser_error err = {{0}};

    /* Unset: three steps and a state round trip succeed. */
    CHECKF(open_net(NULL, &m, &be, &net, &err) == 0, "%s", err.msg);
    const size_t ns = net.state_size(net.impl);
    float *state = malloc(ns * sizeof *state), *probe = malloc(ns * sizeof *probe);
    CHECK(state && probe);
    for (int s = 0; s < 3; s++) CHECKF(train_step(&net, x, y, &err) == 0, "%s", err.msg);
    CHECK(net.state_get(net.impl, state, &err) == 0 && net.state_set(net.impl, state, &err) == 0);
    close_net(&m, be, &net);

    /* op:2: the first call succeeds, the second fails with the backend and the call named. */
    const char *ops[] = {"forward", "download_probs", "backward", "step", "download_state", "upload_state"};
    for (int k = 0; k < 6; k++) {
        char fault[64], want[160];
        snprintf(fault, sizeof fault, "%s:2", ops[k]);
        snprintf(want, sizeof want, "backend cpu: %s: injected fault (SER_FAULT_INJECT=%s)", ops[k], fault);
        CHECKF(open_net(fault, &m, &be, &net, &err) == 0, "%s", err.msg);
        int first, second;
        if (k < 4) {
            first = train_step(&net, x, y, &err);
            second = train_step(&net, x, y, &err);
        } else if (k == 4) {
            first = net.state_get(net.impl, state, &err);
            for (size_t i = 0; i < ns; i++) probe[i] = -7.0f;
            CHECK(train_step(&net, x, y, &err) == 0);
            second = net.state_get(net.impl, probe, &err);
            int untouched = 1;
            for (size_t i = 0; i < ns; i++) untouched &= probe[i] == -7.0f;
            CHECKF(untouched, "a failed state download wrote into the caller's buffer");
        } else {
            first = net.state_set(net.impl, state, &err);
            second = net.state_set(net.impl, state, &err);
        }
        CHECKF(first == 0 && second == -1 && !strcmp(err.msg, want), "%s: first %d, second %d: %s", fault, first, second,
               err.msg);
        close_net(&m, be, &net);
    }

    /* Malformed values fail the wrap, naming the variable. */
    const char *bad[] = {"step", "step:", "step:0", "step:-1", "step:2x", "launch:1", ":3"};
    for (int k = 0; k < 7; k++) {
        err.msg[0] = 0;
        CHECKF(open_net(bad[k], &m, &be, &net, &err) == -1 && strstr(err.msg, "SER_FAULT_INJECT"), "%s: %s", bad[k],
               err.msg);
        ser_backend_destroy(be);
        ser_model_destroy(&m);
    }
    free(state), free(probe);
    unsetenv("SER_FAULT_INJECT");
    return check_finish("test_net_faults");
}
