//! The AVX-512 kernels of the NL-means band loop (x86-64 CPUs with AVX-512 F, BW, VL and VNNI).
//!
//! Same traversal as `Job::band_impl` (offset rows `dy`, rows of p, every `dx`), with narrower
//! data where the ranges allow:
//!
//! - only `min(ssd >> shift, lmax)` matters, and it is `lmax` as soon as `ssd >= CAP`, where
//!   `CAP = lmax << shift`. So a column sum may be capped at `CAP` (any value at or above it
//!   stands for "far"), and the template-width sums are formed in 16-bit lanes with saturating
//!   adds: exact below `CAP`, at least `CAP` otherwise. That needs `CAP <= 65535`.
//! - one channel: each squared difference is capped at `CAP` before it enters the running column
//!   sum, so the column sum stays below `k CAP` and, when that is at most 65535, the running sums
//!   themselves live in 16-bit lanes (32 per vector). If the true column sum reaches `CAP`,
//!   either a capped term does or the capped terms add up to the same value, so capping keeps
//!   the "far" answer. Two channels: the running column sums stay in 32 bits (the differences of
//!   both channels, interleaved, squared and summed by one `vpmaddwd`), and are narrowed with
//!   unsigned saturation into a 16-bit row for the width sums.
//! - the weight table (at most 512 entries, every value below 2^15) is looked up with
//!   `vpermi2w`, 64 entries per instruction, instead of a 32-bit gather.
//! - the accumulation takes the search offsets `dx` and `dx + 1` together: their pixels are
//!   neighbours, so one load holds both, and each 32-bit lane gets the two weights in its 16-bit
//!   halves and the two pixels in the other operand's, for one `vpdpwssd` (VNNI) per channel
//!   (and one with `(1, 1)` for the weight sum). An odd offset out is paired with a row of zero
//!   weights. The pixel pairs are a byte permute of the loaded bytes with VBMI, a word permute of
//!   the widened bytes without.
//!
//! Tails are handled with masked loads and stores, so no access leaves the slices.
//!
//! The AVX-512 intrinsics and target features are stable from Rust 1.89 on, the crate's
//! declared minimum (`rust-version`).

use std::arch::x86_64::*;

use super::{Job, Partial};

/// Most 64-entry chunks of the weight table the lookup handles.
const MAX_CHUNKS: usize = 8;

/// Whether the AVX-512 kernels apply: the CPU has them (and VBMI when `vbmi`), the table fits
/// the 16-bit lookup and the capped sums fit 16 bits (see the module docs).
pub(super) fn usable<const C: usize>(lut: &[i32], shift: u32, k: usize, vbmi: bool) -> bool {
    let lmax = lut.len() - 1;
    let cap = (lmax as u64) << shift;
    let fits = lut.len() <= 64 * MAX_CHUNKS
        && lut.iter().all(|&v| (0..1 << 15).contains(&v))
        && cap <= u64::from(u16::MAX)
        && (C == 2 || (C == 1 && k as u64 * cap <= u64::from(u16::MAX)));
    fits && std::arch::is_x86_feature_detected!("avx512f")
        && std::arch::is_x86_feature_detected!("avx512bw")
        && std::arch::is_x86_feature_detected!("avx512vl")
        && std::arch::is_x86_feature_detected!("avx512vnni")
        && (!vbmi || std::arch::is_x86_feature_detected!("avx512vbmi"))
}

/// What the kernels need besides the [`Job`]: the pixels in the layout they read and the table.
pub(super) struct Fast<'a> {
    /// One channel: the padded plane. Two channels: the padded planes interleaved `(a, b)`.
    pub pixels: &'a [u8],
    /// The weight table as 16-bit values, zero-padded to whole chunks of 64.
    pub lut16: Vec<u16>,
}

impl<'a> Fast<'a> {
    pub fn new(pixels: &'a [u8], lut: &[i32]) -> Self {
        let mut lut16: Vec<u16> = lut.iter().map(|&v| v as u16).collect();
        lut16.resize(lut.len().div_ceil(64) * 64, 0);
        Self { pixels, lut16 }
    }
}

