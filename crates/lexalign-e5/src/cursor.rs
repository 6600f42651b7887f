//! A bounds-checked little-endian reader over the E5S1 image that names the field it failed on
//! (a truncated or damaged file is an error, never a panic or a huge allocation).

use crate::format::FIX;
use anyhow::{bail, Result};

/// A bounds-checked little-endian reader that names the field it failed on.
pub(crate) struct Cursor<'a> {
    pub b: &'a [u8],
    pub pos: usize,
    pub label: &'a str,
}

impl<'a> Cursor<'a> {
    pub fn take(&mut self, n: usize, field: &str) -> Result<&'a [u8]> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.b.len());
        let Some(end) = end else {
            bail!(
                "model file {} is truncated: field `{field}` needs {n} bytes at offset {} but the file has {}; {FIX}",
                self.label,
                self.pos,
                self.b.len()
            );
        };
        let s = &self.b[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    pub fn u32(&mut self, f: &str) -> Result<u32> {
        Ok(u32::from_le_bytes(self.take(4, f)?.try_into().unwrap()))
    }
    pub fn u64(&mut self, f: &str) -> Result<u64> {
        Ok(u64::from_le_bytes(self.take(8, f)?.try_into().unwrap()))
    }
    pub fn f32(&mut self, f: &str) -> Result<f32> {
        Ok(f32::from_le_bytes(self.take(4, f)?.try_into().unwrap()))
    }
    /// An i32 count in `1..=max`.
    pub fn count(&mut self, f: &str, max: usize) -> Result<usize> {
        let v = i32::from_le_bytes(self.take(4, f)?.try_into().unwrap());
        if v < 1 || v as usize > max {
            bail!(
                "model file {}: header field `{f}` is {v}, expected 1..={max}; {FIX}",
                self.label
            );
        }
        Ok(v as usize)
    }
    pub fn id(&mut self, f: &str, n: usize) -> Result<usize> {
        let v = i32::from_le_bytes(self.take(4, f)?.try_into().unwrap());
        if v < 0 || v as usize >= n {
            bail!(
                "model file {}: `{f}` is {v}, outside the {n} pieces; {FIX}",
                self.label
            );
        }
        Ok(v as usize)
    }
}
