//! The depthwise forward pass with channels in the SIMD lanes.
//!
//! The planar kernel walks one (n, c) plane at a time, one kernel tap and one output row at a
//! time: on EfficientNet's late layers (7x7 and smaller planes, 25 taps) its loop overhead is
//! most of the work, and a stride-2 row is a strided gather that does not vectorise. Here a
//! block of [`LANES`] channels of one image is copied once into a zero-padded channels-last
//! scratch (`[y][x][lane]`), so every tap of every output pixel is one contiguous multiply-add
//! over the lanes, whatever the plane size and stride; the result is written back to the
//! channel planes. With AVX2 and FMA (picked at run time), f32 blocks use intrinsics: 8x8
//! register transposes in and out, four output pixels sharing each tap's weights.

use rayon::prelude::*;

use super::super::cpu::Real;
use super::DepthwiseGeometry;

/// Channels per block: 16 f32 lanes are two AVX2 registers.
const LANES: usize = 16;

/// Whether the channel-blocked kernel is the faster one for `g` in f32: always with AVX2 and
/// FMA (measured 1.5-3.5x the planar kernel from 3 px to 112 px planes), otherwise where the
/// output rows are too short, or strided, for the planar kernel's row loops to vectorise.
pub(super) fn preferred_f32(g: &DepthwiseGeometry) -> bool {
    avx2_fma() || preferred_f64(g)
}

/// Whether the channel-blocked kernel is the faster one for `g` in f64.
pub(super) fn preferred_f64(g: &DepthwiseGeometry) -> bool {
    g.stride != 1 || g.wo < 32
}

/// One block's kernel: (geometry, input planes, `[tap][lane]` weights, output planes, scratch).
type BlockFn<'a, T> = &'a (dyn Fn(&DepthwiseGeometry, &[T], &[T], &mut [T], &mut Vec<T>) + Sync);

/// Whether the CPU has AVX2 and FMA.
fn avx2_fma() -> bool {
    #[cfg(target_arch = "x86_64")]
    return std::arch::is_x86_feature_detected!("avx2")
        && std::arch::is_x86_feature_detected!("fma");
    #[cfg(not(target_arch = "x86_64"))]
    false
}

/// `y = depthwise(x, w)` in NCHW, f32: AVX2 + FMA intrinsics where the CPU has them.
pub(super) fn forward_f32(g: &DepthwiseGeometry, x: &[f32], w: &[f32]) -> Vec<f32> {
    #[cfg(target_arch = "x86_64")]
    if avx2_fma() {
        // SAFETY: the CPU has AVX2 and FMA.
        return forward(g, x, w, &|g, x, wt, out, pad| unsafe {
            block_f32_avx2(g, x, wt, out, pad)
        });
    }
    forward_generic(g, x, w)
}

/// `y = depthwise(x, w)` in NCHW for any float type (f64 in practice): the generic block
/// kernel, compiled for AVX2 + FMA where the CPU has them.
pub(super) fn forward_generic<T: Real>(g: &DepthwiseGeometry, x: &[T], w: &[T]) -> Vec<T> {
    #[cfg(target_arch = "x86_64")]
    if avx2_fma() {
        // SAFETY: the CPU has AVX2 and FMA.
        return forward(g, x, w, &|g, x, wt, out, pad| unsafe {
            block_avx2(g, x, wt, out, pad)
        });
    }
    forward(g, x, w, &block_kernel::<T, false>)
}

/// The blocks of every image in parallel, each by `block`.
fn forward<T: Real>(g: &DepthwiseGeometry, x: &[T], w: &[T], block: BlockFn<T>) -> Vec<T> {
    let (c, kk) = (g.c, g.k * g.k);
    let blocks = c.div_ceil(LANES);
    // Weights per block, tap-major, zero beyond the last channel: wt[block][tap][lane].
    let mut wt = vec![T::default(); blocks * kk * LANES];
    for ch in 0..c {
        for tap in 0..kk {
            wt[((ch / LANES) * kk + tap) * LANES + ch % LANES] = w[ch * kk + tap];
        }
    }
    let (in_plane, out_plane) = (g.h * g.w, g.ho * g.wo);
    let mut out = vec![T::default(); g.n * c * out_plane];
    out.par_chunks_mut(c * out_plane)
        .zip(x.par_chunks(c * in_plane))
        .flat_map(|(out, x)| {
            out.par_chunks_mut(LANES * out_plane)
                .zip(x.par_chunks(LANES * in_plane))
                .enumerate()
        })
        // One zero-padded scratch per rayon job, reused by its blocks: only the interior is
        // rewritten, so the padding stays zero.
        .for_each_init(Vec::new, |padded, (b, (out, x))| {
            block(g, x, &wt[b * kk * LANES..][..kk * LANES], out, padded)
        });
    out
}