/// Mask of the first `n.min(32)` 16-bit lanes.
#[inline(always)]
fn mask32(n: usize) -> u32 {
    if n >= 32 { u32::MAX } else { (1u32 << n) - 1 }
}

/// Mask of the first `n.min(16)` lanes.
#[inline(always)]
fn mask16(n: usize) -> u16 {
    if n >= 16 { u16::MAX } else { (1u16 << n) - 1 }
}

/// The weighted sums of band rows `r0..r1`, as `Job::band_impl` computes them, with VBMI's
/// byte permutes when `vbmi`.
///
/// # Safety
/// The CPU must have AVX-512 F, BW, VL and VNNI (and VBMI when `vbmi`), and [`usable`] must
/// hold for the job's table.
pub(super) unsafe fn band<const C: usize>(
    job: &Job<C>,
    fast: &Fast,
    r0: isize,
    r1: isize,
    vbmi: bool,
) -> Partial<C> {
    // SAFETY: the caller's.
    unsafe {
        if vbmi {
            band_vbmi(job, fast, r0, r1)
        } else {
            band_vnni(job, fast, r0, r1)
        }
    }
}

/// Dispatch on the number of table chunks so that the tables stay in registers.
macro_rules! by_chunks {
    ($vbmi:literal, $job:expr, $fast:expr, $r0:expr, $r1:expr) => {
        match $fast.lut16.len() / 64 {
            1 => band_n::<C, 1, $vbmi>($job, $fast, $r0, $r1),
            2 => band_n::<C, 2, $vbmi>($job, $fast, $r0, $r1),
            3 => band_n::<C, 3, $vbmi>($job, $fast, $r0, $r1),
            4 => band_n::<C, 4, $vbmi>($job, $fast, $r0, $r1),
            5 => band_n::<C, 5, $vbmi>($job, $fast, $r0, $r1),
            6 => band_n::<C, 6, $vbmi>($job, $fast, $r0, $r1),
            7 => band_n::<C, 7, $vbmi>($job, $fast, $r0, $r1),
            _ => band_n::<C, 8, $vbmi>($job, $fast, $r0, $r1),
        }
    };
}

#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx512vbmi")]
unsafe fn band_vbmi<const C: usize>(job: &Job<C>, fast: &Fast, r0: isize, r1: isize) -> Partial<C> {
    // SAFETY: the caller's.
    unsafe { by_chunks!(true, job, fast, r0, r1) }
}

#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni")]
unsafe fn band_vnni<const C: usize>(job: &Job<C>, fast: &Fast, r0: isize, r1: isize) -> Partial<C> {
    // SAFETY: the caller's.
    unsafe { by_chunks!(false, job, fast, r0, r1) }
}

