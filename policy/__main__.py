"""The CrossGuard policy pack: `pulumi preview --policy-pack policy` (or `pulumi up --policy-pack policy`).

Building the PolicyPack starts the analyzer the engine talks to, so this file only assembles the rules
(rules.py, tested on their own). Pulumi runs it with this directory on sys.path.
"""

from pulumi_policy import EnforcementLevel, PolicyPack
from rules import POLICIES  # type: ignore[import-not-found]  # run with policy/ on sys.path, not as a package

PolicyPack(
    name="rekognition-faces",
    description="What the FaceDetectionPipeline component guarantees, held for any stack.",
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=POLICIES,
)
