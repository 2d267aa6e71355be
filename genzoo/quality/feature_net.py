"""The feature net: a small MNIST classifier whose penultimate layer stands in for Inception.

No Inception weights can be fetched here, and Inception was never trained on digits anyway, so
FID, KID and precision/recall read the ``feature_dim``-wide penultimate activations of this CNN,
and the classifier score reads its logits (many MNIST GAN papers do the same with a LeNet).

    [N, 1, 28, 28] -conv3x3,ReLU,pool2-> [N, c1, 14, 14] -conv3x3,ReLU,pool2-> [N, c2, 7, 7]
                   -flatten,linear,ReLU-> [N, feature_dim]  (features)  -linear-> [N, 10]  (logits)

No batch norm and no dropout: train and eval mode compute the same function. After training, the
features are scaled by a constant (``feature_scale``, a buffer saved with the weights) that gives
them a mean square of 1 over the training images: KID's kernel (x.y / d + 1)^3 then sees
x.y / d of order 1 instead of the ~25 measured on unscaled features, whose cube made the unbiased
estimate a small difference of huge sums. Precision/recall do not change with a common scale;
FID is in these units.

It is always trained on CPU in float32, seeded, whatever device then uses it. Seeded is not bitwise
equal across machines: thread count and the CPU's vector kernels reorder sums (1 and 2 threads gave
97.2% and 97.4% held-out accuracy here). ``load_or_train_feature_net`` caches it under
``cache_dir()/feature_net/feature_net-<key>.pt``, the key hashing the config, the architecture
version and the SHA-256 of the MNIST file; for FIDs comparable across machines, copy that one file
to each, then it is loaded, never retrained, and moved to the device asked for.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from genzoo.models.data import Mnist, load_mnist
from genzoo.quality.inputs import check_images
from genzoo.storage import atomic_torch_save, cache_dir

ARCHITECTURE_VERSION = 1  # bump when FeatureNet changes: old cache entries then no longer match
FEATURE_BATCH = 1000  # images per forward pass: conv1's output is then 1000 x 32 x 28 x 28 fp32 = 100 MB


@dataclasses.dataclass(frozen=True)
class FeatureNetConfig:
    channels: tuple[int, int] = (32, 64)
    feature_dim: int = 128
    epochs: int = 12
    batch_size: int = 64
    lr: float = 2e-3  # the peak of the one-cycle schedule
    max_shift: int = 1  # random translation of up to this many pixels: the only augmentation
    train_subset: int | None = None  # first N training images; None = all 4,500
    seed: int = 0


PRESETS: dict[str, FeatureNetConfig] = {
    # the net every reported number uses; >= 97% held-out accuracy (asserted by a test).
    # There is no "gpu" preset on purpose: the net is trained on CPU everywhere.
    "cpu": FeatureNetConfig(),
    # for fast tests of the metric plumbing only: accuracy ~ 85%, trains in a second or two
    "tiny": FeatureNetConfig(
        channels=(8, 16), feature_dim=32, epochs=3, batch_size=32, max_shift=0, train_subset=1500
    ),
}


class FeatureNet(nn.Module):
    def __init__(self, config: FeatureNetConfig, num_classes: int = 10) -> None:
        super().__init__()
        c1, c2 = config.channels
        self.config = config
        self.num_features = config.feature_dim
        self.conv1 = nn.Conv2d(1, c1, 3, padding=1)
        self.conv2 = nn.Conv2d(c1, c2, 3, padding=1)
        self.fc = nn.Linear(c2 * 7 * 7, config.feature_dim)
        self.head = nn.Linear(config.feature_dim, num_classes)
        self.register_buffer("feature_scale", torch.ones(()))  # set by train_feature_net

    def hidden(self, images: torch.Tensor) -> torch.Tensor:
        """images: [N, 1, 28, 28] in [0, 1] -> penultimate activations [N, feature_dim], unscaled."""
        x = F.max_pool2d(F.relu(self.conv1(images)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        return F.relu(self.fc(x.flatten(1)))

    def features(self, images: torch.Tensor) -> torch.Tensor:
        """images: [N, 1, 28, 28] -> the metrics' features [N, feature_dim], unit mean square on train."""
        return self.hidden(images) * self.feature_scale

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """images: [N, 1, 28, 28] -> logits [N, 10]."""
        return self.head(self.hidden(images))


@dataclasses.dataclass(frozen=True)
class Readout:
    """What the metrics read from one forward pass over a set of images."""

    features: torch.Tensor  # [N, feature_dim]: FID, KID, precision / recall / density / coverage
    logits: torch.Tensor  # [N, num_classes]: classifier score and class balance


@dataclasses.dataclass(frozen=True)
class TrainedFeatureNet:
    net: FeatureNet  # in eval mode, parameters frozen
    held_out_accuracy: float  # on load_mnist().test, measured on CPU right after training
    data_sha256: str
    path: Path | None  # the cache file, None when trained without caching

    @property
    def device(self) -> torch.device:
        return self.net.fc.weight.device


