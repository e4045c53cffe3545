"""Named LoRA adapters on the pulse network, resident in one model and switched by name.

Adapters are saved as peft folders (``adapter_config.json`` + ``adapter_model.safetensors``),
one per name under ``assets/adapters/<name>/``; the base network's weights are
``assets/adapters/base.safetensors``. An adapter also travels as a shard: its low-rank weights
flattened in a fixed key order (:meth:`PulseModel.vector`) with a content hash
(:meth:`PulseModel.digest`), and a bot that receives one it does not hold adds it from that vector.

The pulse system scores with :meth:`PulseModel.frozen` snapshots rather than the peft model: a
snapshot owns its weights, so a worker thread can run it while the loop adds or switches
adapters, and it runs each layer as one convolution with the adapter merged into the kernel, as
peft's ``merge_adapter`` does (the same scores to rounding).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt
import torch
from peft import LoraConfig, PeftModel, get_peft_model
from peft.tuners.lora import Conv2d as LoraConv2d
from peft.utils import get_peft_model_state_dict, set_peft_model_state_dict
from safetensors.torch import load_file, save_file
from torch.nn import functional

from game.errors import BadInput
from game.pulse import STRIP, WHOLE, PulseNet, base_network, torus_scores
from game.pulse_kernels import scripted

TARGETS: Final = ["c1", "c2", "out"]
BASE_FILE: Final = "base.safetensors"


def lora_config(rank: int = 4) -> LoraConfig:
    """The one LoRA shape every adapter has (a vector only makes sense against it)."""
    return LoraConfig(r=rank, lora_alpha=2 * rank, target_modules=list(TARGETS), lora_dropout=0.0)


@dataclass(frozen=True, slots=True)
class FrozenConv:
    """One adapted convolution, detached and merged: the base kernel plus peft's delta weight.

    The kernel is what peft's ``merge_adapter`` writes into the base layer (``W + ΔW``, with
    ``ΔW`` from the layer's own ``get_delta_weight``), so a pulse is one convolution a layer
    instead of three; it is stored channels-last, the layout the CPU's convolution runs fastest
    in (:mod:`game.pulse_kernels`). Its scores equal the unmerged peft forward to rounding
    (a few 1e-7): the sums are grouped differently.
    """

    weight: torch.Tensor
    bias: torch.Tensor | None
    stride: tuple[int, ...]
    padding: tuple[int, ...]

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """The layer's output."""
        return functional.conv2d(x, self.weight, self.bias, self.stride, self.padding)

    @classmethod
    def of(cls, layer: LoraConv2d, name: str) -> FrozenConv:
        """A merged copy of adapter ``name`` of peft's ``layer``: later training won't show."""
        base = layer.get_base_layer()
        assert isinstance(base, torch.nn.Conv2d) and base.groups == 1
        assert isinstance(base.padding, tuple)  # not "same"/"valid": PulseNet pads with 0
        with torch.no_grad():
            merged = base.weight.detach() + layer.get_delta_weight(name).detach()
        return cls(merged.contiguous(memory_format=torch.channels_last),
                   None if base.bias is None else base.bias.detach().clone(),
                   tuple(base.stride), tuple(base.padding))


