/* librosa.load(path, sr, offset, duration) in C: libsndfile window read -> mono -> libsoxr HQ.
 *
 * The reference chain, step by step (librosa 0.11 core/audio.py, python-soxr 1.1 soxr_ext.cpp):
 *   soundfile: seek(int(offset * sr_native)); read(int(duration * sr_native) frames, float32),
 *              cut to the frames the file has (sf_readf_float, libsndfile's default float
 *              normalisation: 16-bit PCM / 32768);
 *   to_mono:   valid_audio (every sample finite, else ParameterError), then np.mean over the
 *              channels in float32 (sequential sum, then / channels);
 *   resample:  nothing when the rates match; else soxr.resample(y, sr_native, sr, 'soxr_hq'),
 *              which for a 1-D float32 array calls csoxr_split_ch<float>: soxr_create with
 *              io_spec(SOXR_FLOAT32_S, SOXR_FLOAT32_S), quality_spec(SOXR_HQ, 0), runtime NULL;
 *              input fed in chunks of max(1000, 48000 * in / out) frames into an output
 *              capped at n * out / in + 1, then one flush; then fix_length to
 *              ceil(n * (out / in)) (zero padding or cut).
 * Debian's libsoxr 0.1.3 (engine cr32s) gives the same bits as the libsoxr python-soxr
 * bundles (0.1.3-14-ga66f3ee, cr32s): checked by tests/test_audio.c. */
#include "ser/audio.h"
#include "ser/grow.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <sndfile.h>
#include <soxr.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int ser_audio_open_regular(const char *path, ser_error *err) {
    /* O_NONBLOCK so that a FIFO given by mistake fails below instead of blocking here. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return ser_fail(err, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return ser_fail(err, "%s: cannot open: %s", path, strerror(e));
    }
    const char *why = S_ISDIR(st.st_mode) ? "is a directory, not an audio file"
                      : !S_ISREG(st.st_mode) ? "not a regular file"
                      : st.st_size == 0      ? "empty file (0 bytes)"
                                             : NULL;
    if (why) {
        close(fd);
        return ser_fail(err, "%s: %s", path, why);
    }
    return fd;
}

/* audio.trim_db: the first frame of the first 20 ms block (native rate, all channels) of the
 * decoded interleaved x (frames frames) whose mean square is within trim_db dB of the loudest
 * block's. A silent clip, or one whose energies are not finite (the finiteness check after the
 * window read names the sample), has its onset at 0. */
static size_t sound_onset(const float *x, size_t frames, int channels, int rate, double trim_db) {
    const size_t block = rate / 50 > 0 ? (size_t)rate / 50 : 1, ch = (size_t)channels;
    double loudest = 0;
    for (size_t b = 0; b < frames; b += block) {
        const size_t m = (frames - b < block ? frames - b : block) * ch;
        double e = 0;
        for (size_t i = 0; i < m; i++) e += (double)x[b * ch + i] * x[b * ch + i];
        if (!(e / (double)m <= 1e300)) return 0;
        if (e / (double)m > loudest) loudest = e / (double)m;
    }
    const double floor = loudest * pow(10.0, -trim_db / 10.0);
    for (size_t b = 0; b < frames; b += block) {
        const size_t m = (frames - b < block ? frames - b : block) * ch;
        double e = 0;
        for (size_t i = 0; i < m; i++) e += (double)x[b * ch + i] * x[b * ch + i];
        if (e > 0 && e / (double)m >= floor) return b;
    }
    return 0;
}

/* Decodes frames [start, start + count) of path (interleaved float32) into buf->scratch.
 * Sets *got to the frames actually read. */
