// Reference generator for the SmolLM2 golden test (see regen.sh).
//
// For every prompt (one per line on stdin; the two-character sequence \n inside a
// line is turned into a newline) it prints one JSON object per line with:
//   prompt_tokens  llama.cpp's tokenization (parse_special = true, no BOS added)
//   generated      greedy continuation (argmax of the raw logits), N tokens
//   top_logits     the 64 largest first-step logits as [token_id, logit]
#include "llama.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <numeric>
#include <string>
#include <vector>

static std::string unescape(const std::string & s) {
    std::string out;
    for (size_t i = 0; i < s.size(); i++) {
        if (s[i] == '\\' && i + 1 < s.size() && s[i + 1] == 'n') { out += '\n'; i++; }
        else out += s[i];
    }
    return out;
}

static std::string json_escape(const std::string & s) {
    std::string out;
    for (char c : s) {
        if (c == '"' || c == '\\') { out += '\\'; out += c; }
        else if (c == '\n') out += "\\n";
        else out += c;
    }
    return out;
}

int main(int argc, char ** argv) {
    if (argc < 3) { fprintf(stderr, "usage: %s model.gguf n_gen < prompts.txt\n", argv[0]); return 1; }
    const int n_gen = atoi(argv[2]);
    llama_log_set([](ggml_log_level, const char *, void *) {}, nullptr);
    llama_backend_init();
    llama_model_params mp = llama_model_default_params();
    llama_model * model = llama_model_load_from_file(argv[1], mp);
    if (!model) { fprintf(stderr, "failed to load model\n"); return 1; }
    const llama_vocab * vocab = llama_model_get_vocab(model);
    const int n_vocab = llama_vocab_n_tokens(vocab);
    std::string line;
    while (std::getline(std::cin, line)) {
        if (line.empty()) continue;
        const std::string prompt = unescape(line);
        const int n = -llama_tokenize(vocab, prompt.c_str(), prompt.size(), NULL, 0, false, true);
        std::vector<llama_token> toks(n);
        llama_tokenize(vocab, prompt.c_str(), prompt.size(), toks.data(), toks.size(), false, true);
        llama_context_params cp = llama_context_default_params();
        cp.n_ctx = 1024; cp.n_batch = 1024; cp.n_threads = 2; cp.n_threads_batch = 2;
        llama_context * ctx = llama_init_from_model(model, cp);
        llama_batch batch = llama_batch_get_one(toks.data(), toks.size());
        if (llama_decode(ctx, batch)) { fprintf(stderr, "decode failed\n"); return 1; }
        const float * logits = llama_get_logits_ith(ctx, -1);
        std::vector<int> idx(n_vocab);
        std::iota(idx.begin(), idx.end(), 0);
        std::partial_sort(idx.begin(), idx.begin() + 64, idx.end(), [&](int a, int b) { return logits[a] > logits[b]; });
        std::string top = "[";
        for (int i = 0; i < 64; i++) {
            char buf[64]; snprintf(buf, sizeof buf, "%s[%d,%.6f]", i ? "," : "", idx[i], logits[idx[i]]);
            top += buf;
        }
        top += "]";
        std::vector<llama_token> gen;
        llama_token cur = idx[0];
        for (int i = 0; i < n_gen; i++) {
            gen.push_back(cur);
            if (i + 1 == n_gen) break;
            llama_batch b = llama_batch_get_one(&cur, 1);
            if (llama_decode(ctx, b)) { fprintf(stderr, "decode failed\n"); return 1; }
            const float * lg = llama_get_logits_ith(ctx, -1);
            cur = std::max_element(lg, lg + n_vocab) - lg;
        }
        printf("{\"prompt\":\"%s\",\"prompt_tokens\":[", json_escape(prompt).c_str());
        for (size_t i = 0; i < toks.size(); i++) printf("%s%d", i ? "," : "", toks[i]);
        printf("],\"generated\":[");
        for (size_t i = 0; i < gen.size(); i++) printf("%s%d", i ? "," : "", gen[i]);
        printf("],\"top_logits\":%s}\n", top.c_str());
        llama_free(ctx);
    }
    llama_model_free(model);
    return 0;
}
