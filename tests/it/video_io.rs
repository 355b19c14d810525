//! Integration tests for video I/O: resize against OpenCV fixtures; encode known content, then
//! probe and decode it back.

use std::path::{Path, PathBuf};

use vidcompare::video::Frame;
use vidcompare::video::resize::resize_area;

fn load_rgb(name: &str) -> Frame {
    image::open(fixture_path(name))
        .unwrap_or_else(|e| panic!("{name}: {e}"))
        .to_rgb8()
}

/// `resize_area` against `cv2.resize(..., INTER_AREA)` outputs made by
/// tools/make_resize_fixture.py: every channel of every pixel within one grey level.
#[test]
fn resize_area_matches_opencv_fixtures() {
    type Size = (u32, u32);
    let cases: [(Size, &[Size]); 2] = [
        ((96, 72), &[(48, 36), (32, 24)]),
        ((97, 73), &[(40, 30), (64, 48), (131, 101), (150, 40)]),
    ];
    for ((w, h), targets) in cases {
        let src = load_rgb(&format!("resize_src_{w}x{h}.png"));
        assert_eq!(src.dimensions(), (w, h));
        for &(tw, th) in targets {
            let expected = load_rgb(&format!("resize_{w}x{h}_to_{tw}x{th}.png"));
            let got = resize_area(&src, tw, th);
            assert_eq!(got.dimensions(), (tw, th));
            let (mut max_diff, mut n_diff) = (0u8, 0usize);
            for (a, b) in got.as_raw().iter().zip(expected.as_raw()) {
                let d = a.abs_diff(*b);
                max_diff = max_diff.max(d);
                n_diff += usize::from(d > 0);
            }
            eprintln!("{w}x{h} -> {tw}x{th}: max diff {max_diff}, {n_diff} values differ");
            assert!(
                max_diff <= 1,
                "{w}x{h} -> {tw}x{th}: max abs diff {max_diff} > 1"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Encoded test videos: frame i is flat colour (10 + 4i, 220 - 3i, 90) on its left three quarters
// and deterministic noise on its right quarter (so files are big enough to cut meaningfully).
// The flat colour survives compression within a few grey levels, so the mean red of the flat part
// identifies the frame.

use crate::common::fixture_path;
use vidcompare::error::{Error, VideoErrorKind};
use vidcompare::video::{
    Codec, Sampling, VideoWriter, decode_indices, decode_sampled, has_encoder, probe,
};

const W: u32 = 64;
const H: u32 = 48;

fn colour(i: usize) -> [u8; 3] {
    [(10 + 4 * i) as u8, (220 - 3 * i) as u8, 90]
}

fn test_frame(i: usize) -> Frame {
    Frame::from_fn(W, H, |x, y| {
        if x < W * 3 / 4 {
            image::Rgb(colour(i))
        } else {
            let h = (x * 7919 + y * 104_729 + i as u32 * 15_485_863).wrapping_mul(2_654_435_761);
            image::Rgb([(h >> 24) as u8, (h >> 16) as u8, (h >> 8) as u8])
        }
    })
}

fn write_video(path: &Path, codec: Codec, n: usize, fps: u32) {
    let mut w = VideoWriter::create(path, W, H, fps, codec).expect("create writer");
    for i in 0..n {
        w.write(&test_frame(i)).expect("write frame");
    }
    w.finish().expect("finish");
}

/// Mean colour of the flat region (left half) of a frame of any size.
fn flat_mean(f: &Frame) -> [f64; 3] {
    let (w, h) = f.dimensions();
    let mut sum = [0f64; 3];
    let mut n = 0f64;
    for y in 0..h {
        for x in 0..w / 2 {
            let p = f.get_pixel(x, y).0;
            for c in 0..3 {
                sum[c] += f64::from(p[c]);
            }
            n += 1.0;
        }
    }
    sum.map(|s| s / n)
}

/// Assert that `f` shows test frame `i`: its flat colour within `tol` grey levels per channel.
fn assert_is_frame(f: &Frame, i: usize, tol: f64, what: &str) {
    let got = flat_mean(f);
    let want = colour(i);
    for c in 0..3 {
        assert!(
            (got[c] - f64::from(want[c])).abs() <= tol,
            "{what}: frame {i} has mean colour {got:?}, expected about {want:?}"
        );
    }
}

fn video_kind(r: Result<impl std::fmt::Debug, Error>) -> (PathBuf, VideoErrorKind) {
    match r {
        Err(Error::Video { path, kind }) => (path, kind),
        other => panic!("expected a video error, got {other:?}"),
    }
}

/// Whether FFmpeg has encoder `name`. A missing one fails the test (what it would check would go
/// unchecked), unless `VIDCOMPARE_SKIP_MISSING_ENCODERS=1` says to skip what needs it.
fn require_encoder(name: &str) -> bool {
    if has_encoder(name) {
        return true;
    }
    if std::env::var("VIDCOMPARE_SKIP_MISSING_ENCODERS").is_ok_and(|v| v == "1") {
        eprintln!("skipping what needs the {name} encoder (VIDCOMPARE_SKIP_MISSING_ENCODERS=1)");
        return false;
    }
    panic!(
        "this FFmpeg has no {name} encoder: install FFmpeg libraries that have it (Debian's \
         libavcodec has libx264 and libvpx-vp9), or set VIDCOMPARE_SKIP_MISSING_ENCODERS=1 to \
         skip the round trips that need it"
    );
}

struct Case {
    ext: &'static str,
    codec: Codec,
    encoder: &'static str,
    codec_name: &'static str,
    container: &'static str,
}

const CASES: [Case; 4] = [
    Case {
        ext: "mp4",
        codec: Codec::H264,
        encoder: "libx264",
        codec_name: "h264",
        container: "mp4",
    },
    Case {
        ext: "avi",
        codec: Codec::Mpeg4,
        encoder: "mpeg4",
        codec_name: "mpeg4",
        container: "avi",
    },
    Case {
        ext: "webm",
        codec: Codec::Vp9,
        encoder: "libvpx-vp9",
        codec_name: "vp9",
        container: "webm",
    },
    Case {
        ext: "mkv",
        codec: Codec::H264,
        encoder: "libx264",
        codec_name: "h264",
        container: "matroska",
    },
];

#[test]
fn each_container_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    for case in &CASES {
        if !require_encoder(case.encoder) {
            continue;
        }
        let path = dir.path().join(format!("clip.{}", case.ext));
        write_video(&path, case.codec, 45, 25);
        let what = format!(".{} {:?}", case.ext, case.codec);

        let info = probe(&path).unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(info.path, path);
        assert_eq!((info.width, info.height), (W, H), "{what}");
        let fps = info.fps.unwrap_or_else(|| panic!("{what}: no fps"));
        assert!((fps - 25.0).abs() < 1e-9, "{what}: fps {fps}");
        assert_eq!(info.frame_count, 45, "{what}");
        assert!(
            (info.duration_s - 1.8).abs() < 1e-9,
            "{what}: duration {}",
            info.duration_s
        );
        assert_eq!(info.codec, case.codec_name, "{what}");
        assert!(
            info.container.contains(case.container),
            "{what}: container {}",
            info.container
        );
        if let Some(n) = info.container_frame_count {
            assert_eq!(n, 45, "{what}: header frame count");
        }

        let wanted = [0, 7, 23, 44];
        let d = decode_indices(&path, &wanted, None).unwrap_or_else(|e| panic!("{what}: {e}"));
        assert!(d.warnings.is_empty(), "{what}: {:?}", d.warnings);
        assert_eq!(d.info, info);
        let got: Vec<usize> = d.frames.iter().map(|(i, _)| *i).collect();
        assert_eq!(got, wanted, "{what}");
        for (i, f) in &d.frames {
            assert_eq!(f.dimensions(), (W, H), "{what}");
            assert_is_frame(f, *i, 3.0, &what);
        }

        for (w, h) in [(32, 24), (40, 30), (100, 75)] {
            let d = decode_indices(&path, &[3, 30], Some((w, h))).unwrap();
            assert_eq!(d.frames.len(), 2, "{what}");
            for (i, f) in &d.frames {
                assert_eq!(f.dimensions(), (w, h), "{what}");
                assert_is_frame(f, *i, 3.0, &format!("{what} resized to {w}x{h}"));
            }
        }
    }
}

#[test]
fn mp4_keeps_its_last_frame_and_header_count() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("last.mp4");
    write_video(&path, Codec::Auto, 30, 25);
    let info = probe(&path).unwrap();
    assert_eq!(info.frame_count, 30);
    // mp4 stores a sample count; it must agree with the packets (no frame lost at the end).
    assert_eq!(info.container_frame_count, Some(30));
    let d = decode_indices(&path, &[29], None).unwrap();
    assert_eq!(d.frames.len(), 1);
    assert_is_frame(&d.frames[0].1, 29, 3.0, "last frame");
}

#[test]
fn encoding_is_deterministic() {
    let dir = tempfile::tempdir().unwrap();
    for ext in ["mp4", "mkv", "avi"] {
        let a = dir.path().join(format!("a.{ext}"));
        let b = dir.path().join(format!("b.{ext}"));
        write_video(&a, Codec::Auto, 20, 25);
        write_video(&b, Codec::Auto, 20, 25);
        let same = std::fs::read(&a).unwrap() == std::fs::read(&b).unwrap();
        assert!(same, ".{ext}: two encodings of the same frames differ");
    }
}

#[test]
fn uniform_sampling_takes_one_frame_per_second() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("uniform.mp4");
    write_video(&path, Codec::Auto, 60, 25);
    let d = decode_sampled(&path, &Sampling::Uniform { target_fps: 1.0 }, None, 0).unwrap();
    let got: Vec<usize> = d.frames.iter().map(|(i, _)| *i).collect();
    assert_eq!(got, vec![0, 25, 50]);
    for (i, f) in &d.frames {
        assert_is_frame(f, *i, 3.0, "uniform");
    }
}

#[test]
fn linspace_on_a_short_video_repeats_frames() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("short.mp4");
    write_video(&path, Codec::Auto, 5, 25);
    let d = decode_sampled(&path, &Sampling::Linspace { n: 8 }, Some((16, 12)), 0).unwrap();
    let got: Vec<usize> = d.frames.iter().map(|(i, _)| *i).collect();
    assert_eq!(got, vec![0, 0, 1, 1, 2, 2, 3, 4]);
    for (i, f) in &d.frames {
        assert_eq!(f.dimensions(), (16, 12));
        assert_is_frame(f, *i, 3.0, "linspace");
    }
}

