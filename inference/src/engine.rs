//! A loaded model with its tokenizer and chat template.

use std::path::{Path, PathBuf};

use burn::prelude::Backend;

use crate::chat::{ChatMessage, ChatTemplate};
use crate::config::ModelConfig;
use crate::error::{InferenceError, Result};
use crate::fetch;
use crate::generate::{GenerateOutput, GenerateRequest, generate};
use crate::gguf::{GgufFile, GgufValue};
use crate::model::{TeacherForced, Transformer, WeightPrecision};
use crate::tokenizer::TextTokenizer;
use crate::weights::{GgufWeights, SafetensorsWeights};

/// Model, tokenizer and prompt format.
#[derive(Debug)]
pub struct Engine<B: Backend> {
    /// Model name (reported by `/v1/models`).
    pub name: String,
    /// Hyper-parameters.
    pub config: ModelConfig,
    /// The network.
    pub model: Transformer<B>,
    /// Tokenizer.
    pub tokenizer: TextTokenizer,
    /// Chat template, when known.
    pub template: Option<ChatTemplate>,
    /// Tokens that end generation by default.
    pub stop_tokens: Vec<u32>,
}

/// Resolves `--model`: a path, or the name `smollm2-135m-instruct` (fetched on first use).
pub fn resolve_model(spec: &str) -> Result<PathBuf> {
    if spec == fetch::SMOLLM2_NAME {
        return fetch::ensure_smollm2();
    }
    let p = PathBuf::from(spec);
    if p.exists() {
        Ok(p)
    } else {
        Err(InferenceError::io(
            p,
            std::io::Error::new(std::io::ErrorKind::NotFound, "model not found"),
        ))
    }
}

impl<B: Backend> Engine<B> {
    /// Loads a `.gguf` file or a Hugging Face directory (`config.json`,
    /// `*.safetensors`, `tokenizer.json`, optional `tokenizer_config.json`).
    pub fn load(
        path: &Path,
        device: &B::Device,
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<Self> {
        Self::load_with(path, device, WeightPrecision::F32, progress)
    }

    /// Like [`Engine::load`], storing linear weights in `precision`.
    pub fn load_with(
        path: &Path,
        device: &B::Device,
        precision: WeightPrecision,
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<Self> {
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().to_string())
            .unwrap_or_else(|| "model".into());
        if path.is_dir() {
            let config = ModelConfig::from_hf_json_file(path.join("config.json"))?;
            let mut src = SafetensorsWeights::open_dir(path)?;
            let model =
                Transformer::load_with_options(&config, &mut src, device, precision, progress)?;
            let tokenizer = TextTokenizer::from_file(path.join("tokenizer.json"))?;
            let template = std::fs::read_to_string(path.join("tokenizer_config.json"))
                .ok()
                .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
                .and_then(|v| {
                    v.get("chat_template")
                        .and_then(|c| c.as_str())
                        .and_then(ChatTemplate::detect)
                });
            Ok(Self::assemble(name, config, model, tokenizer, template))
        } else {
            let file = GgufFile::open(path)?;
            let config = ModelConfig::from_gguf(&file)?;
            let tokenizer = TextTokenizer::from_gguf(&file)?;
            let template = file
                .get("tokenizer.chat_template")
                .and_then(GgufValue::as_str)
                .and_then(ChatTemplate::detect);
            let mut src = GgufWeights::new(&file, config.clone());
            let model =
                Transformer::load_with_options(&config, &mut src, device, precision, progress)?;
            Ok(Self::assemble(name, config, model, tokenizer, template))
        }
    }

    fn assemble(
        name: String,
        config: ModelConfig,
        model: Transformer<B>,
        tokenizer: TextTokenizer,
        template: Option<ChatTemplate>,
    ) -> Self {
        let mut stop_tokens = config.eos_token_ids.clone();
        if let Some(t) = &template {
            for s in t.stop_strings() {
                if let Some(id) = tokenizer.token_id(s)
                    && !stop_tokens.contains(&id)
                {
                    stop_tokens.push(id);
                }
            }
        }
        Self {
            name,
            config,
            model,
            tokenizer,
            template,
            stop_tokens,
        }
    }

    /// Renders a chat with the model's template (ChatML when unknown).
    pub fn render_chat(&self, messages: &[ChatMessage]) -> String {
        let t = self.template.clone().unwrap_or(ChatTemplate::ChatMl {
            default_system: None,
        });
        t.render(messages)
    }

    /// Generates for several requests in one batch.
    pub fn generate(
        &self,
        requests: &[GenerateRequest],
        on_token: &mut dyn FnMut(usize, u32) -> bool,
    ) -> Result<Vec<GenerateOutput>> {
        generate(&self.model, requests, on_token)
    }

    /// Teacher-forced pass over `tokens` (prompt followed by output): per-position
    /// logits and final-norm hidden states (see [`Transformer::teacher_forced`]).
    pub fn teacher_forced(&self, tokens: &[u32]) -> Result<TeacherForced<B>> {
        self.model.teacher_forced(tokens)
    }
}
