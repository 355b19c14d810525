//! MOTION+: a fixed-length description of how things move over a whole clip, from dense
//! Horn–Schunck flow on every consecutive frame pair, Lucas–Kanade tracks and frame differences.
//!
//! The notebook only compares the first two frames sampled at 1 fps, so classes that differ by
//! how an object moves (left-right, up-down, round a circle) look alike to it. MOTION+ follows
//! the motion through time instead; see [`motion_plus_features`] for the groups and
//! [`motion_plus_names`] for the exact layout.

use std::f64::consts::PI;

use image::GrayImage;

use super::horn_schunck::{HsParams, horn_schunck_with};
use super::lk::{LkParams, good_features_to_track, pyr_lk_with};
use super::{mean_std, nan_to_zero};

/// Number of values of [`motion_plus_features`] (and names of [`motion_plus_names`]).
pub const MOTION_PLUS_LEN: usize = 95;

/// Time windows the clip is split into for the windowed flow statistics.
const WINDOWS: usize = 4;
/// Direction bins, 45° each (see [`dir_bin`]).
const DIR_BINS: usize = 8;
/// Edges of the divergence and curl histograms, per second.
const DC_EDGES: [f64; 4] = [-2.0, -0.5, 0.5, 2.0];

/// Dense flow settings for MOTION+: fewer iterations than [`HsParams::default`] because the
/// coarse levels already bring the flow close, and small frames.
const HS: HsParams = HsParams {
    alpha: 10.0,
    iterations: 30,
    levels: 3,
    min_size: 12,
};

/// Tracking settings: a smaller window and pyramid than OpenCV's default suit ~100-pixel frames.
const LK: LkParams = LkParams {
    win_size: 15,
    max_level: 2,
    max_iter: 30,
    epsilon: 0.01,
    min_eig_threshold: 1e-4,
};
/// Corners detected at the start of each window for tracking.
const TRACK_CORNERS: usize = 60;

/// MOTION+ features of a clip: [`MOTION_PLUS_LEN`] values, named by [`motion_plus_names`].
///
/// `frames` are consecutive grey frames of the whole clip (every frame, or every k-th), ideally
/// downscaled to about 96x72 (the cost grows with the pixel count); `fps` is the rate of the
/// frames as given (the video's rate divided by k). Velocities are expressed in frame widths per
/// second, so neither the frame size nor the frame rate changes them; a non-positive or unknown
/// `fps` counts as 1. Fewer than two frames, frames smaller than 8x8 or of differing sizes give
/// zeros; the result never holds NaN or infinity.
///
/// Groups, in order (`dom` is the dominant motion of a frame pair: the flow averaged with weights
/// `|flow|²`, which follows the fastest-moving object rather than the background):
///
/// 1. `dom` over time (21): mean and std of its x and y components; zero crossings per second of
///    each; the horizontal share of its energy; the minor/major axis ratio and the orientation
///    (cos 2φ, sin 2φ) of its covariance ellipse; its normalised angular momentum
///    `Σ (u_t v_t+1 − v_t u_t+1) / Σ |d_t||d_t+1|` (signed, and absolute: a circle turns steadily,
///    an oscillation does not); its mean turning angle / π; the periodicity (highest
///    autocorrelation past the first zero) of x and of y; the largest cross-correlation of x and y
///    over all lags (high for a circle, whose x and y are a quarter period apart) and at lag 0;
///    its mean and max speed; the integrated path's horizontal variance share and axis ratio.
/// 2. Windows (4 × 9): the clip's frame pairs split into four equal windows; per window the mean
///    and the root mean square of `dom`'s x and y (the RMS does not depend on where in its swing
///    an oscillation is), the mean speed, and a 4-bin histogram of flow orientation weighted by
///    speed (axial: 0°, 45°, 90°, 135°, opposite directions together, for the same reason).
/// 3. Dense flow over the clip (25): mean and std over time of the mean speed; the 8-bin
///    direction histogram over the whole clip; the horizontal share of flow energy; mean
///    divergence, curl, |divergence|, |curl| (per second); 5-bin histograms of divergence and
///    curl (edges ±0.5 and ±2 per second) — zoom and rotation rather than pan.
/// 4. Tracks (8): Shi–Tomasi corners found at the start of each window and followed with
///    pyramidal Lucas–Kanade to its end; the number of tracks per window; over tracks weighted by
///    path length: net displacement / path length, horizontal variance share, mean turning
///    angle / π; the share of tracks that move; mean and max track speed; the horizontal
///    variance share of the fastest tenth of the tracks.
/// 5. Frame differences (5): the centroid of the strongest grey-level changes per pair — its
///    horizontal variance share and axis ratio over time — the mean absolute difference (grey
///    levels), the number of frames and the clip duration in seconds.
pub fn motion_plus_features(frames: &[GrayImage], fps: f64) -> Vec<f32> {
    if !usable(frames) {
        return vec![0.0; MOTION_PLUS_LEN];
    }
    let mut out = Out::default();
    build(&mut out, frames, fps);
    debug_assert_eq!(out.vals.len(), MOTION_PLUS_LEN);
    let mut v = out.vals;
    nan_to_zero(&mut v);
    v
}

