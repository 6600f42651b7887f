//! `laser2.pt`: the fairseq-style torch.save checkpoint that laser_encoders' `SentenceEncoder`
//! reads: `{"params": LaserLstmEncoder kwargs, "model": state dict, "dictionary": {piece: id}}`.
//!
//! torch.save writes a zip whose `*/data.pkl` is a pickle with persistent ids for the tensor
//! storages (`*/data/<key>`). candle's pickle VM (`candle_core::pickle`) parses that pickle into a
//! plain object tree; the storages are read here from the zip and become f32 tch tensors.

use anyhow::{anyhow, bail, Context, Result};
use candle_core::pickle::{Object, Stack};
use candle_core::DType;
use std::collections::HashMap;
use std::io::{Cursor, Read};
use std::path::Path;
use tch::Tensor;

/// `LaserLstmEncoder(**params)`: the constructor arguments stored in the checkpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct LstmParams {
    pub num_embeddings: i64,
    pub padding_idx: i64,
    pub embed_dim: i64,
    pub hidden_size: i64,
    pub num_layers: i64,
    pub bidirectional: bool,
    pub padding_value: f64,
}

impl LstmParams {
    /// Sentence vector size: hidden size, twice for a bidirectional LSTM (1024 for LASER-2).
    pub fn output_dim(&self) -> i64 {
        self.hidden_size * if self.bidirectional { 2 } else { 1 }
    }

    /// State-dict keys and shapes `LaserLstmEncoder(**params)` has, in its order.
    pub fn expected_shapes(&self) -> Vec<(String, Vec<i64>)> {
        let (e, h) = (self.embed_dim, self.hidden_size);
        let mut v = vec![(
            "embed_tokens.weight".to_string(),
            vec![self.num_embeddings, e],
        )];
        let dirs: &[&str] = if self.bidirectional {
            &["", "_reverse"]
        } else {
            &[""]
        };
        for l in 0..self.num_layers {
            let input = if l == 0 { e } else { self.output_dim() };
            for d in dirs {
                v.push((format!("lstm.weight_ih_l{l}{d}"), vec![4 * h, input]));
                v.push((format!("lstm.weight_hh_l{l}{d}"), vec![4 * h, h]));
                v.push((format!("lstm.bias_ih_l{l}{d}"), vec![4 * h]));
                v.push((format!("lstm.bias_hh_l{l}{d}"), vec![4 * h]));
            }
        }
        v
    }
}

/// A loaded LASER-2 checkpoint.
pub struct Checkpoint {
    pub params: LstmParams,
    /// The state dict, f32 on the CPU, keyed as in `LaserLstmEncoder.state_dict()`.
    pub tensors: HashMap<String, Tensor>,
    /// The checkpoint's own `dictionary` (piece -> id) before SentenceEncoder pins the specials.
    pub dictionary: HashMap<String, i64>,
}

const ZIP_MAGIC: &[u8] = b"PK\x03\x04";

/// Reads and checks `path`. Every error names the file and says what it found.
pub fn read_checkpoint(path: &Path) -> Result<Checkpoint> {
    let bytes = std::fs::read(path)
        .with_context(|| format!("cannot read LASER-2 checkpoint {}", path.display()))?;
    read_checkpoint_bytes(&bytes).with_context(|| {
        format!(
            "{} is not a usable LASER-2 checkpoint (laser2.pt)",
            path.display()
        )
    })
}