#[test]
fn repeated_indices_give_repeated_frames() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rep.mkv");
    write_video(&path, Codec::Auto, 10, 25);
    let d = decode_indices(&path, &[0, 0, 1], None).unwrap();
    let got: Vec<usize> = d.frames.iter().map(|(i, _)| *i).collect();
    assert_eq!(got, vec![0, 0, 1]);
    assert_eq!(d.frames[0].1, d.frames[1].1);
    assert_is_frame(&d.frames[2].1, 1, 3.0, "repeat");
}

#[test]
fn resized_decode_equals_resizing_the_native_frame() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.mp4");
    write_video(&path, Codec::Auto, 12, 25);
    let native = decode_indices(&path, &[4, 11], None).unwrap();
    let small = decode_indices(&path, &[4, 11], Some((40, 30))).unwrap();
    for ((_, n), (_, s)) in native.frames.iter().zip(&small.frames) {
        assert_eq!(&resize_area(n, 40, 30), s);
    }
}

#[test]
fn bad_index_requests() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("idx.mp4");
    write_video(&path, Codec::Auto, 10, 25);
    // Descending indices are a caller error.
    assert!(matches!(
        decode_indices(&path, &[3, 1], None),
        Err(Error::InvalidArgument(_))
    ));
    // Past the end: the frames that exist, and a warning naming the missing ones.
    let d = decode_indices(&path, &[2, 9, 10, 15], None).unwrap();
    let got: Vec<usize> = d.frames.iter().map(|(i, _)| *i).collect();
    assert_eq!(got, vec![2, 9]);
    assert!(
        d.warnings.iter().any(|w| w.contains("10..=15")),
        "{:?}",
        d.warnings
    );
    // Nothing requested: nothing decoded, no error.
    assert!(decode_indices(&path, &[], None).unwrap().frames.is_empty());
}

