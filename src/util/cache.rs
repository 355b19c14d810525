//! A checksummed, content-addressed cache of byte blobs on disk, shared by the feature cache, the
//! deep-frame cache and anything else that can be recomputed from a file and its settings.
//!
//! An entry is one file `dir/<first two key chars>/<key>.<ext>` holding
//! `magic (4 bytes) | payload | xxh3-64 of magic and payload (8 bytes, little-endian)`. The payload
//! is the caller's encoding. Entries are written with [`write_atomic`], so a reader sees either a
//! whole entry or none; a killed writer leaves only a hidden temporary that is never read. A
//! truncated or damaged entry fails the checksum (or the caller's decoder) and is removed and
//! treated as a miss. The folder is safe to delete at any time.

use std::fs::{self, File};
use std::io::Read;
use std::path::{Path, PathBuf};

use xxhash_rust::xxh3::{Xxh3, xxh3_64};

use crate::error::{Error, IoContext, Result};
use crate::util::fs::write_atomic;

const CHECKSUM_LEN: usize = 8;

/// The content key of `file` under the settings fingerprint `fingerprint`: a 128-bit hash of the
/// file's bytes followed by the fingerprint, as 32 hex digits. A changed file or a changed setting
/// gives another key, so a stale entry is never reused.
pub fn file_key(file: &Path, fingerprint: &str) -> Result<String> {
    let mut f = File::open(file).at(file)?;
    let mut h = Xxh3::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf).at(file)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    h.update(fingerprint.as_bytes());
    Ok(format!("{:032x}", h.digest128()))
}

/// A cache folder whose entries carry `magic` and the file extension `ext`.
#[derive(Debug, Clone)]
pub struct BlobCache {
    dir: PathBuf,
    magic: [u8; 4],
    ext: &'static str,
}

impl BlobCache {
    /// A cache in `dir` (created on the first write). `magic` names the payload encoding: bump it
    /// when the encoding changes and old entries become misses.
    pub fn new(dir: impl Into<PathBuf>, magic: [u8; 4], ext: &'static str) -> BlobCache {
        BlobCache {
            dir: dir.into(),
            magic,
            ext,
        }
    }

    /// The cache folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where the entry for `key` lives; None for a key that is not a plain name (keys are hex
    /// digests; anything else could escape the folder).
    pub fn entry_path(&self, key: &str) -> Option<PathBuf> {
        let plain = key.len() >= 2 && key.bytes().all(|b| b.is_ascii_alphanumeric());
        plain.then(|| self.dir.join(&key[..2]).join(format!("{key}.{}", self.ext)))
    }

    /// The payload under `key`, or None when absent, truncated or damaged (a damaged entry is
    /// removed, so the next `put` rebuilds it).
    pub fn get(&self, key: &str) -> Option<Vec<u8>> {
        self.get_with(key, |payload| Some(payload.to_vec()))
    }

    /// The entry under `key` decoded by `decode`; a payload that `decode` refuses (None) counts as
    /// damaged: the entry is removed and this is a miss.
    pub fn get_with<T>(&self, key: &str, decode: impl FnOnce(&[u8]) -> Option<T>) -> Option<T> {
        let path = self.entry_path(key)?;
        let bytes = fs::read(&path).ok()?;
        let value = self.payload(&bytes).and_then(decode);
        if value.is_none() {
            // Best effort: a read-only cache still answers, it just cannot heal.
            let _ = fs::remove_file(&path);
        }
        value
    }

    /// Store `payload` under `key`, atomically.
    pub fn put(&self, key: &str, payload: &[u8]) -> Result<()> {
        let path = self.entry_path(key).ok_or_else(|| {
            Error::InvalidArgument(format!(
                "cache key `{key}`: expected at least two ASCII letters or digits"
            ))
        })?;
        let mut bytes = Vec::with_capacity(self.magic.len() + payload.len() + CHECKSUM_LEN);
        bytes.extend_from_slice(&self.magic);
        bytes.extend_from_slice(payload);
        let sum = xxh3_64(&bytes);
        bytes.extend_from_slice(&sum.to_le_bytes());
        write_atomic(&path, &bytes)
    }

