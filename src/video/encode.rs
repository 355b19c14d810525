//! Video encoding with FFmpeg: write RGB frames to .mp4, .avi, .mkv or .webm files.

use std::path::{Path, PathBuf};

use ffmpeg::{Dictionary, Packet, Rational, codec, format, frame};
use ffmpeg_next as ffmpeg;

use super::Frame;
use super::decode::init_ffmpeg;
use crate::error::{Error, Result, VideoErrorKind};

/// Which video codec a [`VideoWriter`] uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Codec {
    /// H.264 via libx264 when this FFmpeg has it, else MPEG-4 part 2; except that `.webm` gets VP9
    /// (the only one of the three WebM allows) and `.avi` gets MPEG-4 part 2 (AVI has no
    /// timestamps for H.264's reordered B-frames).
    #[default]
    Auto,
    /// H.264 through libx264 (CRF 20, preset veryfast).
    H264,
    /// MPEG-4 part 2 through FFmpeg's own `mpeg4` encoder (fixed quantiser 3).
    Mpeg4,
    /// VP9 through libvpx-vp9 (CRF 30, constant-quality mode).
    Vp9,
}

impl Codec {
    fn encoder_name(self) -> &'static str {
        match self {
            Codec::Auto | Codec::H264 => "libx264",
            Codec::Mpeg4 => "mpeg4",
            Codec::Vp9 => "libvpx-vp9",
        }
    }
}

/// Whether this FFmpeg build has an encoder called `name` (e.g. `"libx264"`, `"mpeg4"`).
pub fn has_encoder(name: &str) -> bool {
    init_ffmpeg();
    ffmpeg::encoder::find_by_name(name).is_some()
}

/// The container chosen from the file extension: (FFmpeg muxer name, extension as written).
fn container_for(path: &Path) -> Result<(&'static str, String)> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    let muxer = match ext.as_str() {
        "mp4" => "mp4",
        "avi" => "avi",
        "mkv" => "matroska",
        "webm" => "webm",
        _ => {
            return Err(Error::InvalidArgument(format!(
                "{}: unsupported video extension {:?}; use .mp4, .avi, .mkv or .webm",
                path.display(),
                ext
            )));
        }
    };
    Ok((muxer, ext))
}

/// Resolve [`Codec::Auto`] for a container and check the pairing is one the container allows.
fn resolve_codec(path: &Path, codec: Codec, ext: &str) -> Result<Codec> {
    let resolved = match codec {
        Codec::Auto if ext == "webm" => Codec::Vp9,
        Codec::Auto if ext == "avi" => Codec::Mpeg4,
        Codec::Auto if has_encoder("libx264") => Codec::H264,
        Codec::Auto => Codec::Mpeg4,
        other => other,
    };
    if ext == "webm" && resolved != Codec::Vp9 {
        return Err(Error::InvalidArgument(format!(
            "{}: WebM holds only VP8/VP9/AV1 video, not {resolved:?}",
            path.display()
        )));
    }
    Ok(resolved)
}

fn encode_err(path: &Path, what: &str, e: impl std::fmt::Display) -> Error {
    Error::video(path, VideoErrorKind::Encode(format!("{what}: {e}")))
}

/// Writes RGB frames to a video file at a constant frame rate, as YUV 4:2:0.
///
/// Output is deterministic: the same frames give the same bytes (encoders run on one thread and
/// the muxer is in bit-exact mode, so no random Matroska UIDs). Call [`VideoWriter::finish`]; a
/// writer that is only dropped leaves a file without its trailer (an unplayable .mp4).
///
/// ```no_run
/// use vidcompare::video::{Frame, encode::{Codec, VideoWriter}};
/// let mut w = VideoWriter::create("out.mp4".as_ref(), 64, 48, 25, Codec::Auto)?;
/// w.write(&Frame::from_pixel(64, 48, image::Rgb([200, 30, 30])))?;
/// w.finish()?;
/// # Ok::<(), vidcompare::Error>(())
/// ```
pub struct VideoWriter {
    path: PathBuf,
    width: u32,
    height: u32,
    octx: format::context::Output,
    encoder: ffmpeg::encoder::Video,
    encoder_time_base: Rational,
    stream_time_base: Rational,
    next_pts: i64,
}