/// The band loop for a table of `NCH` chunks; inlined into the entries above, which give it
/// their target features.
#[inline(always)]
unsafe fn band_n<const C: usize, const NCH: usize, const VBMI: bool>(
    job: &Job<C>,
    fast: &Fast,
    r0: isize,
    r1: isize,
) -> Partial<C> {
    let (w, b, t, s, pw) = (job.w, job.b, job.t, job.s, job.pw);
    let (hi, bi, ti, si) = (job.h as isize, b as isize, t as isize, s as isize);
    let k = 2 * t + 1;
    let nd = 2 * s + 1;
    let xw = w + 2 * s;
    let cw = xw + 2 * t;
    let lo = r0.max(0) as usize;
    let rows = (r1 + si).min(hi) as usize - lo;
    let lmax = (job.lut.len() - 1) as u16;
    let cap = (u32::from(lmax) << job.shift) as u16;
    // One channel: 16-bit running sums; two channels: 32-bit ones plus a 16-bit narrowed row.
    let mut col16 = vec![0u16; if C == 1 { nd * cw } else { cw }];
    let mut col32 = vec![0i32; if C == 1 { 0 } else { nd * cw }];
    // One more row of zero weights: the partner of an odd offset out.
    let mut wts = vec![0u16; (nd + 1) * xw];
    let zero_row = nd * xw;
    let mut pairs = vec![Pair::default(); nd.div_ceil(2)];
    let mut est: [Vec<i32>; C] = std::array::from_fn(|_| vec![0i32; rows * w]);
    let mut wsum = vec![0i32; rows * w];
    // SAFETY: the entries' target features (AVX-512 F).
    let mut tables = [unsafe { _mm512_setzero_si512() }; 16];
    for (i, v) in tables.iter_mut().enumerate().take(2 * NCH) {
        // SAFETY: lut16 holds NCH chunks of 64 values, 32 per vector.
        *v = unsafe { _mm512_loadu_si512(fast.lut16.as_ptr().add(32 * i) as *const _) };
    }
    let x0 = b - s - t;
    let px = fast.pixels;
    for dy in 0..=s {
        let dxs: std::ops::RangeInclusive<isize> = if dy == 0 { 1..=si } else { -si..=si };
        let (ra, rb) = (r0.max(-(dy as isize)), r1.min(hi));
        if ra >= rb {
            continue;
        }
        for r in ra..rb {
            for dx in dxs.clone() {
                let di = (dx + si) as usize;
                let (wl, wh) = (s - dx.max(0) as usize, s + w + (-dx).max(0) as usize);
                let len = wh - wl + 2 * t;
                let xs = x0 + wl;
                // Padded offsets of the rows entering and leaving the template window, the
                // second of each pair shifted by d.
                let off = |y: usize| (y * pw + xs, ((y + dy) * pw + xs) as isize + dx);
                let c16 = if C == 1 {
                    &mut col16[di * cw + wl..di * cw + wl + len]
                } else {
                    &mut col16[wl..wl + len]
                };
                // SAFETY (all kernel calls): the offsets address rows and columns inside the
                // padded planes (the border is 2s + t), and every access is masked to `len`.
                unsafe {
                    if C == 1 {
                        if r == ra {
                            c16.fill(0);
                            for kk in 0..k {
                                let (a, bb) = off((r - ti + bi) as usize + kk);
                                slide1(px, a, bb as usize, None, c16, cap);
                            }
                        } else {
                            let yn = (r + ti + bi) as usize;
                            let (a, bb) = off(yn);
                            let (ao, bo) = off(yn - k);
                            slide1(px, a, bb as usize, Some((ao, bo as usize)), c16, cap);
                        }
                    } else {
                        let c32 = &mut col32[di * cw + wl..di * cw + wl + len];
                        if r == ra {
                            c32.fill(0);
                            for kk in 0..k {
                                let (a, bb) = off((r - ti + bi) as usize + kk);
                                slide2(px, a, bb as usize, None, c32, c16, kk + 1 == k);
                            }
                        } else {
                            let yn = (r + ti + bi) as usize;
                            let (a, bb) = off(yn);
                            let (ao, bo) = off(yn - k);
                            slide2(px, a, bb as usize, Some((ao, bo as usize)), c32, c16, true);
                        }
                    }
                    let out = &mut wts[di * xw + wl..di * xw + wh];
                    weights::<NCH>(c16, k, job.shift, lmax, &tables, out);
                }
            }
            let nd_row = dxs.clone().count();
            let n_pairs = nd_row.div_ceil(2);
            if r >= 0 {
                // Side 1: p in row r takes w(p, d) I(p + d); offsets dx and dx + 1 in pairs,
                // whose pixels are neighbours (the second one's at base + 1).
                let row = r as usize - lo;
                let src = (r + dy as isize + bi) as usize * pw + b;
                for (j, pair) in pairs[..n_pairs].iter_mut().enumerate() {
                    let dx = dxs.start() + 2 * j as isize;
                    let di = (dx + si) as usize;
                    pair.wa = di * xw + s;
                    pair.wb = if 2 * j + 1 < nd_row {
                        (di + 1) * xw + s
                    } else {
                        zero_row
                    };
                    pair.base = (src as isize + dx) as usize;
                }
                let at = row * w;
                // SAFETY: every read stays in the weights and the padded planes (asserted).
                unsafe {
                    accumulate_pairs::<C, false, VBMI>(
                        &wts,
                        &pairs[..n_pairs],
                        px,
                        &mut wsum[at..at + w],
                        est.each_mut().map(|e| &mut e[at..at + w]),
                    )
                };
            }
            let rt = r + dy as isize;
            if rt < hi {
                // Side 2: q = p + d in row r + dy takes w(q - d, d) I(q - d); in pairs as
                // above, the second offset's pixel one to the left (at base, the first's at
                // base + 1).
                let row = rt as usize - lo;
                let src = (r + bi) as usize * pw + b;
                for (j, pair) in pairs[..n_pairs].iter_mut().enumerate() {
                    let dx = dxs.start() + 2 * j as isize;
                    let di = (dx + si) as usize;
                    // The weight of p = q - d sits at p's column, x - dx, in dx's row.
                    pair.wa = di * (xw - 1) + 2 * s;
                    pair.wb = if 2 * j + 1 < nd_row {
                        (di + 1) * (xw - 1) + 2 * s
                    } else {
                        zero_row
                    };
                    pair.base = (src as isize - dx) as usize - 1;
                }
                let at = row * w;
                // SAFETY: as above.
                unsafe {
                    accumulate_pairs::<C, true, VBMI>(
                        &wts,
                        &pairs[..n_pairs],
                        px,
                        &mut wsum[at..at + w],
                        est.each_mut().map(|e| &mut e[at..at + w]),
                    )
                };
            }
        }
    }
    Partial { lo, est, wsum }
}