static int read_window(const char *path, const ser_audio_config *cfg, ser_audio_buf *buf,
                       size_t *got, ser_error *err) {
    int fd = ser_audio_open_regular(path, err);
    if (fd < 0) return -1;
    SF_INFO info;
    memset(&info, 0, sizeof info); /* format 0: libsndfile detects the format by content */
    SNDFILE *sf = sf_open_fd(fd, SFM_READ, &info, SF_TRUE);
    if (!sf) {
        /* With close_desc true libsndfile owns fd: it closes it on this failure too.
         * sf_strerror(NULL) reads a process-wide slot, so under threads the reason may
         * come from another failing open; the file named is always right. */
        return ser_fail(err, "%s: not a recognised audio file (libsndfile: %s)", path, sf_strerror(NULL));
    }
    int rc = -1;
    if (info.samplerate <= 0 || info.channels <= 0) {
        ser_fail(err, "%s: not a recognised audio file (sample rate %d, %d channels)", path,
                 info.samplerate, info.channels);
        goto done;
    }
    if (info.frames <= 0) {
        ser_fail(err, "%s: no audio frames (header with no data)", path);
        goto done;
    }
    /* Python: int(offset * sr_native), int(duration * sr_native) (truncation toward zero). */
    const double sr = (double)info.samplerate;
    if (!(cfg->offset >= 0)) {
        ser_fail(err, "%s: negative offset %g s", path, cfg->offset);
        goto done;
    }
    /* With trim_db the whole clip is decoded once, its onset found, and the window moved to the
     * front; otherwise only the window is decoded. */
    const int trim = cfg->trim_db > 0;
    sf_count_t frames = info.frames, onset = 0;
    if (trim) {
        if (ser_grow((void **)&buf->scratch, &buf->scratch_cap, (size_t)frames * (size_t)info.channels, sizeof(float),
                     "decoded audio", err))
            goto done;
        const sf_count_t all = sf_readf_float(sf, buf->scratch, frames);
        if (all <= 0 || (all < frames && sf_error(sf) != SF_ERR_NO_ERROR)) {
            ser_fail(err, "%s: read error: %lld of %lld frames (libsndfile: %s)", path, (long long)(all < 0 ? 0 : all),
                     (long long)frames, sf_strerror(sf));
            goto done;
        }
        frames = all; /* a short read, as soundfile's */
        onset = (sf_count_t)sound_onset(buf->scratch, (size_t)frames, info.channels, info.samplerate, cfg->trim_db);
    }
    /* Compared in double first so that a huge offset or duration cannot overflow the cast. */
    const double start_d = (double)onset + cfg->offset * sr;
    if (start_d >= (double)frames) {
        ser_fail(err, "%s: clip shorter than the offset: %lld frames at %d Hz (%.3f s), offset %g s",
                 path, (long long)frames, info.samplerate, (double)frames / sr, cfg->offset);
        goto done;
    }
    const sf_count_t start = (sf_count_t)start_d;
    sf_count_t count = frames - start;
    if (cfg->duration > 0 && cfg->duration * sr < (double)count) count = (sf_count_t)(cfg->duration * sr);
    if (count <= 0) {
        ser_fail(err, "%s: no audio frames in the window (duration %g s at %d Hz)", path,
                 cfg->duration, info.samplerate);
        goto done;
    }
    sf_count_t n = count;
    if (trim) {
        memmove(buf->scratch, buf->scratch + (size_t)start * (size_t)info.channels,
                (size_t)count * (size_t)info.channels * sizeof *buf->scratch);
    } else {
        if (start > 0 && sf_seek(sf, start, SEEK_SET) != start) {
            ser_fail(err, "%s: cannot seek to frame %lld (libsndfile: %s)", path, (long long)start,
                     sf_strerror(sf));
            goto done;
        }
        if (ser_grow((void **)&buf->scratch, &buf->scratch_cap, (size_t)count * (size_t)info.channels, sizeof(float),
                     "decoded audio", err))
            goto done;
        n = sf_readf_float(sf, buf->scratch, count);
        /* Short reads are what soundfile returns too (it cuts its array to the frames read);
         * only no frames at all, or a decoder error, is a failure. */
        if (n <= 0 || (n < count && sf_error(sf) != SF_ERR_NO_ERROR)) {
            ser_fail(err, "%s: read error: %lld of %lld frames from frame %lld (libsndfile: %s)", path,
                     (long long)(n < 0 ? 0 : n), (long long)count, (long long)start, sf_strerror(sf));
            goto done;
        }
    }
    buf->source_rate = info.samplerate;
    buf->source_channels = info.channels;
    *got = (size_t)n;
    rc = 0;
done:
    sf_close(sf);
    return rc;
}

/* ser/audio.h. Exponent bits all ones = NaN or Inf. Branch-free integer OR over the bit
 * patterns, so the compiler vectorises it: the check costs a few microseconds per clip. */
int ser_audio_all_finite(const float *x, size_t n) {
    uint32_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, x + i, sizeof u);
        bad |= (uint32_t)((u & 0x7f800000u) == 0x7f800000u);
    }
    return bad == 0;
}