/// Names of the [`motion_plus_features`] values, `motion_plus/<group>/<feature>`, in order.
pub fn motion_plus_names() -> Vec<String> {
    let mut out = Out::default();
    build(&mut out, &[], 1.0);
    out.names
}

/// Feature values and their names, filled in one pass so that the two never disagree.
#[derive(Default)]
struct Out {
    names: Vec<String>,
    vals: Vec<f32>,
}

impl Out {
    fn push(&mut self, name: impl Into<String>, v: f64) {
        self.names.push(format!("motion_plus/{}", name.into()));
        self.vals.push(v as f32);
    }

    fn push_all(&mut self, prefix: &str, v: &[f64]) {
        for (i, &x) in v.iter().enumerate() {
            self.push(format!("{prefix}{i}"), x);
        }
    }
}

/// What one frame pair's dense flow contributes.
#[derive(Clone, Default)]
struct PairFlow {
    mean: (f64, f64),
    speed: f64,
    dom: (f64, f64),
    dirs: [f64; DIR_BINS],
    energy: (f64, f64),
    div_curl: DivCurl,
}

#[derive(Clone, Copy, Default)]
struct DivCurl {
    n: f64,
    div: f64,
    curl: f64,
    abs_div: f64,
    abs_curl: f64,
    div_hist: [f64; 5],
    curl_hist: [f64; 5],
}

/// Direction bin of a vector: 8 sectors of 45° centred on 0°, 45°, … (image axes, y down).
fn dir_bin(u: f64, v: f64) -> usize {
    let a = v.atan2(u).rem_euclid(2.0 * PI);
    ((a / (PI / 4.0) + 0.5) as usize) % DIR_BINS
}

fn dc_bin(x: f64) -> usize {
    DC_EDGES.iter().take_while(|&&e| x >= e).count()
}

/// Velocities in frame widths per second from pixels per frame.
struct Units {
    per_px: f64,
    fps: f64,
}

fn analyse_pair(prev: &GrayImage, next: &GrayImage, units: &Units) -> PairFlow {
    let Ok((u, v)) = horn_schunck_with(prev, next, &HS) else {
        return PairFlow::default();
    };
    let (h, w) = u.dim();
    let n = (w * h) as f64;
    let k = units.per_px * units.fps;
    let mut p = PairFlow::default();
    let (mut su, mut sv, mut sm, mut wsum, mut du, mut dv) = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
    for (&a, &b) in u.iter().zip(v.iter()) {
        let (a, b) = (f64::from(a) * k, f64::from(b) * k);
        let m2 = a * a + b * b;
        let m = m2.sqrt();
        su += a;
        sv += b;
        sm += m;
        wsum += m2;
        du += m2 * a;
        dv += m2 * b;
        p.energy.0 += a * a;
        p.energy.1 += b * b;
        if m > 0.0 {
            p.dirs[dir_bin(a, b)] += m;
        }
    }
    p.mean = (su / n, sv / n);
    p.speed = sm / n;
    if wsum > 0.0 {
        p.dom = (du / wsum, dv / wsum);
    }
    // Divergence and curl from central differences, per second.
    let mut dc = DivCurl::default();
    for y in 1..h.saturating_sub(1) {
        for x in 1..w - 1 {
            let dudx = 0.5 * f64::from(u[[y, x + 1]] - u[[y, x - 1]]);
            let dudy = 0.5 * f64::from(u[[y + 1, x]] - u[[y - 1, x]]);
            let dvdx = 0.5 * f64::from(v[[y, x + 1]] - v[[y, x - 1]]);
            let dvdy = 0.5 * f64::from(v[[y + 1, x]] - v[[y - 1, x]]);
            let (div, curl) = ((dudx + dvdy) * units.fps, (dvdx - dudy) * units.fps);
            dc.n += 1.0;
            dc.div += div;
            dc.curl += curl;
            dc.abs_div += div.abs();
            dc.abs_curl += curl.abs();
            dc.div_hist[dc_bin(div)] += 1.0;
            dc.curl_hist[dc_bin(curl)] += 1.0;
        }
    }
    p.div_curl = dc;
    p
}

