"""Writes the audio seed corpus of the fuzz target fuzz_audio (tests/fuzz/corpus/audio/):
small files in every container and sample format libsndfile reads that we see in practice,
plus broken ones. Run once, committed: python3 tests/fuzz/make_audio_seeds.py
(numpy + soundfile; the project never needs Python to build or test)."""
import os

import numpy as np
import soundfile as sf

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "audio")
os.makedirs(out, exist_ok=True)
rng = np.random.default_rng(7)


def tone(rate, seconds, channels=1):
    t = np.arange(int(rate * seconds)) / rate
    y = 0.4 * np.sin(2 * np.pi * 220 * t) + 0.05 * rng.standard_normal(t.size)
    return np.stack([y] * channels, axis=1) if channels > 1 else y


# (name, rate, seconds, channels, format, subtype): short enough to fuzz fast, longer than the
# reference recipe's 0.5 s offset for some so that the seek and the window are exercised
files = [
    ("pcm16_8k.wav", 8000, 0.6, 1, "WAV", "PCM_16"),
    ("pcm16_22050_short.wav", 22050, 0.1, 1, "WAV", "PCM_16"),
    ("float_stereo_11025.wav", 11025, 0.55, 2, "WAV", "FLOAT"),
    ("pcm24_16k.wav", 16000, 0.3, 1, "WAV", "PCM_24"),
    ("u8_8k.wav", 8000, 0.6, 1, "WAV", "PCM_U8"),
    ("ulaw_8k.wav", 8000, 0.2, 1, "WAV", "ULAW"),
    ("pcm16_8k.aiff", 8000, 0.6, 1, "AIFF", "PCM_16"),
    ("pcm16_8k.flac", 8000, 0.6, 1, "FLAC", "PCM_16"),
    ("vorbis_8k.ogg", 8000, 0.6, 1, "OGG", "VORBIS"),
    ("six_channels_8k.wav", 8000, 0.1, 6, "WAV", "PCM_16"),
]
for name, rate, sec, ch, fmt, sub in files:
    sf.write(os.path.join(out, name), tone(rate, sec, ch), rate, format=fmt, subtype=sub)

# broken ones: a header claiming more data than there is, a header with no data, junk
with open(os.path.join(out, "pcm16_8k.wav"), "rb") as f:
    wav = f.read()
with open(os.path.join(out, "truncated.wav"), "wb") as f:
    f.write(wav[: len(wav) // 3])
with open(os.path.join(out, "header_only.wav"), "wb") as f:
    f.write(wav[:44])
with open(os.path.join(out, "junk.wav"), "wb") as f:
    f.write(rng.integers(0, 256, 600, dtype=np.uint8).tobytes())
