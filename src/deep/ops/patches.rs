//! The kernels of the channels-last 3D convolution: the patch matrix (im2col) of a
//! `(N, T, H, W, C)` clip as a candle custom op, whose backward pass is its transpose (col2im),
//! on the CPU and, with the `cuda` feature, on a GPU (`kernels/patches.cu`).

use candle_core::{CpuStorage, CustomOp1, CustomOp2, Layout, Result, Shape, Tensor, bail};
use rayon::prelude::*;

use super::cpu::{f32_slice, matmul_rows};

/// Geometry of a channels-last 3D convolution (`[t, h, w]` triples).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Geometry {
    pub(crate) batch: usize,
    pub(crate) input: [usize; 3],
    pub(crate) channels: usize,
    pub(crate) kernel: [usize; 3],
    pub(crate) stride: [usize; 3],
    pub(crate) padding: [usize; 3],
    pub(crate) output: [usize; 3],
}

impl Geometry {
    /// Columns of the patch matrix: `kt * kh * kw * C`.
    pub(crate) fn patch_len(&self) -> usize {
        self.kernel.iter().product::<usize>() * self.channels
    }

    /// Calls `f(column, input_offset)` for every window element of output position
    /// `(frame, oh, ow)` that lies inside the input (`input_offset` indexes the first
    /// channel of that element in the `(N, T, H, W, C)` buffer; `column` is the first column
    /// of that element in the patch row).
    fn for_each_tap(&self, frame: usize, oh: usize, ow: usize, mut f: impl FnMut(usize, usize)) {
        let [t, h, w] = self.input;
        let c = self.channels;
        let [kt, kh, kw] = self.kernel;
        let [st, sh, sw] = self.stride;
        let [pt, ph, pw] = self.padding;
        let to = self.output[0];
        let (n, ot) = (frame / to, frame % to);
        // Input index of a padded coordinate, if inside the input.
        let inside = |i: usize, pad: usize, len: usize| i.checked_sub(pad).filter(|&v| v < len);
        let mut col = 0;
        for dt in 0..kt {
            let ti = inside(ot * st + dt, pt, t);
            for dh in 0..kh {
                let hi = inside(oh * sh + dh, ph, h);
                for dw in 0..kw {
                    if let (Some(ti), Some(hi), Some(wi)) = (ti, hi, inside(ow * sw + dw, pw, w)) {
                        f(col, (((n * t + ti) * h + hi) * w + wi) * c);
                    }
                    col += c;
                }
            }
        }
    }
}

/// The im2col of a channels-last clip for the output lines `lines` (indices `frame * Ho + ho`
/// over the `N * To * Ho` output lines): rows are output positions `(frame, ho, wo)`, columns
/// are `(dt, dh, dw, c)` ("tap-major": contiguous copies) or, with `channel_major`,
/// `(c, dt, dh, dw)` (the order of torch's weight, which then needs no permute); zero where a
/// window reaches into the padding. Its backward pass is [`PatchMatrixAdjoint`].
#[derive(Clone, Debug)]
pub(crate) struct PatchMatrix {
    pub(crate) geometry: Geometry,
    pub(crate) lines: std::ops::Range<usize>,
    pub(crate) channel_major: bool,
}