/// One followed corner: its positions in consecutive frames (pixels).
type Track = Vec<(f32, f32)>;

/// Corners found at `frames[start]`, followed to `frames[end]` (inclusive) or until lost.
fn follow(frames: &[GrayImage], start: usize, end: usize) -> Vec<Track> {
    let corners = good_features_to_track(&frames[start], TRACK_CORNERS, 0.01, 5.0);
    let mut tracks: Vec<Track> = corners.iter().map(|&p| vec![p]).collect();
    let mut alive: Vec<usize> = (0..tracks.len()).collect();
    for t in start..end {
        if alive.is_empty() {
            break;
        }
        let pts: Vec<(f32, f32)> = alive
            .iter()
            .map(|&i| *tracks[i].last().expect("tracks start non-empty"))
            .collect();
        let Ok(moved) = pyr_lk_with(&frames[t], &frames[t + 1], &pts, &LK) else {
            break;
        };
        let mut still = Vec::with_capacity(alive.len());
        for (&i, q) in alive.iter().zip(moved) {
            if let Some(q) = q {
                tracks[i].push(q);
                still.push(i);
            }
        }
        alive = still;
    }
    tracks.retain(|t| t.len() >= 3);
    tracks
}

/// Summary of one track: path length (px), net displacement / path length, horizontal share of
/// the position variance, mean turning angle / π (steps weighted by length), px per step.
struct TrackStats {
    path: f64,
    straightness: f64,
    horizontal: f64,
    turn: f64,
    speed: f64,
}

fn track_stats(t: &Track) -> TrackStats {
    let steps: Vec<(f64, f64)> = t
        .windows(2)
        .map(|w| (f64::from(w[1].0 - w[0].0), f64::from(w[1].1 - w[0].1)))
        .collect();
    let path: f64 = steps.iter().map(|s| s.0.hypot(s.1)).sum();
    let (first, last) = (t[0], t[t.len() - 1]);
    let net = f64::from(last.0 - first.0).hypot(f64::from(last.1 - first.1));
    let xs: Vec<f64> = t.iter().map(|p| f64::from(p.0)).collect();
    let ys: Vec<f64> = t.iter().map(|p| f64::from(p.1)).collect();
    let (vx, vy) = (mean_std(&xs).1.powi(2), mean_std(&ys).1.powi(2));
    let (mut turn, mut tw) = (0.0, 0.0);
    for w in steps.windows(2) {
        let (a, b) = (w[0], w[1]);
        let wt = a.0.hypot(a.1) * b.0.hypot(b.1);
        if wt > 0.0 {
            let ang = (a.0 * b.1 - a.1 * b.0).atan2(a.0 * b.0 + a.1 * b.1).abs();
            turn += wt * ang;
            tw += wt;
        }
    }
    TrackStats {
        path,
        straightness: if path > 0.0 { net / path } else { 0.0 },
        horizontal: share(vx, vy),
        turn: if tw > 0.0 { turn / tw / PI } else { 0.0 },
        speed: path / steps.len() as f64,
    }
}

/// `a / (a + b)`, 0.5 when both are 0 (no preferred axis).
fn share(a: f64, b: f64) -> f64 {
    if a + b > 0.0 { a / (a + b) } else { 0.5 }
}

