//! A small ONNX graph builder on top of `onnx-protobuf`.
//!
//! Architectures in CRAG describe their graphs through [`GraphBuilder`]: every helper adds nodes for one
//! PyTorch-equivalent layer (`Linear`, `LayerNorm`, exact-erf `GELU`, ...) so that the exported graph computes the
//! same function as the trainer's modules and the reference forward passes in this crate.

use onnx_protobuf::{
    attribute_proto::AttributeType, tensor_proto::DataType, tensor_shape_proto, type_proto,
    AttributeProto, GraphProto, Message, ModelProto, NodeProto, OperatorSetIdProto, TensorProto,
    TensorShapeProto, TypeProto, ValueInfoProto,
};

use serde::{Deserialize, Serialize};

use crate::{CragError, Result};

/// ONNX opset the exporters target (LayerNormalization needs 17; reductions keep attribute axes up to 17).
pub const OPSET: i64 = 17;

/// Read the parameters of `specs` back from a graph written by [`GraphBuilder`]: a float32 initializer of the
/// parameter's name, or an int8 matrix (`name.int8` with per-row `name.scale`, dequantized). Used to continue
/// training from a shipped model (int8 weights come back with their quantisation error; of a table exported as its
/// row 0 only, the other rows come back as zeros).
pub fn weights_from_onnx(
    bytes: &[u8],
    specs: &[crate::weights::ParamSpec],
) -> Result<crate::weights::Weights> {
    let model = ModelProto::parse_from_bytes(bytes)
        .map_err(|e| CragError::CorruptModel(format!("not an ONNX model: {e}")))?;
    let inits: std::collections::HashMap<&str, &TensorProto> = model
        .graph
        .initializer
        .iter()
        .map(|t| (t.name.as_str(), t))
        .collect();
    let floats = |t: &TensorProto| -> Result<Vec<f32>> {
        if t.data_type != DataType::FLOAT as i32 {
            return Err(CragError::CorruptModel(format!(
                "{} is not float32",
                t.name
            )));
        }
        if !t.float_data.is_empty() {
            return Ok(t.float_data.clone());
        }
        Ok(t.raw_data
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect())
    };
    let mut w = crate::weights::Weights::new();
    for spec in specs {
        let data = if let Some(t) = inits.get(spec.name.as_str()) {
            floats(t)?
        } else if let (Some(q), Some(s)) = (
            inits.get(format!("{}.int8", spec.name).as_str()),
            inits.get(format!("{}.scale", spec.name).as_str()),
        ) {
            let cols = *spec.shape.last().unwrap_or(&1);
            let qv: Vec<i8> = q.raw_data.iter().map(|&b| b as i8).collect();
            dequantize_rows_int8(&qv, &floats(s)?, cols)
        } else if let Some(row0) = spec
            .name
            .strip_suffix(".weight")
            .and_then(|base| inits.get(format!("{base}.row0").as_str()))
        {
            // Only row 0 of a table was exported (BERT's token types: every input is segment 0); the other rows
            // are never read by the graph and come back as zeros.
            let mut data = floats(row0)?;
            data.resize(spec.numel(), 0.0);
            data
        } else {
            return Err(CragError::CorruptModel(format!(
                "the graph has no initializer for parameter {}",
                spec.name
            )));
        };
        w.insert(spec.name.clone(), spec.shape.clone(), data)?;
    }
    w.validate(specs)?;
    Ok(w)
}

/// One dimension of a graph input or output.
#[derive(Debug, Clone)]
pub enum Dim {
    /// A fixed size.
    Fixed(usize),
    /// A symbolic (dynamic) size such as the batch dimension.
    Symbolic(&'static str),
}

/// How [`GraphBuilder::weight_matrix`] stores large weight matrices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WeightPrecision {
    /// float32 initializers (exact).
    #[default]
    F32,
    /// Symmetric per-row int8 initializers with one float32 scale per row, expanded by `DequantizeLinear`
    /// (weight-only quantisation: 4× smaller files, float32 arithmetic).
    Int8,
}

/// Symmetric per-row int8 quantisation of a row-major `[rows, cols]` matrix: `q = round(x / s)`, `s = max|row| / 127`
/// (`s = 1` for an all-zero row). Returns the int8 values and the per-row scales.
pub fn quantize_rows_int8(data: &[f32], rows: usize, cols: usize) -> (Vec<i8>, Vec<f32>) {
    let mut q = Vec::with_capacity(rows * cols);
    let mut scales = Vec::with_capacity(rows);
    for row in data.chunks(cols.max(1)).take(rows) {
        let amax = row.iter().fold(0.0f32, |m, &v| m.max(v.abs()));
        let s = if amax > 0.0 { amax / 127.0 } else { 1.0 };
        scales.push(s);
        q.extend(
            row.iter()
                .map(|&v| (v / s).round().clamp(-127.0, 127.0) as i8),
        );
    }
    (q, scales)
}