impl CustomOp1 for PatchMatrix {
    fn name(&self) -> &'static str {
        "conv3d-channels-last-patches"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let src = f32_slice(storage, layout, "conv3d patch matrix")?;
        let g = self.geometry;
        let (ho, wo) = (g.output[1], g.output[2]);
        let (k, c) = (g.patch_len(), g.channels);
        let mut out = vec![0f32; self.lines.len() * wo * k];
        out.par_chunks_mut(wo * k)
            .enumerate()
            .for_each(|(row, dst_line)| {
                let line = self.lines.start + row;
                let (frame, oh) = (line / ho, line % ho);
                for (ow, dst) in dst_line.chunks_mut(k).enumerate() {
                    if self.channel_major {
                        let taps = k / c;
                        g.for_each_tap(frame, oh, ow, |col, at| {
                            let tap = col / c;
                            for (ci, v) in src[at..at + c].iter().enumerate() {
                                dst[ci * taps + tap] = *v;
                            }
                        });
                    } else {
                        g.for_each_tap(frame, oh, ow, |col, at| {
                            dst[col..col + c].copy_from_slice(&src[at..at + c]);
                        });
                    }
                }
            });
        Ok((
            CpuStorage::F32(out),
            Shape::from((self.lines.len() * wo, k)),
        ))
    }

    #[cfg(feature = "cuda")]
    fn cuda_fwd(
        &self,
        storage: &candle_core::CudaStorage,
        layout: &Layout,
    ) -> Result<(candle_core::CudaStorage, Shape)> {
        let g = self.geometry;
        let rows = self.lines.len() * g.output[2];
        let out = cuda::patches(self, storage, layout)?;
        Ok((out, Shape::from((rows, g.patch_len()))))
    }

    fn bwd(&self, arg: &Tensor, _res: &Tensor, grad_res: &Tensor) -> Result<Option<Tensor>> {
        let adjoint = PatchMatrixAdjoint {
            patches: self.clone(),
        };
        let grad = grad_res.contiguous()?.apply_op1_no_bwd(&adjoint)?;
        Ok(Some(grad.reshape(arg.shape())?))
    }
}

/// The tap-major convolution on the CPU without the whole patch matrix: `(x, w)` with `x` the
/// `(N, T, H, W, C)` clip and `w` the `(kt * kh * kw * C, O)` tap-major weight matrix, to the
/// `(N * To * Ho * Wo, O)` output. With a stride of 1 along H and W and at least [`TILE_ROWS`]
/// positions per thread, [`shifted_product`] (each tap a product of a shifted view of the
/// input). Otherwise tiles of output positions (whole output lines, about [`TILE_ROWS`] rows,
/// at least two tiles per thread) run in parallel; each builds its rows of the patch matrix in
/// a scratch that stays in the core's cache and multiplies them by `w` into its rows of the
/// output (single-threaded `gemm`; with fewer positions than [`TILE_ROWS`] per thread, one tile
/// and a multi-threaded product). No backward pass: meant for inference (R3D-18's folded,
/// frozen trunk); the differentiable path is [`PatchMatrix`] and a product.
pub(crate) struct PatchProduct {
    pub(crate) geometry: Geometry,
}

/// Output positions per tile of [`PatchProduct`], about.
const TILE_ROWS: usize = 128;

impl Geometry {
    /// Whether the whole window of output position `(frame, oh, ow)` lies inside the input.
    fn window_inside(&self, frame: usize, oh: usize, ow: usize) -> bool {
        let at = [frame % self.output[0], oh, ow];
        (0..3).all(|d| {
            let first = at[d] * self.stride[d];
            first >= self.padding[d] && first - self.padding[d] + self.kernel[d] <= self.input[d]
        })
    }
}

impl CustomOp2 for PatchProduct {
    fn name(&self) -> &'static str {
        "conv3d-channels-last-patch-product"
    }

    fn cpu_fwd(
        &self,
        x: &CpuStorage,
        xl: &Layout,
        w: &CpuStorage,
        wl: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let src = f32_slice(x, xl, "conv3d input")?;
        let wm = f32_slice(w, wl, "conv3d weight matrix")?;
        let g = self.geometry;
        let k = g.patch_len();
        let (rows_w, o) = wl.shape().dims2()?;
        if rows_w != k || src.len() != g.batch * g.input.iter().product::<usize>() * g.channels {
            bail!(
                "conv3d patch product: weight {:?} or input of {} values does not fit {g:?}",
                wl.shape().dims(),
                src.len()
            )
        }
        let [to, ho, wo] = g.output;
        let lines = g.batch * to * ho;
        let threads = rayon::current_num_threads().max(1);
        // Stride 1 across the image: the patch columns are views of the (padded) input.
        let out = if g.stride[1] == 1 && g.stride[2] == 1 && lines * wo >= TILE_ROWS * threads {
            shifted_product(&g, src, wm, o)
        } else {
            patch_rows_product(&g, src, wm, o, threads)
        };
        Ok((CpuStorage::F32(out), Shape::from((lines * wo, o))))
    }
}