impl VideoWriter {
    /// Create `path` (container from its extension: .mp4, .avi, .mkv, .webm) for frames of
    /// `width` x `height` at `fps` frames per second.
    ///
    /// Width and height must be even (YUV 4:2:0 halves both for chroma) and non-zero, `fps`
    /// non-zero: otherwise [`Error::InvalidArgument`]. A codec FFmpeg lacks, or one the container
    /// refuses, is an [`Error::Video`] with [`VideoErrorKind::Encode`].
    pub fn create(
        path: &Path,
        width: u32,
        height: u32,
        fps: u32,
        codec: Codec,
    ) -> Result<VideoWriter> {
        init_ffmpeg();
        if width == 0 || height == 0 || !width.is_multiple_of(2) || !height.is_multiple_of(2) {
            return Err(Error::InvalidArgument(format!(
                "{}: video size {width}x{height} must be non-zero and even in both dimensions \
                 (YUV 4:2:0 subsamples chroma by 2)",
                path.display()
            )));
        }
        if fps == 0 || fps > 1000 {
            return Err(Error::InvalidArgument(format!(
                "{}: frame rate {fps} must be between 1 and 1000",
                path.display()
            )));
        }
        let (muxer, ext) = container_for(path)?;
        let codec = resolve_codec(path, codec, &ext)?;
        let name = codec.encoder_name();
        let av_codec = ffmpeg::encoder::find_by_name(name)
            .ok_or_else(|| encode_err(path, "FFmpeg has no encoder", name))?;

        let mut octx = format::output_as(path, muxer)
            .map_err(|e| encode_err(path, "cannot create output file", e))?;
        // Bit-exact muxing drops the random Matroska segment/track UIDs, so output is reproducible.
        // SAFETY: octx owns a valid AVFormatContext; `flags` is a plain int field.
        unsafe {
            (*octx.as_mut_ptr()).flags |= ffmpeg::ffi::AVFMT_FLAG_BITEXACT;
        }
        let global_header = octx.format().flags().contains(format::Flags::GLOBAL_HEADER);

        let time_base = Rational::new(1, fps as i32);
        let mut enc = codec::context::Context::new_with_codec(av_codec)
            .encoder()
            .video()
            .map_err(|e| encode_err(path, "cannot set up encoder", e))?;
        enc.set_width(width);
        enc.set_height(height);
        enc.set_format(format::Pixel::YUV420P);
        enc.set_time_base(time_base);
        enc.set_frame_rate(Some(Rational::new(fps as i32, 1)));
        enc.set_gop(fps.saturating_mul(2));
        // Our RGB -> YUV conversion is BT.601 limited range; say so in the stream.
        enc.set_colorspace(ffmpeg::color::Space::SMPTE170M);
        enc.set_color_range(ffmpeg::color::Range::MPEG);
        // One thread: multi-threaded encoders may make scheduling-dependent decisions.
        enc.set_threading(codec::threading::Config {
            kind: codec::threading::Type::None,
            count: 1,
            ..Default::default()
        });
        let mut flags = codec::Flags::BITEXACT;
        if global_header {
            flags |= codec::Flags::GLOBAL_HEADER;
        }
        let mut options = Dictionary::new();
        match codec {
            Codec::Auto | Codec::H264 => {
                options.set("preset", "veryfast");
                options.set("crf", "20");
                // x264's macroblock-tree rate control reads uninitialised memory in this build
                // (libx264 164): the same frames encoded twice gave different bytes depending on
                // heap contents (seen with MALLOC_PERTURB_). Without it output is reproducible.
                options.set("x264-params", "mbtree=0");
            }
            Codec::Mpeg4 => {
                // Fixed quantiser 3: flat colours come back within a few grey levels.
                flags |= codec::Flags::QSCALE;
                enc.set_global_quality(3 * ffmpeg::ffi::FF_QP2LAMBDA);
            }
            Codec::Vp9 => {
                options.set("crf", "30");
                options.set("b", "0");
                options.set("deadline", "good");
                options.set("cpu-used", "4");
                options.set("row-mt", "0");
            }
        }
        enc.set_flags(flags);
        let encoder = enc
            .open_with(options)
            .map_err(|e| encode_err(path, &format!("cannot open {name} encoder"), e))?;

        let mut stream = octx
            .add_stream(av_codec)
            .map_err(|e| encode_err(path, "cannot add video stream", e))?;
        stream.set_parameters(&encoder);
        stream.set_time_base(time_base);
        stream.set_avg_frame_rate(Rational::new(fps as i32, 1));
        stream.set_rate(Rational::new(fps as i32, 1));
        octx.write_header().map_err(|e| {
            encode_err(
                path,
                &format!("cannot put {name} video in a .{ext} file"),
                e,
            )
        })?;
        // The muxer may pick its own time base (mp4: 1/12800, mkv: 1/1000) while writing the header.
        let stream_time_base = octx
            .stream(0)
            .map(|s| s.time_base())
            .ok_or_else(|| encode_err(path, "video stream vanished", "after writing header"))?;

        Ok(VideoWriter {
            path: path.to_path_buf(),
            width,
            height,
            octx,
            encoder,
            encoder_time_base: time_base,
            stream_time_base,
            next_pts: 0,
        })
    }