@dataclass(frozen=True, slots=True)
class FrozenAdapter:
    """The pulse network with one adapter, as plain tensors: safe to run on any thread."""

    name: str
    c1: FrozenConv
    c2: FrozenConv
    out: FrozenConv
    device: torch.device

    def scores(self, x: torch.Tensor, rows: npt.NDArray[np.bool_] | None = None
               ) -> torch.Tensor:
        """Scores ``(N, H, W)`` of features ``x``: those of ``PulseModel.scores(x, name)``.

        A lattice of more than ``WHOLE`` cells goes through in strips of ``STRIP`` rows, in one
        compiled call (:func:`game.pulse_kernels.strip_scores`): a strip's 16-channel maps stay
        in the cache, where a whole 1024² lattice's are 64 MB each and streaming them through
        memory took 3.7× as long. ``rows`` (one flag per lattice row) then says which rows are
        wanted, and strips with none of them are skipped (their scores are left 0). The
        convolution may pick another algorithm for another shape and round differently (last
        bit), but within a run the shapes never change.
        """
        with torch.inference_mode():
            x = x.to(self.device)
            if x.shape[-2] * x.shape[-1] <= WHOLE:
                return torus_scores(x, self.c1, self.c2, self.out)
            wanted = torch.ones(x.shape[-2], dtype=torch.bool) if rows is None else \
                torch.from_numpy(rows)
            out: torch.Tensor = scripted("strip_scores")(x, self.weights(),
                                                         wanted.to(self.device), STRIP)
            return out

    def tile_scores(self, alive: torch.Tensor, energy: torch.Tensor, tile: int,
                    rows: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
        """Scores ``(n, tile²)`` of the tiles at ``(rows[i], cols[i])`` alone, with their halo.

        ``alive`` (uint8) and ``energy`` are the torus; one compiled call
        (:func:`game.pulse_kernels.tile_scores`).
        """
        device = self.device
        with torch.inference_mode():
            out: torch.Tensor = scripted("tile_scores")(
                alive.to(device), energy.to(device), tile, rows.to(device), cols.to(device),
                self.weights())
            return out

    def weights(self) -> list[torch.Tensor]:
        """The three layers' kernels and biases, in order (the compiled kernels' argument)."""
        out = []
        for layer in (self.c1, self.c2, self.out):
            assert layer.bias is not None  # PulseNet's layers have biases
            out += [layer.weight, layer.bias]
        return out


def adapter_names(folder: Path) -> list[str]:
    """The adapters saved under ``folder`` (each a subfolder with an adapter_config.json)."""
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if (p / "adapter_config.json").is_file())


