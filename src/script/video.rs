//! `video::` — probe videos and decode sampled frames from a script.

use std::path::Path;

use rhai::{
    Array, Dynamic, Engine, EvalAltResult, FuncRegistration, ImmutableString, Map, Module,
    NativeCallContext,
};

use super::{Shared, at, lock, rt};
use crate::video::{Frame, Sampling, decode_sampled, probe};

type Res<T> = Result<T, Box<EvalAltResult>>;

pub(super) const FUNCTIONS: &[&str] = &["probe", "frames"];

pub(super) fn register_types(engine: &mut Engine) {
    engine
        .register_type_with_name::<Frame>("Frame")
        .register_get("width", |f: &mut Frame| f.width() as i64)
        .register_get("height", |f: &mut Frame| f.height() as i64)
        .register_fn("to_string", |f: &mut Frame| {
            format!("Frame({}x{})", f.width(), f.height())
        });
}

fn int(m: &Map, key: &str, default: i64) -> Res<i64> {
    match m.get(key) {
        None => Ok(default),
        Some(v) => v
            .as_int()
            .map_err(|_| rt(format!("frames: `{key}` must be an integer"))),
    }
}

/// What `video::frames` was asked for.
struct FrameRequest {
    sampling: Sampling,
    size: Option<(u32, u32)>,
    seed: u64,
}

/// Parse `#{sampling, n, k, target_fps, width, height, seed}` into a request.
fn options(m: &Map, seed: i64, fast_mode: bool) -> Res<FrameRequest> {
    let name = m
        .get("sampling")
        .map(|s| s.to_string())
        .unwrap_or_else(|| "linspace".into());
    let n = int(m, "n", 8)?;
    if !(1..=10_000).contains(&n) {
        return Err(rt(format!("frames: n = {n} must be between 1 and 10000")));
    }
    let n = n as usize;
    let sampling = match name.as_str() {
        "linspace" => Sampling::Linspace { n },
        "random_n" => Sampling::RandomN { n },
        "uniform" => Sampling::Uniform {
            target_fps: m
                .get("target_fps")
                .map(|v| {
                    v.as_float()
                        .map_err(|_| rt("frames: target_fps must be a float"))
                })
                .transpose()?
                .unwrap_or(1.0),
        },
        "random" => Sampling::Random {
            k: int(m, "k", 16)? as usize,
        },
        "dense" => Sampling::Dense {
            max_frames: if fast_mode { 120 } else { 500 },
        },
        other => {
            return Err(rt(format!(
                "frames: unknown sampling `{other}` (linspace, random_n, uniform, random, dense)"
            )));
        }
    };
    let size = match (m.get("width"), m.get("height")) {
        (None, None) => None,
        (Some(_), Some(_)) => {
            let (w, h) = (int(m, "width", 0)?, int(m, "height", 0)?);
            if !(1..=8192).contains(&w) || !(1..=8192).contains(&h) {
                return Err(rt(format!("frames: size {w}x{h} must be within 1..8192")));
            }
            Some((w as u32, h as u32))
        }
        _ => return Err(rt("frames: give both width and height, or neither")),
    };
    let seed = int(m, "seed", seed)?;
    Ok(FrameRequest {
        sampling,
        size,
        seed: seed as u64,
    })
}

pub(super) fn module(state: Shared) -> Module {
    let mut m = Module::new();

    FuncRegistration::new("probe").set_into_module(
        &mut m,
        |ctx: NativeCallContext, path: ImmutableString| {
            let r = probe(Path::new(path.as_str())).map_err(rt);
            at(&ctx, r.and_then(|info| rhai::serde::to_dynamic(&info)))
        },
    );

    let st = state;
    FuncRegistration::new("frames").set_into_module(
        &mut m,
        move |ctx: NativeCallContext, path: ImmutableString, opts: Map| {
            at(&ctx, frames(&st, &path, &opts))
        },
    );
    m
}

fn frames(st: &Shared, path: &str, opts: &Map) -> Res<Array> {
    let (seed, fast) = {
        let s = lock(st);
        (
            s.config.int("seed").map_err(rt)?,
            s.config.bool("fast_mode").map_err(rt)?,
        )
    };
    let req = options(opts, seed, fast)?;
    let decoded = decode_sampled(Path::new(path), &req.sampling, req.size, req.seed).map_err(rt)?;
    for w in &decoded.warnings {
        eprintln!("warning: {path}: {w}");
    }
    Ok(decoded
        .frames
        .into_iter()
        .map(|(_, f)| Dynamic::from(f))
        .collect())
}
