// The patch matrix (im2col) of a channels-last (N, T, H, W, C) clip and its transpose (col2im),
// float32, for R3D-18's 3D convolutions on a GPU. Compiled to PTX by build.rs when the `cuda`
// feature is on, launched from src/deep/ops/patches.rs as candle custom ops; the CPU kernels in
// that file define the layout.
//
// Rows of the matrix are the output positions (frame, ho, wo) of the output lines
// [line_start, line_start + n_lines) (line = frame * Ho + ho, frame = n * To + to); columns are
// (dt, dh, dw, c) ("tap-major") or, with channel_major, (c, dt, dh, dw). A window element in the
// zero padding reads 0.

#include <stdint.h>

struct Geometry {
    int t, h, w, c;
    int kt, kh, kw;
    int st, sh, sw;
    int pt, ph, pw;
    int to, ho, wo;
    int line_start, n_lines, channel_major;
};

// One thread per element of the (n_lines * Wo, K) matrix.
extern "C" __global__ void patches_f32(const float *__restrict__ src, float *__restrict__ dst,
                                       const Geometry g) {
    const int taps = g.kt * g.kh * g.kw;
    const int k = taps * g.c;
    const int64_t total = (int64_t)g.n_lines * g.wo * k;
    for (int64_t idx = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; idx < total;
         idx += (int64_t)blockDim.x * gridDim.x) {
        const int j = (int)(idx % k);
        const int64_t r = idx / k;
        const int ow = (int)(r % g.wo);
        const int line = g.line_start + (int)(r / g.wo);
        const int frame = line / g.ho, oh = line % g.ho;
        const int n = frame / g.to, ot = frame % g.to;
        int tap, ci;
        if (g.channel_major) {
            ci = j / taps;
            tap = j % taps;
        } else {
            tap = j / g.c;
            ci = j % g.c;
        }
        const int dt = tap / (g.kh * g.kw), dh = (tap / g.kw) % g.kh, dw = tap % g.kw;
        const int ti = ot * g.st + dt - g.pt;
        const int hi = oh * g.sh + dh - g.ph;
        const int wi = ow * g.sw + dw - g.pw;
        float v = 0.0f;
        if (ti >= 0 && ti < g.t && hi >= 0 && hi < g.h && wi >= 0 && wi < g.w) {
            v = src[((((int64_t)n * g.t + ti) * g.h + hi) * g.w + wi) * g.c + ci];
        }
        dst[idx] = v;
    }
}

// d input: one thread per element of the (N, T, H, W, C) input, summing every patch-matrix
// entry that was copied from it (no atomics: the sum is the same on every run).
extern "C" __global__ void patches_adjoint_f32(const float *__restrict__ grad,
                                               float *__restrict__ dx, const Geometry g,
                                               int batch) {
    const int taps = g.kt * g.kh * g.kw;
    const int k = taps * g.c;
    const int64_t total = (int64_t)batch * g.t * g.h * g.w * g.c;
    for (int64_t idx = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; idx < total;
         idx += (int64_t)blockDim.x * gridDim.x) {
        const int ci = (int)(idx % g.c);
        int64_t r = idx / g.c;
        const int wi = (int)(r % g.w);
        r /= g.w;
        const int hi = (int)(r % g.h);
        r /= g.h;
        const int ti = (int)(r % g.t);
        const int n = (int)(r / g.t);
        float sum = 0.0f;
        for (int dt = 0; dt < g.kt; ++dt) {
            const int a = ti + g.pt - dt;
            if (a < 0 || a % g.st != 0) continue;
            const int ot = a / g.st;
            if (ot >= g.to) continue;
            for (int dh = 0; dh < g.kh; ++dh) {
                const int b = hi + g.ph - dh;
                if (b < 0 || b % g.sh != 0) continue;
                const int oh = b / g.sh;
                if (oh >= g.ho) continue;
                const int line = (n * g.to + ot) * g.ho + oh;
                if (line < g.line_start || line >= g.line_start + g.n_lines) continue;
                for (int dw = 0; dw < g.kw; ++dw) {
                    const int e = wi + g.pw - dw;
                    if (e < 0 || e % g.sw != 0) continue;
                    const int ow = e / g.sw;
                    if (ow >= g.wo) continue;
                    const int64_t row = (int64_t)(line - g.line_start) * g.wo + ow;
                    const int tap = (dt * g.kh + dh) * g.kw + dw;
                    const int col = g.channel_major ? ci * taps + tap : tap * g.c + ci;
                    sum += grad[row * k + col];
                }
            }
        }
        dx[idx] = sum;
    }
}