/// Covariance ellipse of 2-D points: (minor/major eigenvalue ratio, cos 2φ, sin 2φ) of the major
/// axis angle φ; (1, 0, 0) without spread.
fn ellipse(xs: &[f64], ys: &[f64]) -> (f64, f64, f64) {
    let n = xs.len().min(ys.len());
    if n < 2 {
        return (1.0, 0.0, 0.0);
    }
    let (mx, my) = (mean_std(xs).0, mean_std(ys).0);
    let (mut sxx, mut syy, mut sxy) = (0.0, 0.0, 0.0);
    for (x, y) in xs.iter().zip(ys) {
        sxx += (x - mx) * (x - mx);
        syy += (y - my) * (y - my);
        sxy += (x - mx) * (y - my);
    }
    let tr = sxx + syy;
    if tr <= 0.0 {
        return (1.0, 0.0, 0.0);
    }
    let r = ((sxx - syy).powi(2) + 4.0 * sxy * sxy).sqrt();
    let (l1, l2) = ((tr + r) / 2.0, (tr - r) / 2.0);
    let (c2, s2) = if r > 0.0 {
        ((sxx - syy) / r, 2.0 * sxy / r)
    } else {
        (0.0, 0.0)
    };
    ((l2 / l1).max(0.0), c2, s2)
}

/// Mean-removed zero crossings of `x` per second.
fn crossings_per_s(x: &[f64], fps: f64) -> f64 {
    if x.len() < 2 {
        return 0.0;
    }
    let m = mean_std(x).0;
    let flips = x
        .windows(2)
        .filter(|w| (w[0] - m) * (w[1] - m) < 0.0)
        .count();
    flips as f64 / ((x.len() - 1) as f64 / fps)
}

/// Normalised (biased) cross-correlation of mean-removed `a` and `b` at lag `k` (b shifted).
fn xcorr(a: &[f64], b: &[f64], k: isize) -> f64 {
    let n = a.len().min(b.len());
    let (ma, mb) = (mean_std(a).0, mean_std(b).0);
    let ea: f64 = a[..n].iter().map(|x| (x - ma).powi(2)).sum();
    let eb: f64 = b[..n].iter().map(|x| (x - mb).powi(2)).sum();
    if ea <= 0.0 || eb <= 0.0 {
        return 0.0;
    }
    let mut s = 0.0;
    for t in 0..n as isize {
        let u = t + k;
        if (0..n as isize).contains(&u) {
            s += (a[t as usize] - ma) * (b[u as usize] - mb);
        }
    }
    s / (ea * eb).sqrt()
}

/// Periodicity: the highest autocorrelation after the first lag where it turns negative.
fn periodicity(x: &[f64]) -> f64 {
    let max_lag = x.len() / 2;
    let mut seen_negative = false;
    let mut best = 0.0f64;
    for k in 1..=max_lag {
        let r = xcorr(x, x, k as isize);
        if r < 0.0 {
            seen_negative = true;
        } else if seen_negative {
            best = best.max(r);
        }
    }
    best
}

/// At least two frames, all of one size, at least 8x8.
fn usable(frames: &[GrayImage]) -> bool {
    frames.len() >= 2
        && frames
            .iter()
            .all(|f| f.dimensions() == frames[0].dimensions())
        && frames[0].width() >= 8
        && frames[0].height() >= 8
}

