//! Content-addressed cache of per-video feature vectors.
//!
//! The key hashes the video's bytes together with the extraction options, so a changed video or a
//! changed setting never reuses a stale vector. Storage is the shared [`BlobCache`]: atomic
//! writes, a checksum, and a corrupt entry ignored, removed and rebuilt. The folder is safe to
//! delete at any time.

use std::path::{Path, PathBuf};

use crate::error::Result;
use crate::util::cache::{BlobCache, Reader, file_key};

/// The payload encoding (`n_frames u32 | seconds f64 | len u64 | len x f32`, little-endian); the
/// same bytes as before the cache was shared, so existing entries stay valid.
const MAGIC: [u8; 4] = *b"VCF1";

/// One cached extraction.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub values: Vec<f32>,
    /// Frames the features were computed from.
    pub n_frames: u32,
    /// Seconds the original extraction took (kept so timing reports stay truthful on a cache hit).
    pub seconds: f64,
}

/// A cache folder.
#[derive(Debug, Clone)]
pub struct FeatureCache {
    blobs: BlobCache,
}

impl FeatureCache {
    pub fn new(dir: impl Into<PathBuf>) -> FeatureCache {
        FeatureCache {
            blobs: BlobCache::new(dir, MAGIC, "vcf"),
        }
    }

    /// The key of `video` under the options fingerprint `options`: a hash of the file's bytes and
    /// the fingerprint (see [`file_key`]).
    pub fn key(video: &Path, options: &str) -> Result<String> {
        file_key(video, options)
    }

    /// The entry for `key`, or None when absent or corrupt (a corrupt file is removed).
    pub fn get(&self, key: &str) -> Option<Entry> {
        self.blobs.get_with(key, decode)
    }

    /// Store `entry` under `key`, atomically.
    pub fn put(&self, key: &str, entry: &Entry) -> Result<()> {
        self.blobs.put(key, &encode(entry))
    }
}

fn encode(e: &Entry) -> Vec<u8> {
    let mut b = Vec::with_capacity(20 + 4 * e.values.len());
    b.extend_from_slice(&e.n_frames.to_le_bytes());
    b.extend_from_slice(&e.seconds.to_le_bytes());
    b.extend_from_slice(&(e.values.len() as u64).to_le_bytes());
    for v in &e.values {
        b.extend_from_slice(&v.to_le_bytes());
    }
    b
}

fn decode(payload: &[u8]) -> Option<Entry> {
    let mut r = Reader::new(payload);
    let n_frames = r.u32()?;
    let seconds = r.f64()?;
    let len = usize::try_from(r.u64()?).ok()?;
    let data = r.rest();
    if data.len() != len.checked_mul(4)? {
        return None;
    }
    let values = data
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().expect("chunks of 4")))
        .collect();
    Some(Entry {
        values,
        n_frames,
        seconds,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn round_trip_and_corruption_is_detected() {
        let dir = tempfile::tempdir().unwrap();
        let cache = FeatureCache::new(dir.path());
        let e = Entry {
            values: vec![1.5, -2.0, f32::MAX],
            n_frames: 4,
            seconds: 0.25,
        };
        let key = "ab".repeat(16);
        assert!(cache.get(&key).is_none());
        cache.put(&key, &e).unwrap();
        assert_eq!(cache.get(&key), Some(e));

        // Flip one byte of the payload: the checksum catches it and the entry is dropped.
        let p = cache.blobs.entry_path(&key).unwrap();
        let mut bytes = fs::read(&p).unwrap();
        bytes[26] ^= 0x40;
        fs::write(&p, &bytes).unwrap();
        assert!(cache.get(&key).is_none());
        assert!(!p.exists());
    }

    #[test]
    fn entries_written_before_the_shared_cache_still_read() {
        // The layout the feature cache wrote on its own: magic, n_frames, seconds, len, values,
        // then xxh3-64 of everything before it, at dir/<key[..2]>/<key>.vcf.
        let dir = tempfile::tempdir().unwrap();
        let key = "0f".repeat(16);
        let mut b = b"VCF1".to_vec();
        b.extend_from_slice(&3u32.to_le_bytes());
        b.extend_from_slice(&1.5f64.to_le_bytes());
        b.extend_from_slice(&2u64.to_le_bytes());
        b.extend_from_slice(&0.25f32.to_le_bytes());
        b.extend_from_slice(&(-4.0f32).to_le_bytes());
        let sum = xxhash_rust::xxh3::xxh3_64(&b);
        b.extend_from_slice(&sum.to_le_bytes());
        fs::create_dir_all(dir.path().join("0f")).unwrap();
        fs::write(dir.path().join("0f").join(format!("{key}.vcf")), &b).unwrap();
        let got = FeatureCache::new(dir.path()).get(&key).unwrap();
        assert_eq!(
            got,
            Entry {
                values: vec![0.25, -4.0],
                n_frames: 3,
                seconds: 1.5
            }
        );
    }

    #[test]
    fn a_length_that_disagrees_with_the_values_is_a_miss() {
        let mut b = encode(&Entry {
            values: vec![1.0, 2.0],
            n_frames: 1,
            seconds: 0.0,
        });
        b[12] = 3; // len says 3 values, 2 follow
        assert_eq!(decode(&b), None);
        b[12] = u8::MAX;
        b[19] = u8::MAX; // a length whose byte count overflows
        assert_eq!(decode(&b), None);
    }
}