/// What `DequantizeLinear` computes from [`quantize_rows_int8`]'s output: the float32 matrix the int8 graph uses.
pub fn dequantize_rows_int8(q: &[i8], scales: &[f32], cols: usize) -> Vec<f32> {
    q.chunks(cols.max(1))
        .zip(scales)
        .flat_map(|(row, &s)| row.iter().map(move |&v| f32::from(v) * s))
        .collect()
}

/// Incrementally builds an ONNX graph; names of intermediate values are generated.
pub struct GraphBuilder {
    graph: GraphProto,
    counter: usize,
    precision: WeightPrecision,
}

/// An integer node attribute.
pub fn attr_int(name: &str, v: i64) -> AttributeProto {
    let mut a = AttributeProto::new();
    a.name = name.to_string();
    a.type_ = AttributeType::INT.into();
    a.i = v;
    a
}

fn attr_float(name: &str, v: f32) -> AttributeProto {
    let mut a = AttributeProto::new();
    a.name = name.to_string();
    a.type_ = AttributeType::FLOAT.into();
    a.f = v;
    a
}

fn attr_ints(name: &str, v: &[i64]) -> AttributeProto {
    let mut a = AttributeProto::new();
    a.name = name.to_string();
    a.type_ = AttributeType::INTS.into();
    a.ints = v.to_vec();
    a
}

fn value_info(name: &str, elem: DataType, dims: &[Dim]) -> ValueInfoProto {
    let mut shape = TensorShapeProto::new();
    for d in dims {
        let mut dim = tensor_shape_proto::Dimension::new();
        match d {
            Dim::Fixed(n) => dim.set_dim_value(*n as i64),
            Dim::Symbolic(s) => dim.set_dim_param((*s).to_string()),
        }
        shape.dim.push(dim);
    }
    let mut tensor = type_proto::Tensor::new();
    tensor.elem_type = elem as i32;
    tensor.shape = Some(shape).into();
    let mut tp = TypeProto::new();
    tp.set_tensor_type(tensor);
    let mut vi = ValueInfoProto::new();
    vi.name = name.to_string();
    vi.type_ = Some(tp).into();
    vi
}

impl GraphBuilder {
    /// Start an empty graph with the given name.
    pub fn new(name: &str) -> Self {
        let mut graph = GraphProto::new();
        graph.name = name.to_string();
        GraphBuilder {
            graph,
            counter: 0,
            precision: WeightPrecision::F32,
        }
    }

    /// Choose how later [`Self::weight_matrix`] calls store their data (float32 by default).
    pub fn set_weight_precision(&mut self, precision: WeightPrecision) {
        self.precision = precision;
    }

    /// A `[rows, cols]` weight matrix (a `Linear` weight or an embedding table) in the builder's
    /// [`WeightPrecision`]: a float32 initializer called `name`, or an int8 initializer `name.int8` with per-row
    /// scales `name.scale` expanded by `DequantizeLinear(axis = 0)`. Returns the value to use as the matrix.
    pub fn weight_matrix(&mut self, name: &str, shape: [usize; 2], data: &[f32]) -> Result<String> {
        match self.precision {
            WeightPrecision::F32 => self.initializer(name, &shape, data),
            WeightPrecision::Int8 => {
                let [rows, cols] = shape;
                if rows * cols != data.len() {
                    return Err(CragError::CorruptModel(format!(
                        "tensor {name}: shape {shape:?} needs {} values, got {}",
                        rows * cols,
                        data.len()
                    )));
                }
                let (q, scales) = quantize_rows_int8(data, rows, cols);
                let mut t = TensorProto::new();
                t.name = format!("{name}.int8");
                t.data_type = DataType::INT8 as i32;
                t.dims = vec![rows as i64, cols as i64];
                t.raw_data = q.iter().map(|&v| v as u8).collect();
                self.graph.initializer.push(t);
                let scale = self.initializer(&format!("{name}.scale"), &[rows], &scales)?;
                Ok(self.node(
                    "DequantizeLinear",
                    &[&format!("{name}.int8"), &scale],
                    name,
                    vec![attr_int("axis", 0)],
                ))
            }
        }
    }