def _shift(images: torch.Tensor, max_shift: int, generator: torch.Generator) -> torch.Tensor:
    """Translate each image [N, 1, 28, 28] by its own random (dy, dx) in [-max_shift, max_shift]^2,
    zero-padded: one gather from the padded images, flattened to [N, P * P], P = 28 + 2 max_shift."""
    if max_shift == 0:
        return images
    n, size = images.shape[0], 28 + 2 * max_shift
    padded = F.pad(images, (max_shift,) * 4).reshape(n, size * size)
    dy, dx = torch.randint(0, 2 * max_shift + 1, (2, n, 1), generator=generator)
    window = (torch.arange(28)[:, None] * size + torch.arange(28)).reshape(1, -1)  # [1, 784]
    return padded.gather(1, window + dy * size + dx).reshape(n, 1, 28, 28)


@torch.no_grad()
def read_images(net: FeatureNet, images: torch.Tensor) -> Readout:
    """Features and logits of ``images`` [N, 1, 28, 28] from one forward pass, in batches of
    FEATURE_BATCH, on the net's device: every metric of a set reads the same pass."""
    device = net.fc.weight.device
    hidden = torch.cat([net.hidden(chunk.to(device)) for chunk in images.split(FEATURE_BATCH)])
    return Readout(features=hidden * net.feature_scale, logits=net.head(hidden))


def classify(net: FeatureNet, images: torch.Tensor) -> torch.Tensor:
    """Logits [N, 10], on the net's device."""
    return read_images(net, images).logits


def extract_features(net: FeatureNet, images: torch.Tensor) -> torch.Tensor:
    """Penultimate features [N, feature_dim], on the net's device."""
    return read_images(net, images).features


def accuracy(net: FeatureNet, images: torch.Tensor, labels: torch.Tensor) -> float:
    check_images("images", images)
    predicted = classify(net, images).argmax(dim=1).cpu()
    return (predicted == labels.cpu()).double().mean().item()


def train_feature_net(config: FeatureNetConfig, mnist: Mnist) -> TrainedFeatureNet:
    """Adam on cross-entropy with a one-cycle learning rate (Smith & Topin 2019), seeded, on CPU;
    the global RNG is left as it was."""
    images, labels = mnist.train.images, mnist.train.labels
    if config.train_subset is not None:
        images, labels = images[: config.train_subset], labels[: config.train_subset]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        net = FeatureNet(config, mnist.num_classes)
    generator = torch.Generator().manual_seed(config.seed)
    optimizer = torch.optim.Adam(net.parameters(), lr=config.lr)
    steps_per_epoch = -(-len(labels) // config.batch_size)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=config.lr, total_steps=config.epochs * steps_per_epoch
    )
    net.train()
    for _ in range(config.epochs):
        order = torch.randperm(len(labels), generator=generator)
        for batch in order.split(config.batch_size):
            inputs = _shift(images[batch], config.max_shift, generator)
            loss = F.cross_entropy(net(inputs), labels[batch])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
    net.eval().requires_grad_(False)
    mean_square = extract_features(net, images).square().mean()  # scale is still 1 here
    net.feature_scale.fill_(mean_square.rsqrt().item())
    held_out = accuracy(net, mnist.test.images, mnist.test.labels)
    return TrainedFeatureNet(net=net, held_out_accuracy=held_out, data_sha256=mnist.sha256, path=None)


def cache_path(config: FeatureNetConfig, data_sha256: str) -> Path:
    identity = {
        "config": dataclasses.asdict(config),
        "architecture": ARCHITECTURE_VERSION,
        "data": data_sha256,
    }
    key = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:20]
    return cache_dir() / "feature_net" / f"feature_net-{key}.pt"


def load_or_train_feature_net(
    config: FeatureNetConfig = PRESETS["cpu"], device: torch.device | str = "cpu"
) -> TrainedFeatureNet:
    """The cached net for ``config`` and the installed MNIST, training and caching it if absent."""
    mnist = load_mnist()
    path = cache_path(config, mnist.sha256)
    if path.is_file():
        saved = torch.load(path, map_location="cpu", weights_only=True)
        net = FeatureNet(config, mnist.num_classes)
        net.load_state_dict(saved["state_dict"])
        trained = TrainedFeatureNet(
            net=net.eval().requires_grad_(False),
            held_out_accuracy=saved["held_out_accuracy"],
            data_sha256=saved["data_sha256"],
            path=path,
        )
    else:
        trained = dataclasses.replace(train_feature_net(config, mnist), path=path)
        atomic_torch_save(
            {
                "state_dict": trained.net.state_dict(),
                "config": dataclasses.asdict(config),
                "held_out_accuracy": trained.held_out_accuracy,
                "data_sha256": trained.data_sha256,
                "torch_version": str(torch.__version__),
            },
            path,
        )
    trained.net.to(device)
    return trained
