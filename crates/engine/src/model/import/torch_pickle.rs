//! Reading `torch.save(model.state_dict(), "….pt")`: a zip holding `<folder>/data.pkl` (a
//! pickle of an `OrderedDict` of `torch._utils._rebuild_tensor_v2` calls) and one entry
//! `<folder>/data/<key>` per tensor storage.
//!
//! The pickle is run by a small machine of its own rather than a general unpickler: it knows the
//! opcodes `torch.save` writes (protocols 2 to 4), builds no Python objects, calls nothing, and
//! keeps every object in one flat arena (memo entries are indices, so a hostile pickle cannot
//! make copies multiply, nest deeply or allocate more than its own length). The tensors' bytes
//! are read only after their sizes are checked against the zip entries.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{DType, Device, Tensor};

use super::zip_entry;

/// A tensor read from a state dict: name, shape, values as f32.
pub type NamedTensor = (String, Vec<usize>, Vec<f32>);

/// The largest `data.pkl` read (a state dict's pickle is about 150 bytes per tensor; this
/// bounds the arena to a few million objects).
const MAX_PICKLE: u64 = 1 << 20;
/// The largest tensor storage read, in bytes.
const MAX_STORAGE: u64 = 256 << 20;

type Id = usize;

#[derive(Debug)]
enum Obj {
    None,
    Bool,
    Int(i64),
    Float,
    Str(String),
    Bytes,
    Tuple(Vec<Id>),
    List(Vec<Id>),
    Dict(Vec<(Id, Id)>),
    Global(String, String),
    /// `callable(*args)`, not called.
    Reduce(Id, Id),
    PersId(Id),
    /// `obj.__setstate__(state)`, not applied: only the object is kept.
    Build(Id),
}

/// The pickle machine: an arena of objects, the stack (ids), the marks, the memo.
struct Machine<'a> {
    data: &'a [u8],
    pos: usize,
    arena: Vec<Obj>,
    stack: Vec<Id>,
    marks: Vec<usize>,
    memo: HashMap<u32, Id>,
}

