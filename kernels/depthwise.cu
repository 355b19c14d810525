// Depthwise 2-D convolution (torch's conv2d with groups = channels, no bias) on NCHW tensors,
// forward and both backward passes, for f32 and f64. Compiled to PTX by build.rs when the
// `cuda` feature is on, launched from src/deep/ops/depthwise.rs as candle custom ops.
//
// x (N, C, H, W), w (C, 1, k, k), y (N, C, Ho, Wo); symmetric zero padding p, stride s.
// Each output sums its taps in row-major order (i, then j), as the CPU kernel does.

#include <stdint.h>

template <typename T>
__device__ void forward(const T *__restrict__ x, const T *__restrict__ w, T *__restrict__ y,
                        int n, int c, int h, int wd, int k, int s, int p, int ho, int wo) {
    const int64_t total = (int64_t)n * c * ho * wo;
    for (int64_t idx = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; idx < total;
         idx += (int64_t)blockDim.x * gridDim.x) {
        const int ox = (int)(idx % wo);
        const int oy = (int)((idx / wo) % ho);
        const int64_t plane = idx / ((int64_t)wo * ho);
        const int ch = (int)(plane % c);
        const T *xp = x + plane * h * wd;
        const T *wp = w + (int64_t)ch * k * k;
        const int iy0 = oy * s - p, ix0 = ox * s - p;
        T acc = 0;
        for (int i = 0; i < k; ++i) {
            const int iy = iy0 + i;
            if (iy < 0 || iy >= h) continue;
            for (int j = 0; j < k; ++j) {
                const int ix = ix0 + j;
                if (ix < 0 || ix >= wd) continue;
                acc += wp[i * k + j] * xp[iy * wd + ix];
            }
        }
        y[idx] = acc;
    }
}

// d x[n, c, iy, ix] = sum over the taps (i, j) whose output (oy, ox) read it of
// w[c, i, j] * grad[n, c, oy, ox].
template <typename T>
__device__ void grad_input(const T *__restrict__ g, const T *__restrict__ w, T *__restrict__ dx,
                           int n, int c, int h, int wd, int k, int s, int p, int ho, int wo) {
    const int64_t total = (int64_t)n * c * h * wd;
    for (int64_t idx = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; idx < total;
         idx += (int64_t)blockDim.x * gridDim.x) {
        const int ix = (int)(idx % wd);
        const int iy = (int)((idx / wd) % h);
        const int64_t plane = idx / ((int64_t)wd * h);
        const int ch = (int)(plane % c);
        const T *gp = g + plane * ho * wo;
        const T *wp = w + (int64_t)ch * k * k;
        T acc = 0;
        for (int i = 0; i < k; ++i) {
            const int ty = iy + p - i;
            if (ty < 0 || ty % s != 0) continue;
            const int oy = ty / s;
            if (oy >= ho) continue;
            for (int j = 0; j < k; ++j) {
                const int tx = ix + p - j;
                if (tx < 0 || tx % s != 0) continue;
                const int ox = tx / s;
                if (ox >= wo) continue;
                acc += wp[i * k + j] * gp[oy * wo + ox];
            }
        }
        dx[idx] = acc;
    }
}

// d w[c, i, j] = sum over batch and output positions of grad * the input tap (i, j) read:
// one block per (channel, tap), a tree reduction in shared memory.
template <typename T>
__device__ void grad_weight(const T *__restrict__ x, const T *__restrict__ g, T *__restrict__ dw,
                            int n, int c, int h, int wd, int k, int s, int p, int ho, int wo,
                            T *shared) {
    const int ch = blockIdx.x / (k * k);
    const int tap = blockIdx.x % (k * k);
    const int i = tap / k, j = tap % k;
    const int64_t out_plane = (int64_t)ho * wo;
    const int64_t total = (int64_t)n * out_plane;
    T acc = 0;
    for (int64_t e = threadIdx.x; e < total; e += blockDim.x) {
        const int b = (int)(e / out_plane);
        const int64_t r = e % out_plane;
        const int oy = (int)(r / wo), ox = (int)(r % wo);
        const int iy = oy * s + i - p, ix = ox * s + j - p;
        if (iy < 0 || iy >= h || ix < 0 || ix >= wd) continue;
        const int64_t plane = (int64_t)b * c + ch;
        acc += g[plane * out_plane + r] * x[plane * h * wd + iy * wd + ix];
    }
    shared[threadIdx.x] = acc;
    __syncthreads();
    for (unsigned int half = blockDim.x / 2; half > 0; half >>= 1) {
        if (threadIdx.x < half) shared[threadIdx.x] += shared[threadIdx.x + half];
        __syncthreads();
    }
    if (threadIdx.x == 0) dw[blockIdx.x] = shared[0];
}

// grad_weight's block size: a power of two (the reduction halves it).
#define GRAD_WEIGHT_THREADS 256

#define DEPTHWISE_KERNELS(T, SUFFIX)                                                           \
    extern "C" __global__ void depthwise_forward_##SUFFIX(                                     \
        const T *x, const T *w, T *y, int n, int c, int h, int wd, int k, int s, int p,        \
        int ho, int wo) {                                                                      \
        forward<T>(x, w, y, n, c, h, wd, k, s, p, ho, wo);                                     \
    }                                                                                          \
    extern "C" __global__ void depthwise_grad_input_##SUFFIX(                                  \
        const T *g, const T *w, T *dx, int n, int c, int h, int wd, int k, int s, int p,       \
        int ho, int wo) {                                                                      \
        grad_input<T>(g, w, dx, n, c, h, wd, k, s, p, ho, wo);                                 \
    }                                                                                          \
    extern "C" __global__ void __launch_bounds__(GRAD_WEIGHT_THREADS)                          \
        depthwise_grad_weight_##SUFFIX(const T *x, const T *g, T *dw, int n, int c, int h,     \
                                       int wd, int k, int s, int p, int ho, int wo) {          \
        __shared__ T shared[GRAD_WEIGHT_THREADS];                                              \
        grad_weight<T>(x, g, dw, n, c, h, wd, k, s, p, ho, wo, shared);                        \
    }

DEPTHWISE_KERNELS(float, f32)
DEPTHWISE_KERNELS(double, f64)
