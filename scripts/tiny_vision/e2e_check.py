"""End-to-end check: tiny text GGUF + mmproj GGUF through llama-cpp-python's MTMDChatHandler.

Usage: python e2e_check.py MODEL.gguf MMPROJ.gguf
Prints sizes, timings, prompt token counts, and whether two images change the output.
"""
import base64
import io
import os
import sys
import time

import numpy as np
from llama_cpp import Llama
from llama_cpp.llama_chat_format import MTMDChatHandler
from PIL import Image


def png_data_uri(img: Image.Image) -> str:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def make_images():
    red = Image.new("RGB", (96, 96), (220, 20, 20))
    yy, xx = np.mgrid[0:96, 0:96]
    grad = np.stack([xx * 2, yy * 2, 255 - xx - yy], axis=-1).clip(0, 255).astype(np.uint8)
    return png_data_uri(red), png_data_uri(Image.fromarray(grad))


def quiet_mtmd():
    """libmtmd logs (add_text:, clip_encode:, ...) bypass verbose=False; route them
    through llama-cpp-python's level-filtering logger callback instead."""
    import ctypes

    from llama_cpp import _logger, mtmd_cpp
    mtmd_cpp.mtmd_log_set(_logger.llama_log_callback, ctypes.c_void_p(0))
    mtmd_cpp.mtmd_helper_log_set(_logger.llama_log_callback, ctypes.c_void_p(0))


def main():
    model_path, mmproj_path = sys.argv[1], sys.argv[2]
    if os.environ.get("QUIET_MTMD", "1") == "1":
        quiet_mtmd()
    for p in (model_path, mmproj_path):
        print(f"size {os.path.basename(p)}: {os.path.getsize(p)/1024:.1f} KiB")

    t0, c0 = time.perf_counter(), time.process_time()
    handler = MTMDChatHandler(clip_model_path=mmproj_path, verbose=False, use_gpu=False)
    llm = Llama(model_path=model_path, chat_handler=handler, n_ctx=512, n_threads=1, n_threads_batch=1,
                n_batch=256, logits_all=True, verbose=False, seed=0)
    t1 = time.perf_counter()
    handler._init_mtmd_context(llm)  # normally lazy (first chat call); done here to time it
    t2 = time.perf_counter()
    print(f"load text model: {t1-t0:.3f}s, load mmproj (mtmd ctx): {t2-t1:.3f}s, cpu {time.process_time()-c0:.3f}s")
    print("arch:", llm.metadata.get("general.architecture"),
          "| has chat_template:", "tokenizer.chat_template" in llm.metadata,
          "| n_vocab:", llm.n_vocab())

    red, grad = make_images()

    def ask(image_uri=None, max_tokens=8):
        content = [{"type": "text", "text": "What is in this picture?"}]
        if image_uri:
            content.insert(0, {"type": "image_url", "image_url": {"url": image_uri}})
        t, c = time.perf_counter(), time.process_time()
        out = llm.create_chat_completion(
            messages=[{"role": "user", "content": content}],
            max_tokens=max_tokens, temperature=0.0, logprobs=True, top_logprobs=3, seed=0,
        )
        dt, dc = time.perf_counter() - t, time.process_time() - c
        first = out["choices"][0]["logprobs"]["content"][0]
        return {
            "prompt_tokens": out["usage"]["prompt_tokens"],
            "text": out["choices"][0]["message"]["content"],
            "first_top": [(d["token"], round(float(d["logprob"]), 4)) for d in first["top_logprobs"]],
            "secs": dt, "cpu": dc,
        }

    ask(red, max_tokens=1)  # warm-up (first call also builds graphs)
    r_none = ask(None)
    r_red = ask(red)
    r_grad = ask(grad)
    r_red2 = ask(red)
    for name, r in [("no image", r_none), ("red", r_red), ("gradient", r_grad), ("red again", r_red2)]:
        print(f"{name:10s} prompt_tokens={r['prompt_tokens']:3d} wall={r['secs']*1000:.0f}ms cpu={r['cpu']*1000:.0f}ms "
              f"text={r['text']!r} first_top={r['first_top']}")

    # time prompt processing with an image alone (encode + prefill, 1 generated token)
    rs = [ask(grad, max_tokens=1) for _ in range(5)]
    ts, cs = sorted(r["secs"] for r in rs), sorted(r["cpu"] for r in rs)
    print(f"image encode+prefill+1 token: median wall {ts[2]*1000:.1f} ms, cpu {cs[2]*1000:.1f} ms")

    ok = True
    if not r_red["prompt_tokens"] > r_none["prompt_tokens"]:
        print("FAIL: image did not add prompt tokens")
        ok = False
    if r_red["first_top"] == r_grad["first_top"] and r_red["text"] == r_grad["text"]:
        print("FAIL: two images gave identical output")
        ok = False
    if r_red["first_top"] != r_red2["first_top"] or r_red["text"] != r_red2["text"]:
        print("FAIL: same image not deterministic")
        ok = False
    print("RESULT:", "OK" if ok else "FAILED")
    llm.close()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
