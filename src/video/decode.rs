//! Video decoding with FFmpeg: exact metadata (probe) and streaming decode of chosen frame indices.

use std::path::{Path, PathBuf};
use std::sync::Once;

use ffmpeg::format::stream::Disposition;
use ffmpeg::software::scaling;
use ffmpeg::{codec, format, frame, media};
use ffmpeg_next as ffmpeg;
use serde::{Deserialize, Serialize};

use super::Frame;
use super::resize::resize_area;
use super::sample::Sampling;
use crate::error::{Error, Result, VideoErrorKind};

/// Initialise FFmpeg once per process and keep its own logging quiet: every failure reaches the
/// caller as a typed [`crate::Error`] (or a warning string), so FFmpeg's console messages about
/// broken files would only repeat them, once per bad packet.
pub(crate) fn init_ffmpeg() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        // `init` only registers error strings and devices on FFmpeg >= 5; it cannot fail there.
        let _ = ffmpeg::init();
        ffmpeg::util::log::set_level(ffmpeg::util::log::Level::Quiet);
    });
}

/// What a video file holds, measured rather than trusted from its header where that matters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VideoInfo {
    /// The file probed.
    pub path: PathBuf,
    /// Frame width in pixels, from the codec parameters.
    pub width: u32,
    /// Frame height in pixels.
    pub height: u32,
    /// Frames per second: the stream's average frame rate, else its base rate; `None` when the
    /// container gives neither (the notebook's OpenCV then reports 0).
    pub fps: Option<f64>,
    /// Exact number of frames, counted by demuxing the video stream's packets (no decoding).
    pub frame_count: usize,
    /// The frame count the container header claims (`nb_frames`), if any; may be wrong.
    pub container_frame_count: Option<u64>,
    /// Seconds: `frame_count / fps` when the rate is known, else the container's duration.
    pub duration_s: f64,
    /// FFmpeg's codec name, e.g. `"h264"`, `"mpeg4"`, `"vp9"`.
    pub codec: String,
    /// FFmpeg's demuxer name, e.g. `"mov,mp4,m4a,3gp,3g2,mj2"`, `"avi"`, `"matroska,webm"`.
    pub container: String,
}

/// Frames decoded from one video.
#[derive(Debug, Clone)]
pub struct Decoded {
    /// The probed metadata of the video.
    pub info: VideoInfo,
    /// `(frame index, frame)` in the order requested, one entry per requested index (repeated
    /// indices give repeated frames). Indices the file could not deliver are missing, and
    /// `warnings` says so.
    pub frames: Vec<(usize, Frame)>,
    /// Problems that did not stop decoding: corrupt packets, a truncated file, header counts that
    /// disagree with the stream.
    pub warnings: Vec<String>,
}

/// Open `path` with FFmpeg, mapping failures to typed errors.
fn open_input(path: &Path) -> Result<format::context::Input> {
    init_ffmpeg();
    match std::fs::metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::video(path, VideoErrorKind::NotFound));
        }
        Err(e) => return Err(Error::io(path, e)),
        Ok(m) if m.is_dir() => {
            return Err(Error::video(
                path,
                VideoErrorKind::NotAVideo("a directory".into()),
            ));
        }
        Ok(_) => {}
    }
    format::input(path).map_err(|e| Error::video(path, VideoErrorKind::NotAVideo(e.to_string())))
}

/// The index of the video stream to use: FFmpeg's best guess, skipping cover-art pictures
/// (an MP3's album art is a one-frame "video" stream).
fn video_stream_index(ictx: &format::context::Input, path: &Path) -> Result<usize> {
    let is_video = |s: &format::stream::Stream| {
        s.parameters().medium() == media::Type::Video
            && !s.disposition().contains(Disposition::ATTACHED_PIC)
    };
    if let Some(best) = ictx.streams().best(media::Type::Video)
        && is_video(&best)
    {
        return Ok(best.index());
    }
    ictx.streams()
        .find(|s| is_video(s))
        .map(|s| s.index())
        .ok_or_else(|| Error::video(path, VideoErrorKind::NoVideoStream))
}

/// Outcome of reading one packet.
enum Read {
    Packet(ffmpeg::Packet),
    End,
}

