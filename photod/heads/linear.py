"""Training the linear CLIP head: logistic regression on L2-normalised features.

MyVLM's reference trains ``nn.Linear(dim, 2)`` with AdamW (lr 1e-3, wd 0.01, cosine schedule)
on balanced batches for 500 steps. On cached features the whole set fits in one batch, so
photod does full-batch steps with class-balanced loss weights: the same optimum in well under
a second, which is what makes retraining cheap.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class LinearHead:
    """``p = sigmoid(w . x + b)``; fires when ``p >= threshold``."""

    weight: np.ndarray  # [dim]
    bias: float
    threshold: float

    def prob(self, x: np.ndarray) -> np.ndarray:
        """Probabilities for a ``[n, dim]`` matrix."""
        return 1.0 / (1.0 + np.exp(-(x @ self.weight + self.bias)))


def fit_linear(
    pos: np.ndarray, neg: np.ndarray, *, steps: int, lr: float, seed: int = 0
) -> LinearHead:
    """Class-balanced logistic regression; threshold chosen on the training scores."""
    import torch

    torch.manual_seed(seed)
    x = torch.from_numpy(np.concatenate([pos, neg]).astype(np.float32))
    y = torch.cat([torch.ones(len(pos)), torch.zeros(len(neg))])
    # Each class weighs half of the loss, whatever the counts (balanced sampling's effect).
    w = torch.where(y > 0, 0.5 / max(len(pos), 1), 0.5 / max(len(neg), 1))
    layer = torch.nn.Linear(x.shape[1], 1)
    opt = torch.optim.AdamW(layer.parameters(), lr=lr, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps, eta_min=lr * 5e-3)
    # CLIP cosine similarities sit in a narrow band; scaling the input lets small weights
    # separate them (the same role as CLIP's logit scale).
    scale = 10.0
    for _ in range(steps):
        opt.zero_grad()
        logits = layer(x * scale).squeeze(1)
        loss = (
            torch.nn.functional.binary_cross_entropy_with_logits(logits, y, reduction="none") * w
        ).sum()
        loss.backward()
        opt.step()
        sched.step()
    weight = layer.weight.detach().numpy()[0] * scale
    bias = float(layer.bias.detach().numpy()[0])
    head = LinearHead(weight.astype(np.float32), bias, 0.5)
    head.threshold = choose_threshold(head.prob(pos), head.prob(neg))
    return head


def choose_threshold(pos: np.ndarray, neg: np.ndarray, default: float = 0.5) -> float:
    """0.5 (the reference's rule) when it separates the training data; otherwise the cut
    that maximises balanced accuracy, placed midway between neighbouring scores."""
    if len(pos) == 0 or len(neg) == 0:
        return default
    if pos.min() >= default > neg.max():
        return default
    cands = np.unique(np.concatenate([pos, neg]))
    mids = (cands[:-1] + cands[1:]) / 2 if len(cands) > 1 else cands
    best, best_acc = default, -1.0
    for t in mids:
        acc = (pos >= t).mean() + (neg < t).mean()
        if acc > best_acc + 1e-9:
            best, best_acc = float(t), acc
    return float(np.clip(best, 0.05, 0.95))


def precision_recall(head: LinearHead, pos: np.ndarray, neg: np.ndarray) -> dict[str, object]:
    """Precision and recall of ``head`` on held-out positives and negatives."""
    tp = int((head.prob(pos) >= head.threshold).sum()) if len(pos) else 0
    fp = int((head.prob(neg) >= head.threshold).sum()) if len(neg) else 0
    return {
        "precision": tp / (tp + fp) if tp + fp else None,  # None: it never fired
        "recall": tp / len(pos) if len(pos) else None,
        "held_out_positives": int(len(pos)),
        "held_out_negatives": int(len(neg)),
    }