/// [`block_kernel`] compiled for AVX2 with fused multiply-adds.
///
/// # Safety
/// The CPU must have AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn block_avx2<T: Real>(
    g: &DepthwiseGeometry,
    x: &[T],
    wt: &[T],
    out: &mut [T],
    padded: &mut Vec<T>,
) {
    block_kernel::<T, true>(g, x, wt, out, padded);
}

/// Sizes a block's scratch: the zero-padded channels-last input, `(h + 2p) (w + 2p) LANES`
/// values, followed by room for the output pixels' lanes, `ho wo LANES`. Reallocated (zeroed)
/// only when the size changes, so the padding stays zero across the blocks of one call.
/// Returns the length of the padded input.
#[inline(always)]
fn size_scratch<T: Real>(g: &DepthwiseGeometry, scratch: &mut Vec<T>) -> usize {
    let padded = (g.h + 2 * g.padding) * (g.w + 2 * g.padding) * LANES;
    let size = padded + g.ho * g.wo * LANES;
    if scratch.len() != size {
        scratch.clear();
        scratch.resize(size, T::default());
    }
    padded
}

/// Copies the block's planes into the interior of the channels-last scratch (see
/// [`size_scratch`]). Lanes past the block's channels keep an earlier block's values: finite,
/// and never written out.
#[inline(always)]
fn fill_padded<T: Real>(g: &DepthwiseGeometry, x: &[T], padded: &mut Vec<T>) -> usize {
    let p = g.padding;
    let in_plane = g.h * g.w;
    let channels = x.len() / in_plane;
    assert!(channels <= LANES);
    let wp = g.w + 2 * p;
    size_scratch(g, padded);
    for (lane, plane) in x.chunks_exact(in_plane).enumerate() {
        for (y, row) in plane.chunks_exact(g.w).enumerate() {
            let dst = &mut padded[((y + p) * wp + p) * LANES..][..g.w * LANES];
            for (d, &v) in dst.chunks_exact_mut(LANES).zip(row) {
                d[lane] = v;
            }
        }
    }
    channels
}

/// One block of `x.len() / (h w)` channels of one image: `x` and `out` are its input and output
/// planes, `wt` its weights as `[tap][lane]`, `padded` the scratch of [`fill_padded`].
#[inline(always)]
fn block_kernel<T: Real, const FUSED: bool>(
    g: &DepthwiseGeometry,
    x: &[T],
    wt: &[T],
    out: &mut [T],
    padded: &mut Vec<T>,
) {
    let (k, s) = (g.k, g.stride);
    let channels = fill_padded(g, x, padded);
    let out_plane = g.ho * g.wo;
    assert!(out.len() == channels * out_plane && wt.len() == k * k * LANES);
    let wp = g.w + 2 * g.padding;
    let taps: Vec<&[T; LANES]> = wt
        .chunks_exact(LANES)
        .map(|t| t.try_into().expect("LANES values per tap"))
        .collect();
    for oy in 0..g.ho {
        for ox in 0..g.wo {
            let mut acc = [T::default(); LANES];
            for i in 0..k {
                let row = &padded[((oy * s + i) * wp + ox * s) * LANES..][..k * LANES];
                for (xv, wv) in row.chunks_exact(LANES).zip(&taps[i * k..][..k]) {
                    for l in 0..LANES {
                        acc[l] = if FUSED {
                            wv[l].mul_add(xv[l], acc[l])
                        } else {
                            acc[l] + wv[l] * xv[l]
                        };
                    }
                }
            }
            store(&[acc], out, channels, out_plane, oy * g.wo + ox);
        }
    }
}

/// Writes output pixels `o..o + P` of the block's `channels` planes from their lanes.
#[inline(always)]
fn store<T: Real, const P: usize>(
    acc: &[[T; LANES]; P],
    out: &mut [T],
    channels: usize,
    out_plane: usize,
    o: usize,
) {
    for (lane, plane) in out.chunks_exact_mut(out_plane).enumerate().take(channels) {
        for (d, a) in plane[o..o + P].iter_mut().zip(acc) {
            *d = a[lane];
        }
    }
}

