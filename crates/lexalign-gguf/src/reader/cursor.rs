//! The bounds-checked little-endian cursor the header parser reads with: every read names what
//! it was reading, so a truncated or corrupt file gives an error naming the file, never a panic.

use std::path::Path;

use anyhow::{anyhow, bail, Result};

use crate::value::{MetaValue, ValueType};

/// Nested metadata arrays deeper than this are treated as corruption.
const MAX_ARRAY_DEPTH: u32 = 8;

/// Bounds-checked little-endian cursor over the mapped file.
pub(super) struct Cursor<'a> {
    pub(super) data: &'a [u8],
    pub(super) pos: usize,
    pub(super) path: &'a Path,
}

impl<'a> Cursor<'a> {
    pub(super) fn take(&mut self, n: u64, what: &dyn Fn() -> String) -> Result<&'a [u8]> {
        let left = (self.data.len() - self.pos) as u64;
        if n > left {
            bail!(
                "{}: truncated or corrupt GGUF file: reading {} needs {} bytes at offset {}, but the file has {} bytes \
                 (re-download the model, e.g. `cargo xtask setup`)",
                self.path.display(),
                what(),
                n,
                self.pos,
                self.data.len()
            );
        }
        let s = &self.data[self.pos..self.pos + n as usize];
        self.pos += n as usize;
        Ok(s)
    }
    pub(super) fn u8(&mut self, what: &dyn Fn() -> String) -> Result<u8> {
        Ok(self.take(1, what)?[0])
    }
    pub(super) fn u16(&mut self, what: &dyn Fn() -> String) -> Result<u16> {
        Ok(u16::from_le_bytes(self.take(2, what)?.try_into().unwrap()))
    }
    pub(super) fn u32(&mut self, what: &dyn Fn() -> String) -> Result<u32> {
        Ok(u32::from_le_bytes(self.take(4, what)?.try_into().unwrap()))
    }
    pub(super) fn u64(&mut self, what: &dyn Fn() -> String) -> Result<u64> {
        Ok(u64::from_le_bytes(self.take(8, what)?.try_into().unwrap()))
    }
    pub(super) fn remaining(&self) -> u64 {
        (self.data.len() - self.pos) as u64
    }
    pub(super) fn string(&mut self, what: &dyn Fn() -> String) -> Result<String> {
        let len = self.u64(what)?;
        let bytes = self.take(len, what)?;
        String::from_utf8(bytes.to_vec()).map_err(|e| {
            anyhow!(
                "{}: corrupt GGUF file: {} is not valid UTF-8 ({e})",
                self.path.display(),
                what()
            )
        })
    }

    pub(super) fn value(
        &mut self,
        ty: ValueType,
        depth: u32,
        what: &dyn Fn() -> String,
    ) -> Result<MetaValue> {
        Ok(match ty {
            ValueType::U8 => MetaValue::U8(self.u8(what)?),
            ValueType::I8 => MetaValue::I8(self.u8(what)? as i8),
            ValueType::U16 => MetaValue::U16(self.u16(what)?),
            ValueType::I16 => MetaValue::I16(self.u16(what)? as i16),
            ValueType::U32 => MetaValue::U32(self.u32(what)?),
            ValueType::I32 => MetaValue::I32(self.u32(what)? as i32),
            ValueType::F32 => MetaValue::F32(f32::from_bits(self.u32(what)?)),
            ValueType::U64 => MetaValue::U64(self.u64(what)?),
            ValueType::I64 => MetaValue::I64(self.u64(what)? as i64),
            ValueType::F64 => MetaValue::F64(f64::from_bits(self.u64(what)?)),
            ValueType::Bool => match self.u8(what)? {
                0 => MetaValue::Bool(false),
                1 => MetaValue::Bool(true),
                b => bail!(
                    "{}: corrupt GGUF file: {} has bool byte {b}",
                    self.path.display(),
                    what()
                ),
            },
            ValueType::String => MetaValue::String(self.string(what)?),
            ValueType::Array => {
                if depth >= MAX_ARRAY_DEPTH {
                    bail!(
                        "{}: corrupt GGUF file: {} nests arrays too deeply",
                        self.path.display(),
                        what()
                    );
                }
                let id = self.u32(what)?;
                let elem = ValueType::from_id(id).ok_or_else(|| {
                    anyhow!(
                        "{}: corrupt GGUF file: {} has unknown array element type {id}",
                        self.path.display(),
                        what()
                    )
                })?;
                let n = self.u64(what)?;
                if n.saturating_mul(elem.min_size()) > self.remaining() {
                    bail!(
                        "{}: truncated or corrupt GGUF file: {} claims {n} array elements but only {} bytes remain",
                        self.path.display(),
                        what(),
                        self.remaining()
                    );
                }
                let mut v = Vec::with_capacity(n as usize);
                for _ in 0..n {
                    v.push(self.value(elem, depth + 1, what)?);
                }
                MetaValue::Array(elem, v)
            }
        })
    }
}