    fn fresh(&mut self, hint: &str) -> String {
        self.counter += 1;
        format!("{hint}_{}", self.counter)
    }

    /// Declare a float32 graph input.
    pub fn input(&mut self, name: &str, dims: &[Dim]) -> String {
        self.graph
            .input
            .push(value_info(name, DataType::FLOAT, dims));
        name.to_string()
    }

    /// Expose `value` as a float32 graph output called `name`.
    pub fn output(&mut self, value: &str, name: &str, dims: &[Dim]) {
        self.node("Identity", &[value], name, vec![]);
        self.graph
            .output
            .push(value_info(name, DataType::FLOAT, dims));
    }

    /// Add a float32 initializer (a weight) stored as little-endian raw bytes.
    pub fn initializer(&mut self, name: &str, shape: &[usize], data: &[f32]) -> Result<String> {
        let expected: usize = shape.iter().product();
        if expected != data.len() {
            return Err(CragError::CorruptModel(format!(
                "tensor {name}: shape {shape:?} needs {expected} values, got {}",
                data.len()
            )));
        }
        let mut t = TensorProto::new();
        t.name = name.to_string();
        t.data_type = DataType::FLOAT as i32;
        t.dims = shape.iter().map(|&d| d as i64).collect();
        t.raw_data = data.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.graph.initializer.push(t);
        Ok(name.to_string())
    }

    /// Add an int64 initializer (used for shape-like operands such as `axes`).
    pub fn initializer_i64(&mut self, name: &str, data: &[i64]) -> String {
        let mut t = TensorProto::new();
        t.name = name.to_string();
        t.data_type = DataType::INT64 as i32;
        t.dims = vec![data.len() as i64];
        t.raw_data = data.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.graph.initializer.push(t);
        name.to_string()
    }

    /// A float32 scalar constant.
    pub fn scalar(&mut self, hint: &str, v: f32) -> Result<String> {
        let name = self.fresh(hint);
        self.initializer(&name, &[], &[v])
    }

    /// Add a node with one output; returns the output name.
    pub fn node(
        &mut self,
        op: &str,
        inputs: &[&str],
        output: &str,
        attrs: Vec<AttributeProto>,
    ) -> String {
        let mut n = NodeProto::new();
        n.op_type = op.to_string();
        n.name = format!("{op}_{}", self.graph.node.len());
        n.input = inputs.iter().map(|s| s.to_string()).collect();
        n.output = vec![output.to_string()];
        n.attribute = attrs;
        self.graph.node.push(n);
        output.to_string()
    }

    /// Add a node whose output gets a generated name.
    pub fn op(&mut self, op: &str, inputs: &[&str], attrs: Vec<AttributeProto>) -> String {
        let out = self.fresh(&op.to_lowercase());
        self.node(op, inputs, &out, attrs)
    }

    /// `torch.nn.Linear`: `x @ W^T + b` with `W` stored `[out, in]`.
    pub fn linear(&mut self, x: &str, weight: &str, bias: Option<&str>) -> String {
        let mut inputs = vec![x, weight];
        if let Some(b) = bias {
            inputs.push(b);
        }
        self.op("Gemm", &inputs, vec![attr_int("transB", 1)])
    }

    /// A float32 `torch.nn.Linear` whose weight `[out, inp]` and bias `[out]` are the parameters `{name}.weight` and
    /// `{name}.bias` of `w`, applied to `x`.
    pub fn dense(
        &mut self,
        x: &str,
        w: &crate::weights::Weights,
        name: &str,
        out: usize,
        inp: usize,
    ) -> Result<String> {
        let wn = format!("{name}.weight");
        let bn = format!("{name}.bias");
        let wt = self.initializer(&wn, &[out, inp], w.get(&wn, &[out, inp])?)?;
        let bs = self.initializer(&bn, &[out], w.get(&bn, &[out])?)?;
        Ok(self.linear(x, &wt, Some(&bs)))
    }

    /// `torch.nn.LayerNorm` over the last axis.
    pub fn layer_norm(&mut self, x: &str, gamma: &str, beta: &str, eps: f32) -> String {
        self.op(
            "LayerNormalization",
            &[x, gamma, beta],
            vec![attr_int("axis", -1), attr_float("epsilon", eps)],
        )
    }