/// Read the next packet; a demuxer error other than end of file ends the stream with a warning.
/// Corrupt packets (`InvalidData`) are skipped like FFmpeg's own tools do, with a cap so a
/// demuxer that never resyncs cannot spin forever.
fn read_packet(ictx: &mut format::context::Input, warnings: &mut Vec<String>) -> Read {
    const MAX_CONSECUTIVE_BAD: usize = 1000;
    let mut bad = 0;
    loop {
        let mut packet = ffmpeg::Packet::empty();
        match packet.read(ictx) {
            Ok(()) => return Read::Packet(packet),
            Err(ffmpeg::Error::Eof) => return Read::End,
            Err(ffmpeg::Error::InvalidData) if bad < MAX_CONSECUTIVE_BAD => bad += 1,
            Err(e) => {
                warnings.push(format!("demuxing stopped early: {e}"));
                return Read::End;
            }
        }
    }
}

fn rate(r: ffmpeg::Rational) -> Option<f64> {
    (r.numerator() > 0 && r.denominator() > 0)
        .then(|| f64::from(r.numerator()) / f64::from(r.denominator()))
}

/// Probe a video: dimensions, frame rate, codec, container, and the exact frame count (from one
/// pass over the packets, which is fast because nothing is decoded).
///
/// Errors, all naming the file: [`VideoErrorKind::NotFound`], [`VideoErrorKind::NotAVideo`]
/// (FFmpeg cannot open or parse it: text, an empty file, a truncated .mp4 whose index is missing),
/// [`VideoErrorKind::NoVideoStream`] (e.g. an audio-only WAV).
pub fn probe(path: &Path) -> Result<VideoInfo> {
    probe_with_warnings(path).map(|(info, _)| info)
}

/// [`probe`], plus warnings about header claims the stream contradicts.
fn probe_with_warnings(path: &Path) -> Result<(VideoInfo, Vec<String>)> {
    let mut ictx = open_input(path)?;
    let index = video_stream_index(&ictx, path)?;
    let container = ictx.format().name().to_string();
    let container_duration = (ictx.duration() > 0).then(|| ictx.duration() as f64 / 1e6);
    let (width, height, codec, fps, header_frames, stream_duration) = {
        let stream = ictx
            .stream(index)
            .expect("index comes from this context's streams");
        let params = stream.parameters();
        // SAFETY: `params` wraps the stream's valid AVCodecParameters; width/height are plain ints.
        let (w, h) = unsafe {
            let p = params.as_ptr();
            ((*p).width.max(0) as u32, (*p).height.max(0) as u32)
        };
        let fps = rate(stream.avg_frame_rate()).or_else(|| rate(stream.rate()));
        let stream_duration = (stream.duration() > 0)
            .then(|| stream.duration() as f64 * f64::from(stream.time_base()));
        let frames = u64::try_from(stream.frames()).ok().filter(|&n| n > 0);
        (
            w,
            h,
            params.id().name().to_string(),
            fps,
            frames,
            stream_duration,
        )
    };

    let mut warnings = Vec::new();
    let mut frame_count = 0usize;
    while let Read::Packet(packet) = read_packet(&mut ictx, &mut warnings) {
        if packet.stream() == index {
            frame_count += 1;
        }
    }
    let duration_s = match fps {
        Some(fps) => frame_count as f64 / fps,
        None => container_duration.or(stream_duration).unwrap_or(0.0),
    };

    if let Some(claimed) = header_frames {
        if claimed != frame_count as u64 {
            warnings.push(format!(
                "the container header claims {claimed} frames but the stream has {frame_count}"
            ));
        }
    } else if let (Some(fps), Some(d)) = (fps, stream_duration.or(container_duration)) {
        // Containers without a frame count (Matroska, WebM) still record a duration; a stream
        // clearly shorter than it was probably cut off. The slack covers muxers that leave out
        // the last frame's duration, and audio that outlasts the video by a little.
        let implied = d * fps;
        if (frame_count as f64) < 0.97 * implied - 2.0 {
            warnings.push(format!(
                "the container says {d:.2} s (about {} frames at {fps:.3} fps) but the video \
                 stream has {frame_count} frames; the file may be truncated",
                implied.round()
            ));
        }
    }

    let info = VideoInfo {
        path: path.to_path_buf(),
        width,
        height,
        fps,
        frame_count,
        container_frame_count: header_frames,
        duration_s,
        codec,
        container,
    };
    Ok((info, warnings))
}