/// One channel: `col[j] += min(d_new^2, cap) - min(d_old^2, cap)` in wrapping 16-bit lanes,
/// `d = px[a + j] - px[b + j]` (`old` absent: only the new term is added).
///
/// # Safety
/// AVX-512 BW; `px[a..a + col.len()]`, `px[b..b + col.len()]` and likewise for `old` in bounds.
#[target_feature(enable = "avx512f,avx512bw,avx512vl")]
unsafe fn slide1(
    px: &[u8],
    a: usize,
    b: usize,
    old: Option<(usize, usize)>,
    col: &mut [u16],
    cap: u16,
) {
    let n = col.len();
    assert!(a.max(b) + n <= px.len());
    if let Some((ao, bo)) = old {
        assert!(ao.max(bo) + n <= px.len());
    }
    let p = px.as_ptr();
    unsafe {
        let vcap = _mm512_set1_epi16(cap as i16);
        // (Macros rather than closures: closures do not inherit the target features, so the
        // intrinsics would not be inlined.)
        macro_rules! term {
            ($m:expr, $i:expr, $j:expr) => {{
                let va = _mm512_cvtepu8_epi16(_mm256_maskz_loadu_epi8($m, p.add($i) as *const i8));
                let vb = _mm512_cvtepu8_epi16(_mm256_maskz_loadu_epi8($m, p.add($j) as *const i8));
                let d = _mm512_sub_epi16(va, vb);
                _mm512_min_epu16(_mm512_mullo_epi16(d, d), vcap)
            }};
        }
        macro_rules! step {
            ($j:expr, $m:expr) => {{
                let (j, m) = ($j, $m);
                let cp = col.as_mut_ptr().add(j);
                let mut c = _mm512_maskz_loadu_epi16(m, cp as *const i16);
                c = _mm512_add_epi16(c, term!(m, a + j, b + j));
                if let Some((ao, bo)) = old {
                    c = _mm512_sub_epi16(c, term!(m, ao + j, bo + j));
                }
                _mm512_mask_storeu_epi16(cp as *mut i16, m, c);
            }};
        }
        // Full vectors with a constant mask (plain loads: a masked load costs an extra ALU
        // operation on some CPUs), then the tail.
        let mut j = 0;
        while j + 32 <= n {
            step!(j, u32::MAX);
            j += 32;
        }
        if j < n {
            step!(j, mask32(n - j));
        }
    }
}

