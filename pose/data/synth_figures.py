"""Posed synthetic figures (people, quadrupeds) and their rendering with OpenCV.

A figure is built in a body frame (forward, up, left; about one body length per unit) from a
kinematic chain whose joint angles are sampled in plausible ranges, with jittered proportions
and clothing or fur colours. It is a list of convex parts, each the hull of a few spheres
(limbs are tapered capsules, torso and head are point clouds). A ``Camera`` projects it
orthographically (any facing, some elevation, in-plane roll) and the parts are filled back to
front, anti-aliased. Left limbs are a darker shade with a light stripe and heads carry eyes,
nose (and hair or ears), so left and right can be told apart from appearance.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

Colour = tuple[int, int, int]  # BGR

_T = np.linspace(0, 2 * np.pi, 16, endpoint=False)
_CIRCLE = np.stack([np.cos(_T), np.sin(_T)], 1)
_Z = 1.0 - 2.0 * (np.arange(64) + 0.5) / 64
_A = np.pi * (3.0 - np.sqrt(5.0)) * np.arange(64)
#: 64 unit vectors spread evenly over the sphere (Fibonacci lattice), as (forward, up, left).
SPHERE = np.stack([np.sqrt(1 - _Z**2) * np.cos(_A), _Z, np.sqrt(1 - _Z**2) * np.sin(_A)], 1)
SKIN: list[Colour] = [(190, 205, 240), (150, 180, 225), (110, 150, 200), (80, 110, 160), (60, 80, 120), (40, 55, 85)]
FUR: list[Colour] = [
    (40, 70, 120), (60, 100, 160), (30, 40, 60), (200, 200, 205),
    (90, 90, 95), (50, 120, 200), (170, 200, 220), (25, 25, 30),
]
#: Left limbs: base colour times this, plus a light stripe along the limb.
LEFT_SHADE = 0.7
#: Keypoints whose surface normal points this far away from the camera are self-occluded.
BACKFACE = -0.15


@dataclass(eq=False)
class Part:
    """A convex piece of a figure: the hull of spheres at ``points`` (body frame) with ``radii``."""

    points: np.ndarray  # (P, 3)
    radii: np.ndarray  # (P,)
    colour: Colour
    joints: tuple[int, ...] = ()  # keypoints this part carries (it never occludes them)
    bias: float = 0.0  # added to the depth that orders parts
    anchor: np.ndarray | None = None  # the point whose depth orders the part (default: the mean)
    normals: np.ndarray | None = None  # (P, 3); points facing away from the camera are dropped
    mask: bool = True  # False for surface details (eyes, stripes) inside another part


@dataclass(eq=False)
class Body:
    """A posed figure: keypoints (K, 3) in the body frame, face normals (K, 3; 0 for joints), parts."""

    keypoints: np.ndarray
    normals: np.ndarray
    parts: list[Part]


@dataclass(frozen=True)
class Camera:
    """Orthographic view: facing (yaw 0 = facing the camera), elevation, in-plane roll, placement."""

    yaw: float
    elevation: float
    roll: float
    size: float  # px of the figure's longest projected side
    centre: np.ndarray  # (2,) px of the figure's box centre

    def rotation(self) -> np.ndarray:
        """(3, 3) from body (forward, up, left) to camera (right, up, towards the viewer)."""
        s, c = np.sin(self.yaw), np.cos(self.yaw)
        facing = np.array([[s, 0.0, c], [0.0, 1.0, 0.0], [c, 0.0, -s]])
        se, ce = np.sin(self.elevation), np.cos(self.elevation)
        tilt = np.array([[1.0, 0.0, 0.0], [0.0, ce, -se], [0.0, se, ce]])
        return tilt @ facing


@dataclass(eq=False)
class Drawn:
    """A rendered figure: keypoints (K, 2) px, self-occlusion (K,), silhouette mask (H, W)."""

    keypoints: np.ndarray
    self_occluded: np.ndarray
    mask: np.ndarray


# ------------------------------------------------------------------------ geometry helpers
def _deg(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(np.deg2rad(rng.uniform(lo, hi)))


def _direction(swing: float, spread: float, side: float) -> np.ndarray:
    """Unit limb direction: ``swing`` forward from straight down, ``spread`` outward to ``side``."""
    return np.array([np.sin(swing) * np.cos(spread), -np.cos(swing) * np.cos(spread), side * np.sin(spread)])


def _rot_lateral(a: float) -> np.ndarray:
    """Pitch: tips up towards forward (a bow for a > 0)."""
    s, c = np.sin(a), np.cos(a)
    return np.array([[c, s, 0.0], [-s, c, 0.0], [0.0, 0.0, 1.0]])


def _rot_up(a: float) -> np.ndarray:
    """Yaw: turns forward towards the left for a > 0."""
    s, c = np.sin(a), np.cos(a)
    return np.array([[c, 0.0, -s], [0.0, 1.0, 0.0], [s, 0.0, c]])


def _rot_forward(a: float) -> np.ndarray:
    """Roll: leans up towards the left for a > 0."""
    s, c = np.sin(a), np.cos(a)
    return np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])


def _ring(up: float, half_width: float, half_depth: float, n: int = 12) -> np.ndarray:
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    return np.stack([half_depth * np.cos(t), np.full(n, up), half_width * np.sin(t)], 1)


def _unit(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, np.float64)
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def _shade(c: Colour, f: float) -> Colour:
    return tuple(int(np.clip(v * f, 0, 255)) for v in c)  # type: ignore[return-value]


def _tint(c: Colour, f: float) -> Colour:
    return tuple(int(np.clip(v + (255 - v) * f, 0, 255)) for v in c)  # type: ignore[return-value]


def _jitter(rng: np.random.Generator, c: Colour, amount: float) -> Colour:
    return tuple(int(v) for v in np.clip(np.asarray(c) + rng.uniform(-amount, amount, 3), 0, 255))  # type: ignore[return-value]


def _colour(rng: np.random.Generator, *, dark: bool = False) -> Colour:
    """A random clothing colour (HSV sampled, returned as BGR)."""
    value = rng.integers(25, 90) if dark else rng.integers(60, 256)
    hsv = np.array([[[rng.integers(0, 180), rng.integers(40, 256), value]]], np.uint8)
    return tuple(int(v) for v in cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)[0, 0])  # type: ignore[return-value]


def _limb(
    parts: list[Part], p0: np.ndarray, p1: np.ndarray, r0: float, r1: float,
    colour: Colour, joints: tuple[int, ...], side: float, *, stripe: bool = True,
) -> None:
    """A tapered capsule; left limbs (side > 0) darker, with a light stripe along the axis."""
    pts = np.stack([p0, p1])
    left = side > 0
    parts.append(Part(pts, np.array([r0, r1]), _shade(colour, LEFT_SHADE) if left else colour, joints))
    if left and stripe:
        parts.append(Part(pts, np.array([r0, r1]) * 0.32, _tint(colour, 0.6), joints, bias=1e-4, mask=False))


def _ellipsoid(centre: np.ndarray, rot: np.ndarray, radii: np.ndarray, dirs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Surface points and unit normals of an ellipsoid in the directions ``dirs`` (head frame)."""
    d = _unit(dirs)
    return centre + (d * radii) @ rot.T, _unit(d / radii) @ rot.T


