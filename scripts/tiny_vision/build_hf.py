"""Build a tiny random-weight Gemma3ForConditionalGeneration (SigLIP vision + Gemma3 text)
plus a tiny offline-trained SentencePiece tokenizer, and save it in HF format.

Usage: python build_hf.py OUT_DIR [--seed N] [--init-std X]
Needs: torch, transformers (4.57.x tested), sentencepiece. No network.
"""
import argparse
import glob
import io
import json
import os
import sys

import sentencepiece as spm
import torch

# Official Gemma 3 chat template (handles string content and OpenAI-style content lists)
GEMMA3_TEMPLATE = """{{ bos_token }}
{%- if messages[0]['role'] == 'system' -%}
    {%- if messages[0]['content'] is string -%}
        {%- set first_user_prefix = messages[0]['content'] + '\n\n' -%}
    {%- else -%}
        {%- set first_user_prefix = messages[0]['content'][0]['text'] + '\n\n' -%}
    {%- endif -%}
    {%- set loop_messages = messages[1:] -%}
{%- else -%}
    {%- set first_user_prefix = "" -%}
    {%- set loop_messages = messages -%}
{%- endif -%}
{%- for message in loop_messages -%}
    {%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) -%}
        {{ raise_exception("Conversation roles must alternate user/assistant/user/assistant/...") }}
    {%- endif -%}
    {%- if (message['role'] == 'assistant') -%}
        {%- set role = "model" -%}
    {%- else -%}
        {%- set role = message['role'] -%}
    {%- endif -%}
    {{ '<start_of_turn>' + role + '\n' + (first_user_prefix if loop.first else "") }}
    {%- if message['content'] is string -%}
        {{ message['content'] | trim }}
    {%- elif message['content'] is iterable -%}
        {%- for item in message['content'] -%}
            {%- if item['type'] == 'image' -%}
                {{ '<start_of_image>' }}
            {%- elif item['type'] == 'text' -%}
                {{ item['text'] | trim }}
            {%- endif -%}
        {%- endfor -%}
    {%- else -%}
        {{ raise_exception("Invalid content type") }}
    {%- endif -%}
    {{ '<end_of_turn>\n' }}
{%- endfor -%}
{%- if add_generation_prompt -%}
    {{'<start_of_turn>model\n'}}
{%- endif -%}
"""

SPECIALS = ["<pad>", "<eos>", "<bos>", "<unk>"]  # ids 0..3, Gemma order
CONTROL = ["<start_of_turn>", "<end_of_turn>"]  # ids 4, 5
USER = ["<start_of_image>", "<end_of_image>", "<image_soft_token>"]  # ids 6, 7, 8


def corpus_sentences(limit_bytes=1_500_000):
    """Any local English-ish text works; use the Python stdlib sources (always present)."""
    import sysconfig
    stdlib = sysconfig.get_paths()["stdlib"]
    n = 0
    for path in sorted(glob.glob(os.path.join(stdlib, "*.py"))):
        try:
            with open(path, encoding="utf-8") as f:
                for line in f:
                    line = line.strip()
                    if line:
                        n += len(line)
                        yield line
        except UnicodeDecodeError:
            continue
        if n > limit_bytes:
            return