/// [`PatchProduct`] by patch rows: tiles of output lines build their rows of the patch matrix
/// in a scratch and multiply them by the weight.
fn patch_rows_product(g: &Geometry, src: &[f32], wm: &[f32], o: usize, threads: usize) -> Vec<f32> {
    let k = g.patch_len();
    let [to, ho, wo] = g.output;
    let (c, lines) = (g.channels, g.batch * to * ho);
    // Few output positions per thread: one tile, the product itself in parallel; otherwise
    // tiles of whole lines, at least two per thread.
    let (lines_per_tile, parallelism) = if lines * wo < TILE_ROWS * threads {
        (lines, gemm::Parallelism::Rayon(threads))
    } else {
        let per_tile = TILE_ROWS.div_ceil(wo).min(lines.div_ceil(2 * threads));
        (per_tile.max(1), gemm::Parallelism::None)
    };
    let mut out = vec![0f32; lines * wo * o];
    out.par_chunks_mut(lines_per_tile * wo * o)
        .enumerate()
        .for_each_init(Vec::new, |patches: &mut Vec<f32>, (tile, dst)| {
            let rows = dst.len() / o;
            if patches.len() < rows * k {
                patches.resize(rows * k, 0.0);
            }
            for (r, row) in patches[..rows * k].chunks_exact_mut(k).enumerate() {
                let line = tile * lines_per_tile + r / wo;
                let (frame, oh, ow) = (line / ho, line % ho, r % wo);
                if !g.window_inside(frame, oh, ow) {
                    row.fill(0.0);
                }
                g.for_each_tap(frame, oh, ow, |col, at| {
                    row[col..col + c].copy_from_slice(&src[at..at + c]);
                });
            }
            // SAFETY: `patches` holds rows x k values (row stride k), `wm` k x o (row
            // stride o) and `dst` rows x o (row stride o); the three do not overlap.
            unsafe {
                matmul_rows(
                    rows,
                    o,
                    k,
                    dst.as_mut_ptr(),
                    false,
                    patches.as_ptr(),
                    wm.as_ptr(),
                    parallelism,
                )
            };
        });
    out
}

/// Rows of the product of one tile of [`shifted_product`], about.
const SHIFTED_TILE_ROWS: usize = 768;

