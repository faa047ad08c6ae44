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
//! - [`PhotoWorker`] decodes on one thread of its own, under the idle
//!   scheduling policy (`SCHED_IDLE`): however many reports arrive, at most
//!   one core decodes photos, and only when no scan wants it. Reports wait
//!   their turn instead.

use std::io::Cursor;

use image::codecs::jpeg::JpegEncoder;
use image::imageops::FilterType;
use image::{DynamicImage, ImageDecoder as _, ImageFormat, ImageReader, Limits};
use tokio::sync::{mpsc, oneshot};

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

/// Runs [`reencode`] on one dedicated thread for the whole process, under
/// the idle scheduling policy (see the module documentation).
///
/// The thread is named [`WORKER_THREAD`] and, on Linux, runs under
/// `SCHED_IDLE`: it gets a core only when no ordinary thread wants it, and
/// any scan worker that wakes up takes the core from it at once. (Niceness
/// 19 was tried first: the decoder then kept a core for its whole time
/// slice, a few milliseconds, after a scan worker woke, and a flood still
/// cost scans about a fifth of their throughput; `BENCHMARKS.md`.) Photos
/// wait in a bounded queue; reports wait for their photos, scans never do.
#[derive(Debug, Clone)]
pub struct PhotoWorker {
    jobs: mpsc::Sender<Job>,
}

/// The name of the decoding thread, as `ps -L` and `top -H` show it.
pub const WORKER_THREAD: &str = "tanba-photos";
/// Photos waiting to be decoded; beyond this, uploads wait to queue. The
/// upload slots bound it anyway: 16 reports of 5 photos.
const QUEUE: usize = 80;

struct Job {
    bytes: Vec<u8>,
    done: oneshot::Sender<Result<Photo, NotAnImage>>,
}

impl PhotoWorker {
    /// Starts the decoding thread. It ends when the last clone of the
    /// worker is dropped.
    pub fn start() -> std::io::Result<Self> {
        let (jobs, mut queue) = mpsc::channel::<Job>(QUEUE);
        std::thread::Builder::new()
            .name(WORKER_THREAD.to_owned())
            .spawn(move || {
                lower_priority();
                while let Some(job) = queue.blocking_recv() {
                    // A decoder that panics on a crafted file has been
                    // handed something that is not an image; the thread
                    // lives on for the next photo.
                    let photo = std::panic::catch_unwind(|| reencode(&job.bytes))
                        .unwrap_or_else(|_| Err(NotAnImage("the decoder failed".to_owned())));
                    // The report may have given up waiting; nothing to tell.
                    let _ = job.done.send(photo);
                }
            })?;
        Ok(Self { jobs })
    }

    /// Queues one photo and waits for it to be decoded.
    pub async fn reencode(&self, bytes: Vec<u8>) -> anyhow::Result<Result<Photo, NotAnImage>> {
        let (done, photo) = oneshot::channel();
        self.jobs
            .send(Job { bytes, done })
            .await
            .map_err(|_| anyhow::anyhow!("the photo worker has stopped"))?;
        Ok(photo.await?)
    }
}

/// Puts the calling thread under `SCHED_IDLE`. The policy belongs to the
/// thread, so the scan workers keep theirs. Failing to set it costs speed,
/// not correctness, so it is logged, not fatal.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    {
        use thread_priority::unix::{
            NormalThreadSchedulePolicy, ThreadSchedulePolicy, set_thread_priority_and_policy,
            thread_native_id,
        };
        if let Err(e) = set_thread_priority_and_policy(
            thread_native_id(),
            thread_priority::ThreadPriority::Min,
            ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Idle),
        ) {
            tracing::warn!(error = ?e, "could not lower the photo worker's priority");
        }
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

    /// The scheduling policy of every thread of this process named
    /// [`WORKER_THREAD`], read from /proc as `ps -L -o policy` would show it.
    #[cfg(target_os = "linux")]
    fn worker_policies() -> Vec<u32> {
        let mut found = Vec::new();
        for task in std::fs::read_dir("/proc/self/task").expect("tasks") {
            let dir = task.expect("task").path();
            let Ok(comm) = std::fs::read_to_string(dir.join("comm")) else {
                continue;
            };
            if comm.trim_end() != WORKER_THREAD {
                continue;
            }
            found.push(policy_of(&dir));
        }
        found
    }

    /// The `policy` field of a task's stat (field 41; proc(5)).
    #[cfg(target_os = "linux")]
    fn policy_of(task: &std::path::Path) -> u32 {
        let stat = std::fs::read_to_string(task.join("stat")).expect("stat");
        // Fields after "(comm)" start with state, field 3.
        let after = &stat[stat.rfind(')').expect("comm") + 2..];
        after
            .split(' ')
            .nth(41 - 3)
            .expect("policy")
            .parse()
            .expect("a number")
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn photos_are_decoded_on_one_thread_that_runs_only_when_the_cores_are_idle() {
        const SCHED_IDLE: u32 = 5;
        let own = || policy_of(std::path::Path::new("/proc/thread-self"));
        let before = own();
        let worker = PhotoWorker::start().expect("thread");
        let photo = worker
            .reencode(png(3000, 100))
            .await
            .expect("worker")
            .expect("an image");
        assert_eq!((photo.width, photo.height), (2560, 85));
        let refused = worker
            .reencode(b"not a photo".to_vec())
            .await
            .expect("worker");
        assert!(refused.is_err(), "the worker lives on after a refusal");
        let policies = worker_policies();
        assert!(!policies.is_empty(), "no thread named {WORKER_THREAD}");
        assert!(
            policies.iter().all(|&p| p == SCHED_IDLE),
            "policies {policies:?}"
        );
        // The thread that started the worker keeps its policy.
        assert_eq!(own(), before);
        assert_ne!(before, SCHED_IDLE);
    }
}
