"""Trainers: one device-aware loop for CLIP-style and SimCLR-style training and its batched forms
(:mod:`~mmcl_core.train.contrastive`), and Huang et al.'s two-patch gradient descent in signal-noise coordinates
(:mod:`~mmcl_core.train.two_patch`)."""

from .contrastive import (ENCODERS, StackedCNN, StackedMLP, train_clip_batched, train_contrastive,
                          train_simclr_shared_views, train_stacked, train_supervised)
from .linear import infonce_fit
from .two_patch import NEGATIVES, PROBES, train_batched, train_direct

__all__ = ["ENCODERS", "NEGATIVES", "PROBES", "StackedCNN", "StackedMLP", "infonce_fit", "train_batched",
           "train_clip_batched",
           "train_contrastive", "train_direct", "train_simclr_shared_views", "train_stacked", "train_supervised"]