/// [`PatchProduct`] for a stride of 1 along H and W, without patch rows. A tile is a few output
/// lines of one frame; for each input frame its window reaches, the input rows under the tile
/// are copied, with the H and W padding as zeros, into a scratch that stays in the core's cache
/// (`kh - 1` rows more than the tile's lines, `Wp = W + 2 pw` pixels each). Then each kernel
/// tap's patch columns *are* that scratch, shifted: output position `(oh, ow)` reads `(oh + dh,
/// ow + dw)`, and as `ow` runs along a line and on to the next, the positions read run along
/// the padded rows one pixel (C values) at a time. So each tap is one product of that strided
/// view (`(r - 1) Wp + Wo` rows for `r` lines, the `Wp - Wo` positions past the end of each line
/// thrown away) by the tap's `(C, O)` rows of the weight, summed into the tile; a frame in the
/// temporal padding is skipped. The same sums as the patch rows, by tap instead of all at once.
fn shifted_product(g: &Geometry, src: &[f32], wm: &[f32], o: usize) -> Vec<f32> {
    let [t, h, w] = g.input;
    let [kt, kh, kw] = g.kernel;
    let [st, _, _] = g.stride;
    let [pt, ph, pw] = g.padding;
    let [to, ho, wo] = g.output;
    let c = g.channels;
    let wp = w + 2 * pw;
    let r = SHIFTED_TILE_ROWS.div_ceil(wp).clamp(1, ho);
    let frames = g.batch * to;
    let mut out = vec![0f32; frames * ho * wo * o];
    out.par_chunks_mut(ho * wo * o)
        .enumerate()
        .flat_map(|(frame, lines)| {
            lines
                .par_chunks_mut(r * wo * o)
                .enumerate()
                .map(move |(k, tile)| (frame, k * r, tile))
        })
        .for_each_init(
            || (Vec::new(), Vec::new()),
            |(input, acc): &mut (Vec<f32>, Vec<f32>), (frame, first, tile)| {
                let (n, ot) = (frame / to, frame % to);
                let n_lines = tile.len() / (wo * o);
                let rows = (n_lines - 1) * wp + wo;
                // Padded rows first..first + n_lines + kh - 1 of one input frame.
                let in_rows = n_lines + kh - 1;
                // Every value is written below, for each input frame.
                input.resize(in_rows * wp * c, 0.0);
                acc.resize(rows * o, 0.0);
                let mut started = false;
                for dt in 0..kt {
                    let Some(ti) = (ot * st + dt).checked_sub(pt).filter(|&v| v < t) else {
                        continue;
                    };
                    let plane = &src[(n * t + ti) * h * w * c..][..h * w * c];
                    for (y, dst) in input.chunks_exact_mut(wp * c).enumerate() {
                        let inside = (first + y).checked_sub(ph).filter(|&v| v < h);
                        let (left, rest) = dst.split_at_mut(pw * c);
                        let (mid, right) = rest.split_at_mut(w * c);
                        left.fill(0.0);
                        right.fill(0.0);
                        match inside {
                            Some(hi) => mid.copy_from_slice(&plane[hi * w * c..][..w * c]),
                            None => mid.fill(0.0),
                        }
                    }
                    for dh in 0..kh {
                        for dw in 0..kw {
                            let tap = (dt * kh + dh) * kw + dw;
                            let at = (dh * wp + dw) * c;
                            debug_assert!(at + rows * c <= input.len());
                            // SAFETY: the view reads rows x c values from `at` with row stride
                            // c inside `input` (its last row is (n_lines - 1 + dh) Wp + wo - 1
                            // + dw < in_rows Wp); the weight rows tap * c.. (c x o, row stride
                            // o) are inside `wm`; `acc` holds rows x o values. None overlap.
                            unsafe {
                                matmul_rows(
                                    rows,
                                    o,
                                    c,
                                    acc.as_mut_ptr(),
                                    started,
                                    input.as_ptr().add(at),
                                    wm.as_ptr().add(tap * c * o),
                                    gemm::Parallelism::None,
                                )
                            };
                            started = true;
                        }
                    }
                }
                for (l, line) in tile.chunks_exact_mut(wo * o).enumerate() {
                    if started {
                        line.copy_from_slice(&acc[l * wp * o..(l * wp + wo) * o]);
                    } else {
                        line.fill(0.0);
                    }
                }
            },
        );
    out
}

/// The tap-major weight matrix of [`PatchProduct`] from a torch-layout 3D convolution weight
/// `(O, C, kt, kh, kw)`: `(kt * kh * kw * C, O)`, `m[(tap * C + c) * O + o] = w[o, c, tap]`.
/// No backward pass.
///
/// Blocks of 16 input by 16 output channels, in parallel by input-channel block: each writes
/// its outputs a cache line (16 output channels) at a time, from 16 rows of the weight that
/// stay in cache while the block's taps are visited. Every output value is written once (no
/// zeroed buffer first).
pub(crate) struct TapMajorWeight;