/// Decode the frames at `indices` (ascending; repeats allowed and honoured), optionally resized to
/// `size = (width, height)` with [`resize_area`] (OpenCV `INTER_AREA`).
///
/// Decoding streams through the file once and stops after the last requested index; only the
/// requested frames are converted to RGB, resized and kept. A damaged file yields the frames that
/// decoded plus entries in [`Decoded::warnings`]; no decodable frame at all is
/// [`VideoErrorKind::NoFrames`]. Other errors are those of [`probe`], and
/// [`VideoErrorKind::NoDecoder`] when FFmpeg cannot decode the codec.
pub fn decode_indices(path: &Path, indices: &[usize], size: Option<(u32, u32)>) -> Result<Decoded> {
    if let Some(w) = indices.windows(2).find(|w| w[0] > w[1]) {
        return Err(Error::InvalidArgument(format!(
            "{}: frame indices must be ascending, got {} before {}",
            path.display(),
            w[0],
            w[1]
        )));
    }
    if let Some((w, h)) = size
        && (w == 0 || h == 0)
    {
        return Err(Error::InvalidArgument(format!(
            "{}: cannot resize frames to {w}x{h}",
            path.display()
        )));
    }
    let (info, warnings) = probe_with_warnings(path)?;
    decode_probed(info, warnings, indices, size)
}

/// Probe `path`, choose frame indices with `sampling` (seeded by `seed`), and decode them.
///
/// ```no_run
/// use vidcompare::video::{decode::decode_sampled, sample::Sampling};
/// let one_per_second = Sampling::Uniform { target_fps: 1.0 };
/// let d = decode_sampled("clip.mp4".as_ref(), &one_per_second, Some((224, 224)), 42)?;
/// println!("{} frames of {}", d.frames.len(), d.info.frame_count);
/// # Ok::<(), vidcompare::Error>(())
/// ```
pub fn decode_sampled(
    path: &Path,
    sampling: &Sampling,
    size: Option<(u32, u32)>,
    seed: u64,
) -> Result<Decoded> {
    let (info, warnings) = probe_with_warnings(path)?;
    if info.frame_count == 0 {
        return Err(Error::video(path, VideoErrorKind::NoFrames));
    }
    let indices = sampling.indices(info.frame_count, info.fps, seed);
    decode_probed(info, warnings, &indices, size)
}

/// RGB conversion of decoded frames, rebuilt whenever the frame format or size changes.
struct ToRgb {
    scaler: Option<(format::Pixel, u32, u32, scaling::Context)>,
}

impl ToRgb {
    fn convert(&mut self, src: &frame::Video) -> std::result::Result<Frame, ffmpeg::Error> {
        let (fmt, w, h) = (src.format(), src.width(), src.height());
        if !matches!(&self.scaler, Some((f, sw, sh, _)) if (*f, *sw, *sh) == (fmt, w, h)) {
            // Same flags as OpenCV's FFmpeg backend, so colours match the notebook's frames.
            let ctx = scaling::Context::get(
                fmt,
                w,
                h,
                format::Pixel::RGB24,
                w,
                h,
                scaling::Flags::BICUBIC,
            )?;
            self.scaler = Some((fmt, w, h, ctx));
        }
        let (.., ctx) = self.scaler.as_mut().expect("set just above");
        let mut rgb = frame::Video::empty();
        ctx.run(src, &mut rgb)?;
        let stride = rgb.stride(0);
        let row = w as usize * 3;
        let data = rgb.data(0);
        let mut out = Vec::with_capacity(row * h as usize);
        for y in 0..h as usize {
            out.extend_from_slice(&data[y * stride..y * stride + row]);
        }
        Ok(Frame::from_raw(w, h, out).expect("w * h * 3 bytes by construction"))
    }
}

/// Requested frame indices (ascending) and the size to resize them to, if any.
type Request<'a> = (&'a [usize], Option<(u32, u32)>);