def _feature(point: np.ndarray, normal: np.ndarray, radius: float, colour: Colour, anchor: np.ndarray, bias: float) -> Part:
    """A dot on a surface, drawn only when it faces the camera."""
    return Part(point[None], np.array([radius]), colour, anchor=anchor, bias=bias, normals=normal[None], mask=False)


# ------------------------------------------------------------------------ people (COCO order)
def _human_head(rng: np.random.Generator, parts: list[Part], kp: np.ndarray, nrm: np.ndarray, rot: np.ndarray,
                sizes: tuple[float, float, float, float], colours: tuple) -> None:
    """Neck, head, hair, ears, eyes, nose and mouth of ``human``; fills keypoints 0-4 of ``kp``/``nrm``."""
    torso, neck, r_head, girth = sizes
    skin, hair = colours
    head_rot = rot @ _rot_up(_deg(rng, -40, 40)) @ _rot_lateral(_deg(rng, -20, 25))
    radii = np.array([0.9, 1.15, 0.82]) * r_head
    centre = rot @ np.array([0.0, torso + neck, 0.0]) + head_rot @ np.array([0.0, 0.8 * radii[1], 0.0])
    parts.append(Part(np.stack([rot @ np.array([0.0, torso - 0.03, 0.0]), centre]), np.full(2, 0.03 * girth), skin, bias=-0.02))
    face_dirs = np.array([[1.0, -0.2, 0.0], [0.8, 0.2, 0.42], [0.8, 0.2, -0.42], [-0.1, 0.0, 1.0], [-0.1, 0.0, -1.0]])
    kp[:5], nrm[:5] = _ellipsoid(centre, head_rot, radii, face_dirs)
    kp[0] = centre + 1.08 * (kp[0] - centre)
    head_pts, head_nrm = _ellipsoid(centre, head_rot, radii, SPHERE)
    parts.append(Part(head_pts, np.zeros(64), skin, (0, 1, 2, 3, 4), anchor=centre))
    cap = (SPHERE[:, 1] > 0.3) | (SPHERE[:, 0] < -0.3)
    hair_pts, hair_nrm = _ellipsoid(centre, head_rot, radii * 1.04, SPHERE[cap])
    parts.append(Part(hair_pts, np.zeros(len(hair_pts)), hair, (0, 1, 2, 3, 4), bias=1e-4, anchor=centre, normals=hair_nrm))
    for ear in (3, 4):
        parts.append(Part(kp[ear][None], np.array([0.22 * r_head]), _shade(skin, 0.9), (ear,)))
    for eye in (1, 2):
        parts.append(_feature(kp[eye], nrm[eye], 0.2 * r_head, (235, 235, 235), centre, 2e-4))
        parts.append(_feature(kp[eye], nrm[eye], 0.11 * r_head, (40, 30, 20), centre, 3e-4))
    parts.append(_feature(kp[0], nrm[0], 0.16 * r_head, _shade(skin, 0.78), centre, 2e-4))
    mouth, mouth_n = _ellipsoid(centre, head_rot, radii, np.array([[0.85, -0.6, 0.0]]))
    parts.append(_feature(mouth[0], mouth_n[0], 0.12 * r_head, (60, 50, 150), centre, 2e-4))


