//! Drawing a demo video's frames from its [`VideoSpec`]: textured sprites, the drifting
//! cluttered background, random-walking distractors and per-frame noise.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::spec::{
    BackgroundSpec, DistractorSpec, ObjectSpec, Rgb, Shape, Texture, VideoSpec, muted, splitmix64,
};
use crate::video::Frame;

/// Render frame `t` of `spec`. Convenient for one frame; to render a whole video use
/// [`VideoSpec::renderer`], which builds the background once.
pub fn render_frame(spec: &VideoSpec, t: usize) -> Frame {
    spec.renderer().frame(t)
}

/// A shape's pixels: RGB plus a 0/255 coverage mask.
struct Sprite {
    width: usize,
    height: usize,
    rgb: Vec<u8>,
    mask: Vec<bool>,
}

/// Renders a [`VideoSpec`]'s frames; holds the precomputed background and sprites.
pub struct Renderer<'a> {
    spec: &'a VideoSpec,
    background: Vec<u8>,
    bg_width: usize,
    bg_height: usize,
    /// Background window origin at frame 0.
    bg_origin: (f64, f64),
    object: Sprite,
    distractors: Vec<(Sprite, Vec<(f64, f64)>)>,
}

impl<'a> Renderer<'a> {
    pub(super) fn new(spec: &'a VideoSpec) -> Renderer<'a> {
        let n = spec.n_frames.max(1);
        let (dx, dy) = spec.background.drift;
        // Room for the whole drift plus one pixel for bilinear interpolation.
        let pad_x = (dx.abs() * (n - 1) as f64).ceil() as usize + 2;
        let pad_y = (dy.abs() * (n - 1) as f64).ceil() as usize + 2;
        let bg_width = spec.width as usize + pad_x;
        let bg_height = spec.height as usize + pad_y;
        let bg_origin = (
            if dx >= 0.0 { 0.0 } else { (pad_x - 2) as f64 },
            if dy >= 0.0 { 0.0 } else { (pad_y - 2) as f64 },
        );
        let background = build_background(&spec.background, bg_width, bg_height);
        let object = object_sprite(&spec.object);
        let distractors = spec
            .distractors
            .iter()
            .map(|d| {
                let sprite = solid_sprite(d.shape, d.size, d.color);
                (sprite, random_walk(d, spec.width, spec.height, n))
            })
            .collect();
        Renderer {
            spec,
            background,
            bg_width,
            bg_height,
            bg_origin,
            object,
            distractors,
        }
    }

    /// Render frame `t`; `t` past the last frame is treated as the last frame.
    pub fn frame(&self, t: usize) -> Frame {
        let spec = self.spec;
        let t = t.min(spec.n_frames.saturating_sub(1));
        let (w, h) = (spec.width as usize, spec.height as usize);
        let mut buf = vec![0u8; w * h * 3];
        self.draw_background(t, &mut buf);
        for (sprite, path) in &self.distractors {
            blit(&mut buf, w, h, sprite, path[t.min(path.len() - 1)]);
        }
        blit(&mut buf, w, h, &self.object, spec.object_center(t));
        add_noise(&mut buf, spec.noise, spec.noise_seed, t as u64);
        Frame::from_raw(spec.width, spec.height, buf).expect("buffer is width*height*3")
    }

    fn draw_background(&self, t: usize, buf: &mut [u8]) {
        let (w, h) = (self.spec.width as usize, self.spec.height as usize);
        let (dx, dy) = self.spec.background.drift;
        let ox = (self.bg_origin.0 + dx * t as f64).clamp(0.0, (self.bg_width - w - 1) as f64);
        let oy = (self.bg_origin.1 + dy * t as f64).clamp(0.0, (self.bg_height - h - 1) as f64);
        let (ix, iy) = (ox.floor() as usize, oy.floor() as usize);
        // Every pixel shares the same sub-pixel offset, so the bilinear weights are computed once
        // (8-bit fixed point, summing to 65536).
        let fx = ((ox - ix as f64) * 256.0).round() as u32;
        let fy = ((oy - iy as f64) * 256.0).round() as u32;
        let w00 = (256 - fx) * (256 - fy);
        let w01 = fx * (256 - fy);
        let w10 = (256 - fx) * fy;
        let w11 = fx * fy;
        let stride = self.bg_width * 3;
        for y in 0..h {
            let r0 = (iy + y) * stride + ix * 3;
            let r1 = r0 + stride;
            let out = &mut buf[y * w * 3..(y + 1) * w * 3];
            for (i, o) in out.iter_mut().enumerate() {
                let v = w00 * self.background[r0 + i] as u32
                    + w01 * self.background[r0 + i + 3] as u32
                    + w10 * self.background[r1 + i] as u32
                    + w11 * self.background[r1 + i + 3] as u32;
                *o = ((v + 32768) >> 16) as u8;
            }
        }
    }
}

/// Paste `sprite` centred at `center` (rounded to the nearest pixel), clipped to the frame.
fn blit(buf: &mut [u8], w: usize, h: usize, sprite: &Sprite, center: (f64, f64)) {
    let x0 = (center.0 - sprite.width as f64 / 2.0).round() as i64;
    let y0 = (center.1 - sprite.height as f64 / 2.0).round() as i64;
    for sy in 0..sprite.height {
        let y = y0 + sy as i64;
        if y < 0 || y >= h as i64 {
            continue;
        }
        for sx in 0..sprite.width {
            let x = x0 + sx as i64;
            if x < 0 || x >= w as i64 || !sprite.mask[sy * sprite.width + sx] {
                continue;
            }
            let s = (sy * sprite.width + sx) * 3;
            let d = (y as usize * w + x as usize) * 3;
            buf[d..d + 3].copy_from_slice(&sprite.rgb[s..s + 3]);
        }
    }
}

/// Per-pixel triangular noise in `[-amp, amp]` from a counter-based hash, so each frame's noise
/// depends only on (seed, t) and costs one hash per pixel.
fn add_noise(buf: &mut [u8], amp: f64, seed: u64, t: u64) {
    if amp <= 0.0 {
        return;
    }
    let scale = (amp * 256.0 / 255.0).round() as i32; // noise = (a + b - 255) * scale / 256
    let frame_key = splitmix64(seed ^ splitmix64(t.wrapping_add(1)));
    for (i, px) in buf.chunks_exact_mut(3).enumerate() {
        let r = splitmix64(frame_key.wrapping_add(i as u64));
        for (c, v) in px.iter_mut().enumerate() {
            let a = (r >> (16 * c)) as u8 as i32;
            let b = (r >> (16 * c + 8)) as u8 as i32;
            // Round to nearest (a bare shift floors, biasing the noise by -0.5).
            let n = ((a + b - 255) * scale + 128) >> 8;
            *v = (*v as i32 + n).clamp(0, 255) as u8;
        }
    }
}

fn shape_mask(shape: Shape, w: usize, h: usize) -> Vec<bool> {
    let mut mask = vec![true; w * h];
    if shape == Shape::Ellipse {
        let (rx, ry) = (w as f64 / 2.0, h as f64 / 2.0);
        for y in 0..h {
            for x in 0..w {
                let u = (x as f64 + 0.5 - rx) / rx;
                let v = (y as f64 + 0.5 - ry) / ry;
                mask[y * w + x] = u * u + v * v <= 1.0;
            }
        }
    }
    mask
}

fn object_sprite(o: &ObjectSpec) -> Sprite {
    let (w, h) = (o.width as usize, o.height as usize);
    let mut rgb = vec![0u8; w * h * 3];
    if w == 0 || h == 0 {
        return Sprite {
            width: w,
            height: h,
            rgb,
            mask: Vec::new(),
        };
    }
    let put = |rgb: &mut [u8], x: usize, y: usize, c: Rgb| {
        rgb[(y * w + x) * 3..(y * w + x) * 3 + 3].copy_from_slice(&c);
    };
    match o.texture {
        Texture::Checker { cell } => {
            let cell = cell.max(1) as usize;
            for y in 0..h {
                for x in 0..w {
                    put(&mut rgb, x, y, o.colors[(x / cell + y / cell) % 2]);
                }
            }
        }
        Texture::Stripes { period, angle } => {
            let (c, s) = (angle.cos(), angle.sin());
            let period = period.max(1.0);
            for y in 0..h {
                for x in 0..w {
                    let u = (x as f64 * c + y as f64 * s) / period;
                    put(
                        &mut rgb,
                        x,
                        y,
                        o.colors[(u.floor() as i64).rem_euclid(2) as usize],
                    );
                }
            }
        }
        Texture::Blobs { count } => {
            for y in 0..h {
                for x in 0..w {
                    put(&mut rgb, x, y, o.colors[0]);
                }
            }
            let mut rng = ChaCha8Rng::seed_from_u64(o.texture_seed);
            let short = w.min(h) as f64;
            for k in 0..count {
                let (cx, cy) = (rng.gen_range(0.0..w as f64), rng.gen_range(0.0..h as f64));
                let r = rng.gen_range(0.12..0.3) * short;
                let color = o.colors[1 + (k as usize % 2)];
                fill_disc(&mut rgb, w, h, (cx, cy), r, color);
            }
        }
    }
    Sprite {
        width: w,
        height: h,
        rgb,
        mask: shape_mask(o.shape, w, h),
    }
}

fn solid_sprite(shape: Shape, size: (u32, u32), color: Rgb) -> Sprite {
    let (w, h) = (size.0 as usize, size.1 as usize);
    Sprite {
        width: w,
        height: h,
        rgb: color.repeat(w * h),
        mask: shape_mask(shape, w, h),
    }
}

fn fill_disc(rgb: &mut [u8], w: usize, h: usize, c: (f64, f64), r: f64, color: Rgb) {
    let y0 = (c.1 - r).floor().max(0.0) as usize;
    let y1 = ((c.1 + r).ceil() as usize).min(h);
    let x0 = (c.0 - r).floor().max(0.0) as usize;
    let x1 = ((c.0 + r).ceil() as usize).min(w);
    for y in y0..y1 {
        for x in x0..x1 {
            let (u, v) = (x as f64 + 0.5 - c.0, y as f64 + 0.5 - c.1);
            if u * u + v * v <= r * r {
                rgb[(y * w + x) * 3..(y * w + x) * 3 + 3].copy_from_slice(&color);
            }
        }
    }
}

/// A smooth random walk: the velocity gets a random kick each frame and decays, and the walk
/// bounces off the frame edges so the shape stays visible.
fn random_walk(d: &DistractorSpec, width: u32, height: u32, n: usize) -> Vec<(f64, f64)> {
    let mut rng = ChaCha8Rng::seed_from_u64(d.seed);
    let (w, h) = (width as f64, height as f64);
    let (lo_x, hi_x) = (0.0, w);
    let (lo_y, hi_y) = (0.0, h);
    let (mut x, mut y) = d.start;
    let (mut vx, mut vy) = (0.0f64, 0.0f64);
    let mut path = Vec::with_capacity(n);
    for _ in 0..n {
        path.push((x, y));
        vx = 0.85 * vx + d.step * gaussish(&mut rng);
        vy = 0.85 * vy + d.step * gaussish(&mut rng);
        x += vx;
        y += vy;
        bounce(&mut x, &mut vx, lo_x, hi_x);
        bounce(&mut y, &mut vy, lo_y, hi_y);
    }
    path
}

/// Reflect a coordinate that left `[lo, hi]` back inside and reverse its velocity.
fn bounce(pos: &mut f64, vel: &mut f64, lo: f64, hi: f64) {
    if *pos < lo || *pos > hi {
        *vel = -*vel;
        *pos = if *pos < lo {
            2.0 * lo - *pos
        } else {
            2.0 * hi - *pos
        }
        .clamp(lo, hi);
    }
}

/// Approximately standard normal (sum of three uniforms, variance 1).
fn gaussish(rng: &mut ChaCha8Rng) -> f64 {
    let s: f64 = (0..3).map(|_| rng.gen_range(-1.0..1.0)).sum();
    s
}

fn build_background(spec: &BackgroundSpec, bw: usize, bh: usize) -> Vec<u8> {
    let mut rng = ChaCha8Rng::seed_from_u64(spec.seed);
    let mut img = vec![0u8; bw * bh * 3];

    // Coarse value noise: random grey offsets on a grid, bilinearly interpolated.
    let cell = spec.noise_cell.max(2) as usize;
    let (gw, gh) = (bw / cell + 2, bh / cell + 2);
    let grid: Vec<f64> = (0..gw * gh)
        .map(|_| rng.gen_range(-1.0..1.0) * spec.noise_amplitude)
        .collect();
    let (gc, gs) = (spec.gradient_angle.cos(), spec.gradient_angle.sin());
    let extent = (bw as f64 * gc.abs() + bh as f64 * gs.abs()).max(1.0);
    let [c0, c1] = spec.colors;
    for y in 0..bh {
        let gy = y / cell;
        let fy = (y % cell) as f64 / cell as f64;
        for x in 0..bw {
            let gx = x / cell;
            let fx = (x % cell) as f64 / cell as f64;
            let n = grid[gy * gw + gx] * (1.0 - fx) * (1.0 - fy)
                + grid[gy * gw + gx + 1] * fx * (1.0 - fy)
                + grid[(gy + 1) * gw + gx] * (1.0 - fx) * fy
                + grid[(gy + 1) * gw + gx + 1] * fx * fy;
            // Project onto the gradient direction, 0..1 across the image.
            let u = ((x as f64 - bw as f64 / 2.0) * gc + (y as f64 - bh as f64 / 2.0) * gs)
                / extent
                + 0.5;
            let p = (y * bw + x) * 3;
            for c in 0..3 {
                let v = c0[c] as f64 * (1.0 - u) + c1[c] as f64 * u + n;
                img[p + c] = v.round().clamp(0.0, 255.0) as u8;
            }
        }
    }

    // Clutter: translucent rectangles, ellipses and bars in muted colours.
    let short = bw.min(bh) as f64;
    for _ in 0..spec.n_shapes {
        let color = muted(&mut rng);
        let alpha = rng.gen_range(0.35..0.9);
        let kind = rng.gen_range(0..3);
        let (cx, cy) = (rng.gen_range(0.0..bw as f64), rng.gen_range(0.0..bh as f64));
        let (sw, sh) = match kind {
            // Bars: long and thin, horizontal or vertical with equal odds.
            2 => {
                let long = rng.gen_range(0.2..0.6) * short;
                let thin = rng.gen_range(2.0..6.0);
                if rng.gen_bool(0.5) {
                    (long, thin)
                } else {
                    (thin, long)
                }
            }
            _ => (
                rng.gen_range(0.04..0.25) * short,
                rng.gen_range(0.04..0.25) * short,
            ),
        };
        let x0 = (cx - sw / 2.0).floor().max(0.0) as usize;
        let x1 = ((cx + sw / 2.0).ceil() as usize).min(bw);
        let y0 = (cy - sh / 2.0).floor().max(0.0) as usize;
        let y1 = ((cy + sh / 2.0).ceil() as usize).min(bh);
        for y in y0..y1 {
            for x in x0..x1 {
                if kind == 1 {
                    let u = (x as f64 + 0.5 - cx) / (sw / 2.0);
                    let v = (y as f64 + 0.5 - cy) / (sh / 2.0);
                    if u * u + v * v > 1.0 {
                        continue;
                    }
                }
                let p = (y * bw + x) * 3;
                for c in 0..3 {
                    let v = img[p + c] as f64 * (1.0 - alpha) + color[c] as f64 * alpha;
                    img[p + c] = v.round() as u8;
                }
            }
        }
    }
    img
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::synth::spec::tests::range;
    use crate::dataset::synth::{Motion, VideoRanges};

    #[test]
    fn same_seed_same_video_other_seed_differs() {
        let r = VideoRanges::deep();
        let a = VideoSpec::random(42, Motion::Circle, &r);
        let b = VideoSpec::random(42, Motion::Circle, &r);
        let c = VideoSpec::random(43, Motion::Circle, &r);
        assert_eq!(a, b);
        assert_ne!(a, c);
        let last = a.n_frames - 1;
        for t in [0, 1, last] {
            assert_eq!(render_frame(&a, t), render_frame(&b, t));
        }
        assert_ne!(render_frame(&a, 0), render_frame(&c, 0));
        // The renderer's frames are the one-shot frames.
        assert_eq!(a.renderer().frame(last), render_frame(&a, last));
    }

    /// A clean copy of `s` (no noise, no distractors) and the same without the object, so their
    /// difference is exactly the object.
    fn clean_pair(s: &VideoSpec) -> (VideoSpec, VideoSpec) {
        let mut with = s.clone();
        with.noise = 0.0;
        with.distractors.clear();
        let mut without = with.clone();
        without.object.width = 0;
        without.object.height = 0;
        (with, without)
    }

    fn object_centroid(with: &Frame, without: &Frame) -> (f64, f64, usize) {
        let (mut sx, mut sy, mut n) = (0.0, 0.0, 0);
        for (x, y, p) in with.enumerate_pixels() {
            if p != without.get_pixel(x, y) {
                sx += x as f64 + 0.5;
                sy += y as f64 + 0.5;
                n += 1;
            }
        }
        (sx / n as f64, sy / n as f64, n)
    }

    #[test]
    fn rendered_object_follows_the_trajectory() {
        for (seed, motion) in [
            (3, Motion::LeftRight),
            (4, Motion::UpDown),
            (5, Motion::Circle),
        ] {
            let s = VideoSpec::random(seed, motion, &VideoRanges::deep());
            let (with, without) = clean_pair(&s);
            let (rw, ro) = (with.renderer(), without.renderer());
            let mut centres = Vec::new();
            for t in (0..s.n_frames).step_by(3) {
                let (cx, cy, n) = object_centroid(&rw.frame(t), &ro.frame(t));
                let area = (s.object.width * s.object.height) as f64;
                // An ellipse covers pi/4 of its box; a few pixels may match the background.
                assert!(
                    n as f64 > 0.6 * area,
                    "seed {seed} t {t}: {n} object pixels of {area}"
                );
                let want = s.object_center(t);
                assert!(
                    (cx - want.0).abs() <= 1.5 && (cy - want.1).abs() <= 1.5,
                    "seed {seed} t {t}: rendered ({cx:.1}, {cy:.1}) vs spec {want:?}"
                );
                centres.push((cx, cy));
            }
            let xr = range(centres.iter().map(|p| p.0));
            let yr = range(centres.iter().map(|p| p.1));
            match motion {
                Motion::LeftRight => assert!(yr <= 1.5 && xr > 5.0, "{xr} {yr}"),
                Motion::UpDown => assert!(xr <= 1.5 && yr > 5.0, "{xr} {yr}"),
                Motion::Circle => assert!(xr > 5.0 && yr > 5.0, "{xr} {yr}"),
            }
        }
    }

    #[test]
    fn noise_is_bounded_and_centred() {
        let mut s = VideoSpec::random(9, Motion::UpDown, &VideoRanges::deep());
        s.noise = 8.0;
        let mut clean = s.clone();
        clean.noise = 0.0;
        let (a, b) = (render_frame(&s, 2), render_frame(&clean, 2));
        let (mut sum, mut n, mut max) = (0i64, 0i64, 0i32);
        for (p, q) in a.as_raw().iter().zip(b.as_raw()) {
            // Skip clipped values so the mean is not biased by saturation.
            if (10..=245).contains(q) {
                let d = *p as i32 - *q as i32;
                sum += d as i64;
                n += 1;
                max = max.max(d.abs());
            }
        }
        let mean = sum as f64 / n as f64;
        assert!(max <= 8, "noise {max} beyond amplitude 8");
        assert!(max >= 6, "noise never reaches near its amplitude: {max}");
        assert!(mean.abs() < 0.2, "noise mean {mean}");
        // Each frame gets fresh noise.
        assert_ne!(render_frame(&s, 2), render_frame(&s, 3));
    }

    #[test]
    fn background_drifts() {
        let mut s = VideoSpec::random(11, Motion::Circle, &VideoRanges::classical());
        s.background.drift = (0.5, -0.25);
        s.n_frames = 40;
        let (_, bg) = clean_pair(&s);
        let r = bg.renderer();
        let (f0, f8) = (r.frame(0), r.frame(8));
        // After 8 frames the view has moved (+4, -2): frame 8 at (x, y) shows frame 0 at
        // (x + 4, y - 2).
        let (w, h) = (s.width, s.height);
        let (mut same, mut moved, mut n) = (0u64, 0u64, 0u64);
        for y in 4..h - 4 {
            for x in 4..w - 8 {
                for c in 0..3 {
                    let v = f8.get_pixel(x, y)[c] as i64;
                    moved += (v - f0.get_pixel(x + 4, y - 2)[c] as i64).unsigned_abs();
                    same += (v - f0.get_pixel(x, y)[c] as i64).unsigned_abs();
                    n += 1;
                }
            }
        }
        assert_eq!(moved, 0, "shifted background differs");
        assert!(same > n / 4, "background did not move");
    }

    #[test]
    fn distractors_walk_inside_the_frame() {
        let s = VideoSpec::random(21, Motion::LeftRight, &VideoRanges::classical());
        for d in &s.distractors {
            let path = random_walk(d, s.width, s.height, 500);
            assert_eq!(path[0], d.start);
            assert!(
                path.iter().all(|p| (0.0..=s.width as f64).contains(&p.0)
                    && (0.0..=s.height as f64).contains(&p.1))
            );
            assert!(range(path.iter().map(|p| p.0)) > 2.0);
        }
    }
}
