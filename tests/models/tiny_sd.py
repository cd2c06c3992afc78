"""A tiny randomly-initialised Stable Diffusion inpainting pipeline, built from config.

Shapes follow diffusers' own fast tests (``test_stable_diffusion_inpaint.py``): a UNet
with 32/64 channels and ``in_channels=9`` (4 latent + 1 mask + 4 masked-image latent),
a two-level VAE, a 5-layer CLIP text model of width 32. No package ships a CLIP
vocabulary, so the tokenizer's is generated here: the 256 byte symbols of CLIP's
byte-level BPE, their end-of-word forms, a few merges and the start/end tokens.
Nothing is downloaded.

:func:`to_ldm_checkpoint` writes the same weights in the original (CompVis / LDM)
single-file layout that ``from_single_file`` converts from, so the single-file route
can be tested without a real checkpoint.
"""

from __future__ import annotations

from pathlib import Path

import torch
from diffusers import AutoencoderKL, PNDMScheduler, StableDiffusionInpaintPipeline, UNet2DConditionModel
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

BOS, EOS = "<|startoftext|>", "<|endoftext|>"
# A few merges so the BPE has something to merge; any text still tokenises, byte by byte.
MERGES = [("t", "h"), ("th", "e</w>"), ("o", "n"), ("a", "c"), ("k", "g"), ("o", "u"), ("n", "d</w>")]