/// A shared pointer to the output of [`TapMajorWeight`], whose parallel blocks write disjoint
/// elements.
#[derive(Clone, Copy)]
struct BlockOut(*mut f32);
// SAFETY: the blocks that share the pointer write disjoint elements (see `cpu_fwd`).
unsafe impl Send for BlockOut {}
// SAFETY: as above.
unsafe impl Sync for BlockOut {}

impl BlockOut {
    /// Writes `v` at element `i`.
    ///
    /// # Safety
    /// `i` must be within the allocation, and no other thread may access element `i`.
    unsafe fn write(&self, i: usize, v: f32) {
        // SAFETY: the caller's.
        unsafe { self.0.add(i).write(v) }
    }
}

impl CustomOp1 for TapMajorWeight {
    fn name(&self) -> &'static str {
        "conv3d-tap-major-weight"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let w = f32_slice(storage, layout, "conv3d weight")?;
        let dims = layout.shape().dims();
        let (o, c) = match dims {
            &[o, c, _, _, _] => (o, c),
            d => bail!("conv3d weight must be (O, C, kt, kh, kw), got shape {d:?}"),
        };
        let taps: usize = dims[2..].iter().product();
        let n = taps * c * o;
        if w.len() != n {
            bail!("conv3d weight: {} values for shape {dims:?}", w.len());
        }
        const BLOCK: usize = 16;
        let mut out: Vec<f32> = Vec::with_capacity(n);
        let dst = BlockOut(out.as_mut_ptr());
        (0..c.div_ceil(BLOCK)).into_par_iter().for_each(|cb| {
            let (c0, c1) = (cb * BLOCK, ((cb + 1) * BLOCK).min(c));
            for o0 in (0..o).step_by(BLOCK) {
                let o1 = (o0 + BLOCK).min(o);
                for tap in 0..taps {
                    for ci in c0..c1 {
                        // One run of up to 16 contiguous outputs (a cache line), read from
                        // 16 rows of the weight that stay in cache across the block's taps.
                        for oi in o0..o1 {
                            let v = w[(oi * c + ci) * taps + tap];
                            // SAFETY: the index is below `taps * c * o`, the capacity; block
                            // `cb` alone writes the rows `tap * c + ci` of its channels
                            // `c0..c1`.
                            unsafe { dst.write((tap * c + ci) * o + oi, v) };
                        }
                    }
                }
            }
        });
        // SAFETY: the blocks cover every (tap, ci, oi), so all `n` values were written above.
        unsafe { out.set_len(n) };
        Ok((CpuStorage::F32(out), Shape::from((taps * c, o))))
    }
}

/// The transpose of [`PatchMatrix`] (col2im): sums each patch-matrix gradient back onto the
/// input element it was copied from, giving the gradient of the `(N, T, H, W, C)` input.
struct PatchMatrixAdjoint {
    patches: PatchMatrix,
}