impl<'a> Machine<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.data.len());
        let Some(end) = end else {
            return Err("the pickle ends early".into());
        };
        let s = &self.data[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> Result<u16, String> {
        let b = self.take(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    fn u32(&mut self) -> Result<u32, String> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn line(&mut self) -> Result<String, String> {
        let rest = &self.data[self.pos..];
        let Some(n) = rest.iter().position(|&b| b == b'\n') else {
            return Err("the pickle ends early".into());
        };
        let s = String::from_utf8_lossy(&rest[..n]).into_owned();
        self.pos += n + 1;
        Ok(s)
    }

    fn string(&mut self, n: usize) -> Result<String, String> {
        let b = self.take(n)?;
        String::from_utf8(b.to_vec())
            .map_err(|_| "the pickle holds a string that is not UTF-8".into())
    }

    fn push(&mut self, o: Obj) {
        self.arena.push(o);
        self.stack.push(self.arena.len() - 1);
    }

    fn pop(&mut self) -> Result<Id, String> {
        if self.marks.last().is_some_and(|&m| m >= self.stack.len()) {
            return Err("the pickle pops past a mark".into());
        }
        self.stack
            .pop()
            .ok_or_else(|| "the pickle pops an empty stack".into())
    }

    fn pop_mark(&mut self) -> Result<Vec<Id>, String> {
        let m = self.marks.pop().ok_or("the pickle has no mark")?;
        Ok(self.stack.split_off(m.min(self.stack.len())))
    }

    fn top(&self) -> Result<Id, String> {
        self.stack
            .last()
            .copied()
            .ok_or_else(|| "the pickle's stack is empty".into())
    }

    fn memo_put(&mut self, key: u32) -> Result<(), String> {
        let id = self.top()?;
        self.memo.insert(key, id);
        Ok(())
    }

    fn memo_get(&mut self, key: u32) -> Result<(), String> {
        let id = *self
            .memo
            .get(&key)
            .ok_or("the pickle refers to an unknown memo entry")?;
        self.stack.push(id);
        Ok(())
    }

    fn is_global(&self, id: Id, module: &str, name: &str) -> bool {
        matches!(&self.arena[id], Obj::Global(m, n) if m == module && n == name)
    }

    fn set_items(&mut self, items: Vec<Id>) -> Result<(), String> {
        if !items.len().is_multiple_of(2) {
            return Err("the pickle sets a key without a value".into());
        }
        let target = self.top()?;
        let Obj::Dict(d) = &mut self.arena[target] else {
            return Err("the pickle sets items on something that is not a dict".into());
        };
        d.extend(items.chunks_exact(2).map(|p| (p[0], p[1])));
        Ok(())
    }

    fn append(&mut self, items: Vec<Id>) -> Result<(), String> {
        let target = self.top()?;
        let Obj::List(l) = &mut self.arena[target] else {
            return Err("the pickle appends to something that is not a list".into());
        };
        l.extend(items);
        Ok(())
    }

    /// Runs to STOP; the object left on the stack.
    fn run(&mut self) -> Result<Id, String> {
        loop {
            let op = self.u8()?;
            match op {
                0x80 => {
                    self.u8()?; // PROTO
                }
                0x95 => {
                    self.take(8)?; // FRAME
                }
                b'.' => return self.pop(),
                b'(' => self.marks.push(self.stack.len()),
                b'N' => self.push(Obj::None),
                0x88 | 0x89 => self.push(Obj::Bool),
                b'K' => {
                    let v = self.u8()?;
                    self.push(Obj::Int(v.into()))
                }
                b'M' => {
                    let v = self.u16()?;
                    self.push(Obj::Int(v.into()))
                }
                b'J' => {
                    let v = self.u32()? as i32;
                    self.push(Obj::Int(v.into()))
                }
                0x8a => {
                    // LONG1: a little-endian two's complement integer of n bytes.
                    let n = self.u8()? as usize;
                    let b = self.take(n)?;
                    let v = if n <= 8 {
                        let fill = if b.last().is_some_and(|&x| x & 0x80 != 0) {
                            0xff
                        } else {
                            0
                        };
                        let mut w = [fill; 8];
                        w[..n].copy_from_slice(b);
                        i64::from_le_bytes(w)
                    } else {
                        i64::MAX
                    };
                    self.push(Obj::Int(v))
                }
                b'G' => {
                    self.take(8)?;
                    self.push(Obj::Float)
                }
                b'X' => {
                    let n = self.u32()? as usize;
                    let s = self.string(n)?;
                    self.push(Obj::Str(s))
                }
                0x8c => {
                    let n = self.u8()? as usize;
                    let s = self.string(n)?;
                    self.push(Obj::Str(s))
                }
                b'C' => {
                    let n = self.u8()? as usize;
                    self.take(n)?;
                    self.push(Obj::Bytes)
                }
                b'B' => {
                    let n = self.u32()? as usize;
                    self.take(n)?;
                    self.push(Obj::Bytes)
                }
                b'c' => {
                    let module = self.line()?;
                    let name = self.line()?;
                    self.push(Obj::Global(module, name))
                }
                0x93 => {
                    let name = self.pop()?;
                    let module = self.pop()?;
                    let (Obj::Str(m), Obj::Str(n)) = (&self.arena[module], &self.arena[name])
                    else {
                        return Err("the pickle names a class with something not a string".into());
                    };
                    let g = Obj::Global(m.clone(), n.clone());
                    self.push(g)
                }
                b')' => self.push(Obj::Tuple(Vec::new())),
                b']' => self.push(Obj::List(Vec::new())),
                b'}' => self.push(Obj::Dict(Vec::new())),
                b't' => {
                    let items = self.pop_mark()?;
                    self.push(Obj::Tuple(items))
                }
                b'l' => {
                    let items = self.pop_mark()?;
                    self.push(Obj::List(items))
                }
                b'd' => {
                    let items = self.pop_mark()?;
                    self.push(Obj::Dict(Vec::new()));
                    self.set_items(items)?
                }
                0x85..=0x87 => {
                    let n = (op - 0x84) as usize;
                    let mut items = Vec::with_capacity(n);
                    for _ in 0..n {
                        items.push(self.pop()?);
                    }
                    items.reverse();
                    self.push(Obj::Tuple(items))
                }
                b'q' => {
                    let k = self.u8()?;
                    self.memo_put(k.into())?
                }
                b'r' => {
                    let k = self.u32()?;
                    self.memo_put(k)?
                }
                0x94 => {
                    let k = self.memo.len() as u32;
                    self.memo_put(k)?
                }
                b'h' => {
                    let k = self.u8()?;
                    self.memo_get(k.into())?
                }
                b'j' => {
                    let k = self.u32()?;
                    self.memo_get(k)?
                }
                b's' => {
                    let v = self.pop()?;
                    let k = self.pop()?;
                    self.set_items(vec![k, v])?
                }
                b'u' => {
                    let items = self.pop_mark()?;
                    self.set_items(items)?
                }
                b'a' => {
                    let v = self.pop()?;
                    self.append(vec![v])?
                }
                b'e' => {
                    let items = self.pop_mark()?;
                    self.append(items)?
                }
                b'R' | 0x81 => {
                    let args = self.pop()?;
                    let callable = self.pop()?;
                    if self.is_global(callable, "collections", "OrderedDict") {
                        self.push(Obj::Dict(Vec::new()))
                    } else {
                        self.push(Obj::Reduce(callable, args))
                    }
                }
                b'Q' => {
                    let id = self.pop()?;
                    self.push(Obj::PersId(id))
                }
                b'b' => {
                    self.pop()?; // the state
                    let obj = self.pop()?;
                    if matches!(self.arena[obj], Obj::Dict(_)) {
                        // An OrderedDict's attributes (`_metadata`): not needed.
                        self.stack.push(obj)
                    } else {
                        self.push(Obj::Build(obj))
                    }
                }
                other => {
                    return Err(format!(
                        "the pickle uses opcode 0x{other:02x}, which a state dict does not"
                    ))
                }
            }
        }
    }

    fn str(&self, id: Id) -> Option<&str> {
        match &self.arena[id] {
            Obj::Str(s) => Some(s),
            _ => None,
        }
    }

    fn int(&self, id: Id) -> Option<i64> {
        match self.arena[id] {
            Obj::Int(v) => Some(v),
            _ => None,
        }
    }

    fn tuple(&self, id: Id) -> Option<&[Id]> {
        match &self.arena[id] {
            Obj::Tuple(t) => Some(t),
            _ => None,
        }
    }

    fn ints(&self, id: Id) -> Option<Vec<usize>> {
        self.tuple(id)?
            .iter()
            .map(|&i| self.int(i).and_then(|v| usize::try_from(v).ok()))
            .collect()
    }

    /// The class a whole pickled object was made from, e.g. "__main__.Autoencoder".
    fn class_of(&self, mut id: Id) -> Option<String> {
        for _ in 0..4 {
            match &self.arena[id] {
                Obj::Build(o) => id = *o,
                Obj::Reduce(c, args) => {
                    // copyreg._reconstructor(cls, base, state): the class is the first argument.
                    if let Obj::Global(m, n) = &self.arena[*c] {
                        if m != "copyreg" && m != "__builtin__" && m != "builtins" {
                            return Some(format!("{m}.{n}"));
                        }
                    }
                    id = *self.tuple(*args)?.first()?;
                }
                Obj::Global(m, n) => return Some(format!("{m}.{n}")),
                _ => return None,
            }
        }
        None
    }
}

/// Where a tensor's values are: its storage entry, dtype and view.
struct TensorRef {
    name: String,
    key: String,
    dtype: DType,
    storage_numel: usize,
    offset: usize,
    shape: Vec<usize>,
}

/// The tensor a state dict's value describes, or why it is not one.
fn tensor_ref(m: &Machine, name: String, value: Id) -> Result<TensorRef, String> {
    let bad = |what: &str| format!("'{name}' is not a tensor PyTorch saved ({what})");
    let Obj::Reduce(mut callable, mut args) = m.arena[value] else {
        return Err(bad("not a rebuilt tensor"));
    };
    if m.is_global(callable, "torch._utils", "_rebuild_parameter") {
        let inner = *m
            .tuple(args)
            .and_then(|a| a.first())
            .ok_or_else(|| bad("no data"))?;
        let Obj::Reduce(c, a) = m.arena[inner] else {
            return Err(bad("a parameter without a tensor"));
        };
        (callable, args) = (c, a);
    }
    if !m.is_global(callable, "torch._utils", "_rebuild_tensor_v2") {
        return Err(bad("an object other than _rebuild_tensor_v2"));
    }
    let a = m
        .tuple(args)
        .filter(|a| a.len() >= 4)
        .ok_or_else(|| bad("short arguments"))?;
    let Obj::PersId(pid) = m.arena[a[0]] else {
        return Err(bad("no storage"));
    };
    let p = m
        .tuple(pid)
        .filter(|p| p.len() >= 5)
        .ok_or_else(|| bad("a bad storage"))?;
    let storage_class = match &m.arena[p[1]] {
        Obj::Global(_, n) => n.clone(),
        _ => return Err(bad("a storage without a type")),
    };
    let dtype = match storage_class.as_str() {
        "FloatStorage" => DType::F32,
        "DoubleStorage" => DType::F64,
        "HalfStorage" => DType::F16,
        "BFloat16Storage" => DType::BF16,
        other => {
            return Err(format!(
                "'{name}' is stored as {other}; expected float32, float64, float16 or bfloat16"
            ))
        }
    };
    let key = m
        .str(p[2])
        .ok_or_else(|| bad("a storage without a key"))?
        .to_string();
    let storage_numel = m.int(p[4]).and_then(|v| usize::try_from(v).ok());
    let offset = m.int(a[1]).and_then(|v| usize::try_from(v).ok());
    let (Some(storage_numel), Some(offset)) = (storage_numel, offset) else {
        return Err(bad("a bad size"));
    };
    let shape = m.ints(a[2]).ok_or_else(|| bad("a bad shape"))?;
    let stride = m.ints(a[3]).ok_or_else(|| bad("a bad stride"))?;
    let numel = shape
        .iter()
        .try_fold(1usize, |n, &d| n.checked_mul(d))
        .ok_or_else(|| bad("a bad shape"))?;
    let mut want = 1usize;
    for (d, s) in shape.iter().zip(&stride).rev() {
        if *d > 1 && *s != want {
            return Err(format!(
                "'{name}' is not contiguous; save it after .contiguous()"
            ));
        }
        want = want.saturating_mul(*d);
    }
    if shape.len() != stride.len() || offset.checked_add(numel).is_none_or(|e| e > storage_numel) {
        return Err(bad("a view outside its storage"));
    }
    Ok(TensorRef {
        name,
        key,
        dtype,
        storage_numel,
        offset,
        shape,
    })
}

/// Reads every tensor of a `torch.save`d state dict, in the dict's order.
pub fn read(path: &Path) -> Result<Vec<NamedTensor>, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("cannot be read ({e})"))?;
    let mut zip = zip::ZipArchive::new(std::io::BufReader::new(file)).map_err(|_| {
        "is not a zip as torch.save writes it (a legacy pre-1.6 .pt or another file); \
         save it with torch.save(model.state_dict(), path) or as .safetensors"
            .to_string()
    })?;
    let pkl: Vec<String> = zip
        .file_names()
        .filter_map(|n| n.ok().map(|n| n.into_owned()))
        .filter(|n| n == "data.pkl" || n.ends_with("/data.pkl"))
        .collect();
    let [pkl] = pkl.as_slice() else {
        return Err(format!(
            "holds {} data.pkl entries where a torch.save zip holds one",
            pkl.len()
        ));
    };
    let folder = pkl.strip_suffix("data.pkl").unwrap_or("").to_string();
    let pickle = zip_entry(&mut zip, pkl, MAX_PICKLE, || no_entry(pkl))?;
    let mut m = Machine {
        data: &pickle,
        pos: 0,
        arena: Vec::new(),
        stack: Vec::new(),
        marks: Vec::new(),
        memo: HashMap::new(),
    };
    let root = m.run()?;
    let items = state_dict(&m, root)?;
    let mut out = Vec::with_capacity(items.len());
    for (k, v) in items {
        let Some(name) = m.str(k) else {
            return Err("the state dict has a key that is not a string".into());
        };
        let t = tensor_ref(&m, name.to_string(), v)?;
        let size = t.dtype.size_in_bytes() as u64;
        let bytes = {
            let name = format!("{folder}data/{}", t.key);
            zip_entry(&mut zip, &name, MAX_STORAGE, || no_entry(&name))?
        };
        if (bytes.len() as u64) < (t.storage_numel as u64).saturating_mul(size) {
            return Err(format!(
                "the data of '{}' is shorter than its storage",
                t.name
            ));
        }
        let start = t.offset * size as usize;
        let n: usize = t.shape.iter().product();
        let raw = &bytes[start..start + n * size as usize];
        out.push((
            t.name.clone(),
            t.shape.clone(),
            to_f32(raw, t.dtype, &t.shape)?,
        ));
    }
    Ok(out)
}