def _bytes_to_unicode() -> dict[int, str]:
    """CLIP's (and GPT-2's) map from bytes to printable unicode symbols."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, (chr(c) for c in cs)))


def tiny_tokenizer() -> CLIPTokenizer:
    symbols = list(_bytes_to_unicode().values())
    tokens = symbols + [s + "</w>" for s in symbols] + ["".join(m) for m in MERGES] + [BOS, EOS]
    vocab = {t: i for i, t in enumerate(dict.fromkeys(tokens))}
    # In transformers 5, vocab_file=/merges_file= are silently ignored (MACHINE-NOTES).
    return CLIPTokenizer(vocab=vocab, merges=MERGES, model_max_length=77)


def build_tiny_pipe(seed: int = 0) -> StableDiffusionInpaintPipeline:
    """A random tiny inpainting pipeline (fp32, CPU, safety checker off)."""
    torch.manual_seed(seed)
    tokenizer = tiny_tokenizer()
    unet = UNet2DConditionModel(
        block_out_channels=(32, 64),
        layers_per_block=2,
        sample_size=32,
        in_channels=9,
        out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=32,
    )
    vae = AutoencoderKL(
        block_out_channels=(32, 64),
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
        up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"),
        latent_channels=4,
        sample_size=64,
    )
    text_encoder = CLIPTextModel(
        CLIPTextConfig(
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
            hidden_size=32,
            intermediate_size=37,
            layer_norm_eps=1e-05,
            num_attention_heads=4,
            num_hidden_layers=5,
            vocab_size=len(tokenizer),
            max_position_embeddings=77,
        )
    )
    pipe = StableDiffusionInpaintPipeline(
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        unet=unet,
        scheduler=PNDMScheduler(skip_prk_steps=True, steps_offset=1),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    pipe.set_progress_bar_config(disable=True)
    return pipe


# -- the original single-file (LDM) layout --------------------------------------------------
# The inverse of diffusers' convert_ldm_{unet,vae,clip}_checkpoint, after the mapping in
# diffusers' scripts/convert_diffusers_to_original_stable_diffusion.py, generalised from
# SD's fixed four levels to any number of levels (layers_per_block=2 assumed, as above).


def _unet_to_ldm(sd: dict[str, torch.Tensor], unet: UNet2DConditionModel) -> dict[str, torch.Tensor]:
    per = unet.config.layers_per_block + 1  # resnets + a downsampler per level, in LDM's flat list
    pairs = [
        ("time_embedding.linear_1.", "time_embed.0."),
        ("time_embedding.linear_2.", "time_embed.2."),
        ("conv_in.", "input_blocks.0.0."),
        ("conv_norm_out.", "out.0."),
        ("conv_out.", "out.2."),
        ("mid_block.attentions.0.", "middle_block.1."),
    ]
    for j in range(2):
        pairs.append((f"mid_block.resnets.{j}.", f"middle_block.{2 * j}."))
    for i, block in enumerate(unet.down_blocks):
        for j in range(len(block.resnets)):
            pairs.append((f"down_blocks.{i}.resnets.{j}.", f"input_blocks.{per * i + j + 1}.0."))
            if getattr(block, "attentions", None):
                pairs.append((f"down_blocks.{i}.attentions.{j}.", f"input_blocks.{per * i + j + 1}.1."))
        if block.downsamplers:
            pairs.append((f"down_blocks.{i}.downsamplers.0.conv.", f"input_blocks.{per * (i + 1)}.0.op."))
    for i, block in enumerate(unet.up_blocks):
        has_attn = bool(getattr(block, "attentions", None))
        for j in range(len(block.resnets)):
            pairs.append((f"up_blocks.{i}.resnets.{j}.", f"output_blocks.{per * i + j}.0."))
            if has_attn:
                pairs.append((f"up_blocks.{i}.attentions.{j}.", f"output_blocks.{per * i + j}.1."))
        if block.upsamplers:
            pairs.append((f"up_blocks.{i}.upsamplers.0.", f"output_blocks.{per * i + per - 1}.{2 if has_attn else 1}."))
    resnet = [("norm1.", "in_layers.0."), ("conv1.", "in_layers.2."), ("norm2.", "out_layers.0."), ("conv2.", "out_layers.3."), ("time_emb_proj.", "emb_layers.1."), ("conv_shortcut.", "skip_connection.")]
    out = {}
    for key, value in sd.items():
        new = key
        for hf, ldm in pairs:
            if key.startswith(hf):
                new = ldm + key[len(hf) :]
                if "resnets" in hf:
                    for a, b in resnet:
                        new = new.replace(a, b)
                break
        else:
            raise KeyError(f"no LDM name for UNet key {key}")
        out["model.diffusion_model." + new] = value
    return out


def _vae_to_ldm(sd: dict[str, torch.Tensor], vae: AutoencoderKL) -> dict[str, torch.Tensor]:
    n_up = len(vae.decoder.up_blocks)
    pairs = [("nin_shortcut", "conv_shortcut"), ("norm_out", "conv_norm_out"), ("mid.attn_1.", "mid_block.attentions.0.")]
    for i in range(len(vae.encoder.down_blocks)):
        for j in range(2):
            pairs.append((f"encoder.down.{i}.block.{j}.", f"encoder.down_blocks.{i}.resnets.{j}."))
        pairs.append((f"down.{i}.downsample.", f"down_blocks.{i}.downsamplers.0."))
    for i in range(n_up):
        pairs.append((f"up.{n_up - 1 - i}.upsample.", f"up_blocks.{i}.upsamplers.0."))
        for j in range(3):
            pairs.append((f"decoder.up.{n_up - 1 - i}.block.{j}.", f"decoder.up_blocks.{i}.resnets.{j}."))
    for j in range(2):
        pairs.append((f"mid.block_{j + 1}.", f"mid_block.resnets.{j}."))
    attn = [("norm.", "group_norm."), ("q.", "to_q."), ("k.", "to_k."), ("v.", "to_v."), ("proj_out.", "to_out.0.")]
    out = {}
    for key, value in sd.items():
        new = key
        for ldm, hf in pairs:
            new = new.replace(hf, ldm)
        if "mid.attn_1." in new:
            for ldm, hf in attn:
                new = new.replace("mid.attn_1." + hf, "mid.attn_1." + ldm)
            if value.ndim == 2:  # LDM's VAE attention uses 1x1 convolutions
                value = value[:, :, None, None]
        out["first_stage_model." + new] = value
    return out


def to_ldm_checkpoint(pipe: StableDiffusionInpaintPipeline, path: Path) -> Path:
    """Save ``pipe``'s weights as one original-layout ``.safetensors`` file (UNet, VAE, CLIP)."""
    from safetensors.torch import save_file

    sd = _unet_to_ldm(pipe.unet.state_dict(), pipe.unet)
    sd.update(_vae_to_ldm(pipe.vae.state_dict(), pipe.vae))
    for key, value in pipe.text_encoder.state_dict().items():
        # SD 1.x stores the whole transformers CLIPTextModel under this prefix.
        key = key if key.startswith("text_model.") else "text_model." + key
        sd["cond_stage_model.transformer." + key] = value
    save_file({k: v.contiguous() for k, v in sd.items()}, str(path))
    return path
