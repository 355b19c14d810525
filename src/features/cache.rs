//! Content-addressed cache of per-video feature vectors.
//!
//! The key hashes the video's bytes together with the extraction options, so a changed video or a
//! changed setting never reuses a stale vector. Entries are written atomically (temp file, then
//! rename) and carry a checksum; a corrupt entry is ignored, removed and rebuilt. The folder is
//! safe to delete at any time.

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use xxhash_rust::xxh3::{Xxh3, xxh3_64};

use crate::error::{IoContext, Result};

const MAGIC: &[u8; 4] = b"VCF1";

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
    dir: PathBuf,
}

impl FeatureCache {
    pub fn new(dir: impl Into<PathBuf>) -> FeatureCache {
        FeatureCache { dir: dir.into() }
    }

    /// The key of `video` under the options fingerprint `options`: a hash of the file's bytes and
    /// the fingerprint.
    pub fn key(video: &Path, options: &str) -> Result<String> {
        let mut f = fs::File::open(video).at(video)?;
        let mut h = Xxh3::new();
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = f.read(&mut buf).at(video)?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
        }
        h.update(options.as_bytes());
        Ok(format!("{:032x}", h.digest128()))
    }

    fn path(&self, key: &str) -> PathBuf {
        self.dir.join(&key[..2]).join(format!("{key}.vcf"))
    }

    /// The entry for `key`, or None when absent or corrupt (a corrupt file is removed).
    pub fn get(&self, key: &str) -> Option<Entry> {
        let p = self.path(key);
        let bytes = fs::read(&p).ok()?;
        match decode(&bytes) {
            Some(e) => Some(e),
            None => {
                let _ = fs::remove_file(&p);
                None
            }
        }
    }

    /// Store `entry` under `key`, atomically.
    pub fn put(&self, key: &str, entry: &Entry) -> Result<()> {
        let p = self.path(key);
        let dir = p.parent().expect("cache path has a parent");
        fs::create_dir_all(dir).at(dir)?;
        let tmp = dir.join(format!(".{key}.{}.tmp", std::process::id()));
        let mut f = fs::File::create(&tmp).at(&tmp)?;
        f.write_all(&encode(entry)).at(&tmp)?;
        f.sync_all().at(&tmp)?;
        drop(f);
        fs::rename(&tmp, &p).at(&p)
    }
}

fn encode(e: &Entry) -> Vec<u8> {
    let mut b = Vec::with_capacity(28 + 4 * e.values.len());
    b.extend_from_slice(MAGIC);
    b.extend_from_slice(&e.n_frames.to_le_bytes());
    b.extend_from_slice(&e.seconds.to_le_bytes());
    b.extend_from_slice(&(e.values.len() as u64).to_le_bytes());
    for v in &e.values {
        b.extend_from_slice(&v.to_le_bytes());
    }
    let sum = xxh3_64(&b);
    b.extend_from_slice(&sum.to_le_bytes());
    b
}

fn decode(b: &[u8]) -> Option<Entry> {
    if b.len() < 32 || &b[..4] != MAGIC {
        return None;
    }
    let (body, sum) = b.split_at(b.len() - 8);
    if xxh3_64(body) != u64::from_le_bytes(sum.try_into().ok()?) {
        return None;
    }
    let n_frames = u32::from_le_bytes(body[4..8].try_into().ok()?);
    let seconds = f64::from_le_bytes(body[8..16].try_into().ok()?);
    let len = u64::from_le_bytes(body[16..24].try_into().ok()?) as usize;
    let data = &body[24..];
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
        let p = cache.path(&key);
        let mut bytes = fs::read(&p).unwrap();
        bytes[26] ^= 0x40;
        fs::write(&p, &bytes).unwrap();
        assert!(cache.get(&key).is_none());
        assert!(!p.exists());
    }

    #[test]
    fn key_depends_on_bytes_and_options() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.bin");
        fs::write(&a, b"video bytes").unwrap();
        let k1 = FeatureCache::key(&a, "opts1").unwrap();
        assert_eq!(k1, FeatureCache::key(&a, "opts1").unwrap());
        assert_ne!(k1, FeatureCache::key(&a, "opts2").unwrap());
        fs::write(&a, b"video bytez").unwrap();
        assert_ne!(k1, FeatureCache::key(&a, "opts1").unwrap());
        assert!(FeatureCache::key(&dir.path().join("missing"), "o").is_err());
    }
}
