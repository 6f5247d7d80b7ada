"""The PyTorch reference runner (CPU or CUDA). Lives outside runtime/ so the runtime stays torch-free."""

from __future__ import annotations

import numpy as np
import torch

from alexnet_edge.runtime.backends.base import BaseRunner
from alexnet_edge.runtime.errors import BackendUnavailableError


class TorchRunner(BaseRunner):
    backend = "torch"

    def __init__(self, model: torch.nn.Module, *, device: str = "cpu", half: bool = False, name: str | None = None):
        super().__init__(name or f"torch:{device}{':fp16' if half else ''}")
        self.model = model
        self.torch_device = torch.device(device)
        self.half = half

    def activate_impl(self) -> None:
        if self.torch_device.type == "cuda" and not torch.cuda.is_available():
            raise BackendUnavailableError("torch: CUDA requested but no CUDA device is available")
        self.model = self.model.to(self.torch_device).eval()
        if self.half:
            self.model = self.model.half()

    def infer_impl(self, batch: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            x = torch.from_numpy(batch).to(self.torch_device)
            if self.half:
                x = x.half()
            logits = self.model(x)
            return logits.float().cpu().numpy()

    def deactivate_impl(self) -> None:
        pass

    @property
    def device(self) -> str:
        return self.torch_device.type

    def device_name(self) -> str:
        if self.torch_device.type == "cuda":
            return torch.cuda.get_device_name(self.torch_device)
        return super().device_name()
