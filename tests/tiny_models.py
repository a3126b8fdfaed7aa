"""Tiny randomly initialised Stable Diffusion pipelines, built locally (no model hub here).

Text-to-image (UNet with 4 input channels) and inpainting (9 input channels), sharing a small
VAE, a small CLIP text encoder and a byte-level tokenizer whose vocabulary the test writes. They
run 1-2 steps at 64x64 on the CPU in tens of milliseconds, through exactly the loading code
(`from_pretrained` on a local folder) that real models use.
"""
from __future__ import annotations

import json
from pathlib import Path


def _byte_chars() -> list[str]:
    """The 256 characters byte-level BPE uses for the bytes 0..255: printable Latin-1 bytes stand
    for themselves, the others are shifted past 255 so that every byte is a visible character."""
    printable = set(range(ord("!"), ord("~") + 1)) | set(range(0xA1, 0xAD)) | set(range(0xAE, 0x100))
    shifted = iter(range(256, 512))
    return [chr(b) if b in printable else chr(next(shifted)) for b in range(256)]


def _byte_vocab() -> dict[str, int]:
    """A byte-level BPE vocabulary: special tokens, the 256 byte characters and their `</w>` forms."""
    chars = _byte_chars()
    tokens = ["<|startoftext|>", "<|endoftext|>"] + chars + [c + "</w>" for c in chars]
    return {t: i for i, t in enumerate(tokens)}


def build(folder: Path) -> tuple[Path, Path]:
    """Write a text-to-image and an inpainting pipeline under `folder`; return their paths."""
    import torch
    from diffusers import (AutoencoderKL, DDIMScheduler, StableDiffusionInpaintPipeline, StableDiffusionPipeline,
                           UNet2DConditionModel)
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    torch.manual_seed(0)
    tok_dir = folder / "tokenizer"
    tok_dir.mkdir(parents=True, exist_ok=True)
    vocab = _byte_vocab()
    (tok_dir / "vocab.json").write_text(json.dumps(vocab))
    (tok_dir / "merges.txt").write_text("#version: 0.2\n")
    tokenizer = CLIPTokenizer.from_pretrained(tok_dir, model_max_length=77)
    text_encoder = CLIPTextModel(CLIPTextConfig(
        hidden_size=32, intermediate_size=37, num_attention_heads=4, num_hidden_layers=2, projection_dim=32,
        vocab_size=len(vocab), max_position_embeddings=77, bos_token_id=0, eos_token_id=1, pad_token_id=1))
    vae = AutoencoderKL(block_out_channels=(8, 16), in_channels=3, out_channels=3, latent_channels=4,
                        down_block_types=("DownEncoderBlock2D",) * 2, up_block_types=("UpDecoderBlock2D",) * 2,
                        norm_num_groups=4, sample_size=64)
    scheduler = DDIMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", clip_sample=False,
                              set_alpha_to_one=False, steps_offset=1)

    def unet(in_channels: int):
        return UNet2DConditionModel(
            sample_size=32, in_channels=in_channels, out_channels=4, layers_per_block=1, block_out_channels=(8, 16),
            down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
            up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), cross_attention_dim=32, norm_num_groups=4,
            attention_head_dim=2)

    common = dict(vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, scheduler=scheduler,
                  safety_checker=None, feature_extractor=None, requires_safety_checker=False)
    t2i, inpaint = folder / "t2i", folder / "inpaint"
    StableDiffusionPipeline(unet=unet(4), **common).save_pretrained(t2i)
    StableDiffusionInpaintPipeline(unet=unet(9), **common).save_pretrained(inpaint)
    return t2i, inpaint