fn build(out: &mut Out, frames: &[GrayImage], fps: f64) {
    let fps = if fps.is_finite() && fps > 0.0 {
        fps
    } else {
        1.0
    };
    let frames: &[GrayImage] = if usable(frames) { frames } else { &[] };
    let width = frames.first().map_or(1.0, |f| f64::from(f.width()));
    let units = Units {
        per_px: 1.0 / width,
        fps,
    };
    let pairs: Vec<PairFlow> = frames
        .windows(2)
        .map(|p| analyse_pair(&p[0], &p[1], &units))
        .collect();
    let t_len = pairs.len();

    // 1. The dominant motion over time.
    let du: Vec<f64> = pairs.iter().map(|p| p.dom.0).collect();
    let dv: Vec<f64> = pairs.iter().map(|p| p.dom.1).collect();
    let (mu, su) = mean_std(&du);
    let (mv, sv) = mean_std(&dv);
    out.push("dom/mean_x", mu);
    out.push("dom/mean_y", mv);
    out.push("dom/std_x", su);
    out.push("dom/std_y", sv);
    out.push("dom/crossings_per_s_x", crossings_per_s(&du, fps));
    out.push("dom/crossings_per_s_y", crossings_per_s(&dv, fps));
    let ex: f64 = du.iter().map(|x| x * x).sum();
    let ey: f64 = dv.iter().map(|x| x * x).sum();
    out.push("dom/horizontal_energy_share", share(ex, ey));
    let (ratio, c2, s2) = ellipse(&du, &dv);
    out.push("dom/axis_ratio", ratio);
    out.push("dom/orientation_cos2", c2);
    out.push("dom/orientation_sin2", s2);
    let (mut ang_mom, mut norm, mut turn) = (0.0, 0.0, 0.0);
    for t in 1..t_len {
        let (a, b) = ((du[t - 1], dv[t - 1]), (du[t], dv[t]));
        let cross = a.0 * b.1 - a.1 * b.0;
        let wgt = a.0.hypot(a.1) * b.0.hypot(b.1);
        ang_mom += cross;
        norm += wgt;
        if wgt > 0.0 {
            turn += wgt * cross.atan2(a.0 * b.0 + a.1 * b.1).abs();
        }
    }
    let (am, tn) = if norm > 0.0 {
        (ang_mom / norm, turn / norm / PI)
    } else {
        (0.0, 0.0)
    };
    out.push("dom/angular_momentum", am);
    out.push("dom/abs_angular_momentum", am.abs());
    out.push("dom/mean_turn", tn);
    out.push("dom/periodicity_x", periodicity(&du));
    out.push("dom/periodicity_y", periodicity(&dv));
    let max_lag = (t_len / 2) as isize;
    let best_x = (-max_lag..=max_lag)
        .map(|k| xcorr(&du, &dv, k).abs())
        .fold(0.0, f64::max);
    out.push("dom/max_xy_correlation", best_x);
    out.push("dom/xy_correlation_lag0", xcorr(&du, &dv, 0));
    let speeds: Vec<f64> = du.iter().zip(&dv).map(|(a, b)| a.hypot(*b)).collect();
    out.push("dom/mean_speed", mean_std(&speeds).0);
    out.push("dom/max_speed", speeds.iter().copied().fold(0.0, f64::max));
    // The integrated path of the dominant motion, in frame widths.
    let (mut px, mut py) = (vec![0.0; t_len], vec![0.0; t_len]);
    let (mut x, mut y) = (0.0, 0.0);
    for t in 0..t_len {
        x += du[t] / fps;
        y += dv[t] / fps;
        px[t] = x;
        py[t] = y;
    }
    let (vx, vy) = (mean_std(&px).1.powi(2), mean_std(&py).1.powi(2));
    out.push("dom/path_horizontal_share", share(vx, vy));
    out.push("dom/path_axis_ratio", ellipse(&px, &py).0);

    // 2. Windows.
    let ranges = split(t_len, WINDOWS);
    for (wi, r) in ranges.iter().enumerate() {
        let ps = &pairs[r.clone()];
        let n = ps.len().max(1) as f64;
        let mean = |f: &dyn Fn(&PairFlow) -> f64| ps.iter().map(f).sum::<f64>() / n;
        out.push(format!("window{wi}/dom_mean_x"), mean(&|p| p.dom.0));
        out.push(format!("window{wi}/dom_mean_y"), mean(&|p| p.dom.1));
        out.push(
            format!("window{wi}/dom_rms_x"),
            mean(&|p| p.dom.0 * p.dom.0).sqrt(),
        );
        out.push(
            format!("window{wi}/dom_rms_y"),
            mean(&|p| p.dom.1 * p.dom.1).sqrt(),
        );
        out.push(format!("window{wi}/mean_speed"), mean(&|p| p.speed));
        // Axial orientation: opposite directions share a bin (0°, 45°, 90°, 135° ± 22.5°).
        let mut axes = [0.0; DIR_BINS / 2];
        for p in ps {
            for (k, x) in p.dirs.iter().enumerate() {
                axes[k % (DIR_BINS / 2)] += x;
            }
        }
        out.push_all(&format!("window{wi}/orientation"), &normalised(&axes));
    }

    // 3. Dense flow over the whole clip.
    let sp: Vec<f64> = pairs.iter().map(|p| p.speed).collect();
    let (msp, ssp) = mean_std(&sp);
    out.push("dense/mean_speed", msp);
    out.push("dense/std_speed", ssp);
    let mut dirs = [0.0; DIR_BINS];
    let (mut ehx, mut ehy) = (0.0, 0.0);
    let mut dc = DivCurl::default();
    for p in &pairs {
        for (d, x) in dirs.iter_mut().zip(p.dirs) {
            *d += x;
        }
        ehx += p.energy.0;
        ehy += p.energy.1;
        let q = &p.div_curl;
        dc.n += q.n;
        dc.div += q.div;
        dc.curl += q.curl;
        dc.abs_div += q.abs_div;
        dc.abs_curl += q.abs_curl;
        for k in 0..5 {
            dc.div_hist[k] += q.div_hist[k];
            dc.curl_hist[k] += q.curl_hist[k];
        }
    }
    out.push_all("dense/direction", &normalised(&dirs));
    out.push("dense/horizontal_energy_share", share(ehx, ehy));
    let n = dc.n.max(1.0);
    out.push("dense/mean_divergence", dc.div / n);
    out.push("dense/mean_curl", dc.curl / n);
    out.push("dense/mean_abs_divergence", dc.abs_div / n);
    out.push("dense/mean_abs_curl", dc.abs_curl / n);
    out.push_all("dense/divergence_hist", &normalised(&dc.div_hist));
    out.push_all("dense/curl_hist", &normalised(&dc.curl_hist));

    // 4. Tracks, restarted at every window so they cover the clip.
    let mut stats = Vec::new();
    for r in &ranges {
        if r.end > r.start {
            stats.extend(follow(frames, r.start, r.end).iter().map(track_stats));
        }
    }
    let k = units.per_px * fps;
    let wsum: f64 = stats.iter().map(|s| s.path).sum();
    let wmean = |f: &dyn Fn(&TrackStats) -> f64| {
        if wsum > 0.0 {
            stats.iter().map(|s| s.path * f(s)).sum::<f64>() / wsum
        } else {
            0.0
        }
    };
    out.push("tracks/per_window", stats.len() as f64 / WINDOWS as f64);
    out.push("tracks/straightness", wmean(&|s| s.straightness));
    out.push("tracks/horizontal_share", wmean(&|s| s.horizontal));
    out.push("tracks/mean_turn", wmean(&|s| s.turn));
    // Moving: faster than 2% of the frame width per second.
    let moving = stats.iter().filter(|s| s.speed * k > 0.02).count();
    out.push(
        "tracks/moving_share",
        moving as f64 / stats.len().max(1) as f64,
    );
    let speeds: Vec<f64> = stats.iter().map(|s| s.speed * k).collect();
    out.push("tracks/mean_speed", mean_std(&speeds).0);
    out.push(
        "tracks/max_speed",
        speeds.iter().copied().fold(0.0, f64::max),
    );
    let mut by_speed: Vec<&TrackStats> = stats.iter().collect();
    by_speed.sort_by(|a, b| b.speed.total_cmp(&a.speed));
    let top = &by_speed[..by_speed.len().div_ceil(10)];
    let top_h = if top.is_empty() {
        0.5
    } else {
        top.iter().map(|s| s.horizontal).sum::<f64>() / top.len() as f64
    };
    out.push("tracks/fastest_horizontal_share", top_h);

    // 5. Frame differences.
    let (mut cx, mut cy, mut diffs) = (Vec::new(), Vec::new(), Vec::new());
    for p in frames.windows(2) {
        let (c, mean) = change_centroid(&p[0], &p[1]);
        diffs.push(mean);
        if let Some((x, y)) = c {
            cx.push(x);
            cy.push(y);
        }
    }
    let (vx, vy) = (mean_std(&cx).1.powi(2), mean_std(&cy).1.powi(2));
    out.push("diff/centroid_horizontal_share", share(vx, vy));
    out.push("diff/centroid_axis_ratio", ellipse(&cx, &cy).0);
    out.push("diff/mean_abs_difference", mean_std(&diffs).0);
    out.push("clip/frames", frames.len() as f64);
    out.push("clip/duration_s", frames.len() as f64 / fps);
}