#[test]
fn missing_file_is_not_found_naming_the_path() {
    let path = Path::new("/definitely/not/here/clip.mp4");
    let (p, kind) = video_kind(probe(path));
    assert_eq!(p, path);
    assert_eq!(kind, VideoErrorKind::NotFound);
    let err = decode_indices(path, &[0], None).unwrap_err();
    assert!(
        err.to_string().contains("/definitely/not/here/clip.mp4"),
        "{err}"
    );
}

#[test]
fn text_file_is_not_a_video() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.mp4");
    std::fs::write(&path, "these are my notes, not a video\n".repeat(50)).unwrap();
    let (p, kind) = video_kind(probe(&path));
    assert_eq!(p, path);
    assert!(matches!(kind, VideoErrorKind::NotAVideo(_)), "{kind:?}");
}

#[test]
fn zero_byte_file_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("empty.mp4");
    std::fs::write(&path, b"").unwrap();
    let (_, kind) = video_kind(probe(&path));
    assert!(matches!(kind, VideoErrorKind::NotAVideo(_)), "{kind:?}");
    assert!(decode_indices(&path, &[0], None).is_err());
}

/// A mono 16-bit PCM WAV, header written by hand: one second of a 440 Hz tone at 8 kHz.
fn write_wav(path: &Path) {
    let rate = 8000u32;
    let samples: Vec<i16> = (0..rate)
        .map(|n| {
            ((n as f64 * 440.0 * std::f64::consts::TAU / f64::from(rate)).sin() * 8000.0) as i16
        })
        .collect();
    let data_len = (samples.len() * 2) as u32;
    let mut b = Vec::new();
    b.extend_from_slice(b"RIFF");
    b.extend_from_slice(&(36 + data_len).to_le_bytes());
    b.extend_from_slice(b"WAVEfmt ");
    b.extend_from_slice(&16u32.to_le_bytes()); // fmt chunk size
    b.extend_from_slice(&1u16.to_le_bytes()); // PCM
    b.extend_from_slice(&1u16.to_le_bytes()); // mono
    b.extend_from_slice(&rate.to_le_bytes());
    b.extend_from_slice(&(rate * 2).to_le_bytes()); // byte rate
    b.extend_from_slice(&2u16.to_le_bytes()); // block align
    b.extend_from_slice(&16u16.to_le_bytes()); // bits per sample
    b.extend_from_slice(b"data");
    b.extend_from_slice(&data_len.to_le_bytes());
    for s in samples {
        b.extend_from_slice(&s.to_le_bytes());
    }
    std::fs::write(path, b).unwrap();
}

