//! Photos of a report: checked to be real images, downscaled, re-encoded.
//!
//! A photo is decoded (JPEG, PNG or WebP; the format is read from the bytes,
//! never from the name or the declared type), turned upright by its EXIF
//! orientation, downscaled to at most [`MAX_SIDE`] pixels on its long side
//! and encoded afresh as JPEG. The new file carries no metadata at all: no
//! EXIF, so no GPS position or camera serial of the citizen, and no
//! comments or trailing bytes an attacker could have hidden.
//!
//! Decoding a 10 MB photo takes a core for a good fraction of a second, and
//! a crafted file can ask for gigabytes. So:
//! - [`image::Limits`] caps the dimensions and the memory a decoder may
//!   take, refusing decompression bombs before they allocate;
//! - [`PhotoWorker`] runs decoding on the blocking pool behind a semaphore
//!   with one permit: however many reports arrive, at most one core decodes
//!   photos, and the other keeps answering scans. Reports wait their turn
//!   instead.

use std::io::Cursor;
use std::sync::Arc;

use image::codecs::jpeg::JpegEncoder;
use image::imageops::FilterType;
use image::{DynamicImage, ImageDecoder as _, ImageFormat, ImageReader, Limits};
use tokio::sync::Semaphore;

/// Largest photo accepted, in bytes, as uploaded.
pub const MAX_PHOTO_BYTES: usize = 10 * 1024 * 1024;
/// Most photos one report may carry.
pub const MAX_PHOTOS: usize = 5;
/// Longest side of a stored photo, in pixels.
pub const MAX_SIDE: u32 = 2560;
/// Widest and tallest image decoded at all: beyond any phone camera
/// (a 200-megapixel sensor is 16,320 × 12,240).
const MAX_DECODED_SIDE: u32 = 16_384;
/// Most memory one decode may take: a 48-megapixel RGB photo needs 144 MiB.
const MAX_DECODE_BYTES: u64 = 256 * 1024 * 1024;
/// JPEG quality of stored photos: good enough to read a label or a price tag.
const JPEG_QUALITY: u8 = 85;

/// A photo as stored: JPEG bytes and their dimensions.
#[derive(Clone, PartialEq, Eq)]
pub struct Photo {
    pub jpeg: Vec<u8>,
    pub width: u32,
    pub height: u32,
}

impl std::fmt::Debug for Photo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Photo")
            .field("bytes", &self.jpeg.len())
            .field("width", &self.width)
            .field("height", &self.height)
            .finish()
    }
}

/// The bytes are not an image this service reads, or not a sane one.
#[derive(Debug, Clone, thiserror::Error)]
#[error("not an image: {0}")]
pub struct NotAnImage(pub String);

/// Decodes, orients, downscales and re-encodes one photo. CPU-bound: call it
/// through [`PhotoWorker`], not on an async worker.
pub fn reencode(bytes: &[u8]) -> Result<Photo, NotAnImage> {
    let bad = |e: &dyn std::fmt::Display| NotAnImage(e.to_string());
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| bad(&e))?;
    match reader.format() {
        Some(ImageFormat::Jpeg | ImageFormat::Png | ImageFormat::WebP) => {}
        other => return Err(NotAnImage(format!("format {other:?}"))),
    }
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_DECODED_SIDE);
    limits.max_image_height = Some(MAX_DECODED_SIDE);
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    reader.limits(limits);
    let mut decoder = reader.into_decoder().map_err(|e| bad(&e))?;
    // `into_decoder` checks the dimensions; the output buffer is checked
    // here, before it is allocated.
    if decoder.total_bytes() > MAX_DECODE_BYTES {
        return Err(NotAnImage(format!(
            "{} bytes decoded is too many",
            decoder.total_bytes()
        )));
    }
    let orientation = decoder.orientation().map_err(|e| bad(&e))?;
    let mut image = DynamicImage::from_decoder(decoder).map_err(|e| bad(&e))?;
    image.apply_orientation(orientation);
    if image.width() == 0 || image.height() == 0 {
        return Err(NotAnImage("empty image".to_owned()));
    }
    if image.width().max(image.height()) > MAX_SIDE {
        // Keeps the aspect ratio; Triangle is a fair trade of speed and
        // sharpness for a large downscale.
        image = image.resize(MAX_SIDE, MAX_SIDE, FilterType::Triangle);
    }
    // JPEG has no alpha: a transparent PNG loses its alpha channel and
    // keeps its colour values.
    let rgb = image.to_rgb8();
    let mut jpeg = Vec::new();
    JpegEncoder::new_with_quality(&mut jpeg, JPEG_QUALITY)
        .encode_image(&rgb)
        .map_err(|e| bad(&e))?;
    Ok(Photo {
        jpeg,
        width: rgb.width(),
        height: rgb.height(),
    })
}

/// Runs [`reencode`] on the blocking pool, one photo at a time for the whole
/// process (see the module documentation).
#[derive(Debug, Clone)]
pub struct PhotoWorker {
    permit: Arc<Semaphore>,
}

impl Default for PhotoWorker {
    fn default() -> Self {
        Self {
            permit: Arc::new(Semaphore::new(1)),
        }
    }
}

impl PhotoWorker {
    /// Waits for the one permit, then decodes on the blocking pool.
    pub async fn reencode(&self, bytes: Vec<u8>) -> anyhow::Result<Result<Photo, NotAnImage>> {
        let permit = self.permit.clone().acquire_owned().await?;
        let done = tokio::task::spawn_blocking(move || {
            let _held = permit;
            reencode(&bytes)
        })
        .await?;
        Ok(done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(width: u32, height: u32) -> Vec<u8> {
        let img = image::RgbaImage::from_fn(width, height, |x, y| {
            image::Rgba([(x % 256) as u8, (y % 256) as u8, 90, 255])
        });
        let mut out = Cursor::new(Vec::new());
        img.write_to(&mut out, ImageFormat::Png).expect("PNG");
        out.into_inner()
    }

    #[test]
    fn a_large_photo_is_downscaled_keeping_its_shape() {
        let photo = reencode(&png(3000, 1500)).expect("an image");
        assert_eq!((photo.width, photo.height), (2560, 1280));
        assert_eq!(&photo.jpeg[..2], &[0xFF, 0xD8], "a JPEG");
    }

    #[test]
    fn a_small_photo_keeps_its_size() {
        let photo = reencode(&png(40, 30)).expect("an image");
        assert_eq!((photo.width, photo.height), (40, 30));
    }

    #[test]
    fn text_and_truncated_images_are_not_images() {
        assert!(reencode(b"hello, this is not a photo").is_err());
        assert!(reencode(b"").is_err());
        let mut cut = png(100, 100);
        cut.truncate(cut.len() / 2);
        assert!(reencode(&cut).is_err());
    }

    #[test]
    fn a_decompression_bomb_is_refused_before_it_allocates() {
        // A valid PNG header claiming 100,000 × 100,000 pixels.
        let img = image::GrayImage::new(1, 1);
        let mut out = Cursor::new(Vec::new());
        img.write_to(&mut out, ImageFormat::Png).expect("PNG");
        let mut bytes = out.into_inner();
        // IHDR width and height sit at bytes 16..24; the CRC after them is
        // now wrong, but the dimension check comes first either way.
        bytes[16..20].copy_from_slice(&100_000u32.to_be_bytes());
        bytes[20..24].copy_from_slice(&100_000u32.to_be_bytes());
        assert!(reencode(&bytes).is_err());
    }
}