fn read_checkpoint_bytes(bytes: &[u8]) -> Result<Checkpoint> {
    if bytes.len() < 4 || &bytes[..4] != ZIP_MAGIC {
        if bytes.len() >= 2 && bytes[0] == 0x80 && bytes[1] == 0x02 {
            bail!(
                "it is a legacy (pre-1.6, non-zip) torch pickle; re-save it once with \
                   torch.save(torch.load(f), f) in a torch >= 1.6 environment"
            );
        }
        bail!("it does not start like a torch.save zip archive (corrupt, truncated or not a checkpoint)");
    }
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes))
        .context("its zip directory cannot be read (truncated or corrupt)")?;
    let pkl = (0..zip.len())
        .filter_map(|i| zip.name_for_index(i).map(str::to_string))
        .find(|n| n.ends_with("/data.pkl") || n == "data.pkl")
        .ok_or_else(|| anyhow!("the zip has no data.pkl (not a torch.save checkpoint)"))?;
    let dir = pkl.strip_suffix(".pkl").expect("suffix").to_string();
    let mut pickle = Vec::new();
    zip.by_name(&pkl)
        .and_then(|mut f| f.read_to_end(&mut pickle).map_err(Into::into))
        .with_context(|| format!("cannot read {pkl} from the zip"))?;
    let mut stack = Stack::empty();
    stack
        .read_loop(&mut Cursor::new(&pickle))
        .map_err(|e| anyhow!("its pickle {pkl} cannot be parsed: {e}"))?;
    let root = stack
        .finalize()
        .map_err(|e| anyhow!("its pickle {pkl} is empty: {e}"))?;
    let mut top = as_dict(root).map_err(|_| anyhow!("its top-level object is not a dict"))?;
    let keys: Vec<String> = top.keys().cloned().collect();
    if !top.contains_key("params") {
        if top.contains_key("cfg") {
            bail!("it is a fairseq transformer checkpoint (it has `cfg`, no `params`), e.g. a LASER-3 \
                   encoder; only LASER-2's BiLSTM (laser2.pt) is supported");
        }
        bail!("it has no `params` entry (keys: {keys:?}); LASER-2's laser2.pt has params, model and dictionary");
    }
    for k in ["model", "dictionary"] {
        if !top.contains_key(k) {
            bail!("it has no `{k}` entry (keys: {keys:?})");
        }
    }
    let params = parse_params(top.remove("params").expect("checked"))?;
    let dictionary = parse_dictionary(top.remove("dictionary").expect("checked"))?;
    let tensors = read_state_dict(top.remove("model").expect("checked"), &dir, &mut zip)?;
    check_shapes(&params, &tensors)?;
    if dictionary.len() as i64 > params.num_embeddings {
        bail!(
            "its dictionary has {} entries but the embedding only {} rows",
            dictionary.len(),
            params.num_embeddings
        );
    }
    if let Some((p, &id)) = dictionary
        .iter()
        .find(|(_, &id)| id < 0 || id >= params.num_embeddings)
    {
        bail!(
            "dictionary entry {p:?} has id {id}, outside the embedding's {} rows",
            params.num_embeddings
        );
    }
    Ok(Checkpoint {
        params,
        tensors,
        dictionary,
    })
}

fn key_string(o: Object) -> Result<String> {
    match o {
        Object::Unicode(s) => Ok(s),
        other => bail!("a dict key is not a string: {other:?}"),
    }
}

fn as_dict(o: Object) -> Result<HashMap<String, Object>> {
    match o {
        Object::Dict(kv) => kv
            .into_iter()
            .map(|(k, v)| Ok((key_string(k)?, v)))
            .collect(),
        _ => bail!("not a dict"),
    }
}

fn as_int(name: &str, o: &Object) -> Result<i64> {
    match o {
        Object::Int(i) => Ok(*i as i64),
        Object::Long(i) => Ok(*i),
        Object::Bool(b) => Ok(*b as i64),
        other => bail!("params.{name} is not an integer: {other:?}"),
    }
}

fn parse_params(o: Object) -> Result<LstmParams> {
    let p = as_dict(o).context("`params` is not a dict")?;
    let known = [
        "num_embeddings",
        "padding_idx",
        "embed_dim",
        "hidden_size",
        "num_layers",
        "bidirectional",
        "left_pad",
        "padding_value",
    ];
    if let Some(k) = p.keys().find(|k| !known.contains(&k.as_str())) {
        bail!("params has an unknown entry `{k}` (LaserLstmEncoder takes {known:?})");
    }
    // LaserLstmEncoder's defaults for what the checkpoint leaves out.
    let int = |k: &str, default: Option<i64>| -> Result<i64> {
        match (p.get(k), default) {
            (Some(o), _) => as_int(k, o),
            (None, Some(d)) => Ok(d),
            (None, None) => bail!("params has no `{k}`"),
        }
    };
    let padding_value = match p.get("padding_value") {
        None => 0.0,
        Some(Object::Float(f)) => *f,
        Some(o) => as_int("padding_value", o)? as f64,
    };
    let params = LstmParams {
        num_embeddings: int("num_embeddings", None)?,
        padding_idx: int("padding_idx", None)?,
        embed_dim: int("embed_dim", Some(320))?,
        hidden_size: int("hidden_size", Some(512))?,
        num_layers: int("num_layers", Some(1))?,
        bidirectional: int("bidirectional", Some(0))? != 0,
        padding_value,
    };
    if params.num_embeddings <= 0
        || params.embed_dim <= 0
        || params.hidden_size <= 0
        || params.num_layers <= 0
    {
        bail!("params has a non-positive size: {params:?}");
    }
    if params.padding_idx != 1 {
        bail!(
            "params.padding_idx is {} but SentenceEncoder pads with id 1",
            params.padding_idx
        );
    }
    Ok(params)
}