/// One list of requested frame indices (ascending) and the size to resize them to.
struct Want<'a> {
    indices: &'a [usize],
    size: Option<(u32, u32)>,
    /// Position in `indices` of the next index to serve.
    next: usize,
    frames: Vec<(usize, Frame)>,
}

impl Want<'_> {
    fn done(&self) -> bool {
        self.next == self.indices.len()
    }
}

/// Receives decoded frames in order and keeps (converted, resized) only the requested ones. Each
/// frame is converted to RGB once, however many requests want it, then resized per request.
struct Collector<'a> {
    path: &'a Path,
    wants: Vec<Want<'a>>,
    /// Index of the next frame the decoder will output.
    frame_index: usize,
    to_rgb: ToRgb,
    decoded: frame::Video,
    frame_errors: usize,
}

impl Collector<'_> {
    /// Take every frame the decoder has ready; false once every requested index is served.
    fn drain(&mut self, decoder: &mut ffmpeg::decoder::Video) -> Result<bool> {
        // A broken stream can report many errors in a row; each call moves the decoder on, but
        // cap the run so a misbehaving decoder cannot keep us here.
        const MAX_CONSECUTIVE_ERRORS: usize = 64;
        let mut consecutive_errors = 0;
        loop {
            match decoder.receive_frame(&mut self.decoded) {
                Ok(()) => consecutive_errors = 0,
                Err(ffmpeg::Error::Eof) => return Ok(true),
                Err(ffmpeg::Error::Other { errno }) if errno == ffmpeg::util::error::EAGAIN => {
                    return Ok(true);
                }
                Err(_) => {
                    // FFmpeg dropped a frame it could not decode; later frames may still come.
                    self.frame_errors += 1;
                    consecutive_errors += 1;
                    if consecutive_errors >= MAX_CONSECUTIVE_ERRORS {
                        return Ok(true);
                    }
                    continue;
                }
            }
            let fi = self.frame_index;
            let wanted = |w: &Want| !w.done() && w.indices[w.next] == fi;
            if self.wants.iter().any(wanted) {
                let rgb = self.to_rgb.convert(&self.decoded).map_err(|e| {
                    let msg = format!("frame {fi}: {e}");
                    Error::video(self.path, VideoErrorKind::Decode(msg))
                })?;
                for w in self.wants.iter_mut().filter(|w| wanted(w)) {
                    let img = match w.size {
                        Some((sw, sh)) => resize_area(&rgb, sw, sh),
                        None => rgb.clone(),
                    };
                    while !w.done() && w.indices[w.next] == fi {
                        w.frames.push((fi, img.clone()));
                        w.next += 1;
                    }
                }
                if self.wants.iter().all(Want::done) {
                    return Ok(false);
                }
            }
            self.frame_index += 1;
        }
    }
}

/// Probe `path` once and decode it once for several requests, each a sampling strategy (seeded
/// by `seed`) and an optional size: one [`Decoded`] per request, in order, as
/// [`decode_sampled`] would give each (the probe's warnings are in the first only).
///
/// A frame two requests share is converted to RGB once; decoding stops after the last frame any
/// request needs. This serves e.g. a few sampled frames at 320x240 and the first 300 frames at
/// 96x72 from one pass over the file.
pub fn decode_sampled_many(
    path: &Path,
    requests: &[(Sampling, Option<(u32, u32)>)],
    seed: u64,
) -> Result<Vec<Decoded>> {
    let (info, warnings) = probe_with_warnings(path)?;
    if info.frame_count == 0 {
        return Err(Error::video(path, VideoErrorKind::NoFrames));
    }
    let indices: Vec<Vec<usize>> = requests
        .iter()
        .map(|(s, _)| s.indices(info.frame_count, info.fps, seed))
        .collect();
    let reqs: Vec<Request> = indices
        .iter()
        .zip(requests)
        .map(|(i, (_, size))| (i.as_slice(), *size))
        .collect();
    decode_probed_many(info, warnings, &reqs)
}

fn decode_probed(
    info: VideoInfo,
    warnings: Vec<String>,
    indices: &[usize],
    size: Option<(u32, u32)>,
) -> Result<Decoded> {
    let mut out = decode_probed_many(info, warnings, &[(indices, size)])?;
    Ok(out.pop().expect("one result per request"))
}