#[test]
fn audio_only_wav_has_no_video_stream() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tone.wav");
    write_wav(&path);
    let (p, kind) = video_kind(probe(&path));
    assert_eq!(p, path);
    assert_eq!(kind, VideoErrorKind::NoVideoStream);
    let (_, kind) = video_kind(decode_sampled(
        &path,
        &Sampling::Dense { max_frames: 5 },
        None,
        0,
    ));
    assert_eq!(kind, VideoErrorKind::NoVideoStream);
}

fn truncate_copy(src: &Path, dst: &Path, fraction: f64) {
    let bytes = std::fs::read(src).unwrap();
    let keep = (bytes.len() as f64 * fraction) as usize;
    std::fs::write(dst, &bytes[..keep]).unwrap();
}

/// Behaviour on damaged files, pinned:
/// - an MP4 cut short loses its index (the `moov` box is written last), so FFmpeg cannot open it:
///   `NotAVideo`;
/// - Matroska/WebM and AVI are streamable: the frames before the cut decode, and `warnings` says
///   the header promised more;
/// - garbage in the middle of an MP4: the undamaged frames decode, with warnings about the
///   packets that failed and the frames that never arrived.
#[test]
fn damaged_files_give_partial_results_or_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let all = Sampling::Dense { max_frames: 1000 };

    let mp4 = dir.path().join("full.mp4");
    write_video(&mp4, Codec::H264, 60, 25);
    let cut = dir.path().join("cut.mp4");
    truncate_copy(&mp4, &cut, 0.6);
    let (p, kind) = video_kind(decode_sampled(&cut, &all, None, 0));
    assert_eq!(p, cut);
    assert!(matches!(kind, VideoErrorKind::NotAVideo(_)), "{kind:?}");

    for (ext, codec) in [
        ("mkv", Codec::H264),
        ("webm", Codec::Vp9),
        ("avi", Codec::Mpeg4),
    ] {
        if codec == Codec::Vp9 && !require_encoder("libvpx-vp9") {
            continue;
        }
        let full = dir.path().join(format!("full.{ext}"));
        write_video(&full, codec, 60, 25);
        for fraction in [0.5, 0.9] {
            let cut = dir.path().join(format!("cut.{ext}"));
            truncate_copy(&full, &cut, fraction);
            let what = format!(".{ext} cut to {fraction}");
            let d = decode_sampled(&cut, &all, None, 0).unwrap_or_else(|e| panic!("{what}: {e}"));
            let n = d.frames.len();
            assert!(n > 0 && n < 60, "{what}: {n} frames");
            assert_eq!(n, d.info.frame_count, "{what}");
            assert!(!d.warnings.is_empty(), "{what}: no warning");
            // The last frame may be cut mid-packet and concealed by the decoder; the ones before
            // it are intact.
            for (i, f) in [&d.frames[0], &d.frames[n - 2]] {
                assert_is_frame(f, *i, 3.0, &what);
            }
        }
    }

    let mut bytes = std::fs::read(&mp4).unwrap();
    let len = bytes.len();
    for (k, b) in bytes[len * 4 / 10..len / 2].iter_mut().enumerate() {
        *b = (k * 131 % 251) as u8;
    }
    let garbled = dir.path().join("garbled.mp4");
    std::fs::write(&garbled, &bytes).unwrap();
    let d = decode_sampled(&garbled, &all, None, 0).unwrap();
    assert_eq!(d.info.frame_count, 60, "the index is intact");
    assert!(
        !d.frames.is_empty() && d.frames.len() < 60,
        "{} frames",
        d.frames.len()
    );
    assert!(
        d.warnings
            .iter()
            .any(|w| w.contains("could not be decoded")),
        "{:?}",
        d.warnings
    );
    assert!(
        d.warnings
            .iter()
            .any(|w| w.contains("of 60 expected frames")),
        "{:?}",
        d.warnings
    );
    assert_is_frame(&d.frames[0].1, 0, 3.0, "garbled mp4, frame 0");
}

