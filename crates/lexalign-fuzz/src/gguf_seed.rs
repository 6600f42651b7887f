//! A tiny GGUF v3 writer for the seed corpus: it records the offset and width of every count,
//! length, type id, dimension and offset it writes, so the mutator can put huge or off-by-one
//! values exactly there.

use crate::mutate::Seed;

/// A metadata value for [`GgufBuilder::kv`].
#[derive(Clone, Debug)]
pub enum V {
    U8(u8),
    U32(u32),
    I32(i32),
    U64(u64),
    F32(f32),
    Bool(bool),
    Str(String),
    /// Element type id (GGUF value type) and elements.
    Arr(u32, Vec<V>),
}

impl V {
    pub fn s(s: &str) -> V {
        V::Str(s.into())
    }
    pub fn strs(v: &[&str]) -> V {
        V::Arr(8, v.iter().map(|s| V::s(s)).collect())
    }
    pub fn i32s(v: &[i32]) -> V {
        V::Arr(5, v.iter().map(|&x| V::I32(x)).collect())
    }
    fn type_id(&self) -> u32 {
        match self {
            V::U8(_) => 0,
            V::U32(_) => 4,
            V::I32(_) => 5,
            V::F32(_) => 6,
            V::Bool(_) => 7,
            V::Str(_) => 8,
            V::Arr(..) => 9,
            V::U64(_) => 10,
        }
    }
}

#[derive(Default)]
pub struct GgufBuilder {
    kvs: Vec<(String, V)>,
    /// (name, dims (GGUF order), ggml type id, raw bytes)
    tensors: Vec<(String, Vec<u64>, u32, Vec<u8>)>,
}

struct W {
    buf: Vec<u8>,
    ints: Vec<(usize, u8)>,
}

impl W {
    fn int(&mut self, v: u64, width: u8) {
        self.ints.push((self.buf.len(), width));
        self.buf
            .extend_from_slice(&v.to_le_bytes()[..width as usize]);
    }
    fn str(&mut self, s: &str) {
        self.int(s.len() as u64, 8);
        self.buf.extend_from_slice(s.as_bytes());
    }
    fn value(&mut self, v: &V) {
        match v {
            V::U8(x) => self.int(*x as u64, 1),
            V::U32(x) => self.int(*x as u64, 4),
            V::I32(x) => self.int(*x as u32 as u64, 4),
            V::U64(x) => self.int(*x, 8),
            V::F32(x) => self.buf.extend_from_slice(&x.to_le_bytes()),
            V::Bool(b) => self.buf.push(*b as u8),
            V::Str(s) => self.str(s),
            V::Arr(ty, items) => {
                self.int(*ty as u64, 4);
                self.int(items.len() as u64, 8);
                for it in items {
                    self.value(it);
                }
            }
        }
    }
}

impl GgufBuilder {
    pub fn kv(mut self, key: &str, v: V) -> Self {
        self.kvs.push((key.into(), v));
        self
    }
    pub fn tensor(mut self, name: &str, dims: &[u64], ty: u32, data: Vec<u8>) -> Self {
        self.tensors.push((name.into(), dims.to_vec(), ty, data));
        self
    }
    /// An f32 tensor with values 0, 1, 2, ...
    pub fn f32_tensor(self, name: &str, dims: &[u64]) -> Self {
        let n: u64 = dims.iter().product();
        let data = (0..n)
            .flat_map(|i| (i as f32 * 0.25).to_le_bytes())
            .collect();
        self.tensor(name, dims, 0, data)
    }

    pub fn build(self) -> Seed {
        const ALIGN: usize = 32;
        let mut w = W {
            buf: b"GGUF".to_vec(),
            ints: Vec::new(),
        };
        w.int(3, 4);
        w.int(self.tensors.len() as u64, 8);
        w.int(self.kvs.len() as u64, 8);
        for (k, v) in &self.kvs {
            w.str(k);
            w.int(v.type_id() as u64, 4);
            w.value(v);
        }
        let mut offset = 0usize;
        let mut offsets = Vec::new();
        for (name, dims, ty, data) in &self.tensors {
            w.str(name);
            w.int(dims.len() as u64, 4);
            for &d in dims {
                w.int(d, 8);
            }
            w.int(*ty as u64, 4);
            w.int(offset as u64, 8);
            offsets.push(offset);
            offset = (offset + data.len()).div_ceil(ALIGN) * ALIGN;
        }
        let data_start = w.buf.len().div_ceil(ALIGN) * ALIGN;
        w.buf.resize(data_start, 0);
        for ((_, _, _, data), off) in self.tensors.iter().zip(offsets) {
            w.buf.resize(data_start + off, 0);
            w.buf.extend_from_slice(data);
        }
        Seed {
            bytes: w.buf,
            ints: w.ints,
        }
    }
}