/// Two channels (interleaved pixels): `col[j] += |d_new|^2 - |d_old|^2` in 32-bit lanes, the
/// squared norm of the `(a, b)` difference; when `narrow`, also `out[j] = min(col[j], 65535)`.
///
/// # Safety
/// AVX-512 BW; the pixel offsets are in pixels, `px[2 a..2 (a + col.len())]` (and the others)
/// in bounds; `out.len() == col.len()`.
#[target_feature(enable = "avx512f,avx512bw,avx512vl")]
unsafe fn slide2(
    px: &[u8],
    a: usize,
    b: usize,
    old: Option<(usize, usize)>,
    col: &mut [i32],
    out: &mut [u16],
    narrow: bool,
) {
    let n = col.len();
    assert!(out.len() == n && 2 * (a.max(b) + n) <= px.len());
    if let Some((ao, bo)) = old {
        assert!(2 * (ao.max(bo) + n) <= px.len());
    }
    let p = px.as_ptr();
    unsafe {
        macro_rules! term {
            ($m:expr, $i:expr, $j:expr) => {{
                let va =
                    _mm512_cvtepu8_epi16(_mm256_maskz_loadu_epi8($m, p.add(2 * $i) as *const i8));
                let vb =
                    _mm512_cvtepu8_epi16(_mm256_maskz_loadu_epi8($m, p.add(2 * $j) as *const i8));
                let d = _mm512_sub_epi16(va, vb);
                _mm512_madd_epi16(d, d)
            }};
        }
        // `m16` covers the pixels, `m` their two bytes each.
        macro_rules! step {
            ($j:expr, $m16:expr, $m:expr) => {{
                let (j, m16, m) = ($j, $m16, $m);
                let cp = col.as_mut_ptr().add(j);
                let mut c = _mm512_maskz_loadu_epi32(m16, cp as *const i32);
                c = _mm512_add_epi32(c, term!(m, a + j, b + j));
                if let Some((ao, bo)) = old {
                    c = _mm512_sub_epi32(c, term!(m, ao + j, bo + j));
                }
                _mm512_mask_storeu_epi32(cp, m16, c);
                if narrow {
                    let v = _mm512_cvtusepi32_epi16(c);
                    _mm256_mask_storeu_epi16(out.as_mut_ptr().add(j) as *mut i16, m16, v);
                }
            }};
        }
        // Full vectors with constant masks, then the tail (as in `slide1`).
        let mut j = 0;
        while j + 16 <= n {
            step!(j, u16::MAX, u32::MAX);
            j += 16;
        }
        if j < n {
            step!(j, mask16(n - j), mask32(2 * (n - j)));
        }
    }
}

