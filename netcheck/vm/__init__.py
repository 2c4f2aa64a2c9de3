"""The full-kernel tier: run scenarios under a distribution kernel in a QEMU micro-VM."""

from __future__ import annotations

from netcheck.vm.kernel import KernelImage, find_kernel
from netcheck.vm.runner import VmOptions, VmOutcome, run_in_vm

__all__ = ["KernelImage", "VmOptions", "VmOutcome", "find_kernel", "run_in_vm"]