def _human_legs(rng: np.random.Generator, parts: list[Part], kp: np.ndarray, sizes: tuple[float, ...], colours: tuple) -> None:
    """Hips, knees, ankles and feet of ``human`` (standing, walking, crouching or sitting); fills
    keypoints 11-16 of ``kp``."""
    hw, thigh, shin, foot, girth = sizes
    pants, shins, shoes = colours
    mode = rng.random()
    for side, (h, k, a) in ((1.0, (11, 13, 15)), (-1.0, (12, 14, 16))):
        if mode < 0.55:
            swing, bend = _deg(rng, -15, 25), _deg(rng, 0, 25)
        elif mode < 0.9:
            swing, bend = _deg(rng, -40, 65), _deg(rng, 0, 100)
        else:
            swing, bend = _deg(rng, 55, 95), _deg(rng, 60, 130)
        spread = _deg(rng, 0, 25)
        kp[h] = (0.0, 0.0, side * hw)
        kp[k] = kp[h] + thigh * _direction(swing, spread, side)
        kp[a] = kp[k] + shin * _direction(swing - bend, 0.5 * spread, side)
        _limb(parts, kp[h], kp[k], 0.062 * girth, 0.048 * girth, pants, (h, k), side)
        _limb(parts, kp[k], kp[a], 0.046 * girth, 0.034 * girth, shins, (k, a), side)
        _limb(parts, kp[a], kp[a] + foot * np.array([1.0, -0.25, 0.0]), 0.03, 0.026, shoes, (a,), side, stripe=False)


