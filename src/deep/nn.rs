//! Small building blocks shared by the deep models: seeded dropout and stochastic depth, and the
//! no-gradient scope of the frozen layers.
//!
//! candle cannot seed its CPU random generator, so training-time noise comes from our own
//! ChaCha generator: the same seed gives the same masks on CPU and CUDA.

use std::cell::Cell;

use candle_core::{Result, Tensor};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

thread_local! {
    static NO_GRAD: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` with no gradient wanted on this thread, as torch's `no_grad()` (and its frozen
/// parameters): the layers use their parameters detached and detach their outputs, so no
/// autograd history is recorded and each activation is freed as soon as the next layer has read
/// it. Without it, candle keeps every intermediate tensor of a forward pass that touched a
/// trainable variable until the result is dropped (the frozen trunk's BatchNorm passes on a
/// whole batch of frames). The previous setting is restored afterwards, also on panic.
pub fn no_grad<R>(f: impl FnOnce() -> R) -> R {
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            NO_GRAD.with(|g| g.set(self.0));
        }
    }
    let _restore = Restore(NO_GRAD.with(|g| g.replace(true)));
    f()
}

/// Whether this thread is inside [`no_grad`].
pub fn grad_disabled() -> bool {
    NO_GRAD.with(Cell::get)
}

/// Sets this thread's [`no_grad`] state, returning the previous one (for
/// [`super::ops::on_pool`], which carries it to a worker thread and back).
pub(crate) fn set_grad_disabled(on: bool) -> bool {
    NO_GRAD.with(|g| g.replace(on))
}

/// A parameter as a layer uses it: detached inside [`no_grad`], itself otherwise.
pub(crate) fn param(t: &Tensor) -> Tensor {
    if grad_disabled() {
        t.detach()
    } else {
        t.clone()
    }
}

/// A layer's output: detached inside [`no_grad`] (its history dropped), itself otherwise.
pub(crate) fn settle(t: Tensor) -> Tensor {
    if grad_disabled() { t.detach() } else { t }
}

/// The source of training-time randomness (dropout masks, stochastic depth).
///
/// Forward passes take `Option<&mut Noise>`: `Some` means training mode, `None` evaluation.
pub struct Noise {
    rng: ChaCha8Rng,
}

impl Noise {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Noise {
        Noise {
            rng: ChaCha8Rng::seed_from_u64(seed),
        }
    }

    /// Inverted dropout as `torch.nn.Dropout` in training mode: zero each element with
    /// probability `p` and scale the rest by `1 / (1 - p)`.
    pub fn dropout(&mut self, x: &Tensor, p: f32) -> Result<Tensor> {
        if p <= 0.0 {
            return Ok(x.clone());
        }
        if p >= 1.0 {
            return x.zeros_like();
        }
        let scale = 1.0 / (1.0 - p);
        let mask: Vec<f32> = (0..x.elem_count())
            .map(|_| {
                if self.rng.r#gen::<f32>() < p {
                    0.0
                } else {
                    scale
                }
            })
            .collect();
        let mask = Tensor::from_vec(mask, x.shape(), x.device())?.to_dtype(x.dtype())?;
        x * mask
    }

    /// Stochastic depth as torchvision's `StochasticDepth(p, mode="row")` in training mode:
    /// drop the whole residual branch of each sample (dim 0) with probability `p`, and scale the
    /// kept ones by `1 / (1 - p)`.
    pub fn drop_path(&mut self, x: &Tensor, p: f32) -> Result<Tensor> {
        if p <= 0.0 {
            return Ok(x.clone());
        }
        let n = x.dim(0)?;
        let keep = 1.0 - p;
        let mask: Vec<f32> = (0..n)
            .map(|_| {
                if self.rng.r#gen::<f32>() < keep {
                    1.0 / keep
                } else {
                    0.0
                }
            })
            .collect();
        let mut shape = vec![1usize; x.rank()];
        shape[0] = n;
        let mask = Tensor::from_vec(mask, shape, x.device())?.to_dtype(x.dtype())?;
        x.broadcast_mul(&mask)
    }

    /// A random permutation of `0..n` (epoch shuffling).
    pub fn permutation(&mut self, n: usize) -> Vec<usize> {
        use rand::seq::SliceRandom;
        let mut idx: Vec<usize> = (0..n).collect();
        idx.shuffle(&mut self.rng);
        idx
    }
}

/// Number of elements of all `tensors`, e.g. a parameter count.
pub fn count_elements<'a>(tensors: impl IntoIterator<Item = &'a Tensor>) -> u64 {
    tensors.into_iter().map(|t| t.elem_count() as u64).sum()
}
