//! Chat templates: ChatML (SmolLM2, Qwen) and DeepSeek-R1.

use serde::{Deserialize, Serialize};

/// One chat message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// `system`, `user` or `assistant`.
    pub role: String,
    /// Text content.
    pub content: String,
}

impl ChatMessage {
    /// Convenience constructor.
    pub fn new(role: &str, content: &str) -> Self {
        Self {
            role: role.to_string(),
            content: content.to_string(),
        }
    }
}

/// Supported prompt formats.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChatTemplate {
    /// `<|im_start|>role\ncontent<|im_end|>\n`; optional default system prompt
    /// inserted when the conversation has none (SmolLM2 does this).
    ChatMl {
        /// Default system prompt.
        default_system: Option<String>,
    },
    /// DeepSeek-R1: `<｜begin▁of▁sentence｜>{system}<｜User｜>…<｜Assistant｜>…`;
    /// the model reasons inside `<think>…</think>` before answering.
    DeepSeekR1,
}

/// SmolLM2's default system prompt (from its chat template).
pub const SMOLLM2_SYSTEM: &str =
    "You are a helpful AI assistant named SmolLM, trained by Hugging Face";

impl ChatTemplate {
    /// Picks a template from a Jinja chat template string (GGUF
    /// `tokenizer.chat_template` or `tokenizer_config.json`).
    pub fn detect(jinja: &str) -> Option<Self> {
        if jinja.contains("<｜User｜>") {
            Some(Self::DeepSeekR1)
        } else if jinja.contains("<|im_start|>") {
            let default_system = jinja
                .contains(SMOLLM2_SYSTEM)
                .then(|| SMOLLM2_SYSTEM.to_string());
            Some(Self::ChatMl { default_system })
        } else {
            None
        }
    }

    /// Renders a conversation, ending with the assistant generation prompt.
    pub fn render(&self, messages: &[ChatMessage]) -> String {
        let mut out = String::new();
        match self {
            Self::ChatMl { default_system } => {
                if let Some(sys) = default_system
                    && messages.first().is_none_or(|m| m.role != "system")
                {
                    out.push_str(&format!("<|im_start|>system\n{sys}<|im_end|>\n"));
                }
                for m in messages {
                    out.push_str(&format!(
                        "<|im_start|>{}\n{}<|im_end|>\n",
                        m.role, m.content
                    ));
                }
                out.push_str("<|im_start|>assistant\n");
            }
            Self::DeepSeekR1 => {
                out.push_str("<｜begin▁of▁sentence｜>");
                for m in messages.iter().filter(|m| m.role == "system") {
                    out.push_str(&m.content);
                }
                for m in messages.iter().filter(|m| m.role != "system") {
                    if m.role == "assistant" {
                        // Earlier reasoning is dropped from the history, as in R1's template.
                        let (_, answer) = split_reasoning(&m.content);
                        out.push_str(&format!("<｜Assistant｜>{answer}<｜end▁of▁sentence｜>"));
                    } else {
                        out.push_str(&format!("<｜User｜>{}", m.content));
                    }
                }
                out.push_str("<｜Assistant｜><think>\n");
            }
        }
        out
    }

    /// Token strings that end an assistant turn.
    pub fn stop_strings(&self) -> &'static [&'static str] {
        match self {
            Self::ChatMl { .. } => &["<|im_end|>", "<|endoftext|>"],
            Self::DeepSeekR1 => &["<｜end▁of▁sentence｜>"],
        }
    }
}

/// Splits `…</think>answer` into (reasoning, answer). Text without `</think>` is
/// all answer. A leading `<think>` is stripped from the reasoning.
pub fn split_reasoning(text: &str) -> (Option<String>, String) {
    match text.split_once("</think>") {
        Some((r, a)) => {
            let r = r
                .trim_start()
                .strip_prefix("<think>")
                .unwrap_or(r)
                .trim()
                .to_string();
            (Some(r), a.trim_start().to_string())
        }
        None => (None, text.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chatml_with_default_system() {
        let t = ChatTemplate::ChatMl {
            default_system: Some(SMOLLM2_SYSTEM.into()),
        };
        let s = t.render(&[ChatMessage::new("user", "Hi")]);
        assert_eq!(
            s,
            format!(
                "<|im_start|>system\n{SMOLLM2_SYSTEM}<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
            )
        );
        let s = t.render(&[
            ChatMessage::new("system", "S"),
            ChatMessage::new("user", "Hi"),
        ]);
        assert!(s.starts_with("<|im_start|>system\nS<|im_end|>\n"));
    }

    #[test]
    fn deepseek_r1_template_and_reasoning() {
        let t = ChatTemplate::DeepSeekR1;
        let s = t.render(&[
            ChatMessage::new("user", "1+1?"),
            ChatMessage::new("assistant", "<think>easy</think>2"),
            ChatMessage::new("user", "2+2?"),
        ]);
        assert_eq!(
            s,
            "<｜begin▁of▁sentence｜><｜User｜>1+1?<｜Assistant｜>2<｜end▁of▁sentence｜><｜User｜>2+2?<｜Assistant｜><think>\n"
        );
        assert_eq!(
            split_reasoning("a b</think>\n\nc"),
            (Some("a b".into()), "c".into())
        );
        assert_eq!(split_reasoning("plain"), (None, "plain".into()));
        assert_eq!(
            ChatTemplate::detect("{{'<｜User｜>'}}"),
            Some(ChatTemplate::DeepSeekR1)
        );
    }
}
