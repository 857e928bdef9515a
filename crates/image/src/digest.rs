//! sha256 content digests (`sha256:<hex>`): a hashing reader, and checks that a string is a
//! digest this crate can verify and use as a file name.

use std::io::{self, Read};

use sha2::{Digest as _, Sha256};

/// Renders a finished hash as `sha256:<hex>`.
fn render(hash: &[u8]) -> String {
    let mut out = String::with_capacity(7 + 64);
    out.push_str("sha256:");
    for b in hash {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// `sha256:<hex>` of `data`.
pub fn sha256(data: &[u8]) -> String {
    render(&Sha256::digest(data))
}

/// The hex part of a `sha256:<64 lowercase hex>` digest, or `None` for anything else (so
/// the result is always safe as a file name).
pub fn sha256_hex(digest: &str) -> Option<&str> {
    let hex = digest.strip_prefix("sha256:")?;
    let ok = hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    ok.then_some(hex)
}

/// A reader that hashes everything read through it.
pub struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
    len: u64,
}

impl<R: Read> HashingReader<R> {
    pub fn new(inner: R) -> Self {
        HashingReader {
            inner,
            hasher: Sha256::new(),
            len: 0,
        }
    }

    /// Reads the rest of the input, then returns `sha256:<hex>` of all of it and its length.
    pub fn finish(mut self) -> io::Result<(String, u64)> {
        io::copy(&mut self, &mut io::sink())?;
        Ok((render(&self.hasher.finalize()), self.len))
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.len += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashing_reader_matches_one_shot_digest() -> io::Result<()> {
        let data = b"hello layer".repeat(1000);
        let mut r = HashingReader::new(&data[..]);
        let mut first = [0u8; 10];
        r.read_exact(&mut first)?;
        let (digest, len) = r.finish()?;
        assert_eq!(digest, sha256(&data));
        assert_eq!(len, data.len() as u64);
        Ok(())
    }

    #[test]
    fn only_well_formed_sha256_digests_have_a_hex() {
        let hex = "a".repeat(64);
        assert_eq!(sha256_hex(&format!("sha256:{hex}")), Some(hex.as_str()));
        assert_eq!(sha256_hex("sha256:../../etc"), None);
        assert_eq!(sha256_hex(&format!("sha512:{hex}")), None);
        assert_eq!(sha256_hex(&format!("sha256:{}", "A".repeat(64))), None);
    }
}