    /// The payload of a whole entry, or None when the magic or the checksum is wrong.
    fn payload<'b>(&self, bytes: &'b [u8]) -> Option<&'b [u8]> {
        let head = self.magic.len();
        if bytes.len() < head + CHECKSUM_LEN || bytes[..head] != self.magic {
            return None;
        }
        let (body, sum) = bytes.split_at(bytes.len() - CHECKSUM_LEN);
        (xxh3_64(body) == u64::from_le_bytes(sum.try_into().ok()?)).then(|| &body[head..])
    }
}

/// Little-endian readers over a payload, each None past the end: decoders built from them turn a
/// short payload into a miss instead of a panic.
#[derive(Debug)]
pub struct Reader<'b> {
    rest: &'b [u8],
}

impl<'b> Reader<'b> {
    /// Read `payload` from the start.
    pub fn new(payload: &'b [u8]) -> Reader<'b> {
        Reader { rest: payload }
    }

    /// The next `n` bytes.
    pub fn bytes(&mut self, n: usize) -> Option<&'b [u8]> {
        if self.rest.len() < n {
            return None;
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Some(head)
    }

    /// The next `N` bytes as an array.
    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.bytes(N)?.try_into().ok()
    }

    /// A little-endian `u32`.
    pub fn u32(&mut self) -> Option<u32> {
        self.array().map(u32::from_le_bytes)
    }

    /// A little-endian `u64`.
    pub fn u64(&mut self) -> Option<u64> {
        self.array().map(u64::from_le_bytes)
    }

    /// A little-endian `f64`.
    pub fn f64(&mut self) -> Option<f64> {
        self.array().map(f64::from_le_bytes)
    }

    /// What is left.
    pub fn rest(&self) -> &'b [u8] {
        self.rest
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cache(dir: &Path) -> BlobCache {
        BlobCache::new(dir, *b"TST1", "tst")
    }

    fn key(i: usize) -> String {
        format!("{i:032x}")
    }

    #[test]
    fn round_trip_and_absent_key() {
        let dir = tempfile::tempdir().unwrap();
        let c = cache(dir.path());
        assert_eq!(c.get(&key(1)), None);
        c.put(&key(1), b"payload").unwrap();
        assert_eq!(c.get(&key(1)).as_deref(), Some(&b"payload"[..]));
        // An empty payload is a valid entry.
        c.put(&key(2), b"").unwrap();
        assert_eq!(c.get(&key(2)).as_deref(), Some(&b""[..]));
        // The layout is the documented one.
        let p = dir.path().join("00").join(format!("{}.tst", key(1)));
        assert_eq!(c.entry_path(&key(1)), Some(p.clone()));
        let bytes = fs::read(&p).unwrap();
        assert_eq!(&bytes[..4], b"TST1");
        assert_eq!(&bytes[4..11], b"payload");
        assert_eq!(bytes[11..], xxh3_64(&bytes[..11]).to_le_bytes());
    }

    /// Store an entry, then for each damaged copy `damage(whole entry)` yields: write it in place
    /// and check that it reads as a miss and is removed.
    fn assert_damage_is_a_miss(damage: impl Fn(&[u8]) -> Vec<(String, Vec<u8>)>) {
        let dir = tempfile::tempdir().unwrap();
        let c = cache(dir.path());
        let k = key(7);
        c.put(&k, b"some feature values, 40 bytes or so....")
            .unwrap();
        let p = c.entry_path(&k).unwrap();
        let whole = fs::read(&p).unwrap();
        for (what, bytes) in damage(&whole) {
            fs::write(&p, &bytes).unwrap();
            assert_eq!(c.get(&k), None, "{what}");
            assert!(!p.exists(), "{what}: the damaged entry is removed");
        }
    }

    #[test]
    fn every_truncation_is_a_miss_and_removes_the_entry() {
        assert_damage_is_a_miss(|whole| {
            (0..whole.len())
                .map(|n| (format!("truncated to {n} bytes"), whole[..n].to_vec()))
                .collect()
        });
    }