/// `out[j] = lut[min(sat(col[j] + ... + col[j + k - 1]) >> shift, lmax)]`, 32 at a time, the
/// table in `tables` (two vectors of 32 values per chunk of 64).
///
/// # Safety
/// AVX-512 BW; `col.len() == out.len() + k - 1`.
#[target_feature(enable = "avx512f,avx512bw,avx512vl")]
unsafe fn weights<const NCH: usize>(
    col: &[u16],
    k: usize,
    shift: u32,
    lmax: u16,
    tables: &[__m512i; 16],
    out: &mut [u16],
) {
    let n = out.len();
    assert!(col.len() + 1 == n + k);
    let cp = col.as_ptr();
    unsafe {
        let vmax = _mm512_set1_epi16(lmax as i16);
        let sh = _mm_cvtsi32_si128(shift as i32);
        let z = _mm512_setzero_si512();
        let shl = [9, 8, 7].map(|v| _mm_cvtsi32_si128(v));
        macro_rules! step {
            ($j:expr, $m:expr) => {{
                let (j, m) = ($j, $m);
                macro_rules! ld {
                    ($kk:expr) => {
                        _mm512_maskz_loadu_epi16(m, cp.add(j + $kk) as *const i16)
                    };
                }
                let mut s = ld!(0);
                if k == 7 {
                    for kk in 1..7 {
                        s = _mm512_adds_epu16(s, ld!(kk));
                    }
                } else {
                    for kk in 1..k {
                        s = _mm512_adds_epu16(s, ld!(kk));
                    }
                }
                let idx = _mm512_min_epu16(_mm512_srl_epi16(s, sh), vmax);
                let mut lv = [z; MAX_CHUNKS];
                for c in 0..NCH {
                    lv[c] = _mm512_permutex2var_epi16(tables[2 * c], idx, tables[2 * c + 1]);
                }
                // The chunk is index bits 6 and up: a tree of blends, one level per bit (its
                // sign-bit mask after a left shift); an odd one out passes up a level.
                let mut cnt = NCH;
                let mut bit = 0;
                while cnt > 1 {
                    let sel = _mm512_movepi16_mask(_mm512_sll_epi16(idx, shl[bit]));
                    for i in 0..cnt / 2 {
                        lv[i] = _mm512_mask_mov_epi16(lv[2 * i], sel, lv[2 * i + 1]);
                    }
                    if cnt % 2 == 1 {
                        lv[cnt / 2] = lv[cnt - 1];
                    }
                    cnt = cnt.div_ceil(2);
                    bit += 1;
                }
                let wv = lv[0];
                _mm512_mask_storeu_epi16(out.as_mut_ptr().add(j) as *mut i16, m, wv);
            }};
        }
        // Full vectors with a constant mask, then the tail (as in `slide1`).
        let mut j = 0;
        while j + 32 <= n {
            step!(j, u32::MAX);
            j += 32;
        }
        if j < n {
            step!(j, mask32(n - j));
        }
    }
}

/// Two search offsets accumulated together: their weights at `wa` and `wb` in the weight rows,
/// their pixels neighbours from `base` (see [`accumulate_pairs`]).
#[derive(Debug, Clone, Copy, Default)]
struct Pair {
    wa: usize,
    wb: usize,
    base: usize,
}

/// Mask of the first `n.min(64)` byte lanes.
#[inline(always)]
fn mask64(n: usize) -> u64 {
    if n >= 64 { u64::MAX } else { (1u64 << n) - 1 }
}