/// `n` items split into `parts` consecutive ranges of near-equal length (empty when `n` is small).
fn split(n: usize, parts: usize) -> Vec<std::ops::Range<usize>> {
    (0..parts)
        .map(|i| (i * n / parts)..((i + 1) * n / parts))
        .collect()
}

/// `v / Σ v`, zeros when the sum is 0.
fn normalised(v: &[f64]) -> Vec<f64> {
    let s: f64 = v.iter().sum();
    v.iter()
        .map(|x| if s > 0.0 { x / s } else { 0.0 })
        .collect()
}

/// Centroid (in frame widths and heights) of the grey-level changes beyond mean + 2 std, and the
/// mean absolute change.
fn change_centroid(a: &GrayImage, b: &GrayImage) -> (Option<(f64, f64)>, f64) {
    let (w, h) = (a.width() as usize, a.height() as usize);
    let d: Vec<f64> = a
        .as_raw()
        .iter()
        .zip(b.as_raw())
        .map(|(&p, &q)| f64::from(p.abs_diff(q)))
        .collect();
    let (m, s) = mean_std(&d);
    let thr = m + 2.0 * s;
    let (mut sw, mut sx, mut sy) = (0.0, 0.0, 0.0);
    for (i, &x) in d.iter().enumerate() {
        let wgt = x - thr;
        if wgt > 0.0 {
            sw += wgt;
            sx += wgt * (i % w) as f64;
            sy += wgt * (i / w) as f64;
        }
    }
    let c = (sw > 0.0).then(|| (sx / sw / w as f64, sy / sw / h as f64));
    (c, m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Luma;

    #[test]
    fn names_match_length_and_are_unique() {
        let names = motion_plus_names();
        assert_eq!(names.len(), MOTION_PLUS_LEN);
        let mut sorted = names.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), names.len());
        assert!(names.iter().all(|n| n.starts_with("motion_plus/")));
    }

    #[test]
    fn short_or_odd_clips_give_zeros_of_the_right_length() {
        assert_eq!(motion_plus_features(&[], 25.0).len(), MOTION_PLUS_LEN);
        let one = GrayImage::from_pixel(32, 24, Luma([9]));
        let v = motion_plus_features(std::slice::from_ref(&one), 25.0);
        assert_eq!(v.len(), MOTION_PLUS_LEN);
        assert!(v.iter().all(|x| x.is_finite()));
        let v = motion_plus_features(&[one.clone(), one], f64::NAN);
        assert!(v.iter().all(|x| x.is_finite()));
    }

    #[test]
    fn helpers_by_hand() {
        assert_eq!(dir_bin(1.0, 0.0), 0);
        assert_eq!(dir_bin(0.0, 1.0), 2);
        assert_eq!(dir_bin(-1.0, 0.0), 4);
        assert_eq!(dir_bin(0.0, -1.0), 6);
        assert_eq!(dir_bin(1.0, -0.1), 0);
        assert_eq!(dc_bin(-3.0), 0);
        assert_eq!(dc_bin(0.0), 2);
        assert_eq!(dc_bin(2.0), 4);
        // A horizontal line of points: no minor axis, orientation 0°.
        let (r, c2, s2) = ellipse(&[0.0, 1.0, 2.0], &[5.0, 5.0, 5.0]);
        assert_eq!((r, c2, s2), (0.0, 1.0, 0.0));
        // sin and cos a quarter period apart: cross-correlation peaks near lag 5 of 20.
        let a: Vec<f64> = (0..40).map(|t| (t as f64 * PI / 10.0).sin()).collect();
        let b: Vec<f64> = (0..40).map(|t| (t as f64 * PI / 10.0).cos()).collect();
        assert!(xcorr(&a, &b, 0).abs() < 0.05);
        assert!(xcorr(&a, &b, -5).abs() > 0.8);
        assert!(periodicity(&a) > 0.4);
        assert_eq!(crossings_per_s(&[1.0, -1.0, 1.0, -1.0, 1.0], 4.0), 4.0);
        assert_eq!(split(10, 4), vec![0..2, 2..5, 5..7, 7..10]);
    }
}