    /// Append one frame; it must be exactly the size given to [`VideoWriter::create`].
    pub fn write(&mut self, frame: &Frame) -> Result<()> {
        if frame.dimensions() != (self.width, self.height) {
            return Err(Error::InvalidArgument(format!(
                "{}: frame is {}x{}, the video is {}x{}",
                self.path.display(),
                frame.width(),
                frame.height(),
                self.width,
                self.height
            )));
        }
        // A fresh frame each time: the encoder may keep a reference to the buffer it was given.
        let mut yuv = frame::Video::new(format::Pixel::YUV420P, self.width, self.height);
        rgb_to_yuv420p(frame, &mut yuv);
        yuv.set_pts(Some(self.next_pts));
        self.next_pts += 1;
        self.encoder
            .send_frame(&yuv)
            .map_err(|e| encode_err(&self.path, "encoder rejected frame", e))?;
        self.drain()
    }

    /// Flush the encoder's delayed frames and write the container trailer.
    pub fn finish(mut self) -> Result<()> {
        self.encoder
            .send_eof()
            .map_err(|e| encode_err(&self.path, "cannot flush encoder", e))?;
        self.drain()?;
        self.octx
            .write_trailer()
            .map_err(|e| encode_err(&self.path, "cannot write trailer", e))
    }

    /// Move every packet the encoder has ready into the file.
    fn drain(&mut self) -> Result<()> {
        let mut packet = Packet::empty();
        while self.encoder.receive_packet(&mut packet).is_ok() {
            packet.set_stream(0);
            // Encoders leave duration unset; without it the mp4 muxer drops the last frame's
            // duration and players (and frame counts from duration) lose a frame. Each packet is
            // one frame at a constant rate, so one tick of the encoder time base.
            packet.set_duration(1);
            packet.rescale_ts(self.encoder_time_base, self.stream_time_base);
            packet
                .write_interleaved(&mut self.octx)
                .map_err(|e| encode_err(&self.path, "cannot write packet", e))?;
        }
        Ok(())
    }
}

