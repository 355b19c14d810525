//! Frames in evcxr: a strip of frames (or one frame) as one PNG image.

use std::fmt;
use std::path::PathBuf;

use base64::Engine as _;

use super::protocol::{EvcxrDisplay, MimeBundle};
use crate::error::{Error, Result};
use crate::report::{ImageItem, image_item};
use crate::video::Frame;

/// A row of frames (from one video, or any frames) shown as one PNG image: what
/// [`crate::prelude::frames`] returns.
#[derive(Debug, Clone, PartialEq)]
pub struct FrameStrip {
    /// The frames, in order.
    pub frames: Vec<Frame>,
    /// One label per frame (e.g. `frame 42`); may be empty.
    pub labels: Vec<String>,
    /// Where the frames came from, if from a file.
    pub source: Option<PathBuf>,
}

/// Pixels between frames in a strip.
const GAP: u32 = 4;
/// Frames per row of a strip's image.
const PER_ROW: usize = 8;

impl FrameStrip {
    /// A strip of `frames` with no labels.
    pub fn new(frames: Vec<Frame>) -> FrameStrip {
        FrameStrip {
            frames,
            labels: Vec::new(),
            source: None,
        }
    }

    /// Number of frames.
    pub fn len(&self) -> usize {
        self.frames.len()
    }

    /// True when the strip holds no frame.
    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    /// Frame `i`, or an error saying how many there are.
    pub fn frame(&self, i: usize) -> Result<&Frame> {
        self.frames.get(i).ok_or_else(|| {
            Error::InvalidArgument(format!(
                "frame {i} asked of a strip of {} frames (indices 0..{})",
                self.frames.len(),
                self.frames.len()
            ))
        })
    }

    /// The frames side by side (up to 8 per row) on white with 4-pixel gaps, top-aligned.
    pub fn montage(&self) -> Frame {
        if self.frames.is_empty() {
            return Frame::from_pixel(1, 1, image::Rgb([255, 255, 255]));
        }
        let rows: Vec<&[Frame]> = self.frames.chunks(PER_ROW).collect();
        let row_w = |r: &[Frame]| -> u32 {
            r.iter().map(|f| f.width()).sum::<u32>() + GAP * (r.len() as u32 - 1)
        };
        let row_h = |r: &[Frame]| -> u32 { r.iter().map(|f| f.height()).max().unwrap_or(0) };
        let width = rows.iter().map(|r| row_w(r)).max().unwrap_or(1).max(1);
        let height = rows.iter().map(|r| row_h(r)).sum::<u32>() + GAP * (rows.len() as u32 - 1);
        let mut out = Frame::from_pixel(width, height.max(1), image::Rgb([255, 255, 255]));
        let mut y = 0;
        for r in rows {
            let mut x = 0;
            for f in r {
                image::imageops::replace(&mut out, f, i64::from(x), i64::from(y));
                x += f.width() + GAP;
            }
            y += row_h(r) + GAP;
        }
        out
    }

    /// The montage as PNG bytes.
    pub fn to_png(&self) -> Result<Vec<u8>> {
        png_bytes(&self.montage())
    }

    /// The frames as report images (PNG or JPEG by size, as the report stores frames), captioned
    /// with their labels, for `section.images("caption", strip.images()?)`.
    pub fn images(&self) -> Result<Vec<ImageItem>> {
        self.frames
            .iter()
            .enumerate()
            .map(|(i, f)| {
                let label = self
                    .labels
                    .get(i)
                    .cloned()
                    .unwrap_or_else(|| format!("frame {i}"));
                image_item(f, &label)
            })
            .collect()
    }
}

fn png_bytes(frame: &Frame) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    frame
        .write_with_encoder(image::codecs::png::PngEncoder::new(&mut bytes))
        .map_err(|e| Error::Report(format!("PNG encoding failed: {e}")))?;
    Ok(bytes)
}

fn png_bundle(text: String, frame: &Frame) -> MimeBundle {
    match png_bytes(frame) {
        Ok(png) => MimeBundle::text(text).with(
            "image/png",
            base64::engine::general_purpose::STANDARD.encode(png),
        ),
        Err(e) => MimeBundle::text(format!("{text}\n({e})")),
    }
}

impl fmt::Display for FrameStrip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.frames.len();
        write!(f, "{n} frame{}", if n == 1 { "" } else { "s" })?;
        if let Some(first) = self.frames.first()
            && self
                .frames
                .iter()
                .all(|x| x.dimensions() == first.dimensions())
        {
            write!(f, " of {}x{}", first.width(), first.height())?;
        }
        if let Some(src) = &self.source {
            write!(f, " from {}", src.display())?;
        }
        if !self.labels.is_empty() {
            write!(f, " ({})", self.labels.join(", "))?;
        }
        Ok(())
    }
}

impl EvcxrDisplay for FrameStrip {
    fn mime_bundle(&self) -> MimeBundle {
        let montage = self.montage();
        png_bundle(
            format!(
                "{self}\n[{}x{} image: shown in Jupyter; `strip.to_png()?` gives the PNG bytes]",
                montage.width(),
                montage.height()
            ),
            &montage,
        )
    }
}

impl EvcxrDisplay for Frame {
    fn mime_bundle(&self) -> MimeBundle {
        let (w, h) = self.dimensions();
        let mean = if w == 0 || h == 0 {
            [0.0; 3]
        } else {
            let mut sum = [0u64; 3];
            for p in self.pixels() {
                for (s, v) in sum.iter_mut().zip(p.0) {
                    *s += u64::from(v);
                }
            }
            sum.map(|s| s as f64 / (u64::from(w) * u64::from(h)) as f64)
        };
        png_bundle(
            format!(
                "frame {w}x{h}, mean RGB ({:.1}, {:.1}, {:.1}) [image: shown in Jupyter]",
                mean[0], mean[1], mean[2]
            ),
            self,
        )
    }
}
