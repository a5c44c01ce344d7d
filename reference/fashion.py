"""The chapter's FashionMNIST CNN (section 6.4): model, data loading, one training epoch, evaluation.

Offline, the data come from :func:`reference.datasets.write_fashion_mnist`, which writes torchvision's
raw IDX layout so that the loading code below stays the chapter's real one.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.optim as optim
from torch.utils.data import DataLoader

from reference._rng import preserved_global_rng

LABELS_MAP = {
    0: "T-Shirt",
    1: "Trouser",
    2: "Pullover",
    3: "Dress",
    4: "Coat",
    5: "Sandal",
    6: "Shirt",
    7: "Sneaker",
    8: "Bag",
    9: "Ankle Boot",
}


class SimpleCNN(nn.Module):
    """Two conv/ReLU/max-pool stages (1->32->64 channels) and two linear layers (3136->128->10)."""

    def __init__(self, channels1: int = 32, channels2: int = 64, hidden: int = 128, skip_relu: str | None = None):
        """The defaults are the chapter's network.  Other widths, or ``skip_relu`` naming one ReLU
        (relu1, relu2, relu3) that forward() leaves out, are the typical mistakes the grader names."""
        super().__init__()
        self.skip_relu = skip_relu
        self.conv1 = nn.Conv2d(1, channels1, kernel_size=3, padding=1)
        self.relu1 = nn.ReLU()
        self.pool1 = nn.MaxPool2d(kernel_size=2, stride=2)
        self.conv2 = nn.Conv2d(channels1, channels2, kernel_size=3, padding=1)
        self.relu2 = nn.ReLU()
        self.pool2 = nn.MaxPool2d(kernel_size=2, stride=2)
        self.flatten = nn.Flatten()
        self.fc1 = nn.Linear(channels2 * 7 * 7, hidden)
        self.relu3 = nn.ReLU()
        self.fc2 = nn.Linear(hidden, 10)

    def _relu(self, name: str, x):
        return x if self.skip_relu == name else getattr(self, name)(x)

    def forward(self, x):
        x = self.pool1(self._relu("relu1", self.conv1(x)))
        x = self.pool2(self._relu("relu2", self.conv2(x)))
        x = self.flatten(x)
        x = self._relu("relu3", self.fc1(x))
        return self.fc2(x)


def param_count(model: nn.Module) -> int:
    """Number of trainable parameters (SimpleCNN: 421642; PixelPredictionModel: 609)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def load_fashion_mnist(root, train: bool):
    """The chapter's loader. ``download=True`` does not touch the network when the raw files exist."""
    # torchvision is imported here, not at the top: its import (~1.4 s of CPU, torch._dynamo and sympy
    # included) would otherwise be paid by every grading worker whose checks only need SimpleCNN.
    from torchvision import datasets
    from torchvision.transforms import ToTensor

    return datasets.FashionMNIST(root=root, train=train, download=True, transform=ToTensor())


def simple_cnn_state(seed: int) -> dict:
    """``state_dict`` of ``SimpleCNN()`` built right after ``torch.manual_seed(seed)`` (global RNG restored)."""
    with preserved_global_rng():
        torch.manual_seed(seed)
        return SimpleCNN().state_dict()


def train_one_epoch(model: nn.Module, dataset, *, seed: int, batch_size: int = 64, lr: float = 1e-3) -> list[float]:
    """One epoch of the chapter's loop (Adam, cross-entropy); returns every batch's loss.

    Shuffling uses a private ``torch.Generator`` seeded with ``seed``, so the global RNG is untouched.
    """
    generator = torch.Generator()
    generator.manual_seed(seed)
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=True, generator=generator)
    criterion = nn.CrossEntropyLoss()
    optimizer = optim.Adam(model.parameters(), lr=lr)
    model.train()
    losses = []
    for data, target in loader:
        optimizer.zero_grad()
        loss = criterion(model(data), target)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def evaluate(model: nn.Module, dataset, batch_size: int = 64) -> float:
    """Accuracy in [0, 1] of ``argmax`` predictions, as the chapter's test loop."""
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False)
    model.eval()
    correct, total = 0, 0
    with torch.no_grad():
        for data, target in loader:
            _, predicted = torch.max(model(data), 1)
            total += target.size(0)
            correct += (predicted == target).sum().item()
    return correct / total if total else float("nan")


def fashion_pipeline(root, *, seed: int = 0) -> dict:
    """Load, build ``SimpleCNN`` from ``seed``, train one epoch, evaluate on the test split.

    Returns ``{"accuracy", "losses", "n_train", "n_test"}``. Values depend on torch's intra-op thread
    count; callers that compare numbers should fix it (see :func:`reference._rng.torch_threads`).
    """
    training_data = load_fashion_mnist(root, train=True)
    test_data = load_fashion_mnist(root, train=False)
    model = SimpleCNN()
    model.load_state_dict(simple_cnn_state(seed))
    losses = train_one_epoch(model, training_data, seed=seed)
    accuracy = evaluate(model, test_data)
    return {"accuracy": accuracy, "losses": losses, "n_train": len(training_data), "n_test": len(test_data)}