/// RGB to YUV 4:2:0, BT.601 limited range (what swscale and OpenCV assume for untagged video),
/// chroma taken from the mean of each 2x2 block. Fixed-point so results never depend on the CPU.
fn rgb_to_yuv420p(src: &Frame, dst: &mut frame::Video) {
    let (w, h) = (src.width() as usize, src.height() as usize);
    let rgb = src.as_raw();
    let row = |y: usize| &rgb[y * w * 3..(y + 1) * w * 3];
    // Coefficients scaled by 2^16: Y = 16 + (65.481 R + 128.553 G + 24.966 B) / 255, etc.
    let y_stride = dst.stride(0);
    let luma_plane = dst.data_mut(0);
    for y in 0..h {
        let out = &mut luma_plane[y * y_stride..y * y_stride + w];
        for (o, p) in out.iter_mut().zip(row(y).chunks_exact(3)) {
            let (r, g, b) = (i32::from(p[0]), i32::from(p[1]), i32::from(p[2]));
            let v = (16_829 * r + 33_039 * g + 6_416 * b + (16 << 16) + (1 << 15)) >> 16;
            *o = v.clamp(0, 255) as u8;
        }
    }
    let cw = w / 2;
    let (u_stride, v_stride) = (dst.stride(1), dst.stride(2));
    let mut u_row = vec![0u8; cw];
    let mut v_row = vec![0u8; cw];
    for cy in 0..h / 2 {
        let (top, bottom) = (row(2 * cy), row(2 * cy + 1));
        for cx in 0..cw {
            let i = cx * 6;
            let sum = |c: usize| {
                i32::from(top[i + c])
                    + i32::from(top[i + 3 + c])
                    + i32::from(bottom[i + c])
                    + i32::from(bottom[i + 3 + c])
            };
            let (r, g, b) = (sum(0), sum(1), sum(2));
            // Sums of four pixels: divide the 2^16 scale by 4 more (2^18).
            let u = (-9_714 * r - 19_070 * g + 28_784 * b + (128 << 18) + (1 << 17)) >> 18;
            let v = (28_784 * r - 24_103 * g - 4_681 * b + (128 << 18) + (1 << 17)) >> 18;
            u_row[cx] = u.clamp(0, 255) as u8;
            v_row[cx] = v.clamp(0, 255) as u8;
        }
        dst.data_mut(1)[cy * u_stride..cy * u_stride + cw].copy_from_slice(&u_row);
        dst.data_mut(2)[cy * v_stride..cy * v_stride + cw].copy_from_slice(&v_row);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bt601_limited_range_of_primaries() {
        // Reference values from ITU-R BT.601 (8-bit, limited range): white (235,128,128),
        // black (16,128,128), red (81,90,240), green (145,54,34), blue (41,240,110).
        init_ffmpeg();
        let cases = [
            ([255, 255, 255], (235, 128, 128)),
            ([0, 0, 0], (16, 128, 128)),
            ([255, 0, 0], (81, 90, 240)),
            ([0, 255, 0], (145, 54, 34)),
            ([0, 0, 255], (41, 240, 110)),
        ];
        for (rgb, (ey, eu, ev)) in cases {
            let img = Frame::from_pixel(4, 2, image::Rgb(rgb));
            let mut f = frame::Video::new(format::Pixel::YUV420P, 4, 2);
            rgb_to_yuv420p(&img, &mut f);
            let (y, u, v) = (
                f.data(0)[0] as i32,
                f.data(1)[0] as i32,
                f.data(2)[0] as i32,
            );
            assert!((y - ey).abs() <= 1, "{rgb:?}: Y {y} vs {ey}");
            assert!((u - eu).abs() <= 1, "{rgb:?}: U {u} vs {eu}");
            assert!((v - ev).abs() <= 1, "{rgb:?}: V {v} vs {ev}");
        }
    }

    #[test]
    fn rejects_odd_size_and_unknown_extension() {
        let dir = std::env::temp_dir();
        let odd = VideoWriter::create(&dir.join("x.mp4"), 63, 48, 25, Codec::Auto);
        assert!(matches!(odd, Err(Error::InvalidArgument(m)) if m.contains("63x48")));
        let ext = VideoWriter::create(&dir.join("x.mov"), 64, 48, 25, Codec::Auto);
        assert!(matches!(ext, Err(Error::InvalidArgument(m)) if m.contains("mov")));
        let webm = VideoWriter::create(&dir.join("x.webm"), 64, 48, 25, Codec::H264);
        assert!(matches!(webm, Err(Error::InvalidArgument(m)) if m.contains("WebM")));
    }
}