def _human_arms(rng: np.random.Generator, parts: list[Part], kp: np.ndarray, rot: np.ndarray, sizes: tuple[float, ...], colours: tuple) -> None:
    """Shoulders, elbows, wrists and hands of ``human``, anywhere; fills keypoints 5-10 of ``kp``."""
    torso, sw, upper_arm, forearm, girth = sizes
    shirt, sleeves, skin = colours
    for side, (s, e, w) in ((1.0, (5, 7, 9)), (-1.0, (6, 8, 10))):
        if rng.random() < 0.6:
            swing, spread, bend = _deg(rng, -30, 50), _deg(rng, 0, 30), _deg(rng, 0, 70)
        else:
            swing, spread, bend = _deg(rng, -60, 170), _deg(rng, 0, 100), _deg(rng, 0, 145)
        shoulder = np.array([0.0, torso - 0.01, side * sw])
        elbow = shoulder + upper_arm * _direction(swing, spread, side)
        fore = _direction(swing + bend, spread * rng.uniform(0.3, 1.2), side)
        kp[s], kp[e], kp[w] = np.stack([shoulder, elbow, elbow + forearm * fore]) @ rot.T
        _limb(parts, kp[s], kp[e], 0.042 * girth, 0.034 * girth, shirt, (s, e), side)
        _limb(parts, kp[e], kp[w], 0.034 * girth, 0.027 * girth, sleeves, (e, w), side)
        _limb(parts, kp[w], kp[w] + 0.06 * (rot @ fore), 0.03, 0.026, skin, (w,), side, stripe=False)


def human(rng: np.random.Generator) -> Body:
    """A person in COCO keypoint order: standing, walking, crouching or sitting; arms anywhere."""

    def j(v: float) -> float:
        return v * rng.uniform(0.88, 1.12)

    r_head, neck, torso, sw, hw, depth = j(0.062), j(0.035), j(0.30), j(0.105), j(0.07), j(0.055)
    upper_arm, forearm, thigh, shin, foot, girth = j(0.165), j(0.15), j(0.235), j(0.225), j(0.075), j(1.0)
    skin = _jitter(rng, SKIN[int(rng.integers(len(SKIN)))], 12)
    shirt, pants, shoes = _colour(rng), _colour(rng), _colour(rng, dark=True)
    hair = _colour(rng, dark=rng.random() < 0.75)
    sleeves = shirt if rng.random() < 0.5 else skin
    shins = pants if rng.random() < 0.7 else skin
    kp, nrm, parts = np.zeros((17, 3)), np.zeros((17, 3)), []
    _human_legs(rng, parts, kp, (hw, thigh, shin, foot, girth), (pants, shins, shoes))
    bow = _deg(rng, -10, 35) if rng.random() < 0.85 else _deg(rng, 35, 80)
    rot = _rot_lateral(bow) @ _rot_forward(_deg(rng, -12, 12)) @ _rot_up(_deg(rng, -25, 25))
    waist = _ring(0.3 * torso, hw * 1.1, depth * 0.95) @ rot.T
    parts.append(Part(np.concatenate([_ring(torso, sw * 1.02, depth) @ rot.T, waist]), np.zeros(24), shirt, (5, 6), bias=-0.03))
    parts.append(Part(np.concatenate([waist, _ring(-0.02, hw * 1.35, depth)]), np.zeros(24), pants, (11, 12), bias=-0.035))
    _human_arms(rng, parts, kp, rot, (torso, sw, upper_arm, forearm, girth), (shirt, sleeves, skin))
    _human_head(rng, parts, kp, nrm, rot, (torso, neck, r_head, girth), (skin, hair))
    return Body(kp, nrm, parts)