fn parse_dictionary(o: Object) -> Result<HashMap<String, i64>> {
    let d = as_dict(o).context("`dictionary` is not a dict of piece -> id")?;
    d.into_iter()
        .map(|(k, v)| as_int(&format!("dictionary[{k:?}]"), &v).map(|i| (k, i)))
        .collect()
}

fn read_state_dict(
    o: Object,
    dir: &str,
    zip: &mut zip::ZipArchive<Cursor<&[u8]>>,
) -> Result<HashMap<String, Tensor>> {
    let entries = match o {
        Object::Dict(kv) => kv,
        _ => bail!("`model` is not a state dict"),
    };
    let mut out = HashMap::new();
    for (k, v) in entries {
        let name = key_string(k.clone())?;
        let info = v
            .into_tensor_info(k, Path::new(dir))
            .map_err(|e| anyhow!("state dict entry `{name}` cannot be read: {e}"))?;
        let Some(info) = info else {
            if name == "_metadata" {
                continue; // the OrderedDict attribute that state_dict() pickles
            }
            bail!("state dict entry `{name}` is not a tensor");
        };
        out.insert(
            name.clone(),
            read_tensor(&info, zip).with_context(|| format!("state dict entry `{name}`"))?,
        );
    }
    Ok(out)
}

fn read_tensor(
    info: &candle_core::pickle::TensorInfo,
    zip: &mut zip::ZipArchive<Cursor<&[u8]>>,
) -> Result<Tensor> {
    let mut raw = Vec::new();
    zip.by_name(&info.path)
        .and_then(|mut f| f.read_to_end(&mut raw).map_err(Into::into))
        .with_context(|| {
            format!(
                "its storage {} is missing or unreadable (truncated file?)",
                info.path
            )
        })?;
    let values: Vec<f32> = match info.dtype {
        DType::F32 => raw
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
        DType::F64 => raw
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes(c.try_into().expect("8")) as f32)
            .collect(),
        DType::F16 => raw
            .chunks_exact(2)
            .map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32())
            .collect(),
        DType::BF16 => raw
            .chunks_exact(2)
            .map(|c| half::bf16::from_le_bytes([c[0], c[1]]).to_f32())
            .collect(),
        other => bail!("dtype {other:?} is not a float weight type"),
    };
    let layout = &info.layout;
    let shape: Vec<i64> = layout.shape().dims().iter().map(|&d| d as i64).collect();
    let stride: Vec<i64> = layout.stride().iter().map(|&s| s as i64).collect();
    let numel: i64 = shape.iter().product();
    let offset = layout.start_offset() as i64;
    // Highest element the view touches must lie inside the storage.
    let last = offset
        + shape
            .iter()
            .zip(&stride)
            .map(|(d, s)| (d - 1).max(0) * s)
            .sum::<i64>();
    if numel > 0 && last as usize >= values.len() {
        bail!("its view (shape {shape:?}, stride {stride:?}, offset {offset}) runs past its storage of {} values", values.len());
    }
    let storage = Tensor::from_slice(&values);
    let t = if numel == 0 {
        Tensor::zeros(shape.as_slice(), (tch::Kind::Float, tch::Device::Cpu))
    } else {
        storage
            .as_strided(shape.as_slice(), stride.as_slice(), offset)
            .contiguous()
    };
    Ok(t)
}

fn check_shapes(params: &LstmParams, tensors: &HashMap<String, Tensor>) -> Result<()> {
    let expected = params.expected_shapes();
    for (k, shape) in &expected {
        let t = tensors
            .get(k)
            .ok_or_else(|| anyhow!("state dict has no `{k}` (params say {params:?})"))?;
        if t.size() != *shape {
            bail!(
                "state dict `{k}` has shape {:?} but params imply {shape:?}",
                t.size()
            );
        }
        let finite = t.isfinite().all().int64_value(&[]) != 0;
        if !finite {
            bail!("state dict `{k}` holds non-finite values");
        }
    }
    if let Some(k) = tensors
        .keys()
        .find(|k| !expected.iter().any(|(e, _)| e == *k))
    {
        bail!("state dict has an unexpected entry `{k}` for a LaserLstmEncoder");
    }
    Ok(())
}