class PulseModel:
    """The base pulse network with every adapter it has been given resident.

    ``use(name)`` makes one active (peft's ``set_adapter``: no reload); ``scores`` runs one
    batched forward with it.
    """

    def __init__(self, base: PulseNet, device: torch.device | str = "cpu") -> None:
        self.device = torch.device(device)
        if self.device.type == "cuda":
            # cuDNN convolves in TF32 by default: on an H200 the scores then differ from the
            # CPU's by up to 3.6e-4 and pulses pick other cells; in fp32 by 3e-8, with the same
            # picks (measured, a 4,096-tile batch). Only the pulse network convolves.
            torch.backends.cudnn.allow_tf32 = False
        self.base = base.to(self.device).eval()
        self.model: PeftModel | None = None
        self.active: str | None = None

    @classmethod
    def from_folder(cls, folder: Path, names: list[str] | None = None,
                    device: torch.device | str = "cpu") -> PulseModel:
        """The saved base and adapters of ``folder`` (all of them, or ``names``)."""
        base = base_network()
        path = folder / BASE_FILE
        try:
            base.load_state_dict(load_file(str(path)))
        except (OSError, RuntimeError, ValueError) as exc:
            raise BadInput(f"pulse: cannot load the base network {path}: {exc}") from None
        model = cls(base, device)
        for name in adapter_names(folder) if names is None else names:
            model.load(name, folder / name)
        return model

    @property
    def names(self) -> list[str]:
        """The resident adapters."""
        return [] if self.model is None else sorted(self.model.peft_config)

    def has(self, name: str) -> bool:
        """Whether ``name`` is resident."""
        return name in self.names

    def load(self, name: str, folder: Path) -> None:
        """Make the adapter saved in ``folder`` resident as ``name`` (offline, from disk)."""
        if not (folder / "adapter_config.json").is_file():
            raise BadInput(f"pulse: no adapter {name!r}: {folder}/adapter_config.json is missing")
        try:
            if self.model is None:
                self.model = PeftModel.from_pretrained(self.base, str(folder), adapter_name=name)
            else:
                self.model.load_adapter(str(folder), adapter_name=name)
        except (OSError, ValueError, RuntimeError, KeyError) as exc:
            raise BadInput(f"pulse: cannot load adapter {name!r} from {folder}: {exc}") from None
        self.model.to(self.device).eval()
        self.use(name)

    def add(self, name: str, config: LoraConfig | None = None) -> None:
        """A new trainable adapter ``name`` (LoRA B starts at zero: it scores 0 until trained)."""
        config = config or lora_config()
        if self.model is None:
            self.model = get_peft_model(self.base, config, adapter_name=name)
        else:
            self.model.add_adapter(name, config)
        self.model.to(self.device)
        self.use(name)

    def use(self, name: str) -> None:
        """Make ``name`` the active adapter (a switch, not a reload)."""
        if self.active == name:
            return
        if self.model is None or name not in self.model.peft_config:
            raise BadInput(f"pulse: unknown adapter {name!r} (resident: "
                           f"{', '.join(self.names) or 'none'})")
        self.model.set_adapter(name)
        self.active = name

    def scores(self, x: torch.Tensor, name: str) -> torch.Tensor:
        """Scores ``(N, H, W)`` of features ``x`` with adapter ``name``."""
        self.use(name)
        assert self.model is not None
        with torch.inference_mode():
            out: torch.Tensor = self.model(x.to(self.device))
        return out

    def frozen(self, name: str) -> FrozenAdapter:
        """A snapshot of the network with adapter ``name`` (see the module docstring)."""
        if self.model is None or name not in self.model.peft_config:
            raise BadInput(f"pulse: unknown adapter {name!r} (resident: "
                           f"{', '.join(self.names) or 'none'})")
        net = self.model.get_base_model()
        layers = []
        for target in TARGETS:
            layer = getattr(net, target)
            assert isinstance(layer, LoraConv2d)
            layers.append(FrozenConv.of(layer, name))
        c1, c2, out = layers
        return FrozenAdapter(name, c1, c2, out, self.device)

    def _state(self, name: str) -> dict[str, torch.Tensor]:
        if self.model is None or name not in self.model.peft_config:
            raise BadInput(f"pulse: unknown adapter {name!r}")
        state: dict[str, torch.Tensor] = get_peft_model_state_dict(self.model, adapter_name=name)
        return state

    def vector(self, name: str) -> npt.NDArray[np.float32]:
        """The adapter's low-rank weights, flattened in sorted key order."""
        state = self._state(name)
        return np.concatenate([state[k].detach().cpu().numpy().ravel() for k in sorted(state)]
                              ).astype(np.float32)

    def digest(self, name: str) -> str:
        """A content hash of the adapter's weights (16 hex digits of SHA-256)."""
        return vector_digest(self.vector(name))

    def add_vector(self, name: str, vector: npt.NDArray[np.float32], digest: str) -> None:
        """Make an adapter received as a vector resident as ``name``, after checking its hash."""
        if vector_digest(vector) != digest:
            raise BadInput(f"pulse: adapter {name!r}: its weights do not match their hash")
        if self.has(name):
            raise BadInput(f"pulse: adapter {name!r} is already resident")
        if self.model is None:
            raise BadInput("pulse: no adapter shape to load a vector into")
        template = self._state(self.names[0])
        state: dict[str, torch.Tensor] = {}
        at = 0
        for key in sorted(template):
            shape = template[key].shape
            n = int(np.prod(shape))
            if at + n > len(vector):
                raise BadInput(f"pulse: adapter {name!r}: vector of {len(vector)} values is "
                               "too short for the pulse network")
            state[key] = torch.from_numpy(vector[at:at + n].copy()).reshape(shape)
            at += n
        if at != len(vector):
            raise BadInput(f"pulse: adapter {name!r}: vector of {len(vector)} values, "
                           f"expected {at}")
        self.model.add_adapter(name, lora_config())
        set_peft_model_state_dict(self.model, state, adapter_name=name)
        self.model.to(self.device).eval()

    def save(self, folder: Path, name: str) -> None:
        """Save the base (once) and adapter ``name`` under ``folder`` / ``name``."""
        assert self.model is not None
        folder.mkdir(parents=True, exist_ok=True)
        base_state = {k: v.detach().cpu().contiguous()
                      for k, v in self.model.get_base_model().state_dict().items()
                      if "lora_" not in k}
        # peft renames wrapped layers' weights (c1.base_layer.weight): store the plain names.
        save_file({k.replace(".base_layer", ""): v for k, v in base_state.items()},
                  str(folder / BASE_FILE))
        card = folder / "README.md"
        had_card = card.exists()
        self.model.save_pretrained(str(folder), selected_adapters=[name])
        if not had_card:  # peft writes a Hugging Face model card; the docs say what these are
            card.unlink(missing_ok=True)


def vector_digest(vector: npt.NDArray[np.float32]) -> str:
    """16 hex digits of SHA-256 over the little-endian float32 bytes."""
    data = np.ascontiguousarray(vector, dtype="<f4").tobytes()
    return hashlib.sha256(data).hexdigest()[:16]