/// The (key, value) pairs of the state dict at the pickle's root, or a sentence saying what the
/// root is instead.
fn state_dict(m: &Machine, root: Id) -> Result<Vec<(Id, Id)>, String> {
    let Obj::Dict(items) = &m.arena[root] else {
        return Err(match m.class_of(root) {
            Some(c) => {
                format!("holds a whole pickled nn.Module ({c}); save model.state_dict() instead")
            }
            None => "does not hold a state dict; save model.state_dict() instead".into(),
        });
    };
    let is_tensor = |v: &Id| matches!(m.arena[*v], Obj::Reduce(..));
    if items.iter().any(|(_, v)| is_tensor(v)) {
        return Ok(items.clone());
    }
    // A checkpoint {"model_state_dict": {...}, "optimizer": ...}: the first dict of tensors.
    for key in ["state_dict", "model_state_dict", "model"] {
        for (k, v) in items {
            if m.str(*k) == Some(key) {
                if let Obj::Dict(inner) = &m.arena[*v] {
                    if inner.iter().any(|(_, v)| is_tensor(v)) {
                        return Ok(inner.clone());
                    }
                }
            }
        }
    }
    if items.is_empty() {
        return Err("holds an empty state dict".into());
    }
    Err("holds a dict without tensors (expected model.state_dict())".into())
}

/// The sentence for a `.pt` without the entry `name`.
fn no_entry(name: &str) -> String {
    format!("has no entry '{name}'")
}

/// Little-endian floats of `dtype` as f32.
pub fn to_f32(raw: &[u8], dtype: DType, shape: &[usize]) -> Result<Vec<f32>, String> {
    if dtype == DType::F32 {
        return Ok(raw
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect());
    }
    let n: usize = shape.iter().product();
    Tensor::from_raw_buffer(raw, dtype, &[n], &Device::Cpu)
        .and_then(|t| t.to_dtype(DType::F32))
        .and_then(|t| t.to_vec1::<f32>())
        .map_err(|e| format!("cannot convert a tensor to float32 ({e})"))
}