/// The f32 block kernel with AVX2 and FMA intrinsics: four output pixels at a time share each
/// tap's weight load (eight accumulators, two registers of 8 lanes per pixel).
///
/// # Safety
/// The CPU must have AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn block_f32_avx2(
    g: &DepthwiseGeometry,
    x: &[f32],
    wt: &[f32],
    out: &mut [f32],
    padded: &mut Vec<f32>,
) {
    use std::arch::x86_64::*;
    const P: usize = 4;
    let (k, s) = (g.k, g.stride);
    let in_plane = g.h * g.w;
    let channels = if x.len() == LANES * in_plane {
        // SAFETY: the CPU has AVX2.
        unsafe { fill_padded_f32_avx2(g, x, padded) };
        LANES
    } else {
        fill_padded(g, x, padded)
    };
    let out_plane = g.ho * g.wo;
    assert!(out.len() == channels * out_plane && wt.len() == k * k * LANES);
    // Full blocks: the pixels' lanes go to the scratch's output part, transposed at the end.
    let full = channels == LANES;
    let size = size_scratch(g, padded);
    let (padded, lanes_out) = padded.split_at_mut(size);
    let wp = g.w + 2 * g.padding;
    // The last tap of the last output pixel stays inside the padded plane.
    assert!((((g.ho - 1) * s + k - 1) * wp + (g.wo - 1) * s + k) * LANES <= padded.len());
    let (pp, wq) = (padded.as_ptr(), wt.as_ptr());
    // SAFETY: every read below is at most the last tap of the last pixel (asserted above) or
    // within the k * k * LANES weights.
    unsafe {
        for oy in 0..g.ho {
            let mut ox = 0;
            while ox < g.wo {
                let n = (g.wo - ox).min(P);
                let mut acc = [_mm256_setzero_ps(); 2 * P];
                for i in 0..k {
                    let row = pp.add(((oy * s + i) * wp + ox * s) * LANES);
                    for j in 0..k {
                        let wv = wq.add((i * k + j) * LANES);
                        let (w0, w1) = (_mm256_loadu_ps(wv), _mm256_loadu_ps(wv.add(8)));
                        // The same loop twice: with a constant trip count it unrolls.
                        if n == P {
                            for px in 0..P {
                                let xp = row.add((px * s + j) * LANES);
                                acc[2 * px] = _mm256_fmadd_ps(w0, _mm256_loadu_ps(xp), acc[2 * px]);
                                acc[2 * px + 1] = _mm256_fmadd_ps(
                                    w1,
                                    _mm256_loadu_ps(xp.add(8)),
                                    acc[2 * px + 1],
                                );
                            }
                        } else {
                            for px in 0..n {
                                let xp = row.add((px * s + j) * LANES);
                                acc[2 * px] = _mm256_fmadd_ps(w0, _mm256_loadu_ps(xp), acc[2 * px]);
                                acc[2 * px + 1] = _mm256_fmadd_ps(
                                    w1,
                                    _mm256_loadu_ps(xp.add(8)),
                                    acc[2 * px + 1],
                                );
                            }
                        }
                    }
                }
                let o = oy * g.wo + ox;
                if full {
                    let dst = lanes_out[o * LANES..(o + n) * LANES].as_mut_ptr();
                    for px in 0..n {
                        _mm256_storeu_ps(dst.add(px * LANES), acc[2 * px]);
                        _mm256_storeu_ps(dst.add(px * LANES + 8), acc[2 * px + 1]);
                    }
                    ox += n;
                    continue;
                }
                let mut lanes = [[0f32; LANES]; P];
                for (px, l) in lanes.iter_mut().enumerate() {
                    _mm256_storeu_ps(l.as_mut_ptr(), acc[2 * px]);
                    _mm256_storeu_ps(l.as_mut_ptr().add(8), acc[2 * px + 1]);
                }
                for (px, l) in lanes.iter().take(n).enumerate() {
                    store(&[*l], out, channels, out_plane, o + px);
                }
                ox += n;
            }
        }
        if full {
            // SAFETY: the CPU has AVX2; both buffers hold out_plane * LANES values.
            transpose_out_f32_avx2(lanes_out, out, out_plane);
        }
    }
}

