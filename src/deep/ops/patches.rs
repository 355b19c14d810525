//! The CPU kernel of the channels-last 3D convolution: the patch matrix (im2col) of a
//! `(N, T, H, W, C)` clip as a candle custom op, whose backward pass is its transpose (col2im).

use candle_core::{CpuStorage, CustomOp1, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

use super::cpu::f32_slice;

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

    fn bwd(&self, arg: &Tensor, _res: &Tensor, grad_res: &Tensor) -> Result<Option<Tensor>> {
        let adjoint = PatchMatrixAdjoint {
            patches: self.clone(),
        };
        let grad = grad_res.contiguous()?.apply_op1_no_bwd(&adjoint)?;
        Ok(Some(grad.reshape(arg.shape())?))
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
}