# ------------------------------------------------------------------------ quadrupeds (AP-10K order)
def quadruped(rng: np.random.Generator) -> Body:
    """A four-legged animal in AP-10K keypoint order: standing, walking or trotting, head anywhere."""

    def j(v: float) -> float:
        return v * rng.uniform(0.88, 1.12)

    leg, girth_u, girth_l = j(0.42) * rng.uniform(0.8, 1.3), j(0.15), j(0.13)
    fur = _jitter(rng, FUR[int(rng.integers(len(FUR)))], 20)
    dark = _shade(fur, 0.55)
    paws = dark if rng.random() < 0.5 else _tint(fur, 0.5)
    kp, nrm, parts = np.zeros((17, 3)), np.zeros((17, 3)), []
    y = leg + 0.02
    kp[3], kp[4] = (0.38, y + 0.1, 0.0), (-0.42, y + 0.04, 0.0)
    torso = np.array([0.0, y, 0.0]) + SPHERE * np.array([0.5, girth_u, girth_l])
    parts.append(Part(torso, np.zeros(64), fur, (3, 4, 5, 8, 11, 14), bias=-0.02))

    for side, (s, e, p), (h, k, b) in ((1.0, (5, 6, 7), (11, 12, 13)), (-1.0, (8, 9, 10), (14, 15, 16))):
        spread = _deg(rng, -5, 12)
        swing = _deg(rng, -30, 35)
        kp[s] = (0.3, y - 0.02, side * 0.08)
        kp[e] = kp[s] + 0.5 * leg * _direction(swing, spread, side)
        kp[p] = kp[e] + 0.52 * leg * _direction(swing - _deg(rng, -15, 70), spread, side)
        swing = _deg(rng, -10, 45)
        kp[h] = (-0.36, y, side * 0.08)
        kp[k] = kp[h] + 0.5 * leg * _direction(swing, spread, side)
        kp[b] = kp[k] + 0.55 * leg * _direction(swing - _deg(rng, 20, 80), spread, side)
        for top, mid, end, r in ((s, e, p, (0.07, 0.05, 0.035)), (h, k, b, (0.09, 0.055, 0.035))):
            _limb(parts, kp[top], kp[mid], r[0], r[1], fur, (top, mid), side)
            _limb(parts, kp[mid], kp[end], r[1], r[2], fur, (mid, end), side)
            _limb(parts, kp[end], kp[end] + np.array([0.05, -0.01, 0.0]), 0.032, 0.028, paws, (end,), side, stripe=False)

    turn, lift = _deg(rng, -35, 35), _deg(rng, 10, 70)
    centre = kp[3] + j(0.2) * (_rot_up(turn) @ np.array([np.cos(lift), np.sin(lift), 0.0]))
    parts.append(Part(np.stack([kp[3], centre]), np.array([0.085, 0.065]), fur, (3,)))
    head_rot = _rot_up(turn + _deg(rng, -20, 20)) @ _rot_lateral(_deg(rng, -20, 35))
    radii = np.array([0.12, 0.1, 0.085]) * j(1.0)
    head_pts, _ = _ellipsoid(centre, head_rot, radii, SPHERE)
    parts.append(Part(head_pts, np.zeros(64), fur, (0, 1), anchor=centre))
    kp[2] = centre + head_rot @ np.array([0.12 + rng.uniform(0.03, 0.12), -0.03, 0.0])
    nrm[2] = head_rot @ np.array([1.0, 0.0, 0.0])
    snout = np.stack([centre + head_rot @ np.array([0.06, -0.02, 0.0]), kp[2]])
    parts.append(Part(snout, np.array([0.06, 0.035]), _tint(fur, 0.25), (2,)))
    parts.append(_feature(kp[2], nrm[2], 0.025, (20, 20, 25), kp[2], 1e-3))
    kp[:2], nrm[:2] = _ellipsoid(centre, head_rot, radii, np.array([[0.55, 0.45, 0.6], [0.55, 0.45, -0.6]]))
    for eye in (0, 1):
        parts.append(_feature(kp[eye], nrm[eye], 0.022, (15, 15, 15), centre, 2e-4))
    ear_base, _ = _ellipsoid(centre, head_rot, radii, np.array([[-0.3, 0.7, 0.5], [-0.3, 0.7, -0.5]]))
    for base, side in zip(ear_base, (1.0, -1.0)):
        tip = base + head_rot @ (np.array([-0.03, 0.09, side * 0.03]) * rng.uniform(0.6, 1.4))
        parts.append(Part(np.stack([base, tip]), np.array([0.035, 0.012]), dark))
    bend = _deg(rng, -60, 50)
    tail = kp[4] + j(0.3) * rng.uniform(0.4, 1.2) * np.array([-np.cos(bend), np.sin(bend), 0.0])
    parts.append(Part(np.stack([kp[4], tail]), np.array([0.035, 0.015]), dark if rng.random() < 0.5 else fur, (4,)))
    return Body(kp, nrm, parts)