    /// Exact GELU, `0.5 x (1 + erf(x / sqrt 2))` (PyTorch's default), written with `Erf`.
    pub fn gelu(&mut self, x: &str) -> Result<String> {
        let inv_sqrt2 = self.scalar("inv_sqrt2", std::f32::consts::FRAC_1_SQRT_2)?;
        let one = self.scalar("one", 1.0)?;
        let half = self.scalar("half", 0.5)?;
        let scaled = self.op("Mul", &[x, &inv_sqrt2], vec![]);
        let erf = self.op("Erf", &[&scaled], vec![]);
        let plus = self.op("Add", &[&erf, &one], vec![]);
        let hx = self.op("Mul", &[x, &half], vec![]);
        Ok(self.op("Mul", &[&hx, &plus], vec![]))
    }

    /// `F.normalize(x, dim=-1)`: `x / max(||x||_2, eps)` row-wise.
    pub fn l2_normalize(&mut self, x: &str, eps: f32) -> Result<String> {
        let norm = self.op(
            "ReduceL2",
            &[x],
            vec![attr_ints("axes", &[-1]), attr_int("keepdims", 1)],
        );
        let eps = self.scalar("eps", eps)?;
        let clamped = self.op("Max", &[&norm, &eps], vec![]);
        Ok(self.op("Div", &[x, &clamped], vec![]))
    }

    /// Sum over the last axis, dropping it.
    pub fn sum_last(&mut self, x: &str) -> String {
        let axes = self.fresh("axes_last");
        let axes = self.initializer_i64(&axes, &[-1]);
        self.op("ReduceSum", &[x, &axes], vec![attr_int("keepdims", 0)])
    }

    /// Serialise the graph into a model with CRAG's producer name and metadata.
    pub fn finish(self, metadata: &[(&str, String)]) -> Result<Vec<u8>> {
        let mut model = ModelProto::new();
        model.ir_version = 8;
        model.producer_name = "crag".to_string();
        model.producer_version = env!("CARGO_PKG_VERSION").to_string();
        let mut opset = OperatorSetIdProto::new();
        opset.domain = String::new();
        opset.version = OPSET;
        model.opset_import.push(opset);
        for (k, v) in metadata {
            let mut e = onnx_protobuf::StringStringEntryProto::new();
            e.key = (*k).to_string();
            e.value = v.clone();
            model.metadata_props.push(e);
        }
        model.graph = Some(self.graph).into();
        model
            .write_to_bytes()
            .map_err(|e| CragError::Runtime(format!("serialising ONNX model: {e}")))
    }
}

/// Integer inputs, integer constants and the tensor-shuffling operators used by the transformer exporters.
impl GraphBuilder {
    /// Declare an int64 graph input (token ids, attention masks).
    pub fn input_i64(&mut self, name: &str, dims: &[Dim]) -> String {
        self.graph
            .input
            .push(value_info(name, DataType::INT64, dims));
        name.to_string()
    }

    /// A 1-D int64 constant with a generated name (shapes, axes, slice bounds).
    pub fn const_i64(&mut self, hint: &str, data: &[i64]) -> String {
        let name = self.fresh(hint);
        self.initializer_i64(&name, data)
    }

    /// A 0-D (scalar) int64 constant with a generated name, e.g. a `Gather` index that drops its axis.
    pub fn scalar_i64(&mut self, hint: &str, v: i64) -> String {
        let name = self.fresh(hint);
        let mut t = TensorProto::new();
        t.name = name.clone();
        t.data_type = DataType::INT64 as i32;
        t.raw_data = v.to_le_bytes().to_vec();
        self.graph.initializer.push(t);
        name
    }

    /// `Gather(data, indices, axis)`: embedding lookup or index selection along `axis`.
    pub fn gather(&mut self, data: &str, indices: &str, axis: i64) -> String {
        self.op("Gather", &[data, indices], vec![attr_int("axis", axis)])
    }

    /// `Transpose` with an explicit permutation.
    pub fn transpose(&mut self, x: &str, perm: &[i64]) -> String {
        self.op("Transpose", &[x], vec![attr_ints("perm", perm)])
    }

    /// `Softmax` along `axis` (opset ≥ 13 semantics: a single axis, not a flattened suffix).
    pub fn softmax(&mut self, x: &str, axis: i64) -> String {
        self.op("Softmax", &[x], vec![attr_int("axis", axis)])
    }

    /// `Concat` of several tensors along `axis`.
    pub fn concat(&mut self, inputs: &[&str], axis: i64) -> String {
        self.op("Concat", inputs, vec![attr_int("axis", axis)])
    }

    /// `Cast` to float32.
    pub fn cast_f32(&mut self, x: &str) -> String {
        self.op(
            "Cast",
            &[x],
            vec![attr_int("to", DataType::FLOAT as i32 as i64)],
        )
    }
}
