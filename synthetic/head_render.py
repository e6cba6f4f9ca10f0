"""A real face photograph painted on a 3D face mesh and rendered turned by known angles: the truth
the emulator's Pose is measured against (issue 22; bench/emulator_truth.py, docs/local-endpoint.md).

The mesh is MediaPipe's canonical face model (``data/canonical_face_model.obj``: 468 vertices, 898
triangles, the face from forehead to chin and temple to temple, eyes and mouth closed over; Apache-2.0,
source and commit in ``data/README.md``). A photograph's dlib 68 landmarks are tied to 13 of its
vertices (eye corners, nose tip, nostrils and the point under the nose, mouth corners, chin, the
face's outline at the temples); a thin-plate spline through those pairs carries the mesh's frontal
view onto the photograph, so every vertex gets its pixel in it and the photograph's eyes, nose and
mouth sit on the mesh's own. The photograph's own small turn of the head is thereby mostly undone.

Rendering: a pinhole camera whose focal length is the frame's longer side (the emulator's fit assumes
the same); triangles facing away are dropped, the rest drawn back to front (painter's algorithm),
each an affine warp of its photograph triangle, at twice the size and then averaged down. A render
is not a real head: no hair, ears or neck (the mesh ends at the face's outline, on a plain
background), and the photograph's lighting turns with the face instead of staying with the room.

Angles are the service's, in this project's signs (``localaws/vision/landmarks.py``): Roll positive
when the eye on the right of the image is lower, Yaw positive when the nose points to the right of
the image, Pitch positive when the face looks up. In the camera's axes (x to the right of the image,
y down, z away from the camera) the head turns by ``Rz(Roll) @ Ry(-Yaw) @ Rx(-Pitch)``: about y
by -Yaw, since a positive turn about y takes the nose (in front of the head, towards -z) to -x, the
left; about x by -Pitch, since a positive turn about x takes the nose down (+y).
``tests/unit/test_head_render.py`` checks these on the projected mesh itself, with no estimator
involved.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

MESH_FILE = Path(__file__).with_name("data") / "canonical_face_model.obj"

# dlib's landmark number -> the mesh's vertex there (0-based). Left and right as seen in the image.
ANCHORS = {
    36: 33,  # outer corner of the eye on the left of the image
    39: 133,  # its inner corner
    42: 362,  # inner corner of the other eye
    45: 263,  # its outer corner
    30: 4,  # nose tip (the mesh's most forward point)
    31: 98,  # nostrils' outer edges
    35: 327,
    33: 2,  # under the nose
    48: 61,  # mouth corners
    54: 291,
    8: 152,  # chin
    0: 127,  # the face's outline at the temples
    16: 356,
}
NOSE_TIP = 4
# The head turns about a point this far (cm) behind the nose tip, on its line: about the neck's axis.
PIVOT_BEHIND_NOSE = 10.0
# The mesh's width (cm) from temple to temple, what ``face_width_px`` measures.
MESH_WIDTH = 15.49
SUPERSAMPLE = 2


@dataclass(frozen=True)
class Mesh:
    """Vertices in the camera's axes for a face looking at the camera (cm; x to the right of the
    image, y down, z away from the camera, the pivot at the origin) and triangles (vertex numbers,
    counter-clockwise seen from outside in the mesh's own right-handed axes)."""

    vertices: np.ndarray
    triangles: np.ndarray


@dataclass(frozen=True)
class Texture:
    """A photograph and each mesh vertex's pixel (x, y) in it."""

    rgb: np.ndarray
    uv: np.ndarray


@functools.lru_cache(maxsize=1)
def canonical_mesh() -> Mesh:
    """MediaPipe's canonical face (y up, z towards the viewer) turned into the camera's axes: a half
    turn about x, which keeps the triangles' outward normals outward."""
    vertices, triangles = [], []
    for line in MESH_FILE.read_text().splitlines():
        parts = line.split()
        if parts and parts[0] == "v":
            vertices.append([float(value) for value in parts[1:4]])
        elif parts and parts[0] == "f":
            triangles.append([int(corner.split("/")[0]) - 1 for corner in parts[1:4]])
    points = np.array(vertices) * np.array([1.0, -1.0, -1.0])
    points -= points[NOSE_TIP] + np.array([0.0, 0.0, PIVOT_BEHIND_NOSE])
    return Mesh(points, np.array(triangles, dtype=np.int64))


def rotation(roll: float, yaw: float, pitch: float) -> np.ndarray:
    """The head's rotation in the camera's axes for the service's angles (degrees; signs in the
    module's docstring)."""
    r, y, p = np.radians([roll, -yaw, -pitch])
    rz = np.array([[np.cos(r), -np.sin(r), 0], [np.sin(r), np.cos(r), 0], [0, 0, 1]])
    ry = np.array([[np.cos(y), 0, np.sin(y)], [0, 1, 0], [-np.sin(y), 0, np.cos(y)]])
    rx = np.array([[1, 0, 0], [0, np.cos(p), -np.sin(p)], [0, np.sin(p), np.cos(p)]])
    return rz @ ry @ rx


@dataclass(frozen=True)
class _ThinPlate:
    """A 2D thin-plate spline: the smoothest map taking each control point (nearly) to its target.
    Control points are centred and scaled to about 1 for a well-conditioned system."""

    control: np.ndarray
    centre: np.ndarray
    scale: float
    coefficients: np.ndarray  # n + 3 rows: the radial weights, then the affine part

    @classmethod
    def through(cls, source: np.ndarray, target: np.ndarray, smoothing: float = 1e-3) -> _ThinPlate:
        centre, scale = source.mean(axis=0), float(source.std() or 1.0)
        control = (source - centre) / scale
        n = len(control)
        affine = np.hstack([np.ones((n, 1)), control])
        system = np.block([[_radial(control, control) + smoothing * np.eye(n), affine], [affine.T, np.zeros((3, 3))]])
        coefficients = np.linalg.solve(system, np.vstack([target, np.zeros((3, 2))]))
        return cls(control, centre, scale, coefficients)

    def __call__(self, points: np.ndarray) -> np.ndarray:
        normalised = (points - self.centre) / self.scale
        basis = np.hstack([_radial(normalised, self.control), np.ones((len(points), 1)), normalised])
        return basis @ self.coefficients


def _radial(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The spline's kernel r^2 log r for every pair of rows of ``a`` and ``b``."""
    squared = ((a[:, None, :] - b[None, :, :]) ** 2).sum(axis=2)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(squared > 0, 0.5 * squared * np.log(squared), 0.0)


def texture_from_photo(rgb: np.ndarray, points68: np.ndarray, mesh: Mesh | None = None) -> Texture:
    """The photograph as the mesh's texture: each vertex's frontal view (x, y) carried by a
    thin-plate spline through the ``ANCHORS`` pairs to the photograph's dlib landmarks
    ``points68`` (68 x 2 pixels)."""
    mesh = mesh or canonical_mesh()
    front = mesh.vertices[:, :2]
    target = np.asarray(points68, dtype=np.float64)[list(ANCHORS)]
    spline = _ThinPlate.through(front[list(ANCHORS.values())], target)
    return Texture(np.ascontiguousarray(rgb), spline(front))


@dataclass(frozen=True)
class View:
    """The head turned by the service's angles (degrees), seen in a ``size`` frame: at the distance
    where the mesh, facing the camera, is ``face_width_px`` wide (temple to temple), its pivot on
    the camera's line through ``centre`` (shares of the frame's width and height)."""

    roll: float = 0.0
    yaw: float = 0.0
    pitch: float = 0.0
    size: tuple[int, int] = (1280, 720)
    face_width_px: float = 200.0
    centre: tuple[float, float] = (0.5, 0.5)

    @property
    def focal(self) -> float:
        return float(max(self.size))

    def in_camera(self, mesh: Mesh) -> np.ndarray:
        """The mesh's vertices in the camera's axes (cm), the camera at the origin."""
        width, height = self.size
        distance = self.focal * MESH_WIDTH / self.face_width_px
        ray = np.array([self.centre[0] * width - width / 2, self.centre[1] * height - height / 2, self.focal])
        return mesh.vertices @ rotation(self.roll, self.yaw, self.pitch).T + ray / self.focal * distance


def project(mesh: Mesh, view: View) -> np.ndarray:
    """Each vertex's (x, y) pixel and depth (cm) in the view's frame."""
    camera = view.in_camera(mesh)
    pixels = camera[:, :2] / camera[:, 2:] * view.focal + np.array(view.size) / 2
    return np.hstack([pixels, camera[:, 2:]])


def render(texture: Texture, view: View, background: int = 110, mesh: Mesh | None = None) -> np.ndarray:
    """The textured mesh as ``view`` sees it, on a plain grey frame (RGB)."""
    mesh = mesh or canonical_mesh()
    width, height = view.size
    pixels = project(mesh, view)[:, :2] * SUPERSAMPLE
    canvas = np.full((height * SUPERSAMPLE, width * SUPERSAMPLE, 3), background, dtype=np.uint8)
    corners = view.in_camera(mesh)[mesh.triangles]
    normals = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
    # the camera is at the origin: a triangle faces it when its normal points back at it
    facing = (normals * corners.mean(axis=1)).sum(axis=1) < 0
    for index in np.argsort(-corners[:, :, 2].mean(axis=1)):  # the farthest first
        if facing[index]:
            _draw(canvas, texture, mesh.triangles[index], pixels)
    return cv2.resize(canvas, view.size, interpolation=cv2.INTER_AREA)


def _draw(canvas: np.ndarray, texture: Texture, triangle: np.ndarray, pixels: np.ndarray) -> None:
    """One triangle of the photograph warped onto its place in ``canvas``."""
    target = pixels[triangle]
    left, top = np.floor(target.min(axis=0)).astype(int)
    right, bottom = np.ceil(target.max(axis=0)).astype(int) + 1
    left, top = max(left, 0), max(top, 0)
    right, bottom = min(right, canvas.shape[1]), min(bottom, canvas.shape[0])
    if right <= left or bottom <= top:
        return
    local = (target - np.array([left, top])).astype(np.float32)
    matrix = cv2.getAffineTransform(texture.uv[triangle].astype(np.float32), local)
    patch = cv2.warpAffine(
        texture.rgb, matrix, (right - left, bottom - top), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    mask = np.zeros((bottom - top, right - left), dtype=np.uint8)
    outline = np.round(local * 16).astype(np.int32)
    cv2.fillConvexPoly(mask, outline, 1, lineType=cv2.LINE_8, shift=4)
    # a one-pixel rim so that neighbours meet without a seam (the nearer triangle is drawn later)
    cv2.polylines(mask, [outline], True, 1, thickness=1, lineType=cv2.LINE_8, shift=4)
    region = canvas[top:bottom, left:right]
    region[mask.astype(bool)] = patch[mask.astype(bool)]