impl CustomOp1 for PatchMatrixAdjoint {
    fn name(&self) -> &'static str {
        "conv3d-channels-last-patches-adjoint"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let src = f32_slice(storage, layout, "conv3d patch-matrix gradient")?;
        let g = self.patches.geometry;
        let lines = &self.patches.lines;
        let [t, h, w] = g.input;
        let [to, ho, wo] = g.output;
        let (k, c) = (g.patch_len(), g.channels);
        let sample_len = t * h * w * g.channels;
        let mut out = vec![0f32; g.batch * sample_len];
        // Windows of one sample only touch that sample: samples run in parallel.
        out.par_chunks_mut(sample_len)
            .enumerate()
            .for_each(|(n, dst)| {
                let first = lines.start.max(n * to * ho);
                let last = lines.end.min((n + 1) * to * ho);
                for line in first..last {
                    let (frame, oh) = (line / ho, line % ho);
                    for ow in 0..wo {
                        let row = ((line - lines.start) * wo + ow) * k;
                        let taps = k / c;
                        g.for_each_tap(frame, oh, ow, |col, at| {
                            let dst = &mut dst[at - n * sample_len..][..c];
                            if self.patches.channel_major {
                                let tap = col / c;
                                for (ci, d) in dst.iter_mut().enumerate() {
                                    *d += src[row + ci * taps + tap];
                                }
                            } else {
                                let grad = &src[row + col..row + col + c];
                                for (d, s) in dst.iter_mut().zip(grad) {
                                    *d += s;
                                }
                            }
                        });
                    }
                }
            });
        Ok((
            CpuStorage::F32(out),
            Shape::from((g.batch, t, h, w, g.channels)),
        ))
    }

    #[cfg(feature = "cuda")]
    fn cuda_fwd(
        &self,
        storage: &candle_core::CudaStorage,
        layout: &Layout,
    ) -> Result<(candle_core::CudaStorage, Shape)> {
        let g = self.patches.geometry;
        let [t, h, w] = g.input;
        let out = cuda::adjoint(&self.patches, storage, layout)?;
        Ok((out, Shape::from((g.batch, t, h, w, g.channels))))
    }
}

/// The CUDA kernels of `kernels/patches.cu`: one thread per element of what they write.
#[cfg(feature = "cuda")]
mod cuda {
    use candle_core::backend::BackendStorage;
    use candle_core::cuda_backend::cudarc::driver::{DeviceRepr, PushKernelArg};
    use candle_core::cuda_backend::{CudaStorageSlice, WrapErr};
    use candle_core::{CudaStorage, Layout, Result, bail};

    use super::super::cuda::{grid_stride, int, view};
    use super::PatchMatrix;

    const PTX: &str = include_str!(concat!(env!("OUT_DIR"), "/patches.ptx"));
    const MODULE: &str = "vidcompare-patches";

    /// The kernels' `Geometry` struct, field for field.
    #[repr(C)]
    #[derive(Clone, Copy)]
    struct KernelGeometry {
        t: i32,
        h: i32,
        w: i32,
        c: i32,
        kt: i32,
        kh: i32,
        kw: i32,
        st: i32,
        sh: i32,
        sw: i32,
        pt: i32,
        ph: i32,
        pw: i32,
        to: i32,
        ho: i32,
        wo: i32,
        line_start: i32,
        n_lines: i32,
        channel_major: i32,
    }

    // SAFETY: a plain `repr(C)` struct of `i32`s, passed by value as the kernels declare it.
    unsafe impl DeviceRepr for KernelGeometry {}

    impl KernelGeometry {
        fn new(p: &PatchMatrix, what: &str) -> Result<Self> {
            let g = p.geometry;
            let i = |v: usize| int(v, what);
            // Every index the kernels compute must fit an int too.
            let [t, h, w] = g.input;
            i(g.batch * t * h * w * g.channels)?;
            i(p.lines.end)?;
            Ok(KernelGeometry {
                t: i(t)?,
                h: i(h)?,
                w: i(w)?,
                c: i(g.channels)?,
                kt: i(g.kernel[0])?,
                kh: i(g.kernel[1])?,
                kw: i(g.kernel[2])?,
                st: i(g.stride[0])?,
                sh: i(g.stride[1])?,
                sw: i(g.stride[2])?,
                pt: i(g.padding[0])?,
                ph: i(g.padding[1])?,
                pw: i(g.padding[2])?,
                to: i(g.output[0])?,
                ho: i(g.output[1])?,
                wo: i(g.output[2])?,
                line_start: i(p.lines.start)?,
                n_lines: i(p.lines.len())?,
                channel_major: i32::from(p.channel_major),
            })
        }
    }

    /// The patch matrix of the clip in `storage`.
    pub(super) fn patches(
        p: &PatchMatrix,
        storage: &CudaStorage,
        layout: &Layout,
    ) -> Result<CudaStorage> {
        let len = p.lines.len() * p.geometry.output[2] * p.geometry.patch_len();
        launch("patches_f32", p, storage, layout, len, None)
    }