/// Decode the requested `(indices, size)` lists in one pass; the first result carries the
/// warnings about the file as a whole, each its own about undelivered frames.
fn decode_probed_many(
    info: VideoInfo,
    mut warnings: Vec<String>,
    requests: &[Request],
) -> Result<Vec<Decoded>> {
    let path = info.path.clone();
    if info.frame_count == 0 {
        return Err(Error::video(&path, VideoErrorKind::NoFrames));
    }
    let empty = |info: &VideoInfo, warnings: Vec<String>| Decoded {
        info: info.clone(),
        frames: Vec::new(),
        warnings,
    };
    if requests.iter().all(|(i, _)| i.is_empty()) {
        let mut out = vec![empty(&info, warnings)];
        out.extend((1..requests.len()).map(|_| empty(&info, Vec::new())));
        return Ok(out);
    }

    let mut ictx = open_input(&path)?;
    let stream_index = video_stream_index(&ictx, &path)?;
    let params = ictx
        .stream(stream_index)
        .expect("index from this context")
        .parameters();
    let mut ctx = codec::context::Context::from_parameters(params)
        .map_err(|e| Error::video(&path, VideoErrorKind::Decode(e.to_string())))?;
    // libavcodec decodes on one thread unless told otherwise; 0 lets it pick from the CPU count.
    ctx.set_threading(codec::threading::Config {
        kind: codec::threading::Type::Frame,
        count: 0,
        ..Default::default()
    });
    let mut decoder = ctx.decoder().video().map_err(|e| match e {
        ffmpeg::Error::DecoderNotFound => {
            Error::video(&path, VideoErrorKind::NoDecoder(info.codec.clone()))
        }
        e => Error::video(&path, VideoErrorKind::Decode(e.to_string())),
    })?;

    let mut sink = Collector {
        path: &path,
        wants: requests
            .iter()
            .map(|&(indices, size)| Want {
                indices,
                size,
                next: 0,
                frames: Vec::with_capacity(indices.len()),
            })
            .collect(),
        frame_index: 0,
        to_rgb: ToRgb { scaler: None },
        decoded: frame::Video::empty(),
        frame_errors: 0,
    };
    let mut bad_packets = 0usize;
    let mut first_error: Option<String> = None;
    let mut more = true;
    while more {
        let packet = match read_packet(&mut ictx, &mut warnings) {
            Read::Packet(p) => p,
            Read::End => {
                // Frames still inside the decoder (reordering, frame threads) come out after EOF.
                if decoder.send_eof().is_ok() {
                    sink.drain(&mut decoder)?;
                }
                break;
            }
        };
        if packet.stream() != stream_index {
            continue;
        }
        if let Err(e) = decoder.send_packet(&packet) {
            bad_packets += 1;
            first_error.get_or_insert_with(|| e.to_string());
        }
        more = sink.drain(&mut decoder)?;
    }
    let Collector {
        wants,
        frame_index,
        frame_errors,
        ..
    } = sink;

    if frame_errors > 0 {
        warnings.push(format!("{frame_errors} frame(s) failed to decode"));
    }
    if bad_packets > 0 {
        warnings.push(format!(
            "{bad_packets} packet(s) could not be decoded (first error: {})",
            first_error.unwrap_or_default()
        ));
    }
    if wants.iter().any(|w| !w.done()) {
        // We reached the end of the stream without serving every index.
        if frame_index == 0 {
            return Err(Error::video(&path, VideoErrorKind::NoFrames));
        }
        if frame_index < info.frame_count {
            warnings.push(format!(
                "decoded {frame_index} of {} expected frames",
                info.frame_count
            ));
        }
    }
    let mut out = Vec::with_capacity(wants.len());
    for (k, w) in wants.into_iter().enumerate() {
        let mut own = if k == 0 {
            std::mem::take(&mut warnings)
        } else {
            Vec::new()
        };
        if !w.done() {
            let missing = &w.indices[w.next..];
            own.push(format!(
                "{} requested frame(s) not delivered (indices {}..={}); the video decoded {} \
                 frames",
                missing.len(),
                missing[0],
                missing[missing.len() - 1],
                frame_index
            ));
        }
        out.push(Decoded {
            info: info.clone(),
            frames: w.frames,
            warnings: own,
        });
    }
    Ok(out)
}
