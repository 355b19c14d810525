//! Running portable loops as AVX2 code where the CPU has it.
//!
//! The crate is built for the baseline x86-64 (SSE2), so the compiler vectorises plain loops
//! 4 floats wide and calls the C library to round. [`avx2_dispatch!`]
//! defines a function that runs an `#[inline(always)]` implementation inside a copy compiled
//! with AVX2 and FMA enabled when the CPU has both (chosen at run time), else the baseline
//! build: its loops then use 256-bit vectors and rounding instructions. The results are the same
//! bytes either way: the compiler never fuses a multiply and an add on its own, so every float
//! operation rounds once, as written.

/// Whether this CPU runs the AVX2 + FMA copies.
#[inline]
pub(crate) fn has_avx2_fma() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// `fn name(args) -> ret => implementation`: defines `name`, which calls `implementation` (an
/// `#[inline(always)]` function with the same arguments) from a copy compiled for AVX2 + FMA
/// when [`has_avx2_fma`], else directly.
macro_rules! avx2_dispatch {
    ($(#[$m:meta])* $vis:vis fn $name:ident($($arg:ident : $ty:ty),* $(,)?) $(-> $ret:ty)? => $imp:path) => {
        $(#[$m])*
        $vis fn $name($($arg: $ty),*) $(-> $ret)? {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx2,fma")]
                unsafe fn fast($($arg: $ty),*) $(-> $ret)? {
                    $imp($($arg),*)
                }
                if $crate::util::simd::has_avx2_fma() {
                    // SAFETY: the CPU has AVX2 and FMA, checked just above.
                    return unsafe { fast($($arg),*) };
                }
            }
            $imp($($arg),*)
        }
    };
}

pub(crate) use avx2_dispatch;