    /// The gradient of the clip from the patch matrix's gradient in `storage`.
    pub(super) fn adjoint(
        p: &PatchMatrix,
        storage: &CudaStorage,
        layout: &Layout,
    ) -> Result<CudaStorage> {
        let g = p.geometry;
        let len = g.batch * g.input.iter().product::<usize>() * g.channels;
        let batch = int(g.batch, "patches_adjoint_f32")?;
        launch("patches_adjoint_f32", p, storage, layout, len, Some(batch))
    }

    /// Runs kernel `name` (f32 input, `len` f32 outputs, the geometry, then `extra` when given).
    fn launch(
        name: &str,
        p: &PatchMatrix,
        storage: &CudaStorage,
        layout: &Layout,
        len: usize,
        extra: Option<i32>,
    ) -> Result<CudaStorage> {
        let CudaStorageSlice::F32(src) = &storage.slice else {
            bail!("{name}: only f32 on CUDA, got {:?}", storage.dtype())
        };
        let dev = storage.device().clone();
        let src = view(src, layout, name)?;
        let geometry = KernelGeometry::new(p, name)?;
        let func = dev.get_or_load_custom_func(name, MODULE, PTX)?;
        // SAFETY: both kernels write every element of `out`.
        let out = unsafe { dev.alloc::<f32>(len)? };
        let mut builder = func.builder();
        builder.arg(&src);
        builder.arg(&out);
        builder.arg(&geometry);
        if let Some(extra) = &extra {
            builder.arg(extra);
        }
        // SAFETY: the arguments match the kernels in kernels/patches.cu: input, output, the
        // geometry by value, and the batch size for the adjoint.
        unsafe { builder.launch(grid_stride(len)) }.w()?;
        Ok(CudaStorage {
            slice: CudaStorageSlice::F32(out),
            device: dev,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Direct definition in f64: `y[pos, o] = sum over taps and channels of x * w` (zero
    /// padding), with `wm` tap-major, `(kt * kh * kw * C, O)`.
    fn reference(g: &Geometry, x: &[f32], wm: &[f32], o: usize) -> Vec<f64> {
        let [t, h, w] = g.input;
        let [kt, kh, kw] = g.kernel;
        let [to, ho, wo] = g.output;
        let c = g.channels;
        let mut y = vec![0f64; g.batch * to * ho * wo * o];
        for n in 0..g.batch {
            for (ot, oh, ow) in
                (0..to).flat_map(|a| (0..ho).flat_map(move |b| (0..wo).map(move |d| (a, b, d))))
            {
                let row = ((n * to + ot) * ho + oh) * wo + ow;
                for (dt, dh, dw) in
                    (0..kt).flat_map(|a| (0..kh).flat_map(move |b| (0..kw).map(move |d| (a, b, d))))
                {
                    let ti = (ot * g.stride[0] + dt) as isize - g.padding[0] as isize;
                    let hi = (oh * g.stride[1] + dh) as isize - g.padding[1] as isize;
                    let wi = (ow * g.stride[2] + dw) as isize - g.padding[2] as isize;
                    if ti < 0 || hi < 0 || wi < 0 {
                        continue;
                    }
                    let (ti, hi, wi) = (ti as usize, hi as usize, wi as usize);
                    if ti >= t || hi >= h || wi >= w {
                        continue;
                    }
                    let tap = (dt * kh + dh) * kw + dw;
                    for ci in 0..c {
                        let xv = f64::from(x[(((n * t + ti) * h + hi) * w + wi) * c + ci]);
                        for oi in 0..o {
                            y[row * o + oi] += xv * f64::from(wm[(tap * c + ci) * o + oi]);
                        }
                    }
                }
            }
        }
        y
    }

    /// Values in [-1, 1) from a fixed linear congruential sequence.
    fn values(n: usize, seed: u64) -> Vec<f32> {
        let mut s = seed;
        (0..n)
            .map(|_| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
            })
            .collect()
    }

    /// The tap-major weight is candle's permute of the torch-layout weight to `(kt, kh, kw, C,
    /// O)`, on channel counts inside one block of 16, across blocks and off the block width.
    #[test]
    fn tap_major_weight_is_the_permuted_weight() {
        for (i, &(o, c, kernel)) in [(5, 3, [3, 7, 7]), (17, 35, [3, 3, 3]), (32, 16, [1, 1, 1])]
            .iter()
            .enumerate()
        {
            let n = o * c * kernel.iter().product::<usize>();
            let w = Tensor::from_vec(
                values(n, 7 + i as u64),
                (o, c, kernel[0], kernel[1], kernel[2]),
                &candle_core::Device::Cpu,
            )
            .unwrap();
            let got = w.apply_op1_no_bwd(&TapMajorWeight).unwrap();
            let want = w
                .permute((2, 3, 4, 1, 0))
                .unwrap()
                .reshape((n / o, o))
                .unwrap();
            assert_eq!(got.dims(), want.dims(), "case {i}");
            assert_eq!(
                got.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
                want.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
                "case {i}"
            );
        }
    }

    /// The shifted-input product and the patch-row product both give the direct definition's
    /// sums, on kernels with and without padding, a temporal stride, a kernel that is not
    /// square, channel and output counts off the SIMD widths, and tiles that end mid-frame.
    #[test]
    fn shifted_and_patch_row_products_match_the_definition() {
        // (batch, input [t, h, w], channels, kernel, stride, padding, out channels)
        let cases = [
            (2, [5, 9, 11], 5, [3, 3, 3], [1, 1, 1], [1, 1, 1], 7),
            (1, [6, 7, 40], 3, [3, 3, 3], [2, 1, 1], [1, 1, 1], 16),
            (1, [4, 30, 20], 8, [1, 3, 3], [1, 1, 1], [0, 1, 1], 9),
            (2, [3, 8, 9], 4, [3, 3, 3], [1, 1, 1], [0, 0, 0], 5),
            (1, [4, 12, 10], 6, [3, 5, 3], [1, 1, 1], [1, 2, 0], 17),
            (1, [2, 5, 6], 3, [1, 1, 1], [1, 1, 1], [0, 0, 0], 4),
        ];
        for (i, &(batch, input, channels, kernel, stride, padding, o)) in cases.iter().enumerate() {
            let output: [usize; 3] =
                std::array::from_fn(|d| (input[d] + 2 * padding[d] - kernel[d]) / stride[d] + 1);
            let g = Geometry {
                batch,
                input,
                channels,
                kernel,
                stride,
                padding,
                output,
            };
            let x = values(
                batch * input.iter().product::<usize>() * channels,
                1 + i as u64,
            );
            let wm = values(g.patch_len() * o, 100 + i as u64);
            let want = reference(&g, &x, &wm, o);
            let scale = want.iter().fold(0f64, |m, v| m.max(v.abs()));
            let check = |got: &[f32], what: &str| {
                assert_eq!(got.len(), want.len(), "case {i}, {what}");
                let err = got
                    .iter()
                    .zip(&want)
                    .fold(0f64, |m, (&a, &b)| m.max((f64::from(a) - b).abs()));
                assert!(
                    err <= 1e-5 * scale,
                    "case {i}, {what}: error {err}, scale {scale}"
                );
            };
            check(&patch_rows_product(&g, &x, &wm, o, 1), "patch rows");
            check(
                &patch_rows_product(&g, &x, &wm, o, 4),
                "patch rows, 4 threads",
            );
            if stride[1] == 1 && stride[2] == 1 {
                check(&shifted_product(&g, &x, &wm, o), "shifted");
            }
        }
    }
}