/// `r` as an 8x8 matrix of rows, transposed.
///
/// # Safety
/// The CPU must have AVX.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
#[inline]
unsafe fn transpose8(r: [std::arch::x86_64::__m256; 8]) -> [std::arch::x86_64::__m256; 8] {
    use std::arch::x86_64::*;
    let t0 = _mm256_unpacklo_ps(r[0], r[1]);
    let t1 = _mm256_unpackhi_ps(r[0], r[1]);
    let t2 = _mm256_unpacklo_ps(r[2], r[3]);
    let t3 = _mm256_unpackhi_ps(r[2], r[3]);
    let t4 = _mm256_unpacklo_ps(r[4], r[5]);
    let t5 = _mm256_unpackhi_ps(r[4], r[5]);
    let t6 = _mm256_unpacklo_ps(r[6], r[7]);
    let t7 = _mm256_unpackhi_ps(r[6], r[7]);
    let s0 = _mm256_shuffle_ps::<0x44>(t0, t2);
    let s1 = _mm256_shuffle_ps::<0xEE>(t0, t2);
    let s2 = _mm256_shuffle_ps::<0x44>(t1, t3);
    let s3 = _mm256_shuffle_ps::<0xEE>(t1, t3);
    let s4 = _mm256_shuffle_ps::<0x44>(t4, t6);
    let s5 = _mm256_shuffle_ps::<0xEE>(t4, t6);
    let s6 = _mm256_shuffle_ps::<0x44>(t5, t7);
    let s7 = _mm256_shuffle_ps::<0xEE>(t5, t7);
    [
        _mm256_permute2f128_ps::<0x20>(s0, s4),
        _mm256_permute2f128_ps::<0x20>(s1, s5),
        _mm256_permute2f128_ps::<0x20>(s2, s6),
        _mm256_permute2f128_ps::<0x20>(s3, s7),
        _mm256_permute2f128_ps::<0x31>(s0, s4),
        _mm256_permute2f128_ps::<0x31>(s1, s5),
        _mm256_permute2f128_ps::<0x31>(s2, s6),
        _mm256_permute2f128_ps::<0x31>(s3, s7),
    ]
}

/// [`fill_padded`] for a full block of f32 planes: eight pixels of eight planes at a time
/// through an 8x8 register transpose, the tail of the flattened plane one value at a time.
///
/// # Safety
/// The CPU must have AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn fill_padded_f32_avx2(g: &DepthwiseGeometry, x: &[f32], padded: &mut Vec<f32>) {
    use std::arch::x86_64::*;
    let p = g.padding;
    let in_plane = g.h * g.w;
    assert_eq!(x.len(), LANES * in_plane);
    let wp = g.w + 2 * p;
    let size = size_scratch(g, padded);
    // Where pixel o of the flattened plane goes in the padded scratch.
    let at = |o: usize| ((o / g.w + p) * wp + o % g.w + p) * LANES;
    debug_assert!(in_plane == 0 || at(in_plane - 1) + LANES <= size);
    let whole = in_plane / 8 * 8;
    let (src, dst) = (x.as_ptr(), padded.as_mut_ptr());
    // SAFETY: reads stay in the 16 planes (o + 8 <= in_plane), writes at pixel positions of the
    // interior (at(o) + LANES <= size).
    unsafe {
        for group in 0..LANES / 8 {
            for o in (0..whole).step_by(8) {
                let r: [__m256; 8] = std::array::from_fn(|l| {
                    _mm256_loadu_ps(src.add((group * 8 + l) * in_plane + o))
                });
                for (px, v) in transpose8(r).into_iter().enumerate() {
                    _mm256_storeu_ps(dst.add(at(o + px) + group * 8), v);
                }
            }
        }
    }
    for o in whole..in_plane {
        let d = at(o);
        for lane in 0..LANES {
            padded[d + lane] = x[lane * in_plane + o];
        }
    }
}