/// `wsum[x] += sum wa + wb` and `est[c][x] += sum wa I_c(a) + wb I_c(b)` over the pairs,
/// 16 pixels at a time, where `wa = wts[pair.wa + x]`, `wb = wts[pair.wb + x]` and the pixels
/// are `a = base + x`, `b = base + x + 1` (`a` and `b` swapped when `REV`; `I` interleaved
/// for two channels). Each pair's two weights and two pixels sit in the halves of each 32-bit
/// lane, so one VNNI multiply-add per channel takes both offsets. With `VBMI`, the pixel pairs
/// are one byte permute from the loaded bytes; without, the bytes are widened to words first.
///
/// # Safety
/// AVX-512 F, BW, VL and VNNI, and VBMI when `VBMI`; reads within the slices (asserted).
#[inline(always)]
unsafe fn accumulate_pairs<const C: usize, const REV: bool, const VBMI: bool>(
    wts: &[u16],
    pairs: &[Pair],
    px: &[u8],
    wsum: &mut [i32],
    mut est: [&mut [i32]; C],
) {
    let n = wsum.len();
    for p in pairs {
        assert!(p.wa.max(p.wb) + n <= wts.len() && C * (p.base + n + 1) <= px.len());
    }
    assert!(est.iter().all(|e| e.len() == n));
    // Word lanes 2i and 2i + 1 take a[i] and b[i] (b's words follow a's 32 in the pair).
    let widx: [u16; 32] = std::array::from_fn(|l| (l / 2 + 32 * (l % 2)) as u16);
    // Which pixel (0: at x, 1: its right neighbour) the low and high half of each lane take.
    let pick = |l: usize| usize::from((l % 2 == 1) != REV);
    // VBMI: byte lanes 4i and 4i + 2 take pixel i or its neighbour of channel c, the others a
    // zero (index 64 and up: the second, zero, table).
    let bidx: [[u8; 64]; C] = std::array::from_fn(|c| {
        std::array::from_fn(|l| match l % 4 {
            0 | 2 => (C * (l / 4 + pick(l / 2)) + c) as u8,
            _ => 64,
        })
    });
    // Otherwise word lanes take the widened bytes: the first 32 bytes are words 0..32, the
    // next ones words 32..
    let gidx: [[u16; 32]; C] =
        std::array::from_fn(|c| std::array::from_fn(|l| (C * (l / 2 + pick(l)) + c) as u16));
    unsafe {
        let widx = _mm512_loadu_si512(widx.as_ptr() as *const _);
        let bidx: [__m512i; C] =
            std::array::from_fn(|c| _mm512_loadu_si512(bidx[c].as_ptr() as *const _));
        let gidx: [__m512i; C] =
            std::array::from_fn(|c| _mm512_loadu_si512(gidx[c].as_ptr() as *const _));
        let ones = _mm512_set1_epi32(0x0001_0001);
        let z = _mm512_setzero_si512();
        macro_rules! step {
            ($x:expr, $m:expr, $mb:expr) => {{
                let (x, m, mb) = ($x, $m, $mb);
                let mut aw = z;
                let mut ae = [z; C];
                for p in pairs {
                    let wa = _mm256_maskz_loadu_epi16(m, wts.as_ptr().add(p.wa + x) as *const i16);
                    let wb = _mm256_maskz_loadu_epi16(m, wts.as_ptr().add(p.wb + x) as *const i16);
                    let wp = _mm512_permutex2var_epi16(
                        _mm512_castsi256_si512(wa),
                        widx,
                        _mm512_castsi256_si512(wb),
                    );
                    aw = _mm512_dpwssd_epi32(aw, wp, ones);
                    let v =
                        _mm512_maskz_loadu_epi8(mb, px.as_ptr().add(C * (p.base + x)) as *const i8);
                    if VBMI {
                        for c in 0..C {
                            let pp = _mm512_permutex2var_epi8(v, bidx[c], z);
                            ae[c] = _mm512_dpwssd_epi32(ae[c], wp, pp);
                        }
                    } else if C == 1 {
                        let words = _mm512_cvtepu8_epi16(_mm512_castsi512_si256(v));
                        let pp = _mm512_permutexvar_epi16(gidx[0], words);
                        ae[0] = _mm512_dpwssd_epi32(ae[0], wp, pp);
                    } else {
                        let lo = _mm512_cvtepu8_epi16(_mm512_castsi512_si256(v));
                        let hi = _mm512_cvtepu8_epi16(_mm512_extracti64x4_epi64::<1>(v));
                        for c in 0..C {
                            let pp = _mm512_permutex2var_epi16(lo, gidx[c], hi);
                            ae[c] = _mm512_dpwssd_epi32(ae[c], wp, pp);
                        }
                    }
                }
                macro_rules! add {
                    ($dst:expr, $v:expr) => {{
                        let d = $dst.as_mut_ptr().add(x) as *mut i32;
                        let cur = _mm512_maskz_loadu_epi32(m, d);
                        _mm512_mask_storeu_epi32(d, m, _mm512_add_epi32(cur, $v));
                    }};
                }
                add!(wsum, aw);
                for (e, v) in est.iter_mut().zip(ae) {
                    add!(e, v);
                }
            }};
        }
        // Full blocks of 16 with constant masks (the pixels: 17 per channel), then the tail.
        let full = mask64(C * 17);
        let mut x = 0;
        while x + 16 <= n {
            step!(x, u16::MAX, full);
            x += 16;
        }
        if x < n {
            step!(x, mask16(n - x), mask64(C * (n - x + 1)));
        }
    }
}