def train_tokenizer(out_dir, vocab_size):
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=corpus_sentences(),
        model_writer=model,
        model_type="bpe",
        vocab_size=vocab_size,
        pad_id=0, eos_id=1, bos_id=2, unk_id=3,
        pad_piece="<pad>", eos_piece="<eos>", bos_piece="<bos>", unk_piece="<unk>",
        control_symbols=CONTROL,
        user_defined_symbols=USER,
        byte_fallback=True,           # any UTF-8 input is tokenizable
        split_digits=True,
        add_dummy_prefix=False,       # like Gemma (add_space_prefix = False)
        remove_extra_whitespaces=False,
        normalization_rule_name="identity",
        allow_whitespace_only_pieces=True,
        character_coverage=1.0,
        num_threads=1,
        minloglevel=2,
    )
    with open(os.path.join(out_dir, "tokenizer.model"), "wb") as f:
        f.write(model.getvalue())
    sp = spm.SentencePieceProcessor(model_file=os.path.join(out_dir, "tokenizer.model"))
    return sp


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out_dir")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--vocab-size", type=int, default=1024)
    ap.add_argument("--init-std", type=float, default=0.02)
    args = ap.parse_args()
    os.makedirs(args.out_dir, exist_ok=True)
    torch.manual_seed(args.seed)

    sp = train_tokenizer(args.out_dir, args.vocab_size)
    ids = {p: sp.piece_to_id(p) for p in SPECIALS + CONTROL + USER}
    print("tokenizer:", sp.vocab_size(), ids, file=sys.stderr)

    from transformers import GemmaTokenizer
    tok = GemmaTokenizer(
        vocab_file=os.path.join(args.out_dir, "tokenizer.model"),
        bos_token="<bos>", eos_token="<eos>", unk_token="<unk>", pad_token="<pad>",
        additional_special_tokens=CONTROL + USER,
        add_bos_token=True, add_eos_token=False,
    )
    tok.chat_template = GEMMA3_TEMPLATE
    tok.save_pretrained(args.out_dir)  # tokenizer_config.json (+ chat_template.jinja), special_tokens_map.json

    from transformers import Gemma3Config, Gemma3ForConditionalGeneration, Gemma3TextConfig, SiglipVisionConfig

    text_cfg = Gemma3TextConfig(
        vocab_size=sp.vocab_size(),
        hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=2, num_key_value_heads=1, head_dim=32, query_pre_attn_scalar=32,
        max_position_embeddings=4096, sliding_window=512,
        rope_theta=1_000_000.0, rope_local_base_freq=10_000.0,
        pad_token_id=0, eos_token_id=[1, ids["<end_of_turn>"]], bos_token_id=2,
        initializer_range=args.init_std,
    )
    # image 64x64, patch 8 -> 8x8=64 patches, avg-pooled 2x2 -> 16 image tokens
    vis_cfg = SiglipVisionConfig(
        hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=2,
        image_size=64, patch_size=8, num_channels=3, layer_norm_eps=1e-6,
        vision_use_head=False,
    )
    cfg = Gemma3Config(
        text_config=text_cfg.to_dict(), vision_config=vis_cfg.to_dict(),
        mm_tokens_per_image=16,
        boi_token_index=ids["<start_of_image>"], eoi_token_index=ids["<end_of_image>"],
        image_token_index=ids["<image_soft_token>"],
        initializer_range=args.init_std,
    )
    model = Gemma3ForConditionalGeneration(cfg).eval()
    with torch.no_grad():  # larger random weights -> images visibly change greedy output
        for _name, p in model.named_parameters():
            if p.dim() >= 2:
                p.normal_(0.0, args.init_std)
    model.save_pretrained(args.out_dir, safe_serialization=True)

    # transformers 4.57 drops bos/pad ids from config.json and only a slow tokenizer
    # (tokenizer.model, no tokenizer.json) was saved, so gguf.SpecialVocab would find no
    # special ids and llama.cpp would fall back to LLaMA defaults (bos=1, eos=2: swapped
    # for Gemma). Put explicit ids at the top level of config.json for the converter.
    cfg_path = os.path.join(args.out_dir, "config.json")
    with open(cfg_path) as f:
        cfg_json = json.load(f)
    cfg_json.update(bos_token_id=ids["<bos>"], eos_token_id=ids["<eos>"],
                    pad_token_id=ids["<pad>"], unk_token_id=ids["<unk>"])
    with open(cfg_path, "w") as f:
        json.dump(cfg_json, f, indent=2, sort_keys=True)

    # what convert_hf_to_gguf.py --mmproj reads (image_mean/std, image_seq_length)
    with open(os.path.join(args.out_dir, "preprocessor_config.json"), "w") as f:
        json.dump({
            "image_processor_type": "Gemma3ImageProcessor",
            "processor_class": "Gemma3Processor",
            "do_normalize": True, "do_rescale": True, "do_resize": True,
            "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5],
            "rescale_factor": 1 / 255, "resample": 2,
            "size": {"height": 64, "width": 64},
            "image_seq_length": 16,
        }, f, indent=2)
    n = sum(p.numel() for p in model.parameters())
    print(f"params: {n}", file=sys.stderr)


if __name__ == "__main__":
    main()