#[test]
fn auto_codec_follows_the_container() {
    let dir = tempfile::tempdir().unwrap();
    let x264 = has_encoder("libx264");
    for (ext, expected) in [
        ("mp4", if x264 { "h264" } else { "mpeg4" }),
        ("mkv", if x264 { "h264" } else { "mpeg4" }),
        ("avi", "mpeg4"),
        ("webm", "vp9"),
    ] {
        if ext == "webm" && !require_encoder("libvpx-vp9") {
            continue;
        }
        let path = dir.path().join(format!("auto.{ext}"));
        write_video(&path, Codec::Auto, 3, 10);
        assert_eq!(probe(&path).unwrap().codec, expected, ".{ext}");
    }
    let odd = VideoWriter::create(&dir.path().join("odd.mp4"), 65, 48, 25, Codec::Auto);
    assert!(matches!(odd, Err(Error::InvalidArgument(m)) if m.contains("even")));
    let mut w = VideoWriter::create(&dir.path().join("size.mp4"), W, H, 25, Codec::Auto).unwrap();
    let wrong = w.write(&Frame::new(W / 2, H / 2));
    assert!(matches!(wrong, Err(Error::InvalidArgument(m)) if m.contains("32x24")));
}

/// Writers and decoded results can move to worker threads (e.g. rayon over a dataset).
#[test]
fn video_types_are_send() {
    fn assert_send<T: Send>() {}
    assert_send::<VideoWriter>();
    assert_send::<vidcompare::video::Decoded>();
}