    #[test]
    fn every_flipped_byte_is_a_miss_and_removes_the_entry() {
        assert_damage_is_a_miss(|whole| {
            (0..whole.len())
                .map(|i| {
                    let mut b = whole.to_vec();
                    b[i] ^= 0x10;
                    (format!("byte {i} flipped"), b)
                })
                .collect()
        });
    }

    #[test]
    fn another_magic_is_a_miss() {
        let dir = tempfile::tempdir().unwrap();
        cache(dir.path()).put(&key(3), b"old encoding").unwrap();
        let newer = BlobCache::new(dir.path(), *b"TST2", "tst");
        assert_eq!(newer.get(&key(3)), None);
    }

    #[test]
    fn a_refused_payload_is_a_miss_and_removed() {
        let dir = tempfile::tempdir().unwrap();
        let c = cache(dir.path());
        c.put(&key(4), b"abc").unwrap();
        assert_eq!(c.get_with(&key(4), |_| None::<()>), None);
        assert!(!c.entry_path(&key(4)).unwrap().exists());
    }

    #[test]
    fn a_killed_writers_temporary_is_never_read() {
        let dir = tempfile::tempdir().unwrap();
        let c = cache(dir.path());
        let k = key(5);
        // What a writer killed between write and rename leaves: a hidden temporary beside where
        // the entry would go, holding a whole, valid-looking entry.
        c.put(&k, b"complete").unwrap();
        let p = c.entry_path(&k).unwrap();
        let tmp = p.with_file_name(format!(".{k}.4242-0.part.tst"));
        fs::rename(&p, &tmp).unwrap();
        assert_eq!(c.get(&k), None);
        assert!(tmp.exists(), "a temporary is not ours to judge or remove");
        // A later put still lands.
        c.put(&k, b"fresh").unwrap();
        assert_eq!(c.get(&k).as_deref(), Some(&b"fresh"[..]));
    }

    #[test]
    fn concurrent_writers_of_different_keys() {
        let dir = tempfile::tempdir().unwrap();
        let c = cache(dir.path());
        // Keys sharing a two-character folder, so the writers also race to create it.
        std::thread::scope(|s| {
            for t in 0..8usize {
                let c = &c;
                s.spawn(move || {
                    for i in 0..25usize {
                        let k = format!("ab{:030x}", t * 1000 + i);
                        c.put(&k, format!("{t}:{i}").as_bytes()).unwrap();
                    }
                });
            }
        });
        for t in 0..8usize {
            for i in 0..25usize {
                let k = format!("ab{:030x}", t * 1000 + i);
                assert_eq!(c.get(&k), Some(format!("{t}:{i}").into_bytes()));
            }
        }
        let names: Vec<_> = fs::read_dir(dir.path().join("ab")).unwrap().collect();
        assert_eq!(names.len(), 200, "no temporaries left");
    }

    #[test]
    fn keys_that_are_not_plain_names_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let c = cache(dir.path());
        for bad in ["", "a", "../x", "ab/cd", "é0"] {
            assert!(c.entry_path(bad).is_none(), "{bad}");
            assert_eq!(c.get(bad), None);
            assert!(c.put(bad, b"x").is_err(), "{bad}");
        }
    }

    #[test]
    fn file_key_depends_on_bytes_and_fingerprint() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.bin");
        fs::write(&a, b"video bytes").unwrap();
        let k1 = file_key(&a, "opts1").unwrap();
        assert_eq!(k1.len(), 32);
        assert_eq!(k1, file_key(&a, "opts1").unwrap());
        assert_ne!(k1, file_key(&a, "opts2").unwrap());
        fs::write(&a, b"video bytez").unwrap();
        assert_ne!(k1, file_key(&a, "opts1").unwrap());
        let missing = dir.path().join("missing");
        let err = file_key(&missing, "o").unwrap_err();
        assert!(err.to_string().contains("missing"), "{err}");
    }

    #[test]
    fn reader_stops_at_the_end() {
        let mut r = Reader::new(&[1, 0, 0, 0, 2]);
        assert_eq!(r.u32(), Some(1));
        assert_eq!(r.u32(), None);
        assert_eq!(r.rest(), &[2]);
        assert_eq!(r.bytes(1), Some(&[2u8][..]));
        assert_eq!(r.f64(), None);
    }
}