/* Resamples x[0..n) from rate `in` to `out` into buf->samples, as soxr.resample + fix_length. */
static int resample(const char *path, const float *x, size_t n, int in, int out, ser_audio_buf *buf,
                    ser_error *err) {
    soxr_error_t e = NULL;
    soxr_t s = (soxr_t)buf->resampler;
    if (s && buf->resampler_in == in && buf->resampler_out == out) {
        /* Same output as a fresh soxr_create (checked by the test, which loads files of
         * several rates through one buffer), minus the allocation. */
        e = soxr_clear(s);
    } else {
        if (s) soxr_delete(s);
        buf->resampler = NULL;
        const soxr_io_spec_t io = soxr_io_spec(SOXR_FLOAT32_S, SOXR_FLOAT32_S);
        const soxr_quality_spec_t q = soxr_quality_spec(SOXR_HQ, 0);
        s = soxr_create((double)in, (double)out, 1, &e, &io, &q, NULL);
        if (!e) {
            buf->resampler = s;
            buf->resampler_in = in;
            buf->resampler_out = out;
        }
    }
    if (e) return ser_fail(err, "%s: resampler error %d -> %d Hz: %s", path, in, out, e);

    /* python-soxr's sizes, in its arithmetic (size_t from double, truncating). */
    const size_t olen = (size_t)((double)n * (double)out / (double)in) + 1;
    const size_t div_len = (size_t)fmax(1000.0, 48000.0 * (double)in / (double)out);
    const double ratio = (double)out / (double)in; /* librosa: float(target_sr) / orig_sr */
    const size_t nfix = (size_t)ceil((double)n * ratio);
    if (ser_grow((void **)&buf->samples, &buf->cap, olen > nfix ? olen : nfix, sizeof(float), "resampled audio", err)) return -1;

    size_t pos = 0, done = 0;
    for (size_t i = 0; i < n && !e; i += div_len) {
        const float *ip = x + i;
        float *op = buf->samples + pos;
        e = soxr_process(s, &ip, n - i < div_len ? n - i : div_len, NULL, &op, olen - pos, &done);
        pos += done;
    }
    if (!e) {
        float *op = buf->samples + pos;
        e = soxr_process(s, NULL, 0, NULL, &op, olen - pos, &done);
        pos += done;
    }
    if (e) return ser_fail(err, "%s: resampler error %d -> %d Hz: %s", path, in, out, e);
    /* fix_length: zero-pad (or cut) to ceil(n * ratio). */
    if (pos < nfix) memset(buf->samples + pos, 0, (nfix - pos) * sizeof(float));
    buf->n = nfix;
    return 0;
}

int ser_audio_load(const char *path, const ser_audio_config *cfg, ser_audio_buf *buf, ser_error *err) {
    SER_ASSERT(path && cfg && buf);
    buf->n = 0;
    if (cfg->sample_rate <= 0) return ser_fail(err, "%s: target sample rate %d <= 0", path, cfg->sample_rate);
    size_t n = 0;
    if (read_window(path, cfg, buf, &n, err)) return -1;
    const int ch = buf->source_channels;

    /* librosa's valid_audio runs on the multi-channel window, before the mixdown. */
    float *x = buf->scratch;
    const size_t total = n * (size_t)ch;
    if (!ser_audio_all_finite(x, total)) {
        size_t i = 0;
        while (isfinite(x[i])) i++;
        return ser_fail(err, "%s: non-finite sample (%s) at frame %zu of the window", path,
                        isnan(x[i]) ? "NaN" : "Inf", i / (size_t)ch);
    }

    /* np.mean(y, axis=0) in float32: sum the channels in order, then divide by the count.
     * Done in place: frame i's mean goes to x[i], which no later frame reads. */
    if (ch > 1) {
        const float fch = (float)ch;
        for (size_t i = 0; i < n; i++) {
            const float *f = x + i * (size_t)ch;
            float s = f[0];
            for (int c = 1; c < ch; c++) s += f[c];
            x[i] = s / fch;
        }
    }

    if (buf->source_rate == cfg->sample_rate) {
        if (ser_grow((void **)&buf->samples, &buf->cap, n, sizeof(float), "audio samples", err)) return -1;
        memcpy(buf->samples, x, n * sizeof(float));
        buf->n = n;
    } else if (resample(path, x, n, buf->source_rate, cfg->sample_rate, buf, err)) {
        return -1;
    }
    /* Finite samples can still sum to Inf in the mixdown or the resampler's filter (float
     * files hold values up to 3.4e38; found by fuzz_audio): the clip fails here, naming the
     * file, rather than later in the features. */
    if (!ser_audio_all_finite(buf->samples, buf->n)) {
        buf->n = 0;
        return ser_fail(err, "%s: samples overflow to Inf/NaN after the mono mixdown or resampling (values "
                             "near the float limit)", path);
    }
    return 0;
}

void ser_audio_buf_free(ser_audio_buf *buf) {
    if (!buf) return;
    free(buf->samples);
    free(buf->scratch);
    if (buf->resampler) soxr_delete((soxr_t)buf->resampler);
    memset(buf, 0, sizeof *buf);
}