/// The channels-last `lanes` (`[pixel][lane]`, 16 lanes) back to 16 output planes.
///
/// # Safety
/// The CPU must have AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn transpose_out_f32_avx2(lanes: &[f32], out: &mut [f32], out_plane: usize) {
    use std::arch::x86_64::*;
    assert!(lanes.len() == out_plane * LANES && out.len() == out_plane * LANES);
    let whole = out_plane / 8 * 8;
    let (src, dst) = (lanes.as_ptr(), out.as_mut_ptr());
    // SAFETY: pixels o..o + 8 <= out_plane of both buffers.
    unsafe {
        for group in 0..LANES / 8 {
            for o in (0..whole).step_by(8) {
                let r: [__m256; 8] = std::array::from_fn(|px| {
                    _mm256_loadu_ps(src.add((o + px) * LANES + group * 8))
                });
                for (l, v) in transpose8(r).into_iter().enumerate() {
                    _mm256_storeu_ps(dst.add((group * 8 + l) * out_plane + o), v);
                }
            }
        }
    }
    for o in whole..out_plane {
        for lane in 0..LANES {
            out[lane * out_plane + o] = lanes[o * LANES + lane];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The definition: y[n, c, oy, ox] = sum over taps of w[c, i, j] x[n, c, oy s + i - p, ox s + j - p].
    fn direct(g: &DepthwiseGeometry, x: &[f64], w: &[f64]) -> Vec<f64> {
        let mut y = vec![0.0; g.n * g.c * g.ho * g.wo];
        for n in 0..g.n {
            for c in 0..g.c {
                for oy in 0..g.ho {
                    for ox in 0..g.wo {
                        let mut sum = 0.0;
                        for i in 0..g.k {
                            for j in 0..g.k {
                                let iy = (oy * g.stride + i) as isize - g.padding as isize;
                                let ix = (ox * g.stride + j) as isize - g.padding as isize;
                                if (0..g.h as isize).contains(&iy)
                                    && (0..g.w as isize).contains(&ix)
                                {
                                    let xi =
                                        ((n * g.c + c) * g.h + iy as usize) * g.w + ix as usize;
                                    sum += w[(c * g.k + i) * g.k + j] * x[xi];
                                }
                            }
                        }
                        y[((n * g.c + c) * g.ho + oy) * g.wo + ox] = sum;
                    }
                }
            }
        }
        y
    }

    fn values(len: usize, seed: u64) -> Vec<f64> {
        (0..len as u64)
            .map(|i| {
                let h = (i + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15)
                    ^ seed.wrapping_mul(0xD1B5_4A32_D192_ED03);
                ((h >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
            })
            .collect()
    }

    #[test]
    fn every_block_kernel_matches_the_definition() {
        // Full and partial channel blocks, flattened planes with and without an 8-pixel tail,
        // stride 1 and 2, 3x3 and 5x5 taps, output rows shorter and longer than four pixels.
        for (n, c, h, w, k, stride) in [
            (2, 32, 7, 7, 5, 1),
            (1, 16, 3, 3, 5, 1),
            (2, 48, 8, 8, 3, 1),
            (1, 20, 11, 12, 5, 2),
            (2, 6, 10, 11, 3, 1),
            (1, 16, 17, 9, 3, 2),
            (1, 33, 40, 40, 3, 1),
        ] {
            let padding = k / 2;
            let g = DepthwiseGeometry {
                n,
                c,
                h,
                w,
                k,
                stride,
                padding,
                ho: (h + 2 * padding - k) / stride + 1,
                wo: (w + 2 * padding - k) / stride + 1,
            };
            let x = values(n * c * h * w, 1);
            let wt = values(c * k * k, 2);
            let want = direct(&g, &x, &wt);
            let what = format!("{n}x{c}x{h}x{w} k{k} s{stride}");
            let y64 = forward_generic(&g, &x, &wt);
            let generic64 = forward(&g, &x, &wt, &block_kernel::<f64, false>);
            for (a, b) in [(&y64, "f64"), (&generic64, "f64 generic")] {
                let err = a
                    .iter()
                    .zip(&want)
                    .map(|(a, b)| (a - b).abs())
                    .fold(0.0, f64::max);
                assert!(err < 1e-12, "{what} {b}: {err}");
            }
            let x32: Vec<f32> = x.iter().map(|&v| v as f32).collect();
            let w32: Vec<f32> = wt.iter().map(|&v| v as f32).collect();
            let y32 = forward_f32(&g, &x32, &w32);
            let generic32 = forward(&g, &x32, &w32, &block_kernel::<f32, false>);
            for (a, b) in [(&y32, "f32"), (&generic32, "f32 generic")] {
                let err = a
                    .iter()
                    .zip(&want)
                    .map(|(&a, b)| (f64::from(a) - b).abs())
                    .fold(0.0, f64::max);
                assert!(err < 1e-5, "{what} {b}: {err}");
            }
        }
    }
}