BUILDERS: dict[str, Callable[[np.random.Generator], Body]] = {"human": human, "quadruped": quadruped}


# ------------------------------------------------------------------------ rendering
def render_figure(image: np.ndarray, body: Body, cam: Camera) -> Drawn:
    """Draw ``body`` onto ``image`` (in place) back to front; return its keypoints and mask."""
    height, width = image.shape[:2]
    rot = cam.rotation()
    counts = [len(p.points) for p in body.parts]
    cam_pts = np.concatenate([p.points for p in body.parts] + [body.keypoints]) @ rot.T
    s, c = np.sin(cam.roll), np.cos(cam.roll)
    xy = (cam_pts[:, :2] * (1.0, -1.0)) @ np.array([[c, -s], [s, c]]).T
    radii = np.concatenate([p.radii for p in body.parts])
    n_part = len(radii)
    lo = (xy[:n_part] - radii[:, None]).min(axis=0)
    hi = (xy[:n_part] + radii[:, None]).max(axis=0)
    scale = cam.size / float(max((hi - lo).max(), 1e-6))
    xy = (xy - (lo + hi) / 2) * scale + cam.centre
    splits = np.cumsum(counts)[:-1]
    part_xy = np.split(xy[:n_part], splits)
    part_z = np.split(cam_pts[:n_part, 2], splits)
    keys = [
        (float(p.anchor @ rot[2]) if p.anchor is not None else float(z.mean())) + p.bias
        for p, z in zip(body.parts, part_z)
    ]
    ranks = np.zeros(len(body.parts), np.int64)
    layer = np.zeros((height, width), np.uint8)
    for rank, i in enumerate(np.argsort(keys, kind="stable"), start=1):
        part, pts = body.parts[i], part_xy[i]
        r = part.radii * scale
        if part.normals is not None:
            front = part.normals @ rot[2] > -0.05
            pts, r = pts[front], r[front]
            if not len(pts):
                continue
        if r.max() > 0:
            pts = (pts[:, None, :] + r[:, None, None] * _CIRCLE[None]).reshape(-1, 2)
        hull = cv2.convexHull(np.round(pts * 16).astype(np.int32))
        cv2.fillConvexPoly(image, hull, part.colour, cv2.LINE_AA, 4)
        if part.mask:
            cv2.fillConvexPoly(layer, hull, rank, cv2.LINE_8, 4)
            ranks[i] = rank
    kp = xy[n_part:].astype(np.float32)
    k = len(kp)
    member = np.zeros((len(body.parts), k), bool)
    for i, part in enumerate(body.parts):
        member[i, list(part.joints)] = True
    own_rank = (member * ranks[:, None]).max(axis=0)
    xi = np.clip(kp[:, 0], 0, width - 1).astype(np.int64)
    yi = np.clip(kp[:, 1], 0, height - 1).astype(np.int64)
    covered = layer[yi, xi] > own_rank
    facing_away = (np.abs(body.normals).sum(axis=1) > 0) & (body.normals @ rot[2] < BACKFACE)
    return Drawn(kp, covered | facing_away, layer > 0)
