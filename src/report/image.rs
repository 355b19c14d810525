//! Images embedded in the report: frames encoded as PNG or JPEG and kept as base64.

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// One embedded image: base64 data plus its size and caption.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ImageItem {
    /// Shown under the image and used as its alt text.
    pub caption: String,
    /// `image/png` or `image/jpeg` (also accepted at render time: gif, webp).
    pub mime: String,
    /// The encoded file, standard base64 alphabet.
    pub data_base64: String,
    /// Pixel width.
    pub width: u32,
    /// Pixel height.
    pub height: u32,
}

/// Frames up to this many pixels are stored as lossless PNG; larger ones as JPEG (quality 85),
/// because camera frames compress several times better as JPEG and the HTML file carries them all.
const PNG_MAX_PIXELS: u64 = 256 * 256;

/// Encode a frame for the report: PNG up to 256x256 pixels, JPEG quality 85 above, then base64.
///
/// ```
/// let frame = image::RgbImage::from_pixel(8, 4, image::Rgb([255, 0, 0]));
/// let item = vidcompare::report::image_item(&frame, "red").unwrap();
/// assert_eq!((item.mime.as_str(), item.width, item.height), ("image/png", 8, 4));
/// ```
pub fn image_item(frame: &image::RgbImage, caption: &str) -> Result<ImageItem> {
    let (width, height) = frame.dimensions();
    if width == 0 || height == 0 {
        return Err(Error::Report(format!(
            "image `{caption}` is empty ({width}x{height})"
        )));
    }
    let mut bytes = Vec::new();
    let mime = if u64::from(width) * u64::from(height) <= PNG_MAX_PIXELS {
        frame
            .write_with_encoder(image::codecs::png::PngEncoder::new(&mut bytes))
            .map_err(|e| Error::Report(format!("image `{caption}`: PNG encoding failed: {e}")))?;
        "image/png"
    } else {
        frame
            .write_with_encoder(image::codecs::jpeg::JpegEncoder::new_with_quality(
                &mut bytes, 85,
            ))
            .map_err(|e| Error::Report(format!("image `{caption}`: JPEG encoding failed: {e}")))?;
        "image/jpeg"
    };
    Ok(ImageItem {
        caption: caption.to_string(),
        mime: mime.to_string(),
        data_base64: base64::engine::general_purpose::STANDARD.encode(&bytes),
        width,
        height,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_item_picks_png_for_small_and_jpeg_for_large() {
        let small = image::RgbImage::from_pixel(16, 16, image::Rgb([1, 2, 3]));
        let item = image_item(&small, "s").unwrap();
        assert_eq!(item.mime, "image/png");
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(&item.data_base64)
            .unwrap();
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
        let decoded = image::load_from_memory(&bytes).unwrap().to_rgb8();
        assert_eq!(decoded, small);

        let large = image::RgbImage::from_pixel(320, 240, image::Rgb([9, 9, 9]));
        let item = image_item(&large, "l").unwrap();
        assert_eq!(item.mime, "image/jpeg");
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(&item.data_base64)
            .unwrap();
        assert_eq!(&bytes[..2], b"\xff\xd8");

        assert!(image_item(&image::RgbImage::new(0, 4), "e").is_err());
    }
}
